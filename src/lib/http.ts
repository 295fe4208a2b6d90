// One keep-alive connection pool per backend, with a deadline on every call and a cap on what is read.
//
// Built on node:http rather than undici: undici's WASM HTTP parser costs ~35 MB of resident memory in this
// process (measured: 59 → 94 MB after 50 requests, against 60 → 64 MB with node:http), and the server's
// peak-RSS budget is 80 MB. node:http loads on first use so that `serve` starts without it.

import type { Agent, IncomingMessage, request as httpRequest } from 'node:http';
import { createCircuitBreaker } from './circuit-breaker.ts';
import { ToolError } from './errors.ts';
import { abortableSleep, backoffMs } from './retry.ts';

export interface HttpBackendOptions {
  /** Human name used in errors: "Prometheus". */
  name: string;
  /** Setting that configures it, named in errors: "PROMETHEUS_URL". */
  envVar: string;
  baseUrl: string;
  timeoutMs: number;
  maxResponseBytes: number;
  headers?: Record<string, string>;
  /**
   * Attempts after the first for a transient failure — a dropped or refused connection, 502/503/504, a 429 whose
   * retry-after fits — always within the call's one deadline. Only for backends whose every call is a read (a
   * repeat changes nothing); 0 (the default) for probes, whose answer is the failure itself.
   */
  retries?: number;
  /** After this many failed calls in a row the backend is not asked for `cooldownMs`; then one call probes it. */
  breaker?: { failures: number; cooldownMs: number };
  /** How to ask for less when an answer is over `maxResponseBytes`, in the backend's terms (default: PromQL's). */
  tooLargeHint?: string;
}

/** What query backends (Prometheus, Loki) get: two quick retries, and a breaker that fails fast during an outage. */
export const QUERY_BACKEND_RESILIENCE = {
  retries: 2,
  breaker: { failures: 5, cooldownMs: 10_000 },
} as const;

// The first retry waits ~100 ms, the second ~200 ms (full jitter); a server's retry-after is honoured up to this.
const RETRY_BASE_MS = 100;
const RETRY_MAX_WAIT_MS = 5000;
const TRANSIENT_STATUS = new Set([429, 502, 503, 504]);

export type QueryValue = string | number | readonly string[] | undefined;

export interface HttpRequest {
  method?: 'GET' | 'POST';
  /** Path below the base URL, starting with `/`. */
  path: string;
  query?: Record<string, QueryValue>;
  /** Sent as application/x-www-form-urlencoded (POST). */
  form?: Record<string, QueryValue>;
  headers?: Record<string, string>;
  signal?: AbortSignal | undefined;
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  contentType: string;
  body: Buffer;
  /** Milliseconds from sending to the last byte. */
  elapsedMs: number;
  /** The Retry-After header, when the server sent one. */
  retryAfter?: string | undefined;
}

export interface HttpBackend {
  readonly name: string;
  readonly envVar: string;
  request(req: HttpRequest): Promise<HttpResponse>;
  /** The base URL without credentials, for operator-facing output only (never tool results). */
  describe(): string;
  close(): Promise<void>;
}

/**
 * Encoded parameters past this length go as a POST form, where the endpoint takes one: a longer GET URL risks the
 * request-line limits of a proxy in front (nginx: 8 KiB) and of the backend itself.
 */
export const MAX_GET_QUERY_LENGTH = 2048;

/** A read carrying `params` in the URL, or as a POST form when they are too long for one and `canPost`. */
export function paramsRequest(
  path: string,
  params: Record<string, QueryValue>,
  signal: AbortSignal | undefined,
  canPost = true,
): HttpRequest & { method: 'GET' | 'POST' } {
  return canPost && encodeParams(params).length > MAX_GET_QUERY_LENGTH
    ? { method: 'POST', path, form: params, signal }
    : { method: 'GET', path, query: params, signal };
}

export function encodeParams(params: Record<string, QueryValue>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined) continue;
    if (typeof value === 'string' || typeof value === 'number') search.append(key, String(value));
    else for (const item of value) search.append(key, item);
  }
  return search.toString();
}

