import { z } from 'zod';
import { invalidArgument, notConfigured } from '../lib/errors.ts';
import { cutLine } from '../lib/logs.ts';
import { medianInterval } from '../lib/series.ts';
import { seriesSchema, shapeInstant, shapeRange, type ShapeFormat } from '../lib/shape.ts';
import { chooseStep, describeStep, emptyRangeHint, parseStep, peakHint } from '../lib/step.ts';
import { formatDuration, parseTime, resolveWindow, toRfc3339 } from '../lib/time.ts';
import { defineTool } from './define.ts';

const timeArg = z.union([z.string(), z.number()]);
const DEFAULT_RANGE_SECONDS = 3600;
// Prometheus may attach one warning or info per series or shard (e.g. "PromQL info: …"): a few say what is wrong.
const MAX_WARNINGS = 5;
const MAX_WARNING_CHARS = 300;

const output = z.object({
  query: z.string(),
  result_type: z.enum(['vector', 'matrix', 'scalar', 'string']),
  time: z.string().optional(),
  start: z.string().optional(),
  end: z.string().optional(),
  step: z.string().optional(),
  step_seconds: z.number().optional(),
  step_note: z.string().optional(),
  value: z.union([z.number(), z.string()]).optional(),
  series_total: z.number().int(),
  series_shown: z.number().int(),
  common_labels: z.record(z.string(), z.string()).optional(),
  series: z.array(seriesSchema),
  shape_every: z.string().optional(),
  truncated: z.boolean(),
  note: z.string().optional(),
  warnings: z.array(z.string()).optional(),
});

