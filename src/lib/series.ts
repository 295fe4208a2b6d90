// Statistics over one time series: what an LLM needs to reason about it without reading every point.

export interface Point {
  /** Unix seconds. */
  t: number;
  v: number;
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
  /** Peaks far from the series' own trend, largest first. */
  spikes: Point[];
}

const MAX_SPIKES = 3;
// Modified z-score beyond which a residual counts as a spike (Iglewicz and Hoaglin suggest 3.5; we want only stark ones).
const SPIKE_Z = 5;
const MIN_POINTS_FOR_SPIKES = 8;

export function parseSampleValue(value: string): number {
  // Prometheus encodes values as strings, including "NaN", "+Inf" and "-Inf" (which Number() does not read).
  if (value === '+Inf' || value === 'Inf') return Number.POSITIVE_INFINITY;
  if (value === '-Inf') return Number.NEGATIVE_INFINITY;
  return Number(value);
}

/** `undefined` when the series has no finite value. */
export function seriesStats(points: readonly Point[], step: number): SeriesStats | undefined {
  const finite = points.filter(p => Number.isFinite(p.v));
  const first = finite[0];
  const last = finite.at(-1);
  if (first === undefined || last === undefined) return undefined;
  let min = first;
  let max = first;
  let sum = 0;
  for (const p of finite) {
    if (p.v < min.v) min = p;
    if (p.v > max.v) max = p;
    sum += p.v;
  }
  const mean = sum / finite.length;
  const { slope, intercept } = linearFit(finite);
  const duration = last.t - first.t;
  const scale = Math.max(Math.abs(mean), max.v - min.v);
  const change = slope * duration;
  const trend = scale === 0 || Math.abs(change) < 0.05 * scale ? 'flat' : change > 0 ? 'rising' : 'falling';
  return {
    samples: points.length,
    nonFinite: points.length - finite.length,
    first,
    last,
    min,
    max,
    mean,
    trend,
    spikes: findSpikes(finite, slope, intercept, step, max.v - min.v),
  };
}

function linearFit(points: readonly Point[]): { slope: number; intercept: number } {
  const n = points.length;
  const origin = points[0]?.t ?? 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  for (const p of points) {
    const x = p.t - origin;
    sx += x;
    sy += p.v;
    sxx += x * x;
    sxy += x * p.v;
  }
  const denominator = n * sxx - sx * sx;
  const slope = denominator === 0 ? 0 : (n * sxy - sx * sy) / denominator;
  return { slope, intercept: (sy - slope * sx) / n - slope * origin };
}

function median(values: Float64Array): number {
  // A typed array sorts numerically in place, several times faster than Array#sort with a comparator.
  const sorted = values.toSorted();
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? 0)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/**
 * Points whose distance from the series' linear trend is extreme by a robust measure (median absolute
 * deviation), so that a steady climb is not reported as a spike but a sudden burst is. Neighbouring
 * outliers form one spike, reported at its peak.
 */
function findSpikes(
  points: readonly Point[],
  slope: number,
  intercept: number,
  step: number,
  range: number,
): Point[] {
  if (points.length < MIN_POINTS_FOR_SPIKES || range === 0) return [];
  const residuals = Float64Array.from(points, p => p.v - (intercept + slope * p.t));
  const center = median(residuals);
  const mad = median(residuals.map(r => Math.abs(r - center)));
  // A flat series with a few outliers has MAD 0; any clear departure from it is then a spike.
  const threshold = mad > 0 ? (SPIKE_Z * mad) / 0.6745 : 0.1 * range;
  const events: Array<{ peak: Point; size: number }> = [];
  let previous: { t: number; event: { peak: Point; size: number } } | undefined;
  points.forEach((p, i) => {
    const size = Math.abs((residuals[i] ?? 0) - center);
    if (size <= threshold) return;
    if (previous && p.t - previous.t <= step * 1.5) {
      if (size > previous.event.size) previous.event.peak = p;
      previous.event.size = Math.max(previous.event.size, size);
      previous.t = p.t;
      return;
    }
    const event = { peak: p, size };
    events.push(event);
    previous = { t: p.t, event };
  });
  return events
    .sort((a, b) => b.size - a.size)
    .slice(0, MAX_SPIKES)
    .map(e => e.peak);
}

/**
 * Means of the finite values in `buckets` equal slices of [start, end]; `null` where a slice has none.
 * Keeps the outline of a series in a few numbers; extremes are reported separately (min, max, spikes).
 */
export function downsample(
  points: readonly Point[],
  start: number,
  end: number,
  buckets: number,
): Array<number | null> {
  if (buckets <= 0) return [];
  const sums = new Array<number>(buckets).fill(0);
  const counts = new Array<number>(buckets).fill(0);
  const width = Math.max(end - start, 1e-9) / buckets;
  for (const p of points) {
    if (!Number.isFinite(p.v)) continue;
    const index = Math.min(buckets - 1, Math.max(0, Math.floor((p.t - start) / width)));
    sums[index] = (sums[index] ?? 0) + p.v;
    counts[index] = (counts[index] ?? 0) + 1;
  }
  return sums.map((sum, i) => (counts[i] ? sum / (counts[i] ?? 1) : null));
}

/** Rounds to `digits` significant digits; keeps integers exact up to that precision. */
export function round(value: number, digits = 6): number {
  if (!Number.isFinite(value) || value === 0) return value;
  return Number(value.toPrecision(digits));
}
