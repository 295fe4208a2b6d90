// Shaping of metric query results for an LLM: summaries that fit a byte budget and say what was left out.

import { z } from 'zod';
import {
  downsample,
  nonFiniteCounts,
  parseSampleValue,
  round,
  seriesStats,
  type Columns,
  type HistogramColumns,
  type NativeHistogram,
  type Point,
} from './series.ts';
import { formatBytes } from './http.ts';
import { formatDuration, toRfc3339 } from './time.ts';

export type Labels = Record<string, string>;

export interface RawSeries {
  labels: Labels;
  samples: Columns;
  /** Native histogram samples (Prometheus), which a series may have besides or instead of float ones. */
  histograms?: HistogramColumns;
}

export type ShapeFormat = 'summary' | 'full';

const sampleValue = z.union([z.number(), z.string()]);
const outlier = z.object({ at: z.string(), value: z.number() });
const kindCount = z.number().int().optional();
/** first, last, min, max and mean of one figure of a series' native histograms. */
const histogramFigures = z.object({
  first: sampleValue,
  last: sampleValue,
  min: z.number().optional(),
  max: z.number().optional(),
  mean: z.number().optional(),
});

/**
 * One series of a result. Instant results carry `value`, or `histogram` (count, sum) for a native histogram;
 * range results carry the summary figures and either `shape` (bucket means, see `shape_every`) or, for format
 * "full", `values` as [unix seconds, value] pairs, and for native histogram samples `histogram` (how many,
 * and the figures of their count and sum). Non-finite values are the strings "NaN", "+Inf" and "-Inf".
 * `from`/`to` appear only when the series starts after or ends before the range; `non_finite` counts the
 * NaN/Inf samples, by kind, left out of the figures (a series of nothing else shows them as `first`/`last`).
 */
export const seriesSchema = z.object({
  labels: z.record(z.string(), z.string()),
  value: sampleValue.optional(),
  samples: z.number().int().optional(),
  from: z.string().optional(),
  to: z.string().optional(),
  min: z.number().optional(),
  max: z.number().optional(),
  max_at: z.string().optional(),
  mean: z.number().optional(),
  first: sampleValue.optional(),
  last: sampleValue.optional(),
  trend: z.enum(['rising', 'falling', 'flat']).optional(),
  spikes: z.array(outlier).optional(),
  dips: z.array(outlier).optional(),
  non_finite: z.object({ NaN: kindCount, '+Inf': kindCount, '-Inf': kindCount }).optional(),
  histogram: z
    .union([
      z.object({ count: sampleValue, sum: sampleValue }),
      z.object({ samples: z.number().int(), count: histogramFigures, sum: histogramFigures }),
    ])
    .optional(),
  shape: z.array(z.number().nullable()).optional(),
  values: z.array(z.array(sampleValue)).optional(),
});

export type RangeSeries = z.output<typeof seriesSchema> & { samples: number };
export type InstantSeries = z.output<typeof seriesSchema>;

export interface Shaped<T> {
  common_labels?: Labels;
  series: T[];
  series_total: number;
  series_shown: number;
  shape_every?: string;
  truncated: boolean;
  note?: string;
}

export interface ShapeOptions {
  /** Byte budget for the whole JSON result, including `base`. */
  maxBytes: number;
  format: ShapeFormat;
  /** The fields of the result besides the shaped series, counted against the budget. */
  base: Record<string, unknown>;
  /** What `format: "full"` allows, for the note. */
  fullBytes: number;
  /** The points are stored samples (an instant range selector), not evaluations at each step. */
  raw?: boolean;
  /** Notes the caller adds, after the shaper's own (counted against the budget). */
  hints?: readonly string[];
}

// Shape resolutions tried in turn, finest first, before series are dropped.
const SHAPE_LEVELS = [24, 12, 6, 0];
// Room kept for the note and the bookkeeping fields.
const NOTE_RESERVE = 520;
const HISTOGRAM_NOTE =
  'Native histograms are summarized by their count and sum; for quantiles query histogram_quantile(0.9, rate(<metric>[5m])), for full figures histogram_count(...) or histogram_sum(...).';

const bytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value));

