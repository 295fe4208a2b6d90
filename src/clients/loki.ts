// Typed client for Loki's HTTP API (/loki/api/v1). It knows nothing of MCP or tools.

import { z } from 'zod';
import { ToolError } from '../lib/errors.ts';
import { createHttpBackend, paramsRequest, QUERY_BACKEND_RESILIENCE, type QueryValue } from '../lib/http.ts';

export interface LokiClientOptions {
  url: string;
  timeoutMs: number;
  maxResponseBytes: number;
  headers?: Record<string, string>;
}

export type Labels = Record<string, string>;
export interface LokiStream {
  stream: Labels;
  /** [nanosecond timestamp as a string, line]; a third element (structured metadata) may follow. */
  values: Array<[string, string, ...unknown[]]>;
}
export interface LokiSeries {
  metric: Labels;
  values: Array<[number, string]>;
}
export type LokiQueryData =
  | { resultType: 'streams'; result: LokiStream[]; stats: LokiStats }
  | { resultType: 'matrix'; result: LokiSeries[]; stats: LokiStats };

export interface LokiStats {
  totalBytesProcessed?: number;
  totalLinesProcessed?: number;
}

const labels = z.record(z.string(), z.string());
const summary = z
  .object({
    summary: z.object({ totalBytesProcessed: z.number(), totalLinesProcessed: z.number() }).partial().loose(),
  })
  .partial()
  .loose();
const queryResponse = z.object({
  status: z.literal('success'),
  data: z.discriminatedUnion('resultType', [
    z.object({
      resultType: z.literal('streams'),
      result: z.array(
        z.object({ stream: labels, values: z.array(z.tuple([z.string(), z.string()]).rest(z.unknown())) }),
      ),
      stats: summary.optional(),
    }),
    z.object({
      resultType: z.literal('matrix'),
      result: z.array(z.object({ metric: labels, values: z.array(z.tuple([z.number(), z.string()])) })),
      stats: summary.optional(),
    }),
  ]),
});
const stringList = z.object({ status: z.literal('success'), data: z.array(z.string()).default([]) });
const indexStats = z.object({
  streams: z.number(),
  chunks: z.number(),
  entries: z.number(),
  bytes: z.number(),
});

export type IndexStats = z.output<typeof indexStats>;

export interface RangeQuery {
  query: string;
  /** Unix seconds, or a nanosecond epoch string, passed to Loki digit for digit. */
  start: number | string;
  /** Exclusive, as Loki reads it. */
  end: number | string;
  limit?: number;
  direction?: 'forward' | 'backward';
  step?: number;
  signal?: AbortSignal | undefined;
}

export interface LokiClient {
  queryRange(query: RangeQuery): Promise<LokiQueryData>;
  labels(scope: {
    start: number;
    end: number;
    query?: string | undefined;
    signal?: AbortSignal;
  }): Promise<string[]>;
  labelValues(
    label: string,
    scope: { start: number; end: number; query?: string | undefined; signal?: AbortSignal },
  ): Promise<string[]>;
  /** undefined when this Loki has no index statistics endpoint. */
  indexStats(
    selector: string,
    start: number,
    end: number,
    signal?: AbortSignal,
  ): Promise<IndexStats | undefined>;
  describe(): string;
  close(): Promise<void>;
}

/** Unix seconds as Loki's nanosecond epoch, exactly (a float would lose the last digits). */
export function toNanos(seconds: number): string {
  const whole = Math.floor(seconds);
  const fraction = Math.round((seconds - whole) * 1e9);
  return fraction === 0 ? `${whole}000000000` : `${whole}${String(fraction).padStart(9, '0')}`;
}

export function fromNanos(nanos: string): number {
  return nanos.length > 9 ? Number(nanos.slice(0, -9)) + Number(nanos.slice(-9)) / 1e9 : Number(nanos) / 1e9;
}

