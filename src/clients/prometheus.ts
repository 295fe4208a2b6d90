// Typed client for the Prometheus HTTP API (/api/v1). It knows nothing of MCP or tools.

import { z } from 'zod';
import { ToolError } from '../lib/errors.ts';
import {
  createHttpBackend,
  paramsRequest,
  QUERY_BACKEND_RESILIENCE,
  type HttpBackend,
  type QueryValue,
} from '../lib/http.ts';
import { readMatrixAnswer } from '../lib/matrix-json.ts';
import {
  columnsOf,
  histogramColumnsOf,
  type Columns,
  type HistogramColumns,
  type NativeHistogram,
} from '../lib/series.ts';

export interface PrometheusClientOptions {
  url: string;
  timeoutMs: number;
  maxResponseBytes: number;
  headers?: Record<string, string>;
}

export type Sample = [number, string];
export type HistogramSample = [number, NativeHistogram];
export type Labels = Record<string, string>;
/** A series of an instant vector holds a float sample or a native histogram, never both. */
export type VectorSeries = { metric: Labels; value: Sample } | { metric: Labels; histogram: HistogramSample };
/** A series of a matrix may hold float samples, native histogram samples, or both (never at one time). */
export interface MatrixSeries {
  metric: Labels;
  samples: Columns;
  histograms?: HistogramColumns;
}
export type QueryData =
  | { resultType: 'vector'; result: VectorSeries[] }
  | { resultType: 'matrix'; result: MatrixSeries[] }
  | { resultType: 'scalar'; result: Sample }
  | { resultType: 'string'; result: Sample };

// Query results are validated by hand: a range answer holds tens of thousands of samples, and a zod parse
// (which copies what it checks) tripled the time and the garbage of a 40-series query.
const isSample = (value: unknown): value is Sample =>
  Array.isArray(value) && value.length === 2 && typeof value[0] === 'number' && typeof value[1] === 'string';

// Only the count and sum are read; the buckets are left to PromQL (histogram_quantile).
const isHistogramSample = (value: unknown): value is HistogramSample =>
  Array.isArray(value) &&
  value.length === 2 &&
  typeof value[0] === 'number' &&
  typeof value[1] === 'object' &&
  value[1] !== null &&
  typeof (value[1] as { count?: unknown }).count === 'string' &&
  typeof (value[1] as { sum?: unknown }).sum === 'string';

const isListOf = <T>(value: unknown, item: (v: unknown) => v is T): value is T[] | undefined =>
  value === undefined || (Array.isArray(value) && value.every(item));

const EMPTY: Columns = { t: new Float64Array(0), v: new Float64Array(0) };

function isLabels(value: unknown): value is Labels {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  for (const label in value) if (typeof (value as Labels)[label] !== 'string') return false;
  return true;
}

function readQueryData(data: unknown): QueryData | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const { resultType, result } = data as { resultType?: unknown; result?: unknown };
  switch (resultType) {
    case 'scalar':
      return isSample(result) ? { resultType, result } : undefined;
    case 'string':
      return isSample(result) ? { resultType, result } : undefined;
    case 'vector':
      return Array.isArray(result) &&
        result.every(
          (s: { metric?: unknown; value?: unknown; histogram?: unknown }) =>
            isLabels(s.metric) && (isSample(s.value) || isHistogramSample(s.histogram)),
        )
        ? { resultType, result: result as VectorSeries[] }
        : undefined;
    case 'matrix':
      return Array.isArray(result) &&
        result.every(
          (s: { metric?: unknown; values?: unknown; histograms?: unknown }) =>
            isLabels(s.metric) &&
            (s.values !== undefined || s.histograms !== undefined) &&
            isListOf(s.values, isSample) &&
            isListOf(s.histograms, isHistogramSample),
        )
        ? {
            resultType,
            result: (
              result as Array<{ metric: Labels; values?: Sample[]; histograms?: HistogramSample[] }>
            ).map(s => ({
              metric: s.metric,
              samples: s.values ? columnsOf(s.values) : EMPTY,
              ...(s.histograms ? { histograms: histogramColumnsOf(s.histograms) } : {}),
            })),
          }
        : undefined;
    default:
      return undefined;
  }
}

