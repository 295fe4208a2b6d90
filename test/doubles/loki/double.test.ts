import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLokiDouble, type LokiDouble } from './index.ts';

let loki: LokiDouble;
const T = 1_764_000_000n * 1_000_000_000n; // 2025-11-24T16:00:00Z in nanoseconds
const s = (seconds: number) => String(T + BigInt(seconds) * 1_000_000_000n);

async function get(path: string, params: Record<string, string>) {
  const response = await fetch(`${loki.url}${path}?${new URLSearchParams(params).toString()}`);
  const text = await response.text();
  return {
    status: response.status,
    type: response.headers.get('content-type'),
    text,
    json: () => JSON.parse(text),
  };
}
const range = { start: s(0), end: s(600) };

beforeAll(async () => {
  loki = await startLokiDouble({ maxEntriesLimitPerQuery: 1000, maxQueryLengthHours: 24 });
  loki.push([
    {
      stream: { app: 'api', level: 'info' },
      values: Array.from({ length: 60 }, (_, i) => [
        s(i * 10),
        `level=info msg="served" status=200 took=${i}ms`,
      ]),
    },
    {
      stream: { app: 'api', level: 'error' },
      values: [
        [s(100), '{"msg":"boom","status":500,"req":{"path":"/predict"}}'],
        [s(110), '{"msg":"boom","status":503,"req":{"path":"/health"}}'],
        [s(400), 'not json at all'],
      ],
    },
    { stream: { app: 'worker', level: 'info' }, values: [[s(5), 'tick']] },
  ]);
});

afterAll(async () => {
  await loki.close();
});

describe('Loki double: log queries', () => {
  it('selects streams with =, !=, =~ and !~', async () => {
    const count = async (q: string) =>
      (await get('/loki/api/v1/query_range', { ...range, query: q, limit: '1000' }))
        .json()
        .data.result.flatMap((r: any) => r.values).length;
    expect(await count('{app="api"}')).toBe(63);
    expect(await count('{app="api", level!="info"}')).toBe(3);
    expect(await count('{app=~"api|worker"}')).toBe(64);
    expect(await count('{app=~".+", app!~"api"}')).toBe(1);
  });

  it('applies line filters, parsers and label filters, labelling streams with what was parsed', async () => {
    const body = (
      await get('/loki/api/v1/query_range', {
        ...range,
        query: '{app="api"} |= "boom" | json | status >= 503',
      })
    ).json();
    expect(body.data.result).toHaveLength(1);
    expect(body.data.result[0].stream).toMatchObject({
      app: 'api',
      level: 'error',
      status: '503',
      req_path: '/health',
    });
    const logfmt = (
      await get('/loki/api/v1/query_range', { ...range, query: '{app="api"} | logfmt | took=~"5.ms"' })
    ).json();
    expect(logfmt.data.result.flatMap((r: any) => r.values)).toHaveLength(10);
    const negative = (
      await get('/loki/api/v1/query_range', { ...range, query: '{level="error"} != "boom" !~ "json"' })
    ).json();
    expect(negative.data.result).toEqual([]);
  });

  it('applies the limit across streams, newest first by default, oldest first forward', async () => {
    const backward = (
      await get('/loki/api/v1/query_range', { ...range, query: '{app="api"}', limit: '2' })
    ).json();
    const times = backward.data.result.flatMap((r: any) => r.values.map((v: string[]) => v[0]));
    expect(times.sort()).toEqual([s(580), s(590)].sort());
    const forward = (
      await get('/loki/api/v1/query_range', {
        ...range,
        query: '{app="api"}',
        limit: '1',
        direction: 'forward',
      })
    ).json();
    expect(forward.data.result[0].values[0][0]).toBe(s(0));
  });

  it('reports what it scanned in the statistics', async () => {
    const body = (await get('/loki/api/v1/query_range', { ...range, query: '{app="worker"}' })).json();
    expect(body.data.stats.summary).toMatchObject({ totalLinesProcessed: 1, totalBytesProcessed: 4 });
  });
});

