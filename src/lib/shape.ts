// Shaping of metric query results for an LLM: summaries that fit a byte budget and say what was left out.

import { z } from 'zod';
import { downsample, parseSampleValue, round, seriesStats, type Columns } from './series.ts';
import { formatBytes } from './http.ts';
import { formatDuration, toRfc3339 } from './time.ts';

export type Labels = Record<string, string>;

export interface RawSeries {
  labels: Labels;
  samples: Columns;
}

export type ShapeFormat = 'summary' | 'full';

const sampleValue = z.union([z.number(), z.string()]);

/**
 * One series of a result. Instant results carry `value`; range results carry the summary figures and either
 * `shape` (bucket means, see `shape_every`) or, for format "full", `values` as [unix seconds, value] pairs.
 * Non-finite values are the strings "NaN", "+Inf" and "-Inf". `from`/`to` appear only when the series starts
 * after or ends before the range; `non_finite` counts NaN/Inf samples left out of the figures.
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
  first: z.number().optional(),
  last: z.number().optional(),
  trend: z.enum(['rising', 'falling', 'flat']).optional(),
  spikes: z.array(z.object({ at: z.string(), value: z.number() })).optional(),
  non_finite: z.number().int().optional(),
  shape: z.array(z.number().nullable()).optional(),
  values: z.array(z.array(sampleValue)).optional(),
});

export type RangeSeries = z.output<typeof seriesSchema> & { samples: number };
export type InstantSeries = z.output<typeof seriesSchema> & { value: number | string };

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
}

// Shape resolutions tried in turn, finest first, before series are dropped.
const SHAPE_LEVELS = [24, 12, 6, 0];
// Room kept for the note and the bookkeeping fields.
const NOTE_RESERVE = 520;

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
}

function analyze(series: RawSeries, common: Labels, ctx: RangeContext): Analyzed {
  const { samples } = series;
  const stats = seriesStats(samples, ctx.step);
  const summary: RangeSeries = { labels: without(series.labels, common), samples: samples.t.length };
  const firstT = samples.t[0];
  const lastT = samples.t.at(-1);
  if (firstT !== undefined && firstT > ctx.start + ctx.step) summary.from = toRfc3339(firstT);
  if (lastT !== undefined && lastT < ctx.end - ctx.step) summary.to = toRfc3339(lastT);
  if (stats) {
    summary.min = round(stats.min.v);
    summary.max = round(stats.max.v);
    summary.max_at = toRfc3339(stats.max.t);
    summary.mean = round(stats.mean);
    summary.first = round(stats.first.v);
    summary.last = round(stats.last.v);
    summary.trend = stats.trend;
    if (stats.spikes.length > 0)
      summary.spikes = stats.spikes.map(p => ({ at: toRfc3339(p.t), value: round(p.v) }));
    if (stats.nonFinite > 0) summary.non_finite = stats.nonFinite;
  }
  return { samples, summary, max: stats?.max.v ?? Number.NEGATIVE_INFINITY };
}

function render(series: Analyzed, ctx: RangeContext, level: number | 'values'): RangeSeries {
  const { samples, summary } = series;
  const count = samples.t.length;
  if (level === 'values') {
    // Every point, exactly as Prometheus gave it: this is the format asked for when the figures must be exact.
    const values = Array.from(samples.t, (t, i) => [t, encodeValue(samples.v[i] ?? Number.NaN)]);
    return { ...summary, values };
  }
  if (level === 0 || count <= 2) return summary;
  const shape = downsample(samples, ctx.start, ctx.end, Math.min(level, count));
  return { ...summary, shape: shape.map(v => (v === null ? null : round(v, 4))) };
}

/** Range (matrix) results: per-series summaries and outlines, finest resolution that fits the budget. */
export function shapeRange(
  all: readonly RawSeries[],
  ctx: RangeContext,
  options: ShapeOptions,
): Shaped<RangeSeries> {
  const common = commonLabels(all.map(s => s.labels));
  const budget = options.maxBytes - NOTE_RESERVE - bytes({ ...options.base, common_labels: common });
  const levels: Array<number | 'values'> =
    options.format === 'full' ? ['values', ...SHAPE_LEVELS] : SHAPE_LEVELS;

  const analyzed = all.map(s => analyze(s, common, ctx));
  let rendered: Array<{ entry: RangeSeries; max: number; size: number }> = [];
  let level: number | 'values' = 0;
  for (level of levels) {
    const current = level;
    rendered = analyzed.map(a => {
      const entry = render(a, ctx, current);
      return { entry, max: a.max, size: bytes(entry) + 1 };
    });
    if (rendered.reduce((sum, r) => sum + r.size, 0) <= budget) {
      return finish(
        rendered.map(r => r.entry),
        all.length,
        common,
        level,
        ctx,
        options,
        false,
      );
    }
  }
  // Even bare summaries do not all fit: keep the series that peak highest, the usual suspects in an incident.
  const ranked = rendered.toSorted((a, b) => b.max - a.max);
  const kept: RangeSeries[] = [];
  let used = 0;
  for (const r of ranked) {
    if (used + r.size > budget) break;
    kept.push(r.entry);
    used += r.size;
  }
  return finish(kept, all.length, common, level, ctx, options, true);
}

