// Query evaluation over the store: log queries (filtered entries, ordered and limited across streams)
// and metric queries (range aggregations over the window (t - range, t] at each step, then vector
// aggregations), with Loki's result ordering and series limit.

import { LokiError } from './errors.ts';
import type { Labels, LogSelector, MetricExpr, RangeAggregation, VectorAggregation } from './logql.ts';
import { MS, NS, type Direction } from './params.ts';
import { runPipeline } from './pipeline.ts';
import { entriesBetween, labelsString, lowerBound, sortedLabels, type Store } from './store.ts';
import type { Scan } from './stats.ts';

interface Line {
  ns: bigint;
  labels: Labels;
  key: string;
  line: string;
  bytes: number;
}

interface Sample {
  labels: Labels;
  key: string;
  value: number;
}

/** Entries of the selected streams with from <= ns < to that the pipeline keeps, as it leaves them. */
function selectLines(store: Store, selector: LogSelector, from: bigint, to: bigint, scan: Scan): Line[] {
  const out: Line[] = [];
  for (const stream of store.select(selector.matchers)) {
    for (const entry of entriesBetween(stream, from, to)) {
      scan.read(stream, entry);
      const kept = runPipeline(selector.stages, stream.labels, entry.metadata, entry.line);
      if (!kept) continue;
      scan.postFilterLines++;
      const key = labelsString(kept.labels);
      out.push({
        ns: entry.ns,
        labels: kept.labels,
        key,
        line: kept.line,
        bytes: Buffer.byteLength(kept.line),
      });
    }
  }
  return out.sort((a, b) => (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : 0));
}

export interface LogQuery {
  start: bigint;
  end: bigint;
  limit: number;
  direction: Direction;
  /** Only entries at least this far apart are returned (0: all). */
  interval: bigint;
}

export interface StreamResult {
  stream: Labels;
  values: Array<[string, string]>;
}

/** Entries in [start, end), newest or oldest first, the limit counted across all streams. */
export function queryLogs(store: Store, selector: LogSelector, q: LogQuery, scan: Scan) {
  const forward = q.direction === 'forward';
  const lines = selectLines(store, selector, q.start, q.end, scan);
  if (!forward) lines.reverse();
  const streams = new Map<string, StreamResult>();
  let returned = 0;
  let last: bigint | undefined;
  for (const line of lines) {
    if (returned >= q.limit) break;
    if (q.interval > 0n && last !== undefined) {
      const farEnough = forward ? line.ns >= last + q.interval : line.ns <= last - q.interval;
      if (!farEnough) continue;
    }
    const stream = streams.get(line.key) ?? { stream: sortedLabels(line.labels), values: [] };
    streams.set(line.key, stream);
    stream.values.push([line.ns.toString(), line.line]);
    last = line.ns;
    returned++;
  }
  // Loki sorts the result's streams by their label string.
  const result = [...streams.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, s]) => s);
  return { result, returned };
}

function seriesLimit(max: number): LokiError {
  return new LokiError(
    400,
    `maximum number of series (${max}) reached for a single query; consider reducing query cardinality by adding more specific stream selectors, reducing the time range, or aggregating results with functions like sum(), count() or topk()`,
  );
}

function pipelineError(labels: Labels): LokiError {
  const error = labels.__error__ ?? '';
  return new LokiError(
    400,
    `pipeline error: '${error}' for series: '${labelsString(labels)}'.\n` +
      `Use a label filter to intentionally skip this error. (e.g | __error__!="${error}").\n` +
      'To skip all potential errors you can match empty errors.(e.g __error__="")\n' +
      'The label filter can also be specified after unwrap. (e.g | unwrap latency | __error__="" )\n',
  );
}

/** Prometheus' label-set order (labels.Compare): name by name, then value, shorter sets first. */
function compareLabels(a: Labels, b: Labels): number {
  const x = Object.entries(sortedLabels(a));
  const y = Object.entries(sortedLabels(b));
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const [an = '', av = ''] = x[i] ?? [];
    const [bn = '', bv = ''] = y[i] ?? [];
    if (an !== bn) return an < bn ? -1 : 1;
    if (av !== bv) return av < bv ? -1 : 1;
  }
  return x.length - y.length;
}

/** A sample value as Go's strconv.FormatFloat(v, 'f', -1, 64) writes it: never in exponent form. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? '+Inf' : '-Inf';
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(String(value));
  if (!m) return String(value);
  const [, sign = '', lead = '', rest = '', exponent = '0'] = m;
  const point = 1 + Number(exponent);
  const digits = lead + rest;
  return point <= 0 ? `${sign}0.${'0'.repeat(-point)}${digits}` : `${sign}${digits.padEnd(point, '0')}`;
}

/** Loki's sample timestamps: seconds, with millisecond precision. */
const seconds = (ns: bigint): number => Number(ns / MS) / 1000;