describe('Loki double: metric queries', () => {
  it('counts over a window at each step, grouped by labels', async () => {
    const body = (
      await get('/loki/api/v1/query_range', {
        ...range,
        query: 'sum by (level) (count_over_time({app="api"}[1m]))',
        step: '60',
      })
    ).json();
    expect(body.data.resultType).toBe('matrix');
    const info = body.data.result.find((r: any) => r.metric.level === 'info');
    expect(info.values[1]).toEqual([1_764_000_060, '6']);
    expect(
      body.data.result
        .find((r: any) => r.metric.level === 'error')
        .values.find((v: any) => v[0] === 1_764_000_120),
    ).toEqual([1_764_000_120, '2']);
  });

  it('computes rates per second and answers instant metric queries as vectors', async () => {
    const rate = (
      await get('/loki/api/v1/query_range', { ...range, query: 'rate({app="worker"}[10s])', step: '10' })
    ).json();
    expect(rate.data.result[0].values.find((v: any) => v[0] === 1_764_000_010)).toEqual([
      1_764_000_010,
      '0.1',
    ]);
    const instant = (
      await get('/loki/api/v1/query', { query: 'count_over_time({app="api"}[10m])', time: s(600) })
    ).json();
    expect(instant.data.resultType).toBe('vector');
    // The window is (t - 10m, t]: the line at exactly t - 10m is outside it.
    expect(instant.data.result.map((r: any) => r.value[1]).sort()).toEqual(['3', '59']);
  });
});

describe('Loki double: discovery and statistics', () => {
  it('lists labels and values, scoped by a selector', async () => {
    expect((await get('/loki/api/v1/labels', range)).json().data).toEqual(['app', 'level']);
    expect((await get('/loki/api/v1/label/app/values', range)).json().data).toEqual(['api', 'worker']);
    expect(
      (await get('/loki/api/v1/label/level/values', { ...range, query: '{app="worker"}' })).json().data,
    ).toEqual(['info']);
    expect(
      (await get('/loki/api/v1/series', { ...range, 'match[]': '{level="error"}' })).json().data,
    ).toEqual([{ app: 'api', level: 'error' }]);
  });

  it('gives index statistics for a selector', async () => {
    const stats = (await get('/loki/api/v1/index/stats', { ...range, query: '{app="worker"}' })).json();
    expect(stats).toEqual({ streams: 1, chunks: 1, entries: 1, bytes: 4 });
  });
});

describe('Loki double: errors, as Loki writes them', () => {
  it('answers bad LogQL and refused queries with a plain-text 400', async () => {
    const bad = await get('/loki/api/v1/query_range', { ...range, query: '{app="api"' });
    expect(bad.status).toBe(400);
    expect(bad.type).toContain('text/plain');
    expect(bad.text).toMatch(/^parse error at line 1, col 11: syntax error/);
    expect((await get('/loki/api/v1/query_range', { ...range, query: '{app=~".*"}' })).text).toContain(
      'empty-compatible value',
    );
    expect(
      (await get('/loki/api/v1/query_range', { ...range, query: '{app="api"}', limit: '5000' })).text,
    ).toContain('max entries limit per query exceeded, limit > max_entries_limit_per_query (5000 > 1000)');
    expect(
      (await get('/loki/api/v1/query_range', { query: '{app="api"}', start: s(0), end: s(200_000) })).text,
    ).toContain('the query time range exceeds the limit');
    expect((await get('/loki/api/v1/query', { query: '{app="api"}' })).text).toContain(
      'log queries are not supported as an instant query type',
    );
    const unsupported = await get('/loki/api/v1/query_range', {
      ...range,
      query: 'quantile_over_time(0.9, {app="api"} | logfmt | unwrap took [1m])',
    });
    expect(unsupported.status).toBe(400);
  });

  it('is ready, and injects faults on query endpoints only', async () => {
    expect((await get('/ready', {})).text).toBe('ready\n');
    loki.setFault({ status: 500, body: 'too many outstanding requests' });
    const failing = await get('/loki/api/v1/query_range', { ...range, query: '{app="api"}' });
    loki.setFault(null);
    expect([failing.status, failing.text]).toEqual([500, 'too many outstanding requests']);
    expect((await get('/loki/api/v1/query_range', { ...range, query: '{app="api"}' })).status).toBe(200);
  });

  it('refuses malformed pushes', async () => {
    const push = (body: string, type = 'application/json') =>
      fetch(`${loki.url}/loki/api/v1/push`, { method: 'POST', headers: { 'content-type': type }, body });
    expect((await push('{"streams":[{"stream":{"a":"b"},"values":[[1,"x"]]}]}')).status).toBe(400);
    expect((await push('nope')).status).toBe(400);
    expect((await push('x', 'application/x-protobuf')).status).toBe(415);
  });
});
