// Client for a watched service's own endpoints: GET /health (JSON) and GET /metrics (Prometheus text).

import { ToolError } from '../lib/errors.ts';
import { createHttpBackend, type HttpBackend } from '../lib/http.ts';

export interface EndpointResult {
  /** HTTP status, or undefined when there was no answer. */
  status?: number;
  ms: number;
  body?: string;
  /** Why there was no answer: refused, timed out, … */
  error?: string;
  /** Set when the service answered with a body longer than this read cap (bytes): the body was not read. */
  bodyOverBytes?: number;
}

export interface Probe {
  health: EndpointResult;
  metrics: EndpointResult;
}

export interface PredictorClient {
  /** Names of the configured targets, the default first. */
  targets(): string[];
  has(target: string): boolean;
  /** Both endpoints, concurrently; never throws for a target that is down or hanging. */
  probe(target: string, signal?: AbortSignal): Promise<Probe>;
  /** A target's base URL without credentials, for operator-facing output only (never tool results). */
  describe(target: string): string;
  /** The counters seen at a target's previous probe, so that rates cover the time between two calls. */
  recall(target: string): Counters | undefined;
  remember(target: string, counters: Counters): void;
  close(): Promise<void>;
}

export interface Counters {
  /** Unix seconds. */
  at: number;
  requests: number;
  errors: number;
  /** Cumulative latency histogram: [upper bound in seconds, count]. */
  buckets: Array<[number, number]>;
  /**
   * The same counts series by series (by metric and labels), so that the next check can take what each counted in
   * between, as Prometheus's increase() does, when one disappears, appears or resets on its own.
   */
  series?: Map<string, CounterSeries>;
}

/** One counter series: a request count (a 5xx one or not) or a latency bucket. */
export type CounterSeries =
  { value: number; kind: 'requests'; error: boolean } | { value: number; kind: 'bucket'; bound: number };

export const DEFAULT_TARGET = 'default';
const MAX_BODY_BYTES = 4 * 1024 * 1024;

export function createPredictorClient(options: {
  url: string;
  targets: Record<string, string>;
  timeoutMs: number;
}): PredictorClient {
  const urls = new Map<string, string>([[DEFAULT_TARGET, options.url], ...Object.entries(options.targets)]);
  const backends = new Map<string, HttpBackend>();
  const previous = new Map<string, Counters>();
  const backendFor = (target: string): HttpBackend => {
    let http = backends.get(target);
    if (!http) {
      http = createHttpBackend({
        name: target === DEFAULT_TARGET ? 'The predictor' : `Target ${target}`,
        envVar: 'PREDICTOR_URL',
        baseUrl: urls.get(target) ?? options.url,
        timeoutMs: options.timeoutMs,
        maxResponseBytes: MAX_BODY_BYTES,
      });
      backends.set(target, http);
    }
    return http;
  };

  async function fetchEndpoint(
    http: HttpBackend,
    path: string,
    signal?: AbortSignal,
  ): Promise<EndpointResult> {
    const started = performance.now();
    try {
      const response = await http.request({ path, signal });
      return {
        status: response.status,
        ms: Math.round(response.elapsedMs),
        body: response.body.toString('utf8'),
      };
    } catch (error) {
      if (error instanceof ToolError && error.code === 'CANCELLED') throw error;
      const ms = Math.round(performance.now() - started);
      // An answer, just too long to read: not "did not answer", which would call the service down.
      if (error instanceof ToolError && error.code === 'RESULT_TOO_LARGE')
        return { ms, bodyOverBytes: MAX_BODY_BYTES };
      const reason = error instanceof ToolError ? error.message : String(error);
      return { ms, error: reason };
    }
  }

  return {
    targets: () => [...urls.keys()],
    has: target => urls.has(target),
    async probe(target, signal) {
      const http = backendFor(target);
      const [health, metrics] = await Promise.all([
        fetchEndpoint(http, '/health', signal),
        fetchEndpoint(http, '/metrics', signal),
      ]);
      return { health, metrics };
    },
    describe: target => backendFor(target).describe(),
    recall: target => previous.get(target),
    remember: (target, counters) => previous.set(target, counters),
    async close() {
      await Promise.all([...backends.values()].map(b => b.close()));
    },
  };
}