type Reader<T> = (data: unknown) => T | undefined;
const withSchema =
  <T>(schema: z.ZodType<T>): Reader<T> =>
  data => {
    const parsed = schema.safeParse(data);
    return parsed.success ? parsed.data : undefined;
  };

const envelope = z.object({
  status: z.enum(['success', 'error']),
  data: z.unknown().optional(),
  errorType: z.string().optional(),
  error: z.string().optional(),
  warnings: z.array(z.string()).optional(),
  infos: z.array(z.string()).optional(),
});

const metadataSchema = z.record(
  z.string(),
  z.array(z.object({ type: z.string(), help: z.string(), unit: z.string().optional() })),
);
const readMetadata = withSchema(metadataSchema);
/** Metric family name → its type, help and unit, one entry per distinct set the targets expose. */
export type Metadata = z.output<typeof metadataSchema>;
const readBuildInfo = withSchema(z.object({ version: z.string() }).loose());
const readStrings = withSchema(z.array(z.string()));
const alertsSchema = z.object({
  alerts: z.array(
    z.object({
      labels: z.record(z.string(), z.string()),
      annotations: z.record(z.string(), z.string()).default({}),
      state: z.string(),
      activeAt: z.string().optional(),
      value: z.string().optional(),
    }),
  ),
});
const readAlerts = withSchema(alertsSchema);
const labelsSchema = z.record(z.string(), z.string());
const rulesSchema = z.object({
  groups: z.array(
    z.object({
      rules: z.array(
        z
          .object({
            type: z.string(),
            name: z.string(),
            query: z.string(),
            labels: labelsSchema.optional(),
            alerts: z.array(z.object({ labels: labelsSchema }).loose()).optional(),
          })
          .loose(),
      ),
    }),
  ),
});
const readRules = withSchema(rulesSchema);
export type PrometheusAlert = z.output<typeof alertsSchema>['alerts'][number];

export interface ApiResult<T> {
  data: T;
  warnings: string[];
  /** Prometheus ≥ 2.50's info-level annotations ("PromQL info: …"), which older versions sent as warnings. */
  infos: string[];
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
  metadata(options?: CallOptions): Promise<ApiResult<Metadata>>;
  buildInfo(options?: CallOptions): Promise<{ version: string }>;
  /** Active alerts (pending and firing) as Prometheus's own rule evaluation sees them. */
  alerts(options?: CallOptions): Promise<PrometheusAlert[]>;
  /** The alerting rules, for links to the expression behind an alert. */
  alertRules(options?: CallOptions): Promise<AlertRules>;
  describe(): string;
  close(): Promise<void>;
  /** When Prometheus started, and which alerting rules it has not evaluated since (see RuleEvaluation). */
  ruleEvaluation(options?: CallOptions): Promise<RuleEvaluation>;
}

// The endpoints that take their form by POST too, past lib/http.ts's MAX_GET_QUERY_LENGTH (web/api/v1/api.go);
// /label/<name>/values and the rest are GET only (405 to a POST), so their parameters always go in the URL: a
// 2000-character selector, percent-encoded, stays under the 8 KB request line that proxies commonly allow.
const POST_PATHS = new Set(['/api/v1/query', '/api/v1/query_range', '/api/v1/labels']);

