// The query endpoints: parameters checked in the order Loki checks them, LogQL parsed, limits applied,
// and the answer in Loki's JSON shapes.

import { queryLogs, queryMatrix, queryVector } from './engine.ts';
import { LokiError } from './errors.ts';
import { parseQuery, parseSelector, type Labels } from './logql.ts';
import {
  bounds,
  type Form,
  formatGoDuration,
  formatPromDuration,
  MS,
  NS,
  nowNs,
  parseDirection,
  parseInterval,
  parseLimit,
  parseStep,
  parseTimestamp,
} from './params.ts';
import { Scan } from './stats.ts';
import { chunkOf, entriesBetween, sortedLabels, type Store, type Stream } from './store.ts';

export interface Limits {
  maxEntriesLimitPerQuery: number;
  /** Nanoseconds. */
  maxQueryLength: bigint;
  maxQuerySeries: number;
}

const HOUR = 3600n * NS;
/** The documented default range of the labels and label values endpoints. */
const LABELS_SINCE = 6n * HOUR;

function checkQueryLength(start: bigint, end: bigint, limits: Limits): void {
  // Loki measures the range between the millisecond timestamps.
  const length = (end / MS - start / MS) * MS;
  if (length > limits.maxQueryLength) {
    throw new LokiError(
      400,
      `the query time range exceeds the limit (query length: ${formatGoDuration(length)}, limit: ${formatPromDuration(limits.maxQueryLength)})`,
    );
  }
}

const success = (resultType: string, result: unknown, stats: unknown) => ({
  status: 'success',
  data: { resultType, result, stats },
});

/** The parameters of query_range (and index/stats, which Loki parses the same way). */
function rangeParams(form: Form) {
  const { start, end } = bounds(form, HOUR);
  if (end < start) throw new LokiError(400, 'end timestamp must not be before or equal to start time');
  const limit = parseLimit(form);
  const direction = parseDirection(form);
  const step = parseStep(form, start, end);
  if (step <= 0n) {
    throw new LokiError(
      400,
      'zero or negative query resolution step widths are not accepted. Try a positive integer',
    );
  }
  if ((end - start) / step > 11_000n) {
    throw new LokiError(
      400,
      'exceeded maximum resolution of 11,000 points per time series. Try increasing the value of the step parameter',
    );
  }
  const interval = parseInterval(form);
  if (interval < 0n) throw new LokiError(400, 'interval must be >= 0');
  return { start, end, limit, direction, step, interval };
}

export function queryRange(form: Form, store: Store, limits: Limits) {
  const { start, end, limit, direction, step, interval } = rangeParams(form);
  const query = parseQuery(form.get('query'));
  checkQueryLength(start, end, limits);
  const scan = new Scan();
  if (query.kind === 'log') {
    if (limit > limits.maxEntriesLimitPerQuery) {
      throw new LokiError(
        400,
        `max entries limit per query exceeded, limit > max_entries_limit_per_query (${limit} > ${limits.maxEntriesLimitPerQuery})`,
      );
    }
    const logs = queryLogs(store, query.selector, { start, end, limit, direction, interval }, scan);
    return success('streams', logs.result, scan.stats(logs.returned));
  }
  const matrix = queryMatrix(store, query.expr, { start, end, step }, limits.maxQuerySeries, scan);
  return success('matrix', matrix.result, scan.stats(matrix.returned));
}

export function instantQuery(form: Form, store: Store, limits: Limits) {
  parseLimit(form);
  let time: bigint;
  try {
    time = parseTimestamp(form.get('time'), nowNs());
  } catch (error) {
    throw new LokiError(400, (error as Error).message);
  }
  parseDirection(form);
  const query = parseQuery(form.get('query'));
  if (query.kind === 'log') {
    throw new LokiError(
      400,
      'log queries are not supported as an instant query type, please change your query to a range query type',
    );
  }
  const scan = new Scan();
  const vector = queryVector(store, query.expr, time, limits.maxQuerySeries, scan);
  return success('vector', vector.result, scan.stats(vector.returned));
}

/** Streams matching the optional `query` selector that have entries in [start, end]. */
function streamsInScope(form: Form, store: Store, limits: Limits): Stream[] {
  const { start, end } = bounds(form, LABELS_SINCE);
  checkQueryLength(start, end, limits);
  const query = form.get('query');
  const matchers = query === '' ? [] : parseSelector(query, true);
  return store.select(matchers).filter(s => entriesBetween(s, start, end + 1n).length > 0);
}

/** Loki omits "data" from an empty label list. */
const labelList = (values: Set<string>) =>
  values.size === 0 ? { status: 'success' } : { status: 'success', data: [...values].sort() };

export function labelNames(form: Form, store: Store, limits: Limits) {
  return labelList(new Set(streamsInScope(form, store, limits).flatMap(s => Object.keys(s.labels))));
}

export function labelValues(name: string, form: Form, store: Store, limits: Limits) {
  const values = streamsInScope(form, store, limits).map(s => s.labels[name]);
  return labelList(new Set(values.filter((v): v is string => v !== undefined)));
}

export function series(form: Form, store: Store, limits: Limits) {
  const { start, end } = bounds(form, HOUR);
  checkQueryLength(start, end, limits);
  let groups = [...new Set([...form.getAll('match[]'), ...form.getAll('match')])].sort();
  // A lone {} asks for every stream, as Loki allows; no match[] at all is refused, as documented.
  if (groups.length === 1 && groups[0]?.replaceAll(' ', '') === '{}') groups = [];
  else if (groups.length === 0) throw new LokiError(400, '0 matcher groups supplied');
  const selectors = groups.map(g => parseSelector(g, false));
  const found = new Map<string, Labels>();
  for (const matchers of selectors.length === 0 ? [[]] : selectors) {
    for (const s of store.select(matchers)) {
      if (entriesBetween(s, start, end + 1n).length > 0) found.set(s.key, sortedLabels(s.labels));
    }
  }
  const data = [...found.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, labels]) => labels);
  return { status: 'success', data };
}

export function indexStats(form: Form, store: Store, limits: Limits) {
  const { start, end } = rangeParams(form);
  const matchers = parseSelector(form.get('query'), true);
  checkQueryLength(start, end, limits);
  let streams = 0;
  let entries = 0;
  let bytes = 0;
  const chunks = new Set<string>();
  for (const stream of store.select(matchers)) {
    const inRange = entriesBetween(stream, start, end);
    if (inRange.length > 0) streams++;
    for (const entry of inRange) {
      entries++;
      bytes += Buffer.byteLength(entry.line);
      chunks.add(chunkOf(stream, entry));
    }
  }
  return { streams, chunks: chunks.size, bytes, entries };
}
