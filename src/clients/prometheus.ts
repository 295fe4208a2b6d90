// Typed client for the Prometheus HTTP API (/api/v1). It knows nothing of MCP or tools.

import { z } from 'zod';
import { ToolError } from '../lib/errors.ts';
import { createHttpBackend, type HttpBackend, type QueryValue } from '../lib/http.ts';

export interface PrometheusClientOptions {
  url: string;
  timeoutMs: number;
  maxResponseBytes: number;
  headers?: Record<string, string>;
}

const sample = z.tuple([z.number(), z.string()]);
const labels = z.record(z.string(), z.string());

const queryData = z.discriminatedUnion('resultType', [
  z.object({ resultType: z.literal('vector'), result: z.array(z.object({ metric: labels, value: sample })) }),
  z.object({
    resultType: z.literal('matrix'),
    result: z.array(z.object({ metric: labels, values: z.array(sample) })),
  }),
  z.object({ resultType: z.literal('scalar'), result: sample }),
  z.object({ resultType: z.literal('string'), result: sample }),
]);

export type QueryData = z.output<typeof queryData>;
export type Sample = z.output<typeof sample>;

const envelope = z.object({
  status: z.enum(['success', 'error']),
  data: z.unknown().optional(),
  errorType: z.string().optional(),
  error: z.string().optional(),
  warnings: z.array(z.string()).optional(),
  infos: z.array(z.string()).optional(),
});

const metadata = z.record(
  z.string(),
  z.array(z.object({ type: z.string(), help: z.string(), unit: z.string().optional() })),
);
const buildInfo = z.object({ version: z.string() }).loose();

export interface ApiResult<T> {
  data: T;
  warnings: string[];
}

export interface CallOptions {
  signal?: AbortSignal | undefined;
}

export interface SeriesScope extends CallOptions {
  match?: readonly string[] | undefined;
  start?: number | undefined;
  end?: number | undefined;
}

export interface PrometheusClient {
  query(expr: string, time: number, options?: CallOptions): Promise<ApiResult<QueryData>>;
  queryRange(
    expr: string,
    start: number,
    end: number,
    step: number,
    options?: CallOptions,
  ): Promise<ApiResult<QueryData>>;
  labelNames(scope?: SeriesScope): Promise<ApiResult<string[]>>;
  labelValues(label: string, scope?: SeriesScope): Promise<ApiResult<string[]>>;
  metadata(options?: CallOptions): Promise<ApiResult<z.output<typeof metadata>>>;
  buildInfo(options?: CallOptions): Promise<{ version: string }>;
  describe(): string;
  close(): Promise<void>;
}

// Past this, a GET URL risks proxies' and Prometheus's own line limits; POST carries the same form.
const MAX_GET_QUERY_LENGTH = 2048;

export function createPrometheusClient(options: PrometheusClientOptions): PrometheusClient {
  const http = createHttpBackend({
    name: 'Prometheus',
    envVar: 'PROMETHEUS_URL',
    baseUrl: options.url,
    timeoutMs: options.timeoutMs,
    maxResponseBytes: options.maxResponseBytes,
    headers: { accept: 'application/json', ...options.headers },
  });
  // Prometheus stops evaluating at its own deadline, a little before ours, so it answers with its timeout error.
  const evalTimeout = `${Math.max(100, options.timeoutMs - 250)}ms`;

  async function call<T>(
    path: string,
    params: Record<string, QueryValue>,
    schema: z.ZodType<T>,
    signal: AbortSignal | undefined,
  ): Promise<ApiResult<T>> {
    const encodedLength = JSON.stringify(params).length;
    const response = await http.request(
      encodedLength > MAX_GET_QUERY_LENGTH
        ? { method: 'POST', path, form: params, signal }
        : { method: 'GET', path, query: params, signal },
    );
    return parseResponse(http, response.status, response.body, schema);
  }

  return {
    query: (expr, time, opts) =>
      call(
        '/api/v1/query',
        { query: expr, time: time.toFixed(3), timeout: evalTimeout },
        queryData,
        opts?.signal,
      ),
    queryRange: (expr, start, end, step, opts) =>
      call(
        '/api/v1/query_range',
        {
          query: expr,
          start: start.toFixed(3),
          end: end.toFixed(3),
          step: String(step),
          timeout: evalTimeout,
        },
        queryData,
        opts?.signal,
      ),
    labelNames: scope => call('/api/v1/labels', scopeParams(scope), z.array(z.string()), scope?.signal),
    labelValues: (label, scope) =>
      call(
        `/api/v1/label/${encodeURIComponent(label)}/values`,
        scopeParams(scope),
        z.array(z.string()),
        scope?.signal,
      ),
    metadata: opts => call('/api/v1/metadata', {}, metadata, opts?.signal),
    buildInfo: async opts => (await call('/api/v1/status/buildinfo', {}, buildInfo, opts?.signal)).data,
    describe: () => http.describe(),
    close: () => http.close(),
  };
}