// An answer over the cap is cut by lines or streams, not by series alone as the shared PromQL hint says.
const TOO_LARGE_HINT =
  'Ask for less: fewer lines (a lower limit, a line filter such as |= "error"), a narrower stream selector or a shorter range; aggregate a metric query (sum by (...)).';

export function createLokiClient(options: LokiClientOptions): LokiClient {
  const http = createHttpBackend({
    name: 'Loki',
    envVar: 'LOKI_URL',
    baseUrl: options.url,
    timeoutMs: options.timeoutMs,
    maxResponseBytes: options.maxResponseBytes,
    headers: { accept: 'application/json', ...options.headers },
    // Every call is a read: a dropped connection or a 503 is retried within the deadline, and an outage trips a
    // breaker so that tools answer at once instead of each waiting out its timeout.
    ...QUERY_BACKEND_RESILIENCE,
    tooLargeHint: TOO_LARGE_HINT,
  });

  async function get<T>(
    path: string,
    params: Record<string, QueryValue>,
    schema: z.ZodType<T>,
    signal?: AbortSignal,
  ) {
    // Every endpoint used here takes the same parameters as a POST form (past lib/http.ts's MAX_GET_QUERY_LENGTH).
    const request = paramsRequest(path, params, signal);
    const { method } = request;
    const response = await http.request(request);
    const text = response.body.toString('utf8');
    if (response.status >= 400) throw lokiError(response.status, text, { method, path });
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new ToolError(
        'BACKEND_ERROR',
        `Loki answered HTTP ${response.status} with a body that is not JSON.`,
        'Check LOKI_URL.',
      );
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new ToolError('BACKEND_ERROR', 'Loki returned data of an unexpected shape.');
    return parsed.data;
  }

  return {
    async queryRange(q) {
      const body = await get(
        '/loki/api/v1/query_range',
        {
          query: q.query,
          start: typeof q.start === 'string' ? q.start : toNanos(q.start),
          end: typeof q.end === 'string' ? q.end : toNanos(q.end),
          limit: q.limit,
          direction: q.direction,
          // Float seconds: Loki reads a fraction (1.5) there, but not in a duration ("1.5s" is refused).
          step: q.step === undefined ? undefined : String(q.step),
        },
        queryResponse,
        q.signal,
      );
      const stats: LokiStats = { ...body.data.stats?.summary };
      return body.data.resultType === 'streams'
        ? { resultType: 'streams', result: body.data.result, stats }
        : { resultType: 'matrix', result: body.data.result, stats };
    },
    labels: async scope =>
      (await get('/loki/api/v1/labels', scopeParams(scope), stringList, scope.signal)).data,
    labelValues: async (label, scope) =>
      (
        await get(
          `/loki/api/v1/label/${encodeURIComponent(label)}/values`,
          scopeParams(scope),
          stringList,
          scope.signal,
        )
      ).data,
    async indexStats(selector, start, end, signal) {
      try {
        return await get(
          '/loki/api/v1/index/stats',
          { query: selector, start: toNanos(start), end: toNanos(end) },
          indexStats,
          signal,
        );
      } catch (error) {
        // An older Loki, or a gateway that does not pass it on, has no index/stats: the query goes as it is.
        if (error instanceof LokiHttpError && error.status === 404) return undefined;
        throw error;
      }
    },
    describe: () => http.describe(),
    close: () => http.close(),
  };
}

function scopeParams(scope: {
  start: number;
  end: number;
  query?: string | undefined;
}): Record<string, QueryValue> {
  return { start: toNanos(scope.start), end: toNanos(scope.end), query: scope.query };
}

/** Loki's HTTP error, with its status for the callers that decide on it (a missing endpoint). */
export class LokiHttpError extends ToolError {
  readonly status: number;
  constructor(code: string, message: string, hint: string, status: number) {
    super(code, message, hint);
    this.status = status;
  }
}

