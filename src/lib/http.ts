// One keep-alive connection pool per backend, with a deadline on every call and a cap on what is read.

import type { Dispatcher, Pool } from 'undici';
import { ToolError } from './errors.ts';

export interface HttpBackendOptions {
  /** Human name used in errors: "Prometheus". */
  name: string;
  /** Setting that configures it, named in errors: "PROMETHEUS_URL". */
  envVar: string;
  baseUrl: string;
  timeoutMs: number;
  maxResponseBytes: number;
  headers?: Record<string, string>;
}

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
}

export interface HttpBackend {
  readonly name: string;
  readonly envVar: string;
  request(req: HttpRequest): Promise<HttpResponse>;
  /** The base URL without credentials, for operator-facing output only (never tool results). */
  describe(): string;
  close(): Promise<void>;
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

export function createHttpBackend(options: HttpBackendOptions): HttpBackend {
  const url = new URL(options.baseUrl);
  const basePath = url.pathname.replace(/\/+$/, '');
  const defaultHeaders: Record<string, string> = { 'user-agent': 'devops-mcp', ...options.headers };
  if (url.username !== '' || url.password !== '') {
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    defaultHeaders.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  }
  const publicUrl = `${url.protocol}//${url.host}${basePath}`;
  // undici loads on first use so that `serve` starts without it.
  let pool: Promise<Pool> | undefined;
  const getPool = (): Promise<Pool> =>
    (pool ??= import('undici').then(
      ({ Pool }) => new Pool(url.origin, { connections: 16, keepAliveTimeout: 30_000, pipelining: 1 }),
    ));

  async function request(req: HttpRequest): Promise<HttpResponse> {
    const timeoutMs = req.timeoutMs ?? options.timeoutMs;
    const deadline = AbortSignal.timeout(timeoutMs);
    const signal = req.signal ? AbortSignal.any([deadline, req.signal]) : deadline;
    const query = req.query ? encodeParams(req.query) : '';
    const headers = { ...defaultHeaders, ...req.headers };
    let body: string | undefined;
    if (req.form) {
      body = encodeParams(req.form);
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    const started = performance.now();
    let response: Dispatcher.ResponseData;
    try {
      response = await (
        await getPool()
      ).request({
        method: req.method ?? 'GET',
        path: `${basePath}${req.path}${query === '' ? '' : `?${query}`}`,
        headers,
        body,
        signal,
      });
    } catch (error) {
      throw transportError(error, options, timeoutMs, deadline, req.signal);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > options.maxResponseBytes) {
          response.body.destroy();
          throw new ToolError(
            'RESULT_TOO_LARGE',
            `${options.name} answered with more than ${formatBytes(options.maxResponseBytes)}; the read was stopped.`,
            'Ask for less: aggregate (sum by (...)), select fewer series (topk, a narrower selector), or shorten the range.',
          );
        }
        chunks.push(chunk);
      }
    } catch (error) {
      if (error instanceof ToolError) throw error;
      throw transportError(error, options, timeoutMs, deadline, req.signal);
    }
    const contentType = response.headers['content-type'];
    return {
      status: response.statusCode,
      contentType: typeof contentType === 'string' ? contentType : '',
      body: Buffer.concat(chunks, size),
      elapsedMs: performance.now() - started,
    };
  }

  return {
    name: options.name,
    envVar: options.envVar,
    request,
    describe: () => publicUrl,
    async close() {
      if (pool) await (await pool).close();
    },
  };
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
  if (deadline.aborted || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
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
    case 'UND_ERR_SOCKET':
      return 'the connection was reset';
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'the connection timed out';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'no route to its host';
    default:
      return `network error ${code}`;
  }
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10 * 1024 ? 1 : 0)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}
