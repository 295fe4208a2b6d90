// The verdict on a service from its /health and /metrics: healthy, degraded or down, with the reasons.

import type { Counters, CounterSeries, Probe } from '../clients/predictor.ts';
import { histogramQuantile, parseExposition, type MetricSample } from './exposition.ts';

export interface Thresholds {
  maxErrorRatio: number;
  maxP95Seconds: number;
  slowHealthMs: number;
}

export interface Check {
  name: string;
  ok: boolean;
  detail?: string;
}

export interface Assessment {
  status: 'healthy' | 'degraded' | 'down';
  reasons: string[];
  health: {
    http_status?: number;
    ms: number;
    reported_status?: string;
    version?: string;
    uptime_seconds?: number;
  };
  checks: Check[];
  traffic?: {
    window: string;
    requests: number;
    error_ratio: number;
    p95_seconds?: number;
  };
  model_age_seconds?: number;
  counters?: Counters;
}

const REQUESTS = 'http_requests_total';
const DURATION_BUCKET = 'http_request_duration_seconds_bucket';
// The probes' own requests would dilute the service's real traffic.
const PROBE_ROUTES = new Set(['/health', '/metrics']);

/**
 * A figure that is not a finite number (NaN, ±Inf, or a sum past what a double holds) is neither reported nor
 * compared with a limit; a reason says what it was.
 */
const notFinite = (value: number): string => `${value}, not a finite number`;

/** The counters' first figure that is not a finite number, named by its metric. */
function nonFinite(counters: Counters): { metric: string; value: number } | undefined {
  for (const value of [counters.requests, counters.errors])
    if (!Number.isFinite(value)) return { metric: REQUESTS, value };
  const bucket = counters.buckets.find(([, count]) => !Number.isFinite(count));
  return bucket ? { metric: DURATION_BUCKET, value: bucket[1] } : undefined;
}

const text = (value: unknown): string | undefined =>
  typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
    ? String(value)
    : undefined;

/** A service's checks, whether it lists them ([{name, status}]) or keys them by name ({name: {status}}). */
function readChecks(value: unknown): Check[] {
  const entries: Array<[string, unknown]> = Array.isArray(value)
    ? value.map((item: unknown) => [text((item as { name?: unknown } | null)?.name) ?? '?', item])
    : typeof value === 'object' && value !== null
      ? Object.entries(value)
      : [];
  return entries.map(([name, raw]) => {
    const check = (typeof raw === 'object' && raw !== null ? raw : { status: raw }) as Record<
      string,
      unknown
    >;
    const status = (text(check.status) ?? text(check.ok) ?? '').toLowerCase();
    const ok = ['ok', 'pass', 'passing', 'up', 'healthy', 'true'].includes(status);
    const detail = text(check.detail) ?? text(check.message) ?? text(check.error);
    return { name, ok, ...(detail === undefined ? {} : { detail }) };
  });
}