export const queryPrometheus = defineTool({
  name: 'query_prometheus',
  title: 'Query Prometheus',
  description: [
    'Run PromQL: instant at `time` (default now), or a range from `start` to `end` (default now), summarized',
    'per series (min, max, mean, trend, spikes, shape) at an automatic step; format "full" gives raw points.',
    'Capped: if `truncated`, follow `note`. Times: RFC 3339, unix s, now-1h, 30m (ago).',
  ].join(' '),
  input: z.strictObject({
    query: z.string().trim().min(1).max(20_000).describe('PromQL expression'),
    time: timeArg.optional(),
    start: timeArg.optional(),
    end: timeArg.optional(),
    step: z.union([z.string(), z.number()]).optional().describe('e.g. 30s, 5m; default: automatic'),
    format: z.enum(['summary', 'full']).default('summary'),
  }),
  output,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },

  async run(input, ctx) {
    const prometheus = ctx.prometheus;
    if (!prometheus) throw notConfigured('Prometheus', 'PROMETHEUS_URL');
    const now = ctx.now();
    const format: ShapeFormat = input.format;
    const maxBytes = format === 'full' ? ctx.config.output.maxBytesFull : ctx.config.output.maxBytes;
    const shapeOptions = { maxBytes, fullBytes: ctx.config.output.maxBytesFull };
    const isRange = input.start !== undefined || input.end !== undefined;

    if (!isRange) {
      if (input.step !== undefined) {
        throw invalidArgument(
          'step only applies to a range query.',
          'Add start (e.g. "now-1h") or drop step.',
        );
      }
      const time = input.time === undefined ? now : parseTime(input.time, now, 'time');
      const response = await prometheus.query(input.query, time, { signal: ctx.signal });
      const { data } = response;
      const warned = warn(response.warnings, response.infos);
      const base = { query: input.query, result_type: data.resultType, time: toRfc3339(time) };
      if (data.resultType === 'scalar' || data.resultType === 'string') {
        return {
          ...base,
          // A string result is text, even when it reads as a number.
          value: data.resultType === 'string' ? data.result[1] : scalarValue(data.result[1]),
          series_total: 0,
          series_shown: 0,
          series: [],
          truncated: false,
          ...warned,
        };
      }
      if (data.resultType === 'matrix') {
        if (data.result.length === 0) {
          return {
            ...base,
            series_total: 0,
            series_shown: 0,
            series: [],
            truncated: false,
            ...emptyHint(0),
            ...warned,
          };
        }
        // A range-vector selector at an instant (rate's argument, `up[5m]`): shape it like a range, from the
        // earliest sample. A loop, not Math.min(...): spreading 100k+ series overflows the call stack.
        const end = time;
        let start = end;
        for (const s of data.result)
          start = Math.min(start, s.samples.t[0] ?? end, s.histograms?.t[0] ?? end);
        // Raw samples come with no step: their own spacing is one, so that a series is not taken to have
        // stopped a second after its last scrape, nor one burst over three scrapes for three spikes.
        const times = data.result.flatMap(s =>
          s.histograms ? [s.samples.t, s.histograms.t] : [s.samples.t],
        );
        const step = medianInterval(times) ?? Math.max(end - start, 1);
        return {
          ...base,
          ...shapeRange(
            data.result.map(s => ({ labels: s.metric, samples: s.samples, histograms: s.histograms })),
            { start, end, step },
            { ...shapeOptions, format, raw: true, base: { ...base, ...warned } },
          ),
          ...warned,
        };
      }
      const shaped = shapeInstant(
        data.result.map(s =>
          'histogram' in s
            ? { labels: s.metric, histogram: s.histogram[1] }
            : { labels: s.metric, value: s.value[1] },
        ),
        { ...shapeOptions, base: { ...base, ...warned } },
      );
      return { ...base, ...shaped, ...emptyHint(shaped.series_total), ...warned };
    }

    if (input.time !== undefined) {
      throw invalidArgument(
        'time is for instant queries; a range query takes start and end.',
        'Drop time, or drop start and end.',
      );
    }
    const { start, end } = resolveWindow(input, now, DEFAULT_RANGE_SECONDS);
    const budget = {
      targetPoints: ctx.config.prometheus?.targetPoints ?? 240,
      maxPoints: ctx.config.prometheus?.maxPoints ?? 1100,
    };
    const choice = chooseStep(
      end - start,
      input.step === undefined ? undefined : parseStep(input.step),
      budget,
    );
    const response = await prometheus.queryRange(input.query, start, end, choice.step, {
      signal: ctx.signal,
    });
    const { data } = response;
    const warned = warn(response.warnings, response.infos);
    const base = {
      query: input.query,
      result_type: data.resultType,
      start: toRfc3339(start),
      end: toRfc3339(end),
      step: formatDuration(choice.step),
      step_seconds: choice.step,
      ...(describeStep(choice, budget) === undefined ? {} : { step_note: describeStep(choice, budget) }),
    };
    if (data.resultType !== 'matrix') {
      const value =
        data.resultType === 'vector'
          ? undefined
          : data.resultType === 'string'
            ? data.result[1]
            : scalarValue(data.result[1]);
      return {
        ...base,
        ...(value === undefined ? {} : { value }),
        series_total: 0,
        series_shown: 0,
        series: [],
        truncated: false,
        ...warned,
      };
    }
    const hint = peakHint(input.query, choice.step);
    const shaped = shapeRange(
      data.result.map(s => ({ labels: s.metric, samples: s.samples, histograms: s.histograms })),
      { start, end, step: choice.step },
      { ...shapeOptions, format, base: { ...base, ...warned }, ...(hint ? { hints: [hint] } : {}) },
    );
    // Nothing at the points of a coarse step may be samples between them, not a wrong name: say which first.
    const empty = emptyRangeHint(input.query, choice.step);
    return {
      ...base,
      ...shaped,
      ...(shaped.series_total === 0 && empty !== undefined
        ? { note: empty }
        : emptyHint(shaped.series_total)),
      ...warned,
    };
  },
});

function scalarValue(value: string): number | string {
  const number = Number(value);
  return Number.isFinite(number) ? number : value;
}

/**
 * The first few warnings, then infos, each cut short, and how many more there were: they count against the
 * byte cap too. An info is labelled as one unless it says so itself (Prometheus writes "PromQL info: …").
 */
function warn(warnings: readonly string[], infos: readonly string[]): { warnings?: string[] } {
  const all = [...warnings, ...infos.map(i => (/\binfo\b/i.test(i) ? i : `info: ${i}`))];
  if (all.length === 0) return {};
  const shown = all.slice(0, MAX_WARNINGS).map(w => cutLine(w, MAX_WARNING_CHARS));
  const more = all.length - shown.length;
  return { warnings: more > 0 ? [...shown, `+${more} more`] : shown };
}

function emptyHint(total: number): { note?: string } {
  if (total > 0) return {};
  return {
    note: 'No series matched. Check the metric name and label values with explore_prometheus and, for a range, the time range.',
  };
}