/** Labels with the same value in every series, hoisted out so they are written once. */
export function commonLabels(series: readonly Labels[]): Labels {
  const [head, ...rest] = series;
  if (!head || rest.length === 0) return {};
  const common: Labels = {};
  for (const [name, value] of Object.entries(head)) {
    if (rest.every(labels => labels[name] === value)) common[name] = value;
  }
  return common;
}

function without(labels: Labels, common: Labels): Labels {
  const out: Labels = {};
  for (const [name, value] of Object.entries(labels)) if (common[name] !== value) out[name] = value;
  return out;
}

function encodeValue(value: number): number | string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? '+Inf' : '-Inf';
  return value;
}

interface RangeContext {
  start: number;
  end: number;
  step: number;
}

interface Analyzed {
  samples: Columns;
  /** The entry without shape or values, which depend on the resolution chosen. */
  summary: RangeSeries;
  max: number;
  /** Whether the series has enough finite points for a shape. */
  outlined: boolean;
}

function analyze(series: RawSeries, common: Labels, ctx: RangeContext): Analyzed {
  const { samples, histograms } = series;
  const stats = seriesStats(samples, ctx.step);
  const histogramCount = histograms?.t.length ?? 0;
  const summary: RangeSeries = {
    labels: without(series.labels, common),
    samples: samples.t.length + histogramCount,
  };
  const firstT = Math.min(samples.t[0] ?? Infinity, histograms?.t[0] ?? Infinity);
  const lastT = Math.max(samples.t.at(-1) ?? -Infinity, histograms?.t.at(-1) ?? -Infinity);
  if (firstT !== Infinity && firstT > ctx.start + ctx.step) summary.from = toRfc3339(firstT);
  if (lastT !== -Infinity && lastT < ctx.end - ctx.step) summary.to = toRfc3339(lastT);
  if (stats) {
    summary.min = round(stats.min.v);
    summary.max = round(stats.max.v);
    summary.max_at = toRfc3339(stats.max.t);
    summary.mean = round(stats.mean);
    summary.first = round(stats.first.v);
    summary.last = round(stats.last.v);
    summary.trend = stats.trend;
    if (stats.spikes.length > 0) summary.spikes = stats.spikes.map(outlierAt);
    if (stats.dips.length > 0) summary.dips = stats.dips.map(outlierAt);
  } else if (samples.t.length > 0) {
    // Only NaN or ±Inf: what they are, so that the series does not read as one without data.
    summary.first = encodeValue(samples.v[0] ?? Number.NaN);
    summary.last = encodeValue(samples.v.at(-1) ?? Number.NaN);
  }
  if ((stats?.nonFinite ?? samples.t.length) > 0) summary.non_finite = nonFiniteCounts(samples.v);
  let max = stats?.max.v ?? Number.NEGATIVE_INFINITY;
  if (histograms && histogramCount > 0) {
    const count = figuresOf({ t: histograms.t, v: histograms.count }, ctx.step);
    const sum = figuresOf({ t: histograms.t, v: histograms.sum }, ctx.step);
    summary.histogram = { samples: histogramCount, count, sum };
    // A series of histograms only is ranked by its count: the busiest first.
    if (!stats) max = count.max ?? max;
  }
  return { samples, summary, max, outlined: stats !== undefined && samples.t.length > 2 };
}

const outlierAt = (p: Point): { at: string; value: number } => ({ at: toRfc3339(p.t), value: round(p.v) });

/** The figures of one column of native histogram samples (their count or their sum). */
function figuresOf(column: Columns, step: number): z.output<typeof histogramFigures> {
  const stats = seriesStats(column, step);
  if (!stats) {
    return {
      first: encodeValue(column.v[0] ?? Number.NaN),
      last: encodeValue(column.v.at(-1) ?? Number.NaN),
    };
  }
  return {
    first: round(stats.first.v),
    last: round(stats.last.v),
    min: round(stats.min.v),
    max: round(stats.max.v),
    mean: round(stats.mean),
  };
}

