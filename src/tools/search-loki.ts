import { z } from 'zod';
import { fromNanos, toNanos, type Labels, type LokiClient, type LokiSeries } from '../clients/loki.ts';
import { invalidArgument, notConfigured, ToolError } from '../lib/errors.ts';
import { formatBytes } from '../lib/http.ts';
import type { LogQLQuery, SelectorRead } from '../lib/logql.ts';
import { cutLabels, cutLine, MAX_LABEL_CHARS, shapeLogs } from '../lib/logs.ts';
import { redactDeep, type Redactor } from '../lib/redact.ts';
import { columnsOf } from '../lib/series.ts';
import { seriesSchema, shapeRange } from '../lib/shape.ts';
import { chooseStep, describeStep, parseStep, type StepChoice } from '../lib/step.ts';
import { printable } from '../lib/terminal.ts';
import { formatDuration, nanosecondEpoch, resolveWindow, toRfc3339 } from '../lib/time.ts';
import { defineTool } from './define.ts';

const DEFAULT_RANGE_SECONDS = 3600;
const MAX_LINE_CHARS = 400;
// Loki's default step aims at ~250 points; summaries need no more.
const STEP_BUDGET = { targetPoints: 240, maxPoints: 1100 };
const NO_MATCH = 'No line matched. Check the selector with explore_loki, or widen the range.';
// Characters of a selector echoed in a note.
const MAX_ECHO = 200;
// Characters of the query echoed in the result: a query may be 20,000, and the result is capped at a few KB.
const MAX_QUERY_ECHO = 500;