function groupLabels(labels: Labels, grouping: VectorAggregation['grouping']): Labels {
  if (!grouping) return {};
  return Object.fromEntries(
    Object.entries(labels).filter(([name]) => grouping.labels.includes(name) !== grouping.without),
  );
}

/**
 * A metric expression evaluated at any step. What the double supports has one range aggregation (no
 * binary operations), whose lines are read once for the whole query range.
 */
class Evaluator {
  readonly #lines: Line[];

  constructor(store: Store, expr: MetricExpr, start: bigint, end: bigint, scan: Scan) {
    let node: MetricExpr = expr;
    while (node.kind === 'vector') node = node.inner;
    const from = start - node.offset - node.range + 1n;
    this.#lines = selectLines(store, node.selector, from, end - node.offset + 1n, scan);
  }

  at(expr: MetricExpr, t: bigint): Sample[] {
    return expr.kind === 'range' ? this.#range(expr, t) : this.#vector(expr, t);
  }

  #range(node: RangeAggregation, t: bigint): Sample[] {
    const lines = this.#lines;
    const end = t - node.offset;
    const window = lines.slice(lowerBound(lines, end - node.range + 1n), lowerBound(lines, end + 1n));
    const samples = new Map<string, Sample>();
    for (const line of window) {
      // Loki refuses to turn lines with a pipeline error into samples.
      if ('__error__' in line.labels) throw pipelineError(line.labels);
      const sample = samples.get(line.key) ?? { labels: line.labels, key: line.key, value: 0 };
      sample.value += node.op === 'bytes_over_time' || node.op === 'bytes_rate' ? line.bytes : 1;
      samples.set(line.key, sample);
    }
    const perSecond = node.op === 'rate' || node.op === 'bytes_rate';
    const rangeSeconds = Number(node.range) / Number(NS);
    return [...samples.values()].map(s => (perSecond ? { ...s, value: s.value / rangeSeconds } : s));
  }

  #vector(node: VectorAggregation, t: bigint): Sample[] {
    const groups = new Map<string, { labels: Labels; members: Sample[] }>();
    for (const sample of this.at(node.inner, t)) {
      const labels = groupLabels(sample.labels, node.grouping);
      const key = labelsString(labels);
      const group = groups.get(key) ?? { labels, members: [] };
      group.members.push(sample);
      groups.set(key, group);
    }
    const out: Sample[] = [];
    for (const [key, { labels, members }] of groups) {
      const values = members.map(m => m.value);
      const sum = values.reduce((a, b) => a + b, 0);
      switch (node.op) {
        case 'topk':
        case 'bottomk': {
          const sign = node.op === 'topk' ? -1 : 1;
          out.push(...[...members].sort((a, b) => sign * (a.value - b.value)).slice(0, node.k));
          continue;
        }
        case 'sum':
          out.push({ labels, key, value: sum });
          break;
        case 'count':
          out.push({ labels, key, value: values.length });
          break;
        case 'avg':
          out.push({ labels, key, value: sum / values.length });
          break;
        case 'min':
          out.push({ labels, key, value: Math.min(...values) });
          break;
        case 'max':
          out.push({ labels, key, value: Math.max(...values) });
          break;
      }
    }
    return out;
  }
}

export interface MatrixSeries {
  metric: Labels;
  values: Array<[number, string]>;
}

/** A range query: the expression at start, start + step, ... up to end, one series per label set. */
export function queryMatrix(
  store: Store,
  expr: MetricExpr,
  range: { start: bigint; end: bigint; step: bigint },
  maxSeries: number,
  scan: Scan,
) {
  const evaluator = new Evaluator(store, expr, range.start, range.end, scan);
  const series = new Map<string, MatrixSeries>();
  let returned = 0;
  for (let t = range.start; t <= range.end; t += range.step) {
    const vector = evaluator.at(expr, t);
    if (t === range.start && vector.length > maxSeries) throw seriesLimit(maxSeries);
    for (const sample of vector) {
      let entry = series.get(sample.key);
      if (!entry) {
        if (series.size >= maxSeries) throw seriesLimit(maxSeries);
        entry = { metric: sortedLabels(sample.labels), values: [] };
        series.set(sample.key, entry);
      }
      entry.values.push([seconds(t), formatValue(sample.value)]);
      returned++;
    }
  }
  return { result: [...series.values()].sort((a, b) => compareLabels(a.metric, b.metric)), returned };
}

/** An instant query: the expression at t, ordered by label set. */
export function queryVector(store: Store, expr: MetricExpr, t: bigint, maxSeries: number, scan: Scan) {
  const vector = new Evaluator(store, expr, t, t, scan).at(expr, t);
  if (vector.length > maxSeries) throw seriesLimit(maxSeries);
  const result = vector
    .sort((a, b) => compareLabels(a.labels, b.labels))
    .map(s => ({
      metric: sortedLabels(s.labels),
      value: [seconds(t), formatValue(s.value)] as [number, string],
    }));
  return { result, returned: result.length };
}