function render(series: Analyzed, ctx: RangeContext, level: number | 'values'): RangeSeries {
  const { samples, summary } = series;
  if (level === 'values' && samples.t.length > 0) {
    // Every point, exactly as Prometheus gave it: this is the format asked for when the figures must be exact.
    const values = Array.from(samples.t, (t, i) => [t, encodeValue(samples.v[i] ?? Number.NaN)]);
    return { ...summary, values };
  }
  if (level === 'values' || level === 0 || !series.outlined) return summary;
  // Always `level` buckets, empty ones null, so that one `shape_every` holds for every series.
  const shape = downsample(samples, ctx.start, ctx.end, level);
  return { ...summary, shape: shape.map(v => (v === null ? null : round(v, 4))) };
}

/** Range (matrix) results: per-series summaries and outlines, finest resolution that fits the budget. */
export function shapeRange(
  all: readonly RawSeries[],
  ctx: RangeContext,
  options: ShapeOptions,
): Shaped<RangeSeries> {
  const common = commonLabels(all.map(s => s.labels));
  const analyzed = all.map(s => analyze(s, common, ctx));
  const hints = [
    ...(analyzed.some(a => a.summary.histogram) ? [HISTOGRAM_NOTE] : []),
    ...(options.hints ?? []),
  ];
  const budget =
    options.maxBytes -
    NOTE_RESERVE -
    bytes({ ...options.base, common_labels: common }) -
    (hints.length > 0 ? bytes(hints.join(' ')) : 0);
  // Never buckets narrower than the step, which would leave every other one empty.
  const shapes = SHAPE_LEVELS.filter(level => level <= (ctx.end - ctx.start) / ctx.step || level === 0);
  const levels: Array<number | 'values'> = options.format === 'full' ? ['values', ...shapes] : shapes;

  let rendered: Array<{ entry: RangeSeries; max: number; size: number }> = [];
  let level: number | 'values' = 0;
  for (level of levels) {
    const current = level;
    rendered = analyzed.map(a => {
      const entry = render(a, ctx, current);
      return { entry, max: a.max, size: bytes(entry) + 1 };
    });
    if (level === 'values' && rendered.reduce((sum, r) => sum + r.size, 0) > budget) {
      // Not every series' points fit: the points of as many as fit, highest peaks first, are what "full"
      // was asked for, more than summaries of all of them. Summaries only when not one series' points fit.
      // A series whose points alone overrun the budget is passed over, not the end of the list: the smaller ones
      // after it still fit.
      const kept = fitRanked(rendered, budget, true);
      if (kept.length > 0) return finish(kept, all.length, common, level, ctx, options, hints, true);
      continue;
    }
    if (rendered.reduce((sum, r) => sum + r.size, 0) <= budget) {
      return finish(
        rendered.map(r => r.entry),
        all.length,
        common,
        level,
        ctx,
        options,
        hints,
        false,
      );
    }
  }
  // Even bare summaries do not all fit: keep the series that peak highest, the usual suspects in an incident.
  return finish(fitRanked(rendered, budget), all.length, common, level, ctx, options, hints, true);
}

/**
 * The entries of the series that peak highest, as many as fit `budget`; with `skip`, one that does not fit is
 * passed over and the next tried, else the list ends there.
 */
function fitRanked(
  rendered: ReadonlyArray<{ entry: RangeSeries; max: number; size: number }>,
  budget: number,
  skip = false,
): RangeSeries[] {
  const kept: RangeSeries[] = [];
  let used = 0;
  for (const r of rendered.toSorted((a, b) => b.max - a.max)) {
    if (used + r.size > budget) {
      if (skip) continue;
      break;
    }
    kept.push(r.entry);
    used += r.size;
  }
  return kept;
}

