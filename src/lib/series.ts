// Statistics over one time series: what an LLM needs to reason about it without reading every point.

export interface Point {
  /** Unix seconds. */
  t: number;
  v: number;
}

/**
 * A series' samples as two parallel columns: times (unix seconds) and values (NaN and ±Inf included). A range
 * answer holds tens of thousands of samples; as typed arrays they are two allocations outside the JS heap
 * instead of an object per point.
 */
export interface Columns {
  t: Float64Array;
  v: Float64Array;
}

/**
 * Native histogram samples by what a summary can say of them: their count and sum of observations (the
 * buckets are left to histogram_quantile in PromQL).
 */
export interface HistogramColumns {
  t: Float64Array;
  count: Float64Array;
  sum: Float64Array;
}

/** A native histogram as the Prometheus API writes it; only the fields read here. */
export interface NativeHistogram {
  count: string;
  sum: string;
}

/** Columns of [time, "value"] pairs, as the Prometheus and Loki APIs write them. */
export function columnsOf(samples: ReadonlyArray<readonly [number, string]>): Columns {
  const t = new Float64Array(samples.length);
  const v = new Float64Array(samples.length);
  samples.forEach(([time, value], i) => {
    t[i] = time;
    v[i] = parseSampleValue(value);
  });
  return { t, v };
}

/** Columns of [time, histogram] pairs, as Prometheus writes native histogram samples. */
export function histogramColumnsOf(
  samples: ReadonlyArray<readonly [number, NativeHistogram]>,
): HistogramColumns {
  const t = new Float64Array(samples.length);
  const count = new Float64Array(samples.length);
  const sum = new Float64Array(samples.length);
  samples.forEach(([time, histogram], i) => {
    t[i] = time;
    count[i] = parseSampleValue(histogram.count);
    sum[i] = parseSampleValue(histogram.sum);
  });
  return { t, count, sum };
}

export interface SeriesStats {
  samples: number;
  /** Samples that were NaN or ±Inf (left out of the figures). */
  nonFinite: number;
  first: Point;
  last: Point;
  min: Point;
  max: Point;
  mean: number;
  trend: 'rising' | 'falling' | 'flat';
  /** Points far above the series' own trend, largest first. */
  spikes: Point[];
  /** Points far below it, largest first; with `spikes`, three at most. */
  dips: Point[];
}

const MAX_SPIKES = 3;
// The change along the fitted line is a trend when it is this share of the series' level or range...
const TREND_SHARE = 0.05;
// ... or, however small against the level (a disk filling 4 % an hour), when it is this many times the scatter
// of the points around the line and the slope is this many standard errors from zero: a climb that stands out
// of the noise, where a few noisy points that merely end higher do not.
const TREND_NOISE = 2;
const TREND_T = 4;
// Standard errors by which the level at the end must differ from the level at the start: at 2, one pure-noise
// series in twenty would read as a trend.
const TREND_LEVEL_Z = 3;
// Below this share of the level a change is rounding, not a trend.
const TREND_EPSILON = 1e-9;
// Modified z-score beyond which a residual counts as a spike (Iglewicz and Hoaglin suggest 3.5; we want only stark ones).
const SPIKE_Z = 5;
const MIN_POINTS_FOR_SPIKES = 8;
// Intervals looked at to find the typical one between raw samples.
const MAX_INTERVALS = 10_000;

export function parseSampleValue(value: string): number {
  // Prometheus encodes values as strings, including "NaN", "+Inf" and "-Inf" (which Number() does not read).
  if (value === '+Inf' || value === 'Inf') return Number.POSITIVE_INFINITY;
  if (value === '-Inf') return Number.NEGATIVE_INFINITY;
  return Number(value);
}

