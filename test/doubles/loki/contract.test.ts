// Holds the double's answers to the example responses of Loki's HTTP API reference, so it cannot drift.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLokiDouble, type LokiDouble } from './index.ts';

const docs = JSON.parse(
  readFileSync(join(import.meta.dirname, 'fixtures', 'loki-http-api-examples.json'), 'utf8'),
);

const kind = (v: unknown) => (Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v);

/** Label sets are data, not shape: any names, string values. */
function labelMapMismatches(actual: unknown, path: string): string[] {
  if (kind(actual) !== 'object') return [`${path}: expected a label set, got ${kind(actual)}`];
  return Object.entries(actual as object)
    .filter(([, v]) => typeof v !== 'string')
    .map(([k]) => `${path}.${k}: label values are strings`);
}

/**
 * Every path of `expected` must exist in `actual` with the same kind of value; nanosecond timestamps must be
 * digit strings where the docs show them; arrays are compared through their first element; label sets
 * (`stream`, `metric`, series items) are compared as label sets. Extra keys in `actual` are allowed (newer
 * Loki versions add statistics). Returns the mismatches.
 */
function shapeMismatches(expected: unknown, actual: unknown, path = '$', labelSets = false): string[] {
  if (labelSets || /\.(stream|metric)$/.test(path)) return labelMapMismatches(actual, path);
  if (kind(expected) !== kind(actual)) return [`${path}: expected ${kind(expected)}, got ${kind(actual)}`];
  if (typeof expected === 'string' && /^\d{19}$/.test(expected) && !/^\d{19}$/.test(actual as string)) {
    return [`${path}: expected a nanosecond timestamp string, got ${JSON.stringify(actual)}`];
  }
  if (Array.isArray(expected)) {
    const actualItems = actual as unknown[];
    if (expected.length === 0) return [];
    if (actualItems.length === 0) return [`${path}: expected items, got an empty array`];
    // Tuples ([time, value]) are compared position by position.
    if (expected.length <= 3 && expected.some(e => kind(e) !== kind(expected[0]))) {
      return expected.flatMap((e, i) => shapeMismatches(e, actualItems[i], `${path}[${i}]`));
    }
    return shapeMismatches(expected[0], actualItems[0], `${path}[0]`, path === '$series.data');
  }
  if (typeof expected === 'object' && expected !== null) {
    return Object.entries(expected).flatMap(([key, value]) =>
      key in (actual as object)
        ? shapeMismatches(value, (actual as Record<string, unknown>)[key], `${path}.${key}`)
        : [`${path}.${key}: missing`],
    );
  }
  return [];
}

let loki: LokiDouble;
const now = BigInt(Date.now()) * 1_000_000n;

async function get(path: string, params: Record<string, string>): Promise<unknown> {
  const response = await fetch(`${loki.url}${path}?${new URLSearchParams(params).toString()}`);
  expect(response.status).toBe(200);
  return response.json();
}

beforeAll(async () => {
  loki = await startLokiDouble();
  const response = await fetch(`${loki.url}/loki/api/v1/push`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      streams: [
        {
          stream: { job: 'varlogs', level: 'info', filename: '/var/log/myproject.log', foo: 'cat' },
          values: [
            [String(now - 2_000_000_000n), 'foo'],
            [String(now - 1_000_000_000n), 'bar'],
          ],
        },
        {
          stream: { job: 'varlogs', level: 'warn', foo: 'dog' },
          values: [[String(now - 1_500_000_000n), 'warned']],
        },
      ],
    }),
  });
  expect(response.status).toBe(204);
});

afterAll(async () => {
  await loki.close();
});

const withStats = (example: any) => ({ ...example, data: { ...example.data, stats: docs.statistics } });

describe("the Loki double against the examples of Loki's HTTP API reference", () => {
  it('accepts the documented push body', async () => {
    const response = await fetch(`${loki.url}/loki/api/v1/push`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(docs.push_request),
    });
    expect(response.status).toBe(204);
  });

  it('answers a log range query in the documented streams shape, statistics included', async () => {
    const body = await get('/loki/api/v1/query_range', { query: '{job="varlogs"}' });
    expect(shapeMismatches(withStats(docs.query_range_streams), body)).toEqual([]);
  });

  it('answers a metric range query in the documented matrix shape', async () => {
    const body = await get('/loki/api/v1/query_range', {
      query: 'sum(rate({job="varlogs"}[10m])) by (level)',
      step: '300',
    });
    expect(shapeMismatches(withStats(docs.query_range_matrix), body)).toEqual([]);
  });

  it('answers an instant metric query in the documented vector shape', async () => {
    const body = await get('/loki/api/v1/query', { query: 'sum(rate({job="varlogs"}[10m])) by (level)' });
    expect(shapeMismatches(withStats(docs.query_vector), body)).toEqual([]);
  });

  it('answers labels, label values, series and index statistics in their documented shapes', async () => {
    expect(shapeMismatches(docs.labels, await get('/loki/api/v1/labels', {}))).toEqual([]);
    expect(shapeMismatches(docs.label_values, await get('/loki/api/v1/label/foo/values', {}))).toEqual([]);
    expect(
      shapeMismatches(
        docs.series,
        await get('/loki/api/v1/series', { 'match[]': '{job="varlogs"}' }),
        '$series',
      ),
    ).toEqual([]);
    expect(
      shapeMismatches(docs.index_stats, await get('/loki/api/v1/index/stats', { query: '{job="varlogs"}' })),
    ).toEqual([]);
  });

  it('would notice a drift: the helper flags a wrong shape', () => {
    expect(
      shapeMismatches(docs.query_range_streams, {
        status: 'success',
        data: { resultType: 'streams', result: [{ stream: {}, values: [[1569266497, 'foo']] }] },
      }),
    ).toEqual(['$.data.result[0].values[0][0]: expected string, got number']);
  });
});
