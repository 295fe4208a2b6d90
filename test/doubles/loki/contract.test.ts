// Holds the double's answers to the examples of Loki's HTTP API reference (fixtures/, with its source),
// compared by shape, so the double cannot drift from the wire format clients are written against.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLokiDouble, type LokiDouble } from './index.ts';

const docs = JSON.parse(
  readFileSync(join(import.meta.dirname, 'fixtures', 'loki-http-api-examples.json'), 'utf8'),
);

const kind = (v: unknown) => (Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v);
const NANOSECONDS = /^\d{19}$/;
/**
 * Strings the reference fixes rather than shows as data: clients switch on them (ours refuses an answer whose
 * status is not "success", and reads the result by its resultType), so they must be the reference's words.
 */
const FIXED_STRINGS = new Set(['$.status', '$.data.resultType']);

interface ShapeOptions {
  /** Paths holding label sets: any names, string values. */
  labelSets?: RegExp;
  /** Keys the reference does not show are accepted (used against its outdated statistics example). */
  allowExtraKeys?: boolean;
}

/**
 * Where `actual` differs in shape from `expected`: a missing or unexpected key, another kind of value,
 * a nanosecond timestamp that is not a digit string, another word where the reference fixes one. Tuples
 * (scalars of mixed kinds, or led by a nanosecond timestamp) are compared position by position; other
 * arrays must not be empty, and each item is compared with the reference's first.
 */
function shapeMismatches(
  expected: unknown,
  actual: unknown,
  options: ShapeOptions = {},
  path = '$',
): string[] {
  if (options.labelSets?.test(path)) {
    if (kind(actual) !== 'object') return [`${path}: expected a label set, got ${kind(actual)}`];
    return Object.entries(actual as object)
      .filter(([, v]) => typeof v !== 'string')
      .map(([k]) => `${path}.${k}: label values are strings`);
  }
  if (kind(expected) !== kind(actual)) return [`${path}: expected ${kind(expected)}, got ${kind(actual)}`];
  if (FIXED_STRINGS.has(path) && actual !== expected) {
    return [`${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`];
  }
  if (typeof expected === 'string' && NANOSECONDS.test(expected) && !/^\d+$/.test(actual as string)) {
    return [`${path}: expected nanoseconds as a digit string, got ${JSON.stringify(actual)}`];
  }
  if (Array.isArray(expected)) {
    const items = actual as unknown[];
    const scalars = expected.every(e => kind(e) !== 'object' && kind(e) !== 'array');
    const tuple = scalars && (new Set(expected.map(kind)).size > 1 || NANOSECONDS.test(String(expected[0])));
    if (tuple) {
      if (items.length !== expected.length)
        return [`${path}: expected ${expected.length} items, got ${items.length}`];
      return expected.flatMap((e, i) => shapeMismatches(e, items[i], options, `${path}[${i}]`));
    }
    if (items.length === 0) return expected.length === 0 ? [] : [`${path}: expected items, got none`];
    return items.flatMap((item, i) => shapeMismatches(expected[0], item, options, `${path}[${i}]`));
  }
  if (kind(expected) === 'object') {
    const want = expected as Record<string, unknown>;
    const got = actual as Record<string, unknown>;
    const missing = Object.keys(want)
      .filter(k => !(k in got))
      .map(k => `${path}.${k}: missing`);
    const extra = options.allowExtraKeys
      ? []
      : Object.keys(got)
          .filter(k => !(k in want))
          .map(k => `${path}.${k}: not in the reference`);
    const common = Object.keys(want).filter(k => k in got);
    return [
      ...missing,
      ...extra,
      ...common.flatMap(k => shapeMismatches(want[k], got[k], options, `${path}.${k}`)),
    ];
  }
  return [];
}

const RESULT_LABELS = /^\$\.data\.result\[\d+\]\.(stream|metric)$/;

/** A documented example with its elided statistics set aside: they are compared on their own. */
function withoutStats(example: any): { body: any; stats: unknown } {
  const { stats, ...data } = example.data;
  return { body: { ...example, data }, stats };
}

let loki: LokiDouble;
const now = BigInt(Date.now()) * 1_000_000n;
const ago = (seconds: number) => String(now - BigInt(seconds) * 1_000_000_000n);