/** `undefined` when the series has no finite value. */
export function seriesStats(samples: Columns, step: number): SeriesStats | undefined {
  const finite = finiteOnly(samples);
  const { t, v } = finite;
  const n = t.length;
  if (n === 0) return undefined;
  let minAt = 0;
  let maxAt = 0;
  // A running mean, not a sum: values near Number.MAX_VALUE (a float gauge at its limit) would overflow one.
  let mean = 0;
  for (let i = 0; i < n; i++) {
    const value = v[i] ?? 0;
    if (value < (v[minAt] ?? 0)) minAt = i;
    if (value > (v[maxAt] ?? 0)) maxAt = i;
    // Divided before subtracting: value - mean itself overflows when they lie near opposite limits.
    mean += value / (i + 1) - mean / (i + 1);
  }
  const point = (i: number): Point => ({ t: t[i] ?? 0, v: v[i] ?? 0 });
  const min = point(minAt);
  const max = point(maxAt);
  const first = point(0);
  const last = point(n - 1);
  const fit = linearFit(finite);
  const events = outlierEvents(finite, fit.slope, fit.intercept, step, max.v - min.v);
  const outliers = events
    .toSorted((a, b) => b.size - a.size)
    .slice(0, MAX_SPIKES)
    .map(e => ({ point: point(e.peak), above: e.above }));
  const inliers = withoutBursts(finite, events);
  // A burst or a drop still under way at the last point is where the series stands now: it rose or fell into it.
  // (The level test in trendOf could not tell it from noise: the run makes the residuals follow each other.)
  // Two points at least: one last point off the line is as often a quiet counter's one tick as a change.
  const ending = events.find(e => e.from > 0 && e.to === n - 1 && e.to > e.from);
  return {
    samples: samples.t.length,
    nonFinite: samples.t.length - n,
    first,
    last,
    min,
    max,
    mean,
    trend: ending
      ? ending.above
        ? 'rising'
        : 'falling'
      : trendOf(inliers, inliers === finite ? fit : linearFit(inliers)),
    spikes: outliers.filter(p => p.above).map(p => p.point),
    dips: outliers.filter(p => !p.above).map(p => p.point),
  };
}

/**
 * Whether the series rises, falls or stays flat. The change along the fitted line must be a share of the level, or
 * stand out of the noise; and the level at the end (the mean of the last fifth of the points) must differ from the
 * level at the start by more than the scatter around the line, in the same direction: a line fitted through a rise
 * and fall that is over tilts one way or the other, while the series ends where it began.
 */
function trendOf(samples: Columns, fit: ReturnType<typeof linearFit>): SeriesStats['trend'] {
  const { t, v } = samples;
  const n = t.length;
  if (n < 2) return 'flat';
  const { slope, scatter, slopeError, inflation } = fit;
  let lowest = Number.POSITIVE_INFINITY;
  let highest = Number.NEGATIVE_INFINITY;
  let mean = 0;
  for (let i = 0; i < n; i++) {
    const value = v[i] ?? 0;
    lowest = Math.min(lowest, value);
    highest = Math.max(highest, value);
    mean += value / (i + 1) - mean / (i + 1);
  }
  const change = Math.abs(slope * ((t[n - 1] ?? 0) - (t[0] ?? 0)));
  const level = Math.max(Math.abs(mean), highest - lowest);
  const outOfNoise = change >= TREND_NOISE * scatter && Math.abs(slope) >= TREND_T * slopeError;
  if (change <= TREND_EPSILON * level || (change < TREND_SHARE * level && !outOfNoise)) return 'flat';
  const fifth = Math.max(1, Math.floor(n / 5));
  const moved = meanOf(v, n - fifth, n) - meanOf(v, 0, fifth);
  // The two levels are means of `fifth` points each: their difference wavers by the standard error
  // scatter * sqrt(2 / fifth). A climb smaller than one point's scatter stands out of that over a long window; a
  // few points are held to the scatter itself. Either bar is widened as the slope's is when the points follow each
  // other (a windowed rate, which wanders slowly): there two ends differ by chance far more often.
  const bar = Math.min(scatter, TREND_LEVEL_Z * scatter * Math.sqrt(2 / fifth)) * inflation;
  if (Math.sign(moved) !== Math.sign(slope) || Math.abs(moved) <= bar) return 'flat';
  return slope > 0 ? 'rising' : 'falling';
}

function meanOf(values: Float64Array, from: number, to: number): number {
  let mean = 0;
  for (let i = from; i < to; i++) mean += (values[i] ?? 0) / (i - from + 1) - mean / (i - from + 1);
  return mean;
}

/**
 * The points outside the bursts and drops that are over (an outlier event with points of the series on both
 * sides): a spike is reported as one, and must not tilt the trend. An event that runs to the first or last point
 * is where the series starts or ends up, and stays.
 */