export function createPrometheusClient(options: PrometheusClientOptions): PrometheusClient {
  const http = createHttpBackend({
    name: 'Prometheus',
    envVar: 'PROMETHEUS_URL',
    baseUrl: options.url,
    timeoutMs: options.timeoutMs,
    maxResponseBytes: options.maxResponseBytes,
    headers: { accept: 'application/json', ...options.headers },
    // Every call is a read: a dropped connection or a 503 is retried within the deadline, and an outage trips a
    // breaker so that tools answer at once instead of each waiting out its timeout.
    ...QUERY_BACKEND_RESILIENCE,
  });
  // Prometheus stops evaluating at its own deadline, a little before ours, so it answers with its timeout error.
  const evalTimeout = `${Math.max(100, options.timeoutMs - 250)}ms`;

  async function call<T>(
    path: string,
    params: Record<string, QueryValue>,
    read: Reader<T>,
    signal: AbortSignal | undefined,
    fast?: (body: Buffer) => ApiResult<T> | undefined,
  ): Promise<ApiResult<T>> {
    const request = paramsRequest(path, params, signal, POST_PATHS.has(path));
    const { method } = request;
    const response = await http.request(request);
    if (fast && response.status === 200) {
      const answer = fast(response.body);
      if (answer) return answer;
    }
    return parseResponse(http, { method, path }, response, read);
  }

  return {
    query: (expr, time, opts) =>
      call(
        '/api/v1/query',
        { query: expr, time: time.toFixed(3), timeout: evalTimeout },
        readQueryData,
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
        readQueryData,
        opts?.signal,
        body => fastMatrix(body, Math.floor((end - start) / step) + 1),
      ),
    labelNames: scope => call('/api/v1/labels', scopeParams(scope), readStrings, scope?.signal),
    labelValues: (label, scope) =>
      call(
        `/api/v1/label/${encodeURIComponent(label)}/values`,
        scopeParams(scope),
        readStrings,
        scope?.signal,
      ),
    metadata: opts => call('/api/v1/metadata', {}, readMetadata, opts?.signal),
    buildInfo: async opts => (await call('/api/v1/status/buildinfo', {}, readBuildInfo, opts?.signal)).data,
    alerts: async opts => (await call('/api/v1/alerts', {}, readAlerts, opts?.signal)).data.alerts,
    alertRules: async opts =>
      alertRulesOf((await call('/api/v1/rules', { type: 'alert' }, readRules, opts?.signal)).data),
    describe: () => http.describe(),
    close: () => http.close(),
    ruleEvaluation: async opts => {
      // exclude_alerts (Prometheus 2.54+) spares the rules' alerts; older versions ignore it.
      const [runtime, rules] = await Promise.all([
        call('/api/v1/status/runtimeinfo', {}, readRuntime, opts?.signal).then(
          r => r.data,
          () => undefined,
        ),
        call('/api/v1/rules', { type: 'alert', exclude_alerts: 'true' }, readEvaluations, opts?.signal),
      ]);
      return ruleEvaluationOf(runtime?.startTime, rules.data);
    },
  };
}

/**
 * Right after a start, Prometheus reports no alert of a rule until the rule's group is first evaluated (its
 * interval later at most): an alert missing from /api/v1/alerts then has not ended. `notEvaluated` holds the names
 * of the alerting rules in such groups, and of those whose evaluation fails (health "err"): Prometheus keeps the
 * alerts of a failing rule as they were, but one that restarted has none to keep, and their absence says nothing.
 */
export interface RuleEvaluation {
  /** Unix seconds; undefined when Prometheus did not say. */
  startedAt: number | undefined;
  notEvaluated: ReadonlySet<string>;
}

const readRuntime = withSchema(z.object({ startTime: z.string() }).loose());
const readEvaluations = withSchema(
  z.object({
    groups: z.array(
      z
        .object({
          lastEvaluation: z.string().optional(),
          rules: z.array(
            z.object({ type: z.string(), name: z.string(), health: z.string().optional() }).loose(),
          ),
        })
        .loose(),
    ),
  }),
);

function ruleEvaluationOf(
  startTime: string | undefined,
  data: NonNullable<ReturnType<typeof readEvaluations>>,
): RuleEvaluation {
  const started = startTime === undefined ? Number.NaN : Date.parse(startTime) / 1000;
  const startedAt = Number.isFinite(started) ? started : undefined;
  const notEvaluated = new Set<string>();
  for (const group of data.groups) {
    const alerting = group.rules.filter(rule => rule.type === 'alerting');
    for (const rule of alerting) if (rule.health === 'err') notEvaluated.add(rule.name);
    // Go's zero time until the first evaluation; a group without the field (an older or another server) is taken
    // as evaluated, as before this was looked at.
    if (group.lastEvaluation === undefined) continue;
    const last = Date.parse(group.lastEvaluation) / 1000;
    if (Number.isFinite(last) && last > 0 && (startedAt === undefined || last >= startedAt)) continue;
    for (const rule of alerting) notEvaluated.add(rule.name);
  }
  return { startedAt, notEvaluated };
}

