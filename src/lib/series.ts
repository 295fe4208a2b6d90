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
export function seriesStats(samples: Columns, step: number): SeriesStats | undefined {
  const finite = finiteOnly(samples);
  const { t, v } = finite;
  const n = t.length;
  if (n === 0) return undefined;
  let minAt = 0;
  let maxAt = 0;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const value = v[i] ?? 0;
    if (value < (v[minAt] ?? 0)) minAt = i;
    if (value > (v[maxAt] ?? 0)) maxAt = i;
    sum += value;
  }
  const point = (i: number): Point => ({ t: t[i] ?? 0, v: v[i] ?? 0 });
  const min = point(minAt);
  const max = point(maxAt);
  const first = point(0);
  const last = point(n - 1);
  const mean = sum / n;
  const { slope, intercept } = linearFit(finite);
  const duration = last.t - first.t;
  const scale = Math.max(Math.abs(mean), max.v - min.v);
  const change = slope * duration;
  const trend = scale === 0 || Math.abs(change) < 0.05 * scale ? 'flat' : change > 0 ? 'rising' : 'falling';
  return {
    samples: samples.t.length,
    nonFinite: samples.t.length - n,
    first,
    last,
    min,
    max,
    mean,
    trend,
    spikes: findSpikes(finite, slope, intercept, step, max.v - min.v),
  };
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

function linearFit({ t, v }: Columns): { slope: number; intercept: number } {
  const n = t.length;
  const origin = t[0] ?? 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    const x = (t[i] ?? 0) - origin;
    const y = v[i] ?? 0;
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
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
 * outliers form one spike, reported at its peak. `samples` are finite.
 */
function findSpikes(
  samples: Columns,
  slope: number,
  intercept: number,
  step: number,
  range: number,
): Point[] {
  const { t, v } = samples;
  if (t.length < MIN_POINTS_FOR_SPIKES || range === 0) return [];
  const residuals = v.map((value, i) => value - (intercept + slope * (t[i] ?? 0)));
  const center = median(residuals);
  const mad = median(residuals.map(r => Math.abs(r - center)));
  // A flat series with a few outliers has MAD 0; any clear departure from it is then a spike.
  const threshold = mad > 0 ? (SPIKE_Z * mad) / 0.6745 : 0.1 * range;
  const events: Array<{ peak: number; size: number }> = [];
  let previous: { t: number; event: { peak: number; size: number } } | undefined;
  for (let i = 0; i < t.length; i++) {
    const size = Math.abs((residuals[i] ?? 0) - center);
    if (size <= threshold) continue;
    const time = t[i] ?? 0;
    if (previous && time - previous.t <= step * 1.5) {
      if (size > previous.event.size) previous.event.peak = i;
      previous.event.size = Math.max(previous.event.size, size);
      previous.t = time;
      continue;
    }
    const event = { peak: i, size };
    events.push(event);
    previous = { t: time, event };
  }
  return events
    .sort((a, b) => b.size - a.size)
    .slice(0, MAX_SPIKES)
    .map(e => ({ t: t[e.peak] ?? 0, v: v[e.peak] ?? 0 }));
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
  const sums = new Float64Array(buckets);
  const counts = new Uint32Array(buckets);
  const width = Math.max(end - start, 1e-9) / buckets;
  const { t, v } = samples;
  for (let i = 0; i < t.length; i++) {
    const value = v[i] ?? Number.NaN;
    if (!Number.isFinite(value)) continue;
    const index = Math.min(buckets - 1, Math.max(0, Math.floor(((t[i] ?? 0) - start) / width)));
    sums[index] = (sums[index] ?? 0) + value;
    counts[index] = (counts[index] ?? 0) + 1;
  }
  return Array.from(sums, (sum, i) => (counts[i] ? sum / (counts[i] ?? 1) : null));
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