function withoutBursts(samples: Columns, events: readonly OutlierEvent[]): Columns {
  const n = samples.t.length;
  const over = events.filter(e => e.from > 0 && e.to < n - 1);
  if (over.length === 0) return samples;
  const keep = new Uint8Array(n).fill(1);
  for (const e of over) keep.fill(0, e.from, e.to + 1);
  const t: number[] = [];
  const v: number[] = [];
  for (let i = 0; i < n; i++) {
    if (!keep[i]) continue;
    t.push(samples.t[i] ?? 0);
    v.push(samples.v[i] ?? 0);
  }
  return { t: Float64Array.from(t), v: Float64Array.from(v) };
}

export type NonFiniteKind = 'NaN' | '+Inf' | '-Inf';

/** How many values are NaN, +Inf and -Inf: only the kinds that occur. */
export function nonFiniteCounts(values: Float64Array): Partial<Record<NonFiniteKind, number>> {
  const counts: Partial<Record<NonFiniteKind, number>> = {};
  for (const value of values) {
    if (Number.isFinite(value)) continue;
    const kind = Number.isNaN(value) ? 'NaN' : value > 0 ? '+Inf' : '-Inf';
    counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts;
}

/**
 * The median time between consecutive samples of the series, or undefined when none has two: the resolution
 * of raw samples (an instant range selector such as `up[30m]`), which comes with no step. Series in one answer
 * are usually scraped alike, so a bounded sample of the intervals is enough.
 */
export function medianInterval(times: readonly Float64Array[]): number | undefined {
  const perSeries = Math.max(1, Math.ceil(MAX_INTERVALS / Math.max(times.length, 1)));
  const intervals: number[] = [];
  for (const t of times) {
    for (let i = 1; i < t.length && i <= perSeries && intervals.length < MAX_INTERVALS; i++)
      intervals.push((t[i] ?? 0) - (t[i - 1] ?? 0));
    if (intervals.length >= MAX_INTERVALS) break;
  }
  return intervals.length === 0 ? undefined : median(Float64Array.from(intervals));
}

/** The samples whose value is finite (the same columns when all are). */
function finiteOnly(samples: Columns): Columns {
  const { t, v } = samples;
  let count = 0;
  for (const value of v) if (Number.isFinite(value)) count++;
  if (count === v.length) return samples;
  const out = { t: new Float64Array(count), v: new Float64Array(count) };
  let j = 0;
  for (let i = 0; i < v.length; i++) {
    const value = v[i] ?? Number.NaN;
    if (!Number.isFinite(value)) continue;
    out.t[j] = t[i] ?? 0;
    out.v[j] = value;
    j++;
  }
  return out;
}

/**
 * Least-squares line through the points in one pass, with `scatter`, the root mean square of the points'
 * distance from it, and the standard error of the slope (infinite when two points cannot tell). Times and
 * values are taken from the first point, so that a constant series fits exactly and large values (a byte
 * counter) keep their small changes.
 */
function linearFit({ t, v }: Columns): {
  slope: number;
  intercept: number;
  scatter: number;
  slopeError: number;
  /** How much wider the residuals' lag-1 autocorrelation makes a standard error. */
  inflation: number;
} {
  const n = t.length;
  const origin = t[0] ?? 0;
  const base = v[0] ?? 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const x = (t[i] ?? 0) - origin;
    const y = (v[i] ?? 0) - base;
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
    syy += y * y;
  }
  const xx = sxx - (sx * sx) / n;
  const xy = sxy - (sx * sy) / n;
  const yy = syy - (sy * sy) / n;
  const slope = xx === 0 ? 0 : xy / xx;
  const squares = Math.max(0, yy - slope * xy);
  const intercept = base + (sy - slope * sx) / n - slope * origin;
  // The slope's standard error assumes independent residuals. A gauge that wanders and a rate over a window
  // ([15m] at a 15 s step) have residuals that follow each other, and their slope would look significant where
  // there is no drift: the error is widened by the residuals' lag-1 autocorrelation, as for an AR(1) series.
  let lagged = 0;
  let previous = (v[0] ?? 0) - intercept - slope * (t[0] ?? 0);
  for (let i = 1; i < n; i++) {
    const residual = (v[i] ?? 0) - intercept - slope * (t[i] ?? 0);
    lagged += residual * previous;
    previous = residual;
  }
  const r1 = squares > 0 ? Math.min(0.99, Math.max(0, lagged / squares)) : 0;
  const inflation = Math.sqrt((1 + r1) / (1 - r1));
  return {
    slope,
    intercept,
    scatter: Math.sqrt(squares / n),
    slopeError: n > 2 && xx > 0 ? inflation * Math.sqrt(squares / (n - 2) / xx) : Number.POSITIVE_INFINITY,
    inflation,
  };
}