export interface AlertRules {
  /** The PromQL of the rule that raised the alert with these labels (as /api/v1/alerts gives them), if known. */
  queryOf(labels: Labels): string | undefined;
}

export const NO_ALERT_RULES: AlertRules = { queryOf: () => undefined };

const labelsKey = (labels: Labels): string =>
  JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/**
 * Rules share a name (a warning and a critical variant, each with its own threshold), so an alert is matched to its
 * rule by its labels: /api/v1/rules lists each rule's active alerts with the same labels /api/v1/alerts gives them.
 * An alert missing there (it became active between the two reads) falls back to the rules of its name whose own
 * labels it carries; when those differ in their expression, no link is better than the wrong one.
 */
function alertRulesOf(data: z.output<typeof rulesSchema>): AlertRules {
  const rules = data.groups.flatMap(g => g.rules).filter(r => r.type === 'alerting');
  const byAlert = new Map<string, string>();
  for (const rule of rules)
    for (const alert of rule.alerts ?? []) byAlert.set(labelsKey(alert.labels), rule.query);
  return {
    queryOf(labels) {
      const listed = byAlert.get(labelsKey(labels));
      if (listed !== undefined) return listed;
      const queries = new Set(
        rules
          .filter(
            r =>
              r.name === labels.alertname &&
              // A templated label's value is only known once expanded: it tells no rule apart.
              Object.entries(r.labels ?? {}).every(([k, v]) => v.includes('{{') || labels[k] === v),
          )
          .map(r => r.query),
      );
      return queries.size === 1 ? [...queries][0] : undefined;
    },
  };
}

/** A matrix answer read straight into columns (lib/matrix-json.ts); anything else takes the generic path. */
function fastMatrix(body: Buffer, pointsPerSeries: number): ApiResult<QueryData> | undefined {
  const matrix = readMatrixAnswer(body, pointsPerSeries);
  return (
    matrix && {
      data: { resultType: 'matrix', result: matrix.result },
      warnings: matrix.warnings,
      infos: matrix.infos,
    }
  );
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
  sent: { method: 'GET' | 'POST'; path: string },
  response: { status: number; body: Buffer; retryAfter?: string | undefined },
  read: Reader<T>,
): ApiResult<T> {
  const { status, body, retryAfter } = response;
  // Still 429 after the retries: a proxy or a hosted Prometheus limiting us. Said as such, with the wait it asked.
  if (status === 429) {
    throw new ToolError(
      'RATE_LIMITED',
      `${http.name} is limiting requests (HTTP 429)${retryAfter === undefined ? '' : `; Retry-After: ${retryAfter}`}.`,
      'Wait before querying again, and prefer fewer, narrower queries.',
    );
  }
  // Prometheus itself never asks for credentials: a 401 or 403 comes from a proxy or a hosted service in front.
  if (status === 401 || status === 403) {
    throw new ToolError(
      'BACKEND_ERROR',
      `${http.name} refused devops-mcp's credentials (HTTP ${status}).`,
      `Ask the operator to check the credentials in ${http.envVar} (user:password in the URL) or the configured request headers.`,
    );
  }
  // Prometheus answers a method an endpoint does not take with a 405 in plain text; so does a proxy in front that
  // passes only GET. Either way the URL is right: said as such, not as a body that is not JSON.
  if (status === 405) {
    throw new ToolError(
      'BACKEND_ERROR',
      `${http.name} does not accept ${sent.method} at ${sent.path} (HTTP 405 Method Not Allowed).`,
      sent.method === 'POST'
        ? `A proxy in front of ${http.name} may pass only GET; a shorter query or selector (under about 2,000 characters) goes by GET.`
        : `A proxy in front of ${http.name} may not pass GET for this path; ask the operator.`,
    );
  }
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
  const data = read(reply.data);
  if (data === undefined) {
    throw new ToolError('BACKEND_ERROR', `${http.name} returned data of an unexpected shape.`);
  }
  return { data, warnings: reply.warnings ?? [], infos: reply.infos ?? [] };
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