function finish(
  series: RangeSeries[],
  total: number,
  common: Labels,
  level: number | 'values',
  ctx: RangeContext,
  options: ShapeOptions,
  ranked: boolean,
): Shaped<RangeSeries> {
  const shaped: Shaped<RangeSeries> = {
    series,
    series_total: total,
    series_shown: series.length,
    truncated: series.length < total || (options.format === 'full' && level !== 'values'),
  };
  if (Object.keys(common).length > 0) shaped.common_labels = common;
  if (typeof level === 'number' && level > 0)
    shaped.shape_every = formatDuration((ctx.end - ctx.start) / level);
  const notes: string[] = [];
  if (series.length < total) {
    notes.push(
      `Showing ${series.length} of ${total} series (highest max first); ${total - series.length} left out to fit ${formatBytes(options.maxBytes)}.`,
    );
    notes.push(
      'To see the rest: aggregate (sum by (<label>) (...)), keep the top ones (topk(5, ...)), or narrow the selector.',
    );
  } else if (options.format === 'full' && level !== 'values') {
    notes.push(
      `Every point of every series does not fit ${formatBytes(options.maxBytes)}: summaries shown instead. Narrow the selector, shorten the range or raise the step.`,
    );
  } else if (options.format === 'summary' && total > 0) {
    const outline = level === 0 ? 'Summaries only (no shape) to fit the budget. ' : '';
    notes.push(
      `${outline}Figures cover every sample; format "full" returns the points themselves (up to ${formatBytes(options.fullBytes)}).`,
    );
  }
  if (ranked && level === 0 && series.length === 0)
    notes.push('Not even one series summary fits: narrow the query.');
  if (notes.length > 0) shaped.note = notes.join(' ');
  return shaped;
}

/** Instant (vector) results: one value per series, in Prometheus's order (which topk and sort rely on). */
export function shapeInstant(
  all: ReadonlyArray<{ labels: Labels; value: string }>,
  options: Omit<ShapeOptions, 'format'>,
): Shaped<InstantSeries> {
  const common = commonLabels(all.map(s => s.labels));
  const budget = options.maxBytes - NOTE_RESERVE - bytes({ ...options.base, common_labels: common });
  const series: InstantSeries[] = [];
  let used = 0;
  for (const s of all) {
    const entry: InstantSeries = {
      labels: without(s.labels, common),
      value: encodeValue(parseSampleValue(s.value)),
    };
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
  if (shaped.truncated) {
    shaped.note = `Showing the first ${series.length} of ${all.length} series to fit ${formatBytes(options.maxBytes)}. To see the rest: aggregate (sum by (<label>) (...)), keep the top ones (topk(10, ...)), or narrow the selector.`;
  }
  return shaped;
}

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