function median(values: Float64Array): number {
  // A typed array sorts numerically in place, several times faster than Array#sort with a comparator.
  const sorted = values.toSorted();
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? 0)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

interface OutlierEvent {
  /** Index of the event's extreme point. */
  peak: number;
  size: number;
  above: boolean;
  /** Indices of its first and last points. */
  from: number;
  to: number;
}

/**
 * Runs of points whose distance from the series' linear trend is extreme by a robust measure (median absolute
 * deviation), so that a steady climb is not reported as a spike but a sudden burst (or drop) is. Neighbouring
 * outliers on the same side form one event, reported at its extreme. `samples` are finite.
 */
function outlierEvents(
  samples: Columns,
  slope: number,
  intercept: number,
  step: number,
  range: number,
): OutlierEvent[] {
  const { t, v } = samples;
  if (t.length < MIN_POINTS_FOR_SPIKES || range === 0) return [];
  const residuals = v.map((value, i) => value - (intercept + slope * (t[i] ?? 0)));
  const center = median(residuals);
  const mad = median(residuals.map(r => Math.abs(r - center)));
  // A flat series with a few outliers has MAD 0; any clear departure from it is then a spike.
  const threshold = mad > 0 ? (SPIKE_Z * mad) / 0.6745 : 0.1 * range;
  const events: OutlierEvent[] = [];
  let previous: { t: number; event: OutlierEvent } | undefined;
  for (let i = 0; i < t.length; i++) {
    const deviation = (residuals[i] ?? 0) - center;
    const size = Math.abs(deviation);
    if (size <= threshold) continue;
    const time = t[i] ?? 0;
    const above = deviation > 0;
    if (previous && previous.event.above === above && time - previous.t <= step * 1.5) {
      if (size > previous.event.size) previous.event.peak = i;
      previous.event.size = Math.max(previous.event.size, size);
      previous.event.to = i;
      previous.t = time;
      continue;
    }
    const event = { peak: i, size, above, from: i, to: i };
    events.push(event);
    previous = { t: time, event };
  }
  return events;
}

/**
 * Means of the finite values in `buckets` equal slices of [start, end]; `null` where a slice has none.
 * Keeps the outline of a series in a few numbers; extremes are reported separately (min, max, spikes).
 */
export function downsample(
  samples: Columns,
  start: number,
  end: number,
  buckets: number,
): Array<number | null> {
  if (buckets <= 0) return [];
  // Running means, as in seriesStats: a sum of values near Number.MAX_VALUE would overflow.
  const means = new Float64Array(buckets);
  const counts = new Uint32Array(buckets);
  const width = Math.max(end - start, 1e-9) / buckets;
  const { t, v } = samples;
  for (let i = 0; i < t.length; i++) {
    const value = v[i] ?? Number.NaN;
    if (!Number.isFinite(value)) continue;
    const index = Math.min(buckets - 1, Math.max(0, Math.floor(((t[i] ?? 0) - start) / width)));
    const count = (counts[index] ?? 0) + 1;
    counts[index] = count;
    const mean = means[index] ?? 0;
    // Divided before subtracting, as in seriesStats.
    means[index] = mean + (value / count - mean / count);
  }
  return Array.from(means, (mean, i) => (counts[i] ? mean : null));
}

/**
 * Rounds to `digits` significant digits, but never rounds away a digit before the point: a unix timestamp, a byte
 * counter or a request total must come back as it is (1769868123, not 1769870000), only fractions are cut.
 */
export function round(value: number, digits = 6): number {
  if (!Number.isFinite(value) || value === 0) return value;
  // Halves away from zero, as toPrecision rounds them (Math.round alone would take -1499.5 to -1499).
  if (Math.abs(value) >= 10 ** (digits - 1)) return Math.sign(value) * Math.round(Math.abs(value));
  return Number(value.toPrecision(digits));
}