export function countersOf(samples: readonly MetricSample[], at: number): Counters {
  const series = new Map<string, CounterSeries>();
  for (const sample of samples) {
    if (PROBE_ROUTES.has(sample.labels.route ?? sample.labels.path ?? sample.labels.handler ?? '')) continue;
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort(([a], [b]) => (a < b ? -1 : 1)))}`;
    if (sample.name === REQUESTS) {
      const error = /^5\d\d$/.test(sample.labels.code ?? sample.labels.status ?? '');
      series.set(key, { value: sample.value, kind: 'requests', error });
    } else if (sample.name === DURATION_BUCKET && sample.labels.le !== undefined) {
      const bound = sample.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(sample.labels.le);
      // A bucket without a bound (le="fast") has no place in the histogram: its quantile would be NaN.
      if (Number.isNaN(bound)) continue;
      series.set(key, { value: sample.value, kind: 'bucket', bound });
    }
  }
  return { ...totals(series.values(), at), series };
}

/** Requests, errors and buckets added up over series (whole counts, or what each counted in a window). */
function totals(series: Iterable<CounterSeries>, at: number): Counters {
  let requests = 0;
  let errors = 0;
  const buckets = new Map<number, number>();
  for (const one of series) {
    if (one.kind === 'requests') {
      requests += one.value;
      if (one.error) errors += one.value;
    } else buckets.set(one.bound, (buckets.get(one.bound) ?? 0) + one.value);
  }
  return { at, requests, errors, buckets: [...buckets].sort((a, b) => a[0] - b[0]) };
}

// /health's uptime and the clock between two checks can disagree by a rounding and a probe's latency.
const UPTIME_SLACK_SECONDS = 1;

/**
 * Whether the process restarted since `before` was counted: its uptime is shorter than the time since the previous
 * check (which also sees a restart whose new process has already counted more than the old one had), or, without
 * an uptime, most of the series both checks saw went down. One series that falls or goes away (a route retired, a
 * label that churns) is that series' reset, not a restart: see sincePrevious.
 */
function restarted(now: Counters, before: Counters, uptime: number | undefined): boolean {
  if (uptime !== undefined) return uptime + UPTIME_SLACK_SECONDS < now.at - before.at;
  let both = 0;
  let fell = 0;
  for (const [key, one] of now.series ?? []) {
    const earlier = before.series?.get(key);
    if (earlier === undefined) continue;
    both += 1;
    if (one.value < earlier.value) fell += 1;
  }
  return both === 0 ? now.requests < before.requests : fell * 2 > both;
}

/** What each series counted since `before`, as increase() takes it: a series that fell was reset, a new one counts all. */
function increase(now: Counters, before: Counters): Counters {
  const deltas: CounterSeries[] = [];
  for (const [key, one] of now.series ?? []) {
    const was = before.series?.get(key)?.value ?? 0;
    deltas.push({ ...one, value: one.value >= was ? one.value - was : one.value });
  }
  return totals(deltas, now.at);
}

/** What was counted since the previous check, and the time that covers (`since`, as the reasons word it). */
function sincePrevious(
  now: Counters,
  before: Counters | undefined,
  uptime: number | undefined,
): { counted: Counters; since: string } {
  const life = `since the process started${uptime === undefined ? '' : ` ${Math.round(uptime)} s ago`}`;
  if (!before) return { counted: now, since: life };
  const elapsed = now.at - before.at;
  if (restarted(now, before, uptime)) {
    // Only what the current process counted is known: since its start.
    const since =
      uptime === undefined
        ? `since a restart in the last ${Math.round(elapsed)} s`
        : `since a restart ${Math.round(uptime)} s ago`;
    return { counted: now, since };
  }
  return { counted: increase(now, before), since: `last ${Math.round(elapsed)} s` };
}

/** The fields of a /health body; none when it is not a JSON object (`json`: whether it is JSON at all). */
export function healthFields(text: string | undefined): { fields?: Record<string, unknown>; json: boolean } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text ?? '');
  } catch {
    return { json: false };
  }
  // null, an array or a bare value is valid JSON but has no fields to read.
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
    ? { fields: parsed as Record<string, unknown>, json: true }
    : { json: true };
}

export function assess(
  probe: Probe,
  previous: Counters | undefined,
  now: number,
  limits: Thresholds,
): Assessment {
  const reasons: string[] = [];
  const { health, metrics } = probe;
  const assessment: Assessment = { status: 'healthy', reasons, health: { ms: health.ms }, checks: [] };
  if (health.status !== undefined) assessment.health.http_status = health.status;
  let uptime: number | undefined;

  if (health.status === undefined) {
    reasons.push(`/health did not answer: ${health.error ?? 'no response'}`);
    assessment.status = 'down';
  } else {
    const read = healthFields(health.body);
    const body = read.fields ?? {};
    if (read.fields === undefined)
      reasons.push(
        read.json
          ? '/health body is not a JSON object'
          : `/health answered HTTP ${health.status} with a body that is not JSON`,
      );
    const reported = typeof body.status === 'string' ? body.status : undefined;
    if (reported !== undefined) assessment.health.reported_status = reported;
    if (typeof body.version === 'string') assessment.health.version = body.version;
    const reportedUptime = body.uptime_seconds ?? body.uptime;
    // JSON has no NaN, but a number past a double's range (1e400) parses as Infinity.
    if (typeof reportedUptime === 'number' && !Number.isFinite(reportedUptime)) {
      reasons.push(`/health reports an uptime of ${notFinite(reportedUptime)}; left out`);
    } else if (typeof reportedUptime === 'number') {
      uptime = reportedUptime;
      assessment.health.uptime_seconds = Math.round(uptime);
    }
    assessment.checks = readChecks(body.checks);
    if (health.status >= 500 || reported?.toLowerCase() === 'down') {
      reasons.push(`/health answered HTTP ${health.status}${reported ? ` with status "${reported}"` : ''}`);
      assessment.status = 'down';
    } else if (health.status >= 400) {
      reasons.push(`/health answered HTTP ${health.status}`);
      assessment.status = 'down';
    } else if (reported !== undefined && !['ok', 'healthy', 'up', 'pass'].includes(reported.toLowerCase())) {
      reasons.push(`the service reports status "${reported}"`);
    }
    for (const check of assessment.checks.filter(c => !c.ok)) {
      reasons.push(`check ${check.name} fails${check.detail ? `: ${check.detail}` : ''}`);
    }
    if (health.ms > limits.slowHealthMs)
      reasons.push(`/health took ${health.ms} ms (limit ${limits.slowHealthMs} ms)`);
  }

  if (metrics.status === 200 && metrics.body !== undefined) {
    const samples = parseExposition(metrics.body);
    const counters = countersOf(samples, now);
    const broken = nonFinite(counters);
    if (broken) {
      // Such counters are not kept either: the rates of the next check would come out NaN too.
      reasons.push(`/metrics: ${broken.metric} adds up to ${notFinite(broken.value)}; traffic not assessed`);
    } else {
      assessment.counters = counters;
      const { counted: window, since } = sincePrevious(counters, previous, uptime);
      if (window.requests > 0) {
        const errorRatio = window.errors / window.requests;
        const p95 = histogramQuantile(0.95, window.buckets);
        assessment.traffic = {
          window: since,
          requests: window.requests,
          error_ratio: Number(errorRatio.toFixed(4)),
          ...(p95 === undefined ? {} : { p95_seconds: Number(p95.toFixed(4)) }),
        };
        if (errorRatio > limits.maxErrorRatio) {
          reasons.push(
            `${(errorRatio * 100).toFixed(1)}% of requests failed (5xx) ${since} (limit ${limits.maxErrorRatio * 100}%)`,
          );
        }
        if (p95 !== undefined && p95 > limits.maxP95Seconds) {
          reasons.push(`p95 latency ${p95.toFixed(3)} s ${since} (limit ${limits.maxP95Seconds} s)`);
        }
      }
    }
    const modelAge = samples.find(s => s.name === 'model_age_seconds');
    if (modelAge && !Number.isFinite(modelAge.value))
      reasons.push(`model_age_seconds is ${notFinite(modelAge.value)}; model age unknown`);
    else if (modelAge) assessment.model_age_seconds = Math.round(modelAge.value);
  } else {
    reasons.push(
      metrics.status === undefined
        ? `/metrics did not answer: ${metrics.error ?? 'no response'}`
        : `/metrics answered HTTP ${metrics.status}`,
    );
  }

  if (assessment.status !== 'down' && reasons.length > 0) assessment.status = 'degraded';
  return assessment;
}