/**
 * A URL's user name or password as sent: percent-decoded, except that a stray % (p%zz) is kept as written, as
 * WHATWG URLs keep it, where decodeURIComponent would throw.
 */
export function decodeUserinfo(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

export function createHttpBackend(options: HttpBackendOptions): HttpBackend {
  const url = new URL(options.baseUrl);
  const basePath = url.pathname.replace(/\/+$/, '');
  const defaultHeaders: Record<string, string> = { 'user-agent': 'devops-mcp', ...options.headers };
  if (url.username !== '' || url.password !== '') {
    const user = decodeUserinfo(url.username);
    const password = decodeUserinfo(url.password);
    defaultHeaders.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  }
  const publicUrl = `${url.protocol}//${url.host}${basePath}`;
  let transport: Promise<{ agent: Agent; request: typeof httpRequest }> | undefined;
  const getTransport = () =>
    (transport ??= (url.protocol === 'https:' ? import('node:https') : import('node:http')).then(module => ({
      agent: new module.Agent({ keepAlive: true, keepAliveMsecs: 30_000, maxSockets: 16, maxFreeSockets: 4 }),
      request: module.request,
    })));

  const retries = options.retries ?? 0;
  const breaker = options.breaker && createCircuitBreaker(options.breaker);

  /** One call: its attempts share one deadline, transient failures are retried, the breaker is told the end. */
  async function request(req: HttpRequest): Promise<HttpResponse> {
    if (breaker && !breaker.allow()) throw circuitOpen(options, breaker.retryInMs());
    let settled = false;
    const fail = () => {
      breaker?.failure();
      settled = true;
    };
    const timeoutMs = req.timeoutMs ?? options.timeoutMs;
    const deadline = performance.now() + timeoutMs;
    // Waits only when the wait and a useful attempt still fit in the deadline.
    const pause = async (ms: number): Promise<boolean> => {
      if (performance.now() + ms + 50 > deadline) return false;
      try {
        await abortableSleep(ms, req.signal);
      } catch {
        throw new ToolError('CANCELLED', 'The request was cancelled by the client.');
      }
      return true;
    };
    try {
      for (let attempt = 1; ; attempt++) {
        let response: HttpResponse;
        try {
          response = await send(req, Math.max(1, deadline - performance.now()), timeoutMs);
        } catch (error) {
          const dropped = error instanceof ToolError && error.code === 'BACKEND_UNREACHABLE';
          if (dropped && attempt <= retries && (await pause(wait(attempt, undefined)))) continue;
          if (dropped || (error instanceof ToolError && error.code === 'BACKEND_TIMEOUT')) fail();
          throw error;
        }
        if (TRANSIENT_STATUS.has(response.status) && attempt <= retries) {
          if (await pause(wait(attempt, retryAfterMs(response.retryAfter)))) continue;
        }
        if (response.status >= 500) fail();
        else {
          breaker?.success();
          settled = true;
        }
        return response;
      }
    } finally {
      // Cancelled by the client, or an answer over the size cap: no verdict on the backend, but the call that
      // may have been the half-open probe is over.
      if (!settled) breaker?.release();
    }
  }

  async function send(req: HttpRequest, timeoutMs: number, statedTimeoutMs: number): Promise<HttpResponse> {
    // A timer cleared when the call ends, not AbortSignal.timeout(): on a busy server those would keep one
    // live timer per call for the whole timeout.
    const deadline = new AbortController();
    const timer = setTimeout(() => {
      deadline.abort();
    }, timeoutMs);
    const onCallerAbort = () => {
      deadline.abort();
    };
    if (req.signal?.aborted) deadline.abort();
    req.signal?.addEventListener('abort', onCallerAbort, { once: true });
    const signal = deadline.signal;
    const query = req.query ? encodeParams(req.query) : '';
    const headers = { ...defaultHeaders, ...req.headers };
    let body: string | undefined;
    if (req.form) {
      body = encodeParams(req.form);
      headers['content-type'] = 'application/x-www-form-urlencoded';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    const started = performance.now();
    const { agent, request: send } = await getTransport();
    try {
      return await new Promise<HttpResponse>((resolve, reject) => {
        const outgoing = send(
          {
            protocol: url.protocol,
            hostname: url.hostname.replace(/^\[|\]$/g, ''),
            port: url.port,
            method: req.method ?? 'GET',
            path: `${basePath}${req.path}${query === '' ? '' : `?${query}`}`,
            headers,
            agent,
            signal,
          },
          (response: IncomingMessage) => {
            const chunks: Buffer[] = [];
            let size = 0;
            response.on('data', (chunk: Buffer) => {
              size += chunk.length;
              if (size > options.maxResponseBytes) {
                response.destroy();
                reject(tooLarge(options));
                return;
              }
              chunks.push(chunk);
            });
            response.on('error', reject);
            response.on('end', () => {
              const contentType = response.headers['content-type'];
              const retryAfter = response.headers['retry-after'];
              resolve({
                status: response.statusCode ?? 0,
                contentType: contentType ?? '',
                body: Buffer.concat(chunks, size),
                elapsedMs: performance.now() - started,
                retryAfter,
              });
            });
          },
        );
        outgoing.on('error', reject);
        outgoing.end(body);
      });
    } catch (error) {
      if (error instanceof ToolError) throw error;
      throw transportError(error, options, statedTimeoutMs, deadline.signal, req.signal);
    } finally {
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onCallerAbort);
    }
  }

  return {
    name: options.name,
    envVar: options.envVar,
    request,
    describe: () => publicUrl,
    async close() {
      if (transport) (await transport).agent.destroy();
    },
  };
}

function wait(attempt: number, retryAfter: number | undefined): number {
  return backoffMs(attempt, {
    baseMs: RETRY_BASE_MS,
    maxMs: RETRY_MAX_WAIT_MS,
    retryAfterMs: retryAfter,
    random: Math.random,
  });
}

/** Retry-After as milliseconds: delay-seconds or an HTTP date. */
function retryAfterMs(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function circuitOpen(options: HttpBackendOptions, retryInMs: number): ToolError {
  return new ToolError(
    'BACKEND_UNREACHABLE',
    `${options.name} failed ${options.breaker?.failures ?? 0} calls in a row; devops-mcp is not asking it again for ${Math.ceil(retryInMs / 1000)} s.`,
    `Check that ${options.name} is running and that ${options.envVar} points at it; \`devops-mcp check\` tests the connection.`,
  );
}

function transportError(
  error: unknown,
  options: HttpBackendOptions,
  timeoutMs: number,
  deadline: AbortSignal,
  callerSignal: AbortSignal | undefined,
): ToolError {
  if (callerSignal?.aborted) return new ToolError('CANCELLED', 'The request was cancelled by the client.');
  const code = (error as { code?: unknown } | null)?.code;
  if (deadline.aborted) {
    return new ToolError(
      'BACKEND_TIMEOUT',
      `${options.name} did not answer within ${timeoutMs} ms.`,
      'It may be overloaded, or the query too expensive: narrow the selector or shorten the range, then retry.',
    );
  }
  const reason = typeof code === 'string' ? describeNetworkCode(code) : 'the connection failed';
  return new ToolError(
    'BACKEND_UNREACHABLE',
    `${options.name} is unreachable: ${reason}.`,
    `Check that ${options.name} is running and that ${options.envVar} points at it; \`devops-mcp check\` tests the connection.`,
  );
}

function describeNetworkCode(code: string): string {
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'its host name does not resolve';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'the connection was reset';
    case 'ETIMEDOUT':
      return 'the connection timed out';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'no route to its host';
    default:
      return `network error ${code}`;
  }
}

function tooLarge(options: HttpBackendOptions): ToolError {
  return new ToolError(
    'RESULT_TOO_LARGE',
    `${options.name} answered with more than ${formatBytes(options.maxResponseBytes)}; the read was stopped.`,
    options.tooLargeHint ??
      'Ask for less: aggregate (sum by (...)), select fewer series (topk, a narrower selector), or shorten the range.',
  );
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10 * 1024 ? 1 : 0)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}