async function push(body: unknown): Promise<number> {
  const response = await fetch(`${loki.url}/loki/api/v1/push`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return response.status;
}

async function get(path: string, params: Record<string, string>): Promise<any> {
  const response = await fetch(`${loki.url}${path}?${new URLSearchParams(params).toString()}`);
  expect(response.status, await response.clone().text()).toBe(200);
  expect(response.headers.get('content-type')).toBe('application/json; charset=UTF-8');
  return response.json();
}

beforeAll(async () => {
  loki = await startLokiDouble();
  // The reference's push format, its placeholders filled in.
  const format = structuredClone(docs.push_format);
  const [stream] = format.streams;
  stream.stream = { job: 'varlogs', level: 'info', filename: '/var/log/myproject.log', foo: 'cat' };
  const filled = (i: number): Record<string, string> => ({
    '<unix epoch in nanoseconds>': ago(30 - 10 * i),
    '<log line>': `line ${i}`,
  });
  stream.values = stream.values.map((value: string[], i: number) => value.map(p => filled(i)[p]));
  expect(await push(format)).toBe(204);
  expect(
    await push({
      streams: [
        { stream: { job: 'varlogs', level: 'warn', foo: 'dog' }, values: [[ago(15), 'warned']] },
        { stream: { app: 'loki', container_name: 'loki', stream: 'stderr' }, values: [[ago(5), 'started']] },
      ],
    }),
  ).toBe(204);
});

afterAll(async () => {
  await loki.close();
});

describe("the Loki double against the examples of Loki's HTTP API reference", () => {
  it('accepts the documented push example and structured metadata in the documented place', async () => {
    expect(await push(docs.push_example)).toBe(204);
    const [sample] = docs.push_structured_metadata_values.values;
    expect(
      await push({
        streams: [
          { stream: { job: 'varlogs', foo: 'axolotl' }, values: [[ago(1), 'with metadata', sample[2]]] },
        ],
      }),
    ).toBe(204);
  });

  it('answers a log range query in the documented streams shape', async () => {
    const body = await get('/loki/api/v1/query_range', { query: '{job="varlogs"}' });
    const { body: documented } = withoutStats(docs.query_range_streams);
    expect(shapeMismatches(documented, withoutStats(body).body, { labelSets: RESULT_LABELS })).toEqual([]);
  });

  it('answers a metric range query in the documented matrix shape', async () => {
    const body = await get('/loki/api/v1/query_range', {
      query: 'sum(rate({job="varlogs"}[10m])) by (level)',
      step: '300',
    });
    const { body: documented } = withoutStats(docs.query_range_matrix);
    expect(shapeMismatches(documented, withoutStats(body).body, { labelSets: RESULT_LABELS })).toEqual([]);
  });

  it('answers an instant metric query in the documented vector shape', async () => {
    const body = await get('/loki/api/v1/query', { query: 'sum(rate({job="varlogs"}[10m])) by (level)' });
    const { body: documented } = withoutStats(docs.query_vector);
    expect(shapeMismatches(documented, withoutStats(body).body, { labelSets: RESULT_LABELS })).toEqual([]);
  });

  it('answers labels, label values, series and index statistics in their documented shapes', async () => {
    expect(shapeMismatches(docs.labels, await get('/loki/api/v1/labels', {}))).toEqual([]);
    expect(shapeMismatches(docs.label_values, await get('/loki/api/v1/label/foo/values', {}))).toEqual([]);
    const series = await get('/loki/api/v1/series', { 'match[]': '{app="loki"}' });
    expect(shapeMismatches(docs.series, series, { labelSets: /^\$\.data\[\d+\]$/ })).toEqual([]);
    const stats = await get('/loki/api/v1/index/stats', { query: '{job="varlogs"}' });
    expect(shapeMismatches(docs.index_stats, stats)).toEqual([]);
  });

  it('gives statistics in the layout Loki 3 serializes, with every summary figure the reference documents', async () => {
    for (const query of ['{job="varlogs"}', 'count_over_time({job="varlogs"}[1m])']) {
      const { stats } = withoutStats(await get('/loki/api/v1/query_range', { query }));
      expect(shapeMismatches(docs.statistics_encoded, stats)).toEqual([]);
      // The reference's example predates Loki 3: its flat ingester figures and "store" object moved
      // under ingester.store.chunk and querier.store. Only that known difference is tolerated.
      expect(shapeMismatches(docs.statistics, stats, { allowExtraKeys: true })).toEqual([
        '$.store: missing',
        '$.ingester.compressedBytes: missing',
        '$.ingester.decompressedBytes: missing',
        '$.ingester.decompressedLines: missing',
        '$.ingester.headChunkBytes: missing',
        '$.ingester.headChunkLines: missing',
        '$.ingester.totalDuplicates: missing',
      ]);
    }
  });

  it('would notice a drift: the comparison flags wrong words, types, missing and extra keys', () => {
    const { body: documented } = withoutStats(docs.query_range_streams);
    expect(
      shapeMismatches(
        documented,
        { status: 'ok', data: { resultType: 'stream', result: [] } },
        { labelSets: RESULT_LABELS },
      ),
    ).toEqual([
      '$.status: expected "success", got "ok"',
      '$.data.resultType: expected "streams", got "stream"',
      '$.data.result: expected items, got none',
    ]);
    expect(shapeMismatches(docs.labels, { status: 'error', data: ['a'] })).toEqual([
      '$.status: expected "success", got "error"',
    ]);
    expect(
      shapeMismatches(
        documented,
        {
          status: 'success',
          data: {
            resultType: 'streams',
            result: [{ stream: { a: 1 }, values: [[1569266497, 'foo']], extra: true }],
          },
        },
        { labelSets: RESULT_LABELS },
      ),
    ).toEqual([
      '$.data.result[0].extra: not in the reference',
      '$.data.result[0].stream.a: label values are strings',
      '$.data.result[0].values[0][0]: expected string, got number',
    ]);
    expect(shapeMismatches(docs.index_stats, { streams: 1, chunks: 1, entries: 1 })).toEqual([
      '$.bytes: missing',
    ]);
  });
});