/** Loki answers errors in plain text; keep its words, they say what to change. `sent` is the request refused. */
export function lokiError(
  status: number,
  body: string,
  sent: { method: 'GET' | 'POST'; path: string },
): LokiHttpError {
  const error = (code: string, text: string, hint: string) => new LokiHttpError(code, text, hint, status);
  const message = body.trim().slice(0, 1000) || `HTTP ${status}`;
  const text = `Loki rejected the query (HTTP ${status}): ${message}`;
  // Loki's query API has no resource that can be missing: a 404 is a path that is not Loki's API.
  if (status === 404) {
    return error(
      'BACKEND_ERROR',
      text,
      'Check LOKI_URL: it must be the base URL Loki serves /loki/api/v1 under (with any proxy path prefix).',
    );
  }
  // A multi-tenant Loki refuses a request without X-Scope-OrgID ("no org id"), and a proxy in front of it one
  // without its credentials: no change to the query helps, only the operator's configuration.
  if (status === 401 || status === 403) {
    return error(
      'BACKEND_ERROR',
      `Loki refused devops-mcp's request (HTTP ${status}): ${message}`,
      'Ask the operator to check the credentials: user:password in LOKI_URL, or loki.headers in the DEVOPS_MCP_CONFIG file (X-Scope-OrgID for a multi-tenant Loki).',
    );
  }
  // Loki takes both methods on every endpoint used here: a 405 comes from a proxy in front that passes only GET (a
  // long query goes by POST) or not this path at all. Its body is the proxy's page, which says no more than that.
  if (status === 405) {
    return error(
      'BACKEND_ERROR',
      `Loki does not accept ${sent.method} at ${sent.path} (HTTP 405 Method Not Allowed).`,
      sent.method === 'POST'
        ? 'A proxy in front of Loki may pass only GET; a shorter query goes by GET (a request over 2,048 characters URL-encoded goes by POST): fewer alternatives in a regex, or several smaller queries.'
        : 'A proxy in front of Loki may not pass GET for this path; ask the operator to check LOKI_URL and the proxy.',
    );
  }
  if (status === 429)
    return error('RATE_LIMITED', text, 'Loki is limiting this tenant; wait a little and retry.');
  // Loki's querier answers 413 for an answer over its message size; anything else refused as too large is the
  // request: a URL or headers over a proxy's limit, or a POST body over its body limit.
  if (status === 413 && /response larger than the max/i.test(message))
    return error('RESULT_TOO_LARGE', text, TOO_LARGE_HINT);
  if (status === 413 || status === 414 || status === 431) {
    return error(
      'QUERY_ERROR',
      `The request is too long for Loki or a proxy in front of it (HTTP ${status}).`,
      'Shorten the query: fewer alternatives in a regex, or several smaller queries.',
    );
  }
  // Only a 5xx reads as a timeout (Loki's own is a 504, "request timed out, …"): a 400's message may quote the
  // query, whose regex or line filter can say "timeout" itself.
  if (status === 408 || status === 504 || (status >= 500 && /timed out|deadline exceeded/i.test(message)))
    return error('BACKEND_TIMEOUT', text, 'Narrow the stream selector or shorten the range.');
  if (status >= 500) return error('BACKEND_ERROR', text, 'Loki failed; retry later.');
  if (status === 400) {
    if (/max entries limit/i.test(message)) return error('QUERY_ERROR', text, 'Ask for fewer lines (limit).');
    if (/time range exceeds|query length/i.test(message))
      return error('QUERY_ERROR', text, 'Shorten the range (start/end).');
    return error('QUERY_ERROR', text, 'Fix the LogQL; explore_loki shows which labels exist.');
  }
  // Loki answers a query it cannot run with a 400; any other status (407, …) comes from something in front of it.
  return error(
    'BACKEND_ERROR',
    text,
    "Check LOKI_URL and loki.headers: this status is not one of Loki's query errors, so it likely comes from a proxy in front of Loki.",
  );
}
