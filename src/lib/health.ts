// The verdict on a service from its /health and /metrics: healthy, degraded or down, with the reasons.

import type { Counters, CounterSeries, EndpointResult, Probe } from '../clients/predictor.ts';
import { histogramQuantile, parseExposition, type MetricSample } from './exposition.ts';
import { formatBytes } from './http.ts';
import { cutLine } from './logs.ts';
import { printable } from './terminal.ts';

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

// What a service writes of itself is made printable (an escape sequence in a check's detail would reach a client's
// terminal, the watcher's timeline and `check` raw) and cut to these lengths, and only so many failing checks get a
// reason each: a /health body can hold megabytes, and all of it would go into each of those.
const NAME_CHARS = 80;
const DETAIL_CHARS = 200;
const FIELD_CHARS = 80;
const CHECK_REASONS = 10;

/**
 * A figure that is not a finite number (NaN, ±Inf, or a sum past what a double holds), or is below zero where it
 * cannot be (a count, an uptime, an age), is neither reported nor compared with a limit; a reason says what it was.
 */
const notFinite = (value: number): string => `${value}, not a finite number`;
const belowZero = (value: number): string => `${value}, below zero`;
const unreadable = (value: number): string | undefined =>
  !Number.isFinite(value) ? notFinite(value) : value < 0 ? belowZero(value) : undefined;

/** Why the counters cannot be read, naming the metric: a total that is not finite, or a series below zero. */
function unreadableCounters(counters: Counters): string | undefined {
  for (const value of [counters.requests, counters.errors])
    if (!Number.isFinite(value)) return `${REQUESTS} adds up to ${notFinite(value)}`;
  const bucket = counters.buckets.find(([, count]) => !Number.isFinite(count));
  if (bucket) return `${DURATION_BUCKET} adds up to ${notFinite(bucket[1])}`;
  // A counter only grows from zero: a negative one would come out as a negative ratio or a rise from a reset.
  for (const one of counters.series?.values() ?? [])
    if (one.value < 0)
      return `${one.kind === 'requests' ? REQUESTS : DURATION_BUCKET} has a series at ${belowZero(one.value)}`;
  return undefined;
}

/** The service's own words as shown: printable, then cut (each character stays one, so the cut falls as it would). */
const asShown = (value: string, maxChars: number): string => cutLine(printable(value), maxChars);

const text = (value: unknown): string | undefined =>
  typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
    ? String(value)
    : undefined;

/** An endpoint that answered with more than the client reads: what it said is unknown, not that it is down. */
const overCap = (path: string, result: EndpointResult, what: string): string | undefined =>
  result.bodyOverBytes === undefined
    ? undefined
    : `${path} answered with a body over the ${formatBytes(result.bodyOverBytes)} read cap; ${what} not read`;

/** A service's checks, whether it lists them ([{name, status}]) or keys them by name ({name: {status}}). */
function readChecks(value: unknown): Check[] {
  const entries: Array<[string, unknown]> = Array.isArray(value)
    ? value.map((item: unknown) => [text((item as { name?: unknown } | null)?.name) ?? '?', item])
    : typeof value === 'object' && value !== null
      ? Object.entries(value)
      : [];
  return entries.map(([rawName, raw]) => {
    const name = asShown(rawName, NAME_CHARS);
    const check = (typeof raw === 'object' && raw !== null ? raw : { status: raw }) as Record<
      string,
      unknown
    >;
    const status = (text(check.status) ?? text(check.ok) ?? '').toLowerCase();
    const ok = ['ok', 'pass', 'passing', 'up', 'healthy', 'true'].includes(status);
    const detail = text(check.detail) ?? text(check.message) ?? text(check.error);
    return { name, ok, ...(detail === undefined ? {} : { detail: asShown(detail, DETAIL_CHARS) }) };
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

  const healthOverCap = overCap('/health', health, 'its status and checks were');
  if (healthOverCap !== undefined) {
    // The service answered, so it is up and serving: degraded, not down, like a 200 whose body is not JSON. Its HTTP
    // status is not known either (the read stops at the cap), so a 500 this large is not told from a 200.
    reasons.push(healthOverCap);
  } else if (health.status === undefined) {
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
    // Compared whole, shown cut.
    const shown = reported === undefined ? undefined : asShown(reported, FIELD_CHARS);
    if (shown !== undefined) assessment.health.reported_status = shown;
    if (typeof body.version === 'string') assessment.health.version = asShown(body.version, FIELD_CHARS);
    const reportedUptime = body.uptime_seconds ?? body.uptime;
    // JSON has no NaN, but a number past a double's range (1e400) parses as Infinity.
    const badUptime = typeof reportedUptime === 'number' ? unreadable(reportedUptime) : undefined;
    if (badUptime !== undefined) {
      // Left out of restarted() too: a negative uptime would read as a restart at every check.
      reasons.push(`/health reports an uptime of ${badUptime}; left out`);
    } else if (typeof reportedUptime === 'number') {
      uptime = reportedUptime;
      assessment.health.uptime_seconds = Math.round(uptime);
    }
    assessment.checks = readChecks(body.checks);
    if (health.status >= 500 || reported?.toLowerCase() === 'down') {
      reasons.push(`/health answered HTTP ${health.status}${shown ? ` with status "${shown}"` : ''}`);
      assessment.status = 'down';
    } else if (health.status >= 400) {
      reasons.push(`/health answered HTTP ${health.status}`);
      assessment.status = 'down';
    } else if (reported !== undefined && !['ok', 'healthy', 'up', 'pass'].includes(reported.toLowerCase())) {
      reasons.push(`the service reports status "${shown ?? ''}"`);
    }
    const failing = assessment.checks.filter(c => !c.ok);
    for (const check of failing.slice(0, CHECK_REASONS)) {
      reasons.push(`check ${check.name} fails${check.detail ? `: ${check.detail}` : ''}`);
    }
    if (failing.length > CHECK_REASONS) reasons.push(`${failing.length - CHECK_REASONS} more checks fail`);
    if (health.ms > limits.slowHealthMs)
      reasons.push(`/health took ${health.ms} ms (limit ${limits.slowHealthMs} ms)`);
  }

  if (metrics.status === 200 && metrics.body !== undefined) {
    const samples = parseExposition(metrics.body);
    const counters = countersOf(samples, now);
    const broken = unreadableCounters(counters);
    if (broken !== undefined) {
      // Such counters are not kept either: the rates of the next check would come out NaN too.
      reasons.push(`/metrics: ${broken}; traffic not assessed`);
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
    const badAge = modelAge && unreadable(modelAge.value);
    if (badAge !== undefined) reasons.push(`model_age_seconds is ${badAge}; model age unknown`);
    else if (modelAge) assessment.model_age_seconds = Math.round(modelAge.value);
  } else {
    reasons.push(
      overCap('/metrics', metrics, 'traffic and model age') ??
        (metrics.status === undefined
          ? `/metrics did not answer: ${metrics.error ?? 'no response'}`
          : `/metrics answered HTTP ${metrics.status}`),
    );
  }

  if (assessment.status !== 'down' && reasons.length > 0) assessment.status = 'degraded';
  return assessment;
}