function scopeParams(scope: SeriesScope | undefined): Record<string, QueryValue> {
  return {
    'match[]': scope?.match,
    start: scope?.start?.toFixed(3),
    end: scope?.end?.toFixed(3),
  };
}

function parseResponse<T>(
  http: HttpBackend,
  status: number,
  body: Buffer,
  schema: z.ZodType<T>,
): ApiResult<T> {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ToolError(
      'BACKEND_ERROR',
      `${http.name} answered HTTP ${status} with a body that is not JSON${status >= 500 ? '' : ' (is PROMETHEUS_URL the Prometheus server?)'}.`,
      status >= 500 ? 'The server or a proxy in front of it failed; retry later.' : `Check ${http.envVar}.`,
    );
  }
  const parsed = envelope.safeParse(json);
  if (!parsed.success) {
    throw new ToolError(
      'BACKEND_ERROR',
      `${http.name} answered HTTP ${status} with an unexpected JSON shape.`,
    );
  }
  const reply = parsed.data;
  if (reply.status === 'error' || status >= 400) {
    throw prometheusError(status, reply.errorType ?? 'unknown', reply.error ?? `HTTP ${status}`);
  }
  const data = schema.safeParse(reply.data);
  if (!data.success) {
    throw new ToolError('BACKEND_ERROR', `${http.name} returned data of an unexpected shape.`);
  }
  return { data: data.data, warnings: reply.warnings ?? [] };
}

/** Maps Prometheus's `errorType` and message to a tool error with a hint the model can act on. */
export function prometheusError(status: number, errorType: string, message: string): ToolError {
  const text = `Prometheus rejected the query (errorType ${errorType}, HTTP ${status}): ${message}`;
  if (/exceeded maximum resolution of 11,?000 points/i.test(message)) {
    return new ToolError('QUERY_ERROR', text, 'Use a larger step or a shorter range.');
  }
  switch (errorType) {
    case 'bad_data':
      return new ToolError(
        'QUERY_ERROR',
        text,
        'Fix the PromQL (check brackets, quotes and function names); explore_prometheus shows which metrics and labels exist.',
      );
    case 'timeout':
    case 'canceled':
      return new ToolError(
        'BACKEND_TIMEOUT',
        text,
        'The query is too expensive: narrow the selector, shorten the range or raise the step.',
      );
    case 'execution':
      return new ToolError(
        'QUERY_ERROR',
        text,
        /many samples/i.test(message)
          ? 'Too many samples: aggregate (sum by (...)), narrow the selector or shorten the range.'
          : 'Check the expression; aggregating or narrowing the selector often helps.',
      );
    default:
      return new ToolError(
        'BACKEND_ERROR',
        text,
        status >= 500 ? 'Prometheus failed; retry later.' : undefined,
      );
  }
}