export const searchLoki = defineTool({
  name: 'search_loki',
  title: 'Search Loki logs',
  description: [
    'Run LogQL: log lines grouped by stream, repeats collapsed (count, first/last time); metric queries',
    '(count_over_time, rate, sum by) summarized per series. Checked locally first; a query that would scan too',
    'much is refused with the figures. Capped: if `truncated`, follow `note`. Times and step as query_prometheus (default last hour).',
  ].join(' '),
  input: z.strictObject({
    query: z.string().trim().min(1).max(20_000).describe('LogQL, e.g. {app="api"} |= "error"'),
    start: z.union([z.string(), z.number()]).optional(),
    end: z.union([z.string(), z.number()]).optional(),
    limit: z.coerce.number().int().min(1).max(5000).default(100).describe('most lines (log queries)'),
    direction: z.enum(['backward', 'forward']).default('backward').describe('backward = newest first'),
    step: z.union([z.string(), z.number()]).optional(),
  }),
  output: z.object({
    query: z.string(),
    kind: z.enum(['logs', 'metric']),
    start: z.string(),
    end: z.string(),
    limit: z.number().int().optional(),
    direction: z.string().optional(),
    step: z.string().optional(),
    lines: z.number().int().optional(),
    common_labels: z.record(z.string(), z.string()).optional(),
    streams: z
      .array(
        z.object({
          labels: z.record(z.string(), z.string()),
          lines: z.number().int(),
          groups: z.array(
            z.object({
              text: z.string(),
              count: z.number().int(),
              first: z.string(),
              last: z.string().optional(),
            }),
          ),
        }),
      )
      .optional(),
    groups_total: z.number().int().optional(),
    groups_shown: z.number().int().optional(),
    series: z.array(seriesSchema).optional(),
    series_total: z.number().int().optional(),
    series_shown: z.number().int().optional(),
    shape_every: z.string().optional(),
    scanned_bytes: z.number().optional(),
    truncated: z.boolean(),
    note: z.string().optional(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },

  async run(input, ctx) {
    const loki = ctx.loki;
    const settings = ctx.config.loki;
    if (!loki || !settings) throw notConfigured('Loki', 'LOKI_URL');
    // The LogQL grammar loads on first use, so that `serve` starts without it.
    const { checkLogQL } = await import('../lib/logql.ts');
    const parsed = checkLogQL(input.query);
    const { start, end } = resolveWindow(input, ctx.now(), DEFAULT_RANGE_SECONDS);
    // A nanosecond epoch (what the paging note gives) goes to Loki as is: seconds in a float would round it.
    const from = nanosecondEpoch(input.start, 'start') ?? toNanos(start);
    const to = nanosecondEpoch(input.end, 'end') ?? toNanos(end);
    const maxSeconds = settings.maxQueryLengthHours * 3600;
    if (end - start > maxSeconds) {
      throw invalidArgument(
        `The range ${formatDuration(end - start)} is longer than Loki allows (${formatDuration(maxSeconds)}).`,
        'Shorten the range; for long trends use a metric query with a coarse step on a shorter window.',
      );
    }
    if (input.step !== undefined && parsed.kind === 'logs') {
      throw invalidArgument(
        'step only applies to a metric query.',
        'Drop step, or count the lines: sum(count_over_time({…}[5m])).',
      );
    }
    const requested = input.step === undefined ? undefined : parseStep(input.step);
    await guardCost(loki, parsed.selectors, start, end, settings.maxBytesScanned, ctx.signal);
    const echo = {
      query: cutLine(input.query, MAX_QUERY_ECHO),
      kind: parsed.kind,
      start: toRfc3339(start),
      end: toRfc3339(end),
    };

    if (parsed.kind === 'metric') {
      // A selector outside a range aggregation (none has a [range]) does not bound the step.
      const shortestRange = Math.min(...parsed.selectors.map(s => s.rangeSeconds || Infinity));
      const { choice, note: stepNote } = metricStep(end - start, requested, shortestRange);
      const data = await loki.queryRange({
        query: input.query,
        start,
        end,
        step: choice.step,
        signal: ctx.signal,
      });
      if (data.resultType !== 'matrix')
        throw new ToolError('BACKEND_ERROR', 'Loki answered a metric query with log lines.');
      const base = { ...echo, step: formatDuration(choice.step) };
      // Labels are scrubbed and made printable before they are shaped (see the log lines below).
      const series = data.result.map(s => ({ ...s, metric: labelsOf(s.metric, ctx.redact) }));
      const result = parsed.countsLines
        ? withQuietSteps(series, start, end, choice.step)
        : { series, filled: 0 };
      const shaped = shapeRange(
        result.series.map(s => ({
          labels: cutLabels(s.metric, MAX_LABEL_CHARS),
          samples: columnsOf(s.values),
        })),
        { start, end, step: choice.step },
        {
          maxBytes: ctx.config.output.maxBytes,
          fullBytes: ctx.config.output.maxBytesFull,
          format: 'summary',
          base,
        },
      );
      // The summary's hint about format "full" does not apply: search_loki has no such format.
      const { note, ...rest } = shaped;
      const notes = [
        ...(stepNote ? [stepNote] : []),
        ...(shaped.truncated && note ? [note] : []),
        ...(result.filled > 0
          ? ['Steps whose window held no line count as 0 (Loki writes no sample there).']
          : []),
        ...(data.result.length === 0 ? [noMatch(parsed)] : []),
      ];
      return {
        ...base,
        ...rest,
        ...(notes.length > 0 ? { note: notes.join(' ') } : {}),
        ...scanned(data.stats.totalBytesProcessed),
      };
    }

    const limit = Math.min(input.limit, settings.maxLines, settings.maxEntriesLimit - 1);
    const data = await loki.queryRange({
      query: input.query,
      start: from,
      end: to,
      // One more than asked, to know whether there were more.
      limit: limit + 1,
      direction: input.direction,
      signal: ctx.signal,
    });
    if (data.resultType !== 'streams')
      throw new ToolError('BACKEND_ERROR', 'Loki answered a log query with a matrix.');
    const entries = data.result.flatMap(s =>
      s.values.map(([ns, line]) => ({ stream: s.stream, ns, t: fromNanos(ns), line })),
    );
    // Ordered by the exact nanoseconds, so that the line left out is never newer (backward) than one kept.
    entries.sort((a, b) => compareNanos(a.ns, b.ns) * (input.direction === 'backward' ? -1 : 1));
    const kept = entries.slice(0, limit);
    const dropped = entries[limit];
    const more = dropped !== undefined;
    const byStream = new Map<string, { labels: Labels; lines: Array<{ t: number; line: string }> }>();
    // Lines and labels are scrubbed of the configured secrets before they are grouped and cut at MAX_LINE_CHARS:
    // scrubbing the finished result would miss a secret cut in two, and send its first part. Then they are made
    // printable, which would hide from the scrubbing a secret that holds a control character.
    for (const entry of kept) {
      const key = JSON.stringify(entry.stream);
      const stream = byStream.get(key) ?? { labels: labelsOf(entry.stream, ctx.redact), lines: [] };
      stream.lines.push({ t: entry.t, line: printable(ctx.redact(entry.line)) });
      byStream.set(key, stream);
    }
    const last = kept.at(-1);
    const base = { ...echo, limit, direction: input.direction, lines: kept.length };
    const shaped = shapeLogs([...byStream.values()], {
      maxBytes: ctx.config.output.maxBytes,
      maxLineChars: MAX_LINE_CHARS,
      baseBytes: Buffer.byteLength(JSON.stringify(base)),
    });
    const notes = [
      ...(limit < input.limit ? [`limit lowered to ${limit} (the most this server allows).`] : []),
      ...(dropped && last
        ? [readOn(input.direction, limit, kept[0]?.ns ?? last.ns, last.ns, dropped.ns)]
        : []),
      ...(shaped.note ? [shaped.note] : []),
      ...(kept.length === 0 ? [noMatch(parsed)] : []),
    ];
    return {
      ...base,
      ...shaped,
      truncated: shaped.truncated || more,
      ...(notes.length > 0 ? { note: notes.join(' ') } : {}),
      ...scanned(data.stats.totalBytesProcessed),
    };
  },
});

/**
 * The step of a metric query. Loki evaluates it at each step over the [range] before that step, so a step longer
 * than the shortest [range] never counts the lines between two windows: the automatic step is then that [range]
 * itself (windows side by side, each line counted once), with up to the most points a series may have. Past that,
 * or when the step asked for is longer, the note says what is missed.
 */
function metricStep(
  rangeSeconds: number,
  requested: number | undefined,
  shortestRange: number,
): { choice: StepChoice; note?: string } {
  let choice = chooseStep(rangeSeconds, requested, STEP_BUDGET);
  if (requested === undefined && choice.step > shortestRange) {
    choice = chooseStep(rangeSeconds, shortestRange, STEP_BUDGET);
  }
  const notes = [
    ...(requested === undefined ? [] : [describeStep(choice, STEP_BUDGET)]),
    ...(choice.step > shortestRange
      ? [
          `step ${formatDuration(choice.step)} is longer than the shortest [range] (${formatDuration(shortestRange)}): lines between the windows are not counted; shorten the range or lengthen the [range]`,
        ]
      : []),
  ].filter(note => note !== undefined);
  return notes.length > 0 ? { choice, note: `${notes.join('; ')}.` } : { choice };
}

/**
 * A line count's series with a 0 at each step Loki wrote no sample for: it writes none for a window without lines,
 * and min, mean and trend must see those quiet stretches. Times in milliseconds, as Loki writes them.
 */
function withQuietSteps(
  series: readonly LokiSeries[],
  start: number,
  end: number,
  step: number,
): { series: LokiSeries[]; filled: number } {
  const ms = (seconds: number) => Math.round(seconds * 1000);
  const stepMs = ms(step);
  const phase = series[0]?.values[0]?.[0];
  if (phase === undefined || stepMs <= 0) return { series: [...series], filled: 0 };
  // Loki's first step: the one in the phase of its timestamps after start - step (start itself, unless Loki
  // aligned the query to the step).
  const lowest = Math.floor(start * 1000) - stepMs;
  const first = ms(phase) - Math.floor((ms(phase) - lowest - 1) / stepMs) * stepMs;
  const last = Math.floor(end * 1000);
  let filled = 0;
  const out = series.map(s => {
    const seen = new Set(s.values.map(([t]) => ms(t)));
    const quiet: Array<[number, string]> = [];
    for (let t = first; t <= last; t += stepMs) if (!seen.has(t)) quiet.push([t / 1000, '0']);
    filled += quiet.length;
    return { ...s, values: [...s.values, ...quiet].sort((a, b) => a[0] - b[0]) };
  });
  return { series: out, filled };
}

/**
 * Why nothing may have matched. With pipeline stages (line filters, a parser, label filters) the stages may drop
 * every line the selector reads, as a label filter does when the parser does not fit the lines (`| json` on
 * logfmt): reading the selector alone tells which.
 */
function noMatch(parsed: LogQLQuery): string {
  // A binary query may have stages after one of its selectors only: that is the one to read alone.
  const selector = parsed.selectors.find(s => s.hasStages)?.selector;
  if (!parsed.hasStages || selector === undefined) return NO_MATCH;
  return `No line matched. The pipeline stages may drop every line (e.g. a label filter after a parser that does not fit them: | json on logfmt): run ${cutLine(selector, MAX_ECHO)} alone to see the lines; else check the selector with explore_loki, or widen the range.`;
}

function compareNanos(a: string, b: string): number {
  // Loki's nanosecond strings have no leading zeros: the longer is the later, else the digits decide.
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * Where the next page starts. Loki reads [start, end) and returned one line more than kept; when that line is
 * older (backward) than the last kept, every line at the last kept time was read, so the cut can sit exactly
 * there. When it shares that time, Loki may hold still more lines at it: the cut then takes that nanosecond in
 * again, and its lines may repeat rather than be skipped.
 */
function readOn(
  direction: 'backward' | 'forward',
  limit: number,
  first: string,
  last: string,
  dropped: string,
): string {
  const backward = direction === 'backward';
  const field = backward ? 'end' : 'start';
  const tie = last === dropped;
  // Backward the cut is an exclusive end, forward an inclusive start.
  const past = String(BigInt(last) + 1n);
  const next = backward ? (tie ? past : last) : tie ? last : past;
  const unread = `More lines matched than the ${limit} returned: ${backward ? 'older' : 'newer'} ones were not read.`;
  // Every line kept and the one left out share one time: the next page would be this one again.
  if (tie && first === last) {
    return `${unread} More than ${limit} lines share the time ${last} (ns): raise limit to read past it.`;
  }
  const repeat = tie ? '; lines at that time may repeat' : '';
  return `${unread} Narrow the query or move ${field} to ${next} to read on (a nanosecond epoch, as a string${repeat}).`;
}

/** Labels from Loki scrubbed of secrets, then printable (see the log lines). */
function labelsOf(labels: Labels, redact: Redactor): Labels {
  const scrubbed = redactDeep(labels, redact) as Labels;
  return Object.fromEntries(
    Object.entries(scrubbed).map(([name, value]) => [printable(name), printable(value)]),
  );
}

function scanned(bytes: number | undefined): { scanned_bytes?: number } {
  return bytes === undefined ? {} : { scanned_bytes: bytes };
}

/**
 * The cost guardrail: ask Loki's index how much the selectors would read before reading it. A range aggregation
 * reads (t - offset - range, t - offset] at each step t, so each selector is asked about its own window.
 */
async function guardCost(
  loki: LokiClient,
  selectors: readonly SelectorRead[],
  start: number,
  end: number,
  budget: number,
  signal: AbortSignal,
): Promise<void> {
  const windows = selectors.map(s => ({
    selector: s.selector,
    from: start - s.offsetSeconds - s.rangeSeconds,
    to: end - s.offsetSeconds,
  }));
  const stats = await Promise.all(windows.map(w => loki.indexStats(w.selector, w.from, w.to, signal)));
  const known = stats.filter(s => s !== undefined);
  if (known.length === 0) return;
  const bytes = known.reduce((sum, s) => sum + s.bytes, 0);
  if (bytes <= budget) return;
  const streams = known.reduce((sum, s) => sum + s.streams, 0);
  const longest = Math.max(...windows.map(w => w.to - w.from));
  throw new ToolError(
    'QUERY_TOO_EXPENSIVE',
    `This query would scan about ${formatBytes(bytes)} in ${streams} streams over ${formatDuration(longest)}; the limit is ${formatBytes(budget)}.`,
    'Add labels to the stream selector (e.g. {app="api", level="error"}) or shorten the range; line filters do not reduce what is scanned.',
  );
}