function finish(
  series: RangeSeries[],
  total: number,
  common: Labels,
  level: number | 'values',
  ctx: RangeContext,
  options: ShapeOptions,
  hints: readonly string[],
  ranked: boolean,
): Shaped<RangeSeries> {
  const shaped: Shaped<RangeSeries> = {
    series,
    series_total: total,
    series_shown: series.length,
    truncated: series.length < total || (options.format === 'full' && level !== 'values'),
  };
  if (Object.keys(common).length > 0) shaped.common_labels = common;
  if (typeof level === 'number' && series.some(s => s.shape))
    shaped.shape_every = formatDuration((ctx.end - ctx.start) / level);
  const notes: string[] = [];
  const left = total - series.length;
  const cap = formatBytes(options.maxBytes);
  if (series.length < total) {
    const shown =
      options.format === 'summary'
        ? `Showing ${series.length} of ${total} series (highest max first)`
        : level === 'values'
          ? `Points of ${series.length} of ${total} series (highest max first, passing over any too big to fit: one left out may peak higher)`
          : `Not one series' points fit: summaries (no points) of ${series.length} of ${total} series (highest max first)`;
    notes.push(`${shown}; ${left} left out to fit ${cap}.`);
    notes.push(
      `To see the rest: aggregate (sum by (<label>) (...)), keep the top ones (topk(5, ...)), or narrow the selector${options.format === 'full' ? '; or shorten the range or raise the step' : ''}.`,
    );
  } else if (options.format === 'full' && level !== 'values') {
    notes.push(
      `Every point of every series does not fit ${cap}: summaries shown instead (no points). Narrow the selector, shorten the range or raise the step.`,
    );
  } else if (options.format === 'summary' && total > 0) {
    // Only when a shape was possible (a range of a few steps has none) and did not fit.
    const shapeable = (ctx.end - ctx.start) / ctx.step >= Math.min(...SHAPE_LEVELS.filter(l => l > 0));
    const outline = level === 0 && shapeable ? 'Summaries only (no shape) to fit the budget. ' : '';
    // A range query's points are evaluations at each step: what lies between two of them is not in the figures.
    const over = options.raw
      ? 'Figures cover every sample'
      : `Figures are of the points at the ${formatDuration(ctx.step)} step`;
    notes.push(
      `${outline}${over}; format "full" returns those points (up to ${formatBytes(options.fullBytes)}).`,
    );
  }
  if (ranked && level === 0 && series.length === 0)
    notes.push('Not even one series summary fits: narrow the query.');
  if (series.length > 0) notes.push(...hints);
  if (notes.length > 0) shaped.note = notes.join(' ');
  return shaped;
}

/** One series of an instant vector: a float value, or a native histogram. */
export type InstantSample =
  { labels: Labels; value: string } | { labels: Labels; histogram: NativeHistogram };

/** Instant (vector) results: one value per series, in Prometheus's order (which topk and sort rely on). */
export function shapeInstant(
  all: readonly InstantSample[],
  options: Omit<ShapeOptions, 'format'>,
): Shaped<InstantSeries> {
  const common = commonLabels(all.map(s => s.labels));
  const histograms = all.some(s => 'histogram' in s);
  const budget =
    options.maxBytes -
    NOTE_RESERVE -
    bytes({ ...options.base, common_labels: common }) -
    (histograms ? bytes(HISTOGRAM_NOTE) : 0);
  const series: InstantSeries[] = [];
  let used = 0;
  for (const s of all) {
    const labels = without(s.labels, common);
    const entry: InstantSeries =
      'histogram' in s
        ? { labels, histogram: { count: figure(s.histogram.count), sum: figure(s.histogram.sum) } }
        : { labels, value: figure(s.value) };
    const size = bytes(entry) + 1;
    if (used + size > budget) break;
    series.push(entry);
    used += size;
  }
  const shaped: Shaped<InstantSeries> = {
    series,
    series_total: all.length,
    series_shown: series.length,
    truncated: series.length < all.length,
  };
  if (Object.keys(common).length > 0) shaped.common_labels = common;
  const notes: string[] = [];
  if (shaped.truncated) {
    notes.push(
      `Showing the first ${series.length} of ${all.length} series to fit ${formatBytes(options.maxBytes)}. To see the rest: aggregate (sum by (<label>) (...)), keep the top ones (topk(10, ...)), or narrow the selector.`,
    );
  }
  if (histograms && series.length > 0) notes.push(HISTOGRAM_NOTE);
  if (notes.length > 0) shaped.note = notes.join(' ');
  return shaped;
}

const figure = (value: string): number | string => encodeValue(parseSampleValue(value));

/** The longest prefix of `items` whose JSON stays within `maxBytes`, less `reserve` for the envelope. */
export function fitList<T>(items: readonly T[], maxBytes: number, reserve = NOTE_RESERVE): T[] {
  const budget = maxBytes - reserve;
  const kept: T[] = [];
  let used = 0;
  for (const item of items) {
    used += bytes(item) + 1;
    if (used > budget) break;
    kept.push(item);
  }
  return kept;
}
