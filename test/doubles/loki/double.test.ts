// Behaviour of the Loki double: LogQL evaluation with known numbers, limits, discovery endpoints,
// statistics, Loki's errors, pushes and fault injection.
import { deflateRawSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLokiDouble, type LokiDouble } from './index.ts';

const T = 1_764_000_000; // 2025-11-24T16:00:00Z, on an hour boundary
const ns = (offset: number) => String(BigInt(T + offset) * 1_000_000_000n);
const range = { start: ns(0), end: ns(600) };

const infoLines = Array.from({ length: 60 }, (_, i) => `level=info msg="served" status=200 took=${i}ms`);
const errorLines = [
  '{"msg":"boom","status":500,"req":{"path":"/predict"}}',
  '{"msg":"boom","status":503,"req":{"path":"/health"}}',
  'not json at all',
];
const bytes = (lines: string[]) => lines.reduce((sum, line) => sum + Buffer.byteLength(line), 0);

let loki: LokiDouble;

async function get(path: string, params: Record<string, string> = {}, double = loki) {
  const response = await fetch(`${double.url}${path}?${new URLSearchParams(params).toString()}`);
  const text = await response.text();
  return {
    status: response.status,
    type: response.headers.get('content-type'),
    text,
    json: () => JSON.parse(text),
  };
}

const logs = async (query: string, params: Record<string, string> = {}) =>
  (await get('/loki/api/v1/query_range', { ...range, query, limit: '1000', ...params })).json().data;

/** Every returned entry, in response order, as [seconds after T, line]. */
const entries = (data: any): Array<[number, string]> =>
  data.result.flatMap((s: any) =>
    s.values.map(([t, line]: string[]) => [Number(BigInt(t!) / 1_000_000_000n) - T, line]),
  );

const metric = async (path: 'query' | 'query_range', query: string, params: Record<string, string>) => {
  const response = await get(`/loki/api/v1/${path}`, { query, ...params });
  expect(response.status, response.text).toBe(200);
  return response.json().data;
};

async function error(path: string, params: Record<string, string>, double = loki) {
  const response = await get(path, params, double);
  expect(response.type).toBe('text/plain; charset=utf-8');
  return [response.status, response.text];
}

beforeAll(async () => {
  loki = await startLokiDouble({ maxEntriesLimitPerQuery: 1000, maxQueryLength: '24h' });
  loki.push([
    { stream: { app: 'api', level: 'info' }, values: infoLines.map((line, i) => [ns(i * 10), line]) },
    {
      stream: { app: 'api', level: 'error' },
      values: [
        [ns(100), errorLines[0]!],
        [ns(110), errorLines[1]!],
        [ns(400), errorLines[2]!],
      ],
    },
    { stream: { app: 'worker', level: 'info' }, values: [[ns(5), 'tick']] },
  ]);
});

afterAll(async () => {
  await loki.close();
});

describe('stream selectors', () => {
  it('match with =, !=, =~ and !~, regexes fully anchored', async () => {
    const count = async (q: string) => entries(await logs(q)).length;
    expect(await count('{app="api"}')).toBe(63);
    expect(await count('{app="api", level!="info"}')).toBe(3);
    expect(await count('{app=~"api|worker"}')).toBe(64);
    expect(await count('{app=~".+", app!~"api"}')).toBe(1);
    expect(await count('{app=~"ap"}')).toBe(0);
    expect(await count('{app=~"(?i)API"}')).toBe(63);
  });
});

describe('line filters', () => {
  it('keep or drop lines by substring and unanchored regex, chained and with or', async () => {
    const lines = async (q: string) => entries(await logs(q)).map(([, line]) => line);
    expect(await lines('{app="api"} |= "boom"')).toHaveLength(2);
    expect(await lines('{app="api"} != "boom"')).toHaveLength(61);
    expect(await lines('{app="api"} |~ `took=5\\dms`')).toHaveLength(10);
    expect(await lines('{level="error"} != "boom" !~ "json"')).toEqual([]);
    expect(await lines('{level="error"} |= "predict" or "health"')).toHaveLength(2);
    expect(await lines('{level="error"} != "predict" or "health"')).toEqual(['not json at all']);
  });
});

describe('parsers and label filters', () => {
  it('extract JSON fields (nested ones joined with _) and filter on them numerically', async () => {
    const data = await logs('{app="api"} |= "boom" | json | status >= 503');
    expect(data.result).toEqual([
      {
        stream: { app: 'api', level: 'error', msg: 'boom', req_path: '/health', status: '503' },
        values: [[ns(110), errorLines[1]]],
      },
    ]);
  });

  it('mark lines the JSON parser cannot read, which __error__="" then drops', async () => {
    const data = await logs('{level="error"} | json');
    const failed = data.result.find((s: any) => s.stream.__error__);
    expect(failed.stream).toMatchObject({ __error__: 'JSONParserErr', app: 'api', level: 'error' });
    expect(failed.values).toEqual([[ns(400), 'not json at all']]);
    expect(entries(await logs('{level="error"} | json | __error__=""'))).toHaveLength(2);
  });

  it('extract logfmt pairs, suffixing names the stream already has with _extracted', async () => {
    const data = await logs('{app="api", level="info"} | logfmt | took=~"5.ms"');
    expect(entries(data)).toHaveLength(10);
    expect(data.result[0].stream).toEqual({
      app: 'api',
      level: 'info',
      level_extracted: 'info',
      msg: 'served',
      status: '200',
      took: '50ms',
    });
  });

  it('compare durations and combine predicates with and, or and commas', async () => {
    expect(entries(await logs('{level="info"} | logfmt | took >= 55ms'))).toHaveLength(5);
    const combined = '{level="info"} | logfmt | status == 200 and took=~"1.ms" or took="0ms"';
    expect(entries(await logs(combined))).toHaveLength(11);
    expect(entries(await logs('{level="info"} | logfmt | status=200, took<2ms'))).toHaveLength(2);
  });

  it('keep lines whose label is not a number, marked with a LabelFilterErr', async () => {
    const data = await logs('{app="api"} | logfmt | msg > 5');
    expect(entries(data)).toHaveLength(60);
    expect(data.result[0].stream).toMatchObject({
      __error__: 'LabelFilterErr',
      __error_details__: 'strconv.ParseFloat: parsing "served": invalid syntax',
    });
  });

  it('rewrite lines with line_format', async () => {
    expect(entries(await logs('{app="worker"} | line_format "{{.app}}: {{ __line__ }}"'))).toEqual([
      [5, 'worker: tick'],
    ]);
  });
});

describe('limit, direction and interval', () => {
  it('return the newest entries by default, the limit counted across streams', async () => {
    expect(entries(await logs('{app="api"}', { limit: '2' }))).toEqual([
      [590, infoLines[59]],
      [580, infoLines[58]],
    ]);
    const forward = await logs('{app=~"api|worker"}', { limit: '3', direction: 'forward' });
    // Streams come sorted by their labels; within each, entries in the asked direction.
    expect(forward.result.map((s: any) => [s.stream.app, s.values.length])).toEqual([
      ['api', 2],
      ['worker', 1],
    ]);
    expect(entries(forward).map(([t]) => t)).toEqual([0, 10, 5]);
  });

  it('include start and exclude end, and space entries by interval', async () => {
    expect(entries(await logs('{app="api"}', { start: ns(10), end: ns(20) }))).toEqual([[10, infoLines[1]]]);
    const spaced = await logs('{app="api", level="info"}', { direction: 'forward', interval: '1m' });
    expect(entries(spaced).map(([t]) => t)).toEqual([0, 60, 120, 180, 240, 300, 360, 420, 480, 540]);
  });

  it('accept RFC 3339 and float-second times like nanoseconds', async () => {
    const rfc = await logs('{app="worker"}', {
      start: '2025-11-24T16:00:00Z',
      end: '2025-11-24T16:00:05.5Z',
    });
    const float = await logs('{app="worker"}', { start: `${T}.0`, end: `${T + 5}.5` });
    expect(entries(rfc)).toEqual([[5, 'tick']]);
    expect(entries(float)).toEqual([[5, 'tick']]);
  });
});

describe('metric queries', () => {
  it('count over the window (t - range, t] at each step, summed by label', async () => {
    const data = await metric('query_range', 'sum by (level) (count_over_time({app="api"}[1m]))', {
      ...range,
      step: '60',
    });
    expect(data.resultType).toBe('matrix');
    expect(data.result.map((s: any) => s.metric)).toEqual([{ level: 'error' }, { level: 'info' }]);
    const [errors, info] = data.result;
    expect(errors.values).toEqual([
      [T + 120, '2'],
      [T + 420, '1'],
    ]);
    expect(info.values[0]).toEqual([T, '1']);
    expect(info.values[1]).toEqual([T + 60, '6']);
    expect(info.values).toHaveLength(11);
  });

  it('compute rates per second of the range and bytes over time', async () => {
    const rate = await metric('query_range', 'rate({app="worker"}[10s])', { ...range, step: '10' });
    expect(rate.result).toEqual([{ metric: { app: 'worker', level: 'info' }, values: [[T + 10, '0.1']] }]);
    const bytesOverTime = await metric('query', 'bytes_over_time({app="worker"}[1m])', { time: ns(30) });
    expect(bytesOverTime.result).toEqual([
      { metric: { app: 'worker', level: 'info' }, value: [T + 30, '4'] },
    ]);
    const bytesRate = await metric('query', 'sum(bytes_rate({app="api", level="error"}[10m]))', {
      time: ns(600),
    });
    expect(bytesRate.result[0].value).toEqual([T + 600, String(bytes(errorLines) / 600)]);
  });

  it('answer instant queries as vectors ordered by labels', async () => {
    const data = await metric('query', 'count_over_time({app="api"}[10m])', { time: ns(600) });
    expect(data.resultType).toBe('vector');
    // The line at exactly t - 10m is outside the window.
    expect(data.result).toEqual([
      { metric: { app: 'api', level: 'error' }, value: [T + 600, '3'] },
      { metric: { app: 'api', level: 'info' }, value: [T + 600, '59'] },
    ]);
  });

  it('aggregate with sum without, count, avg, min, max, topk and bottomk', async () => {
    const at = async (query: string) =>
      (await metric('query', query, { time: ns(600) })).result.map((s: any) => [s.metric, s.value[1]]);
    const inner = 'count_over_time({app=~".+"}[10m])';
    expect(await at(`sum without (level) (${inner})`)).toEqual([
      [{ app: 'api' }, '62'],
      [{ app: 'worker' }, '1'],
    ]);
    expect(await at(`count(${inner})`)).toEqual([[{}, '3']]);
    expect(await at(`avg(${inner})`)).toEqual([[{}, '21']]);
    expect(await at(`min(${inner})`)).toEqual([[{}, '1']]);
    expect(await at(`max by (app) (${inner})`)).toEqual([
      [{ app: 'api' }, '59'],
      [{ app: 'worker' }, '1'],
    ]);
    expect(await at(`topk(1, ${inner})`)).toEqual([[{ app: 'api', level: 'info' }, '59']]);
    expect(await at(`bottomk(1, ${inner})`)).toEqual([[{ app: 'worker', level: 'info' }, '1']]);
  });

  it('shift the window with offset and group on parsed labels', async () => {
    const offset = await metric('query', 'count_over_time({level="info", app="api"}[1m] offset 1m)', {
      time: ns(600),
    });
    expect(offset.result[0].value).toEqual([T + 600, '6']);
    const parsed = await metric(
      'query',
      'sum by (status) (count_over_time({level="error"} | json | __error__="" [10m]))',
      {
        time: ns(600),
      },
    );
    expect(parsed.result).toEqual([
      { metric: { status: '500' }, value: [T + 600, '1'] },
      { metric: { status: '503' }, value: [T + 600, '1'] },
    ]);
  });

  it('default the step to a 250th of the range, in whole seconds', async () => {
    const data = await metric('query_range', 'count_over_time({app="worker"}[1m])', range);
    const times = data.result[0].values.map(([t]: [number, string]) => t - T);
    expect(times.slice(0, 3)).toEqual([6, 8, 10]);
  });

  it('refuse lines with a pipeline error, as Loki does', async () => {
    const [status, text] = await error('/loki/api/v1/query', {
      query: 'count_over_time({level="error"} | json [10m])',
      time: ns(600),
    });
    expect(status).toBe(400);
    expect(text).toMatch(
      /^pipeline error: 'JSONParserErr' for series: '\{__error__="JSONParserErr", __error_details__=".*", app="api", level="error"\}'\.\nUse a label filter/,
    );
  });

  it('refuse more series than max_query_series', async () => {
    const small = await startLokiDouble({ maxQuerySeries: 2 });
    small.push([1, 2, 3].map(i => ({ stream: { app: `a${i}` }, values: [[ns(i), 'x']] })));
    const query = 'count_over_time({app=~".+"}[10m])';
    expect(await error('/loki/api/v1/query', { query, time: ns(600) }, small)).toEqual([
      400,
      'maximum number of series (2) reached for a single query; consider reducing query cardinality by adding more specific stream selectors, reducing the time range, or aggregating results with functions like sum(), count() or topk()',
    ]);
    expect((await get('/loki/api/v1/query', { query: `sum(${query})`, time: ns(600) }, small)).status).toBe(
      200,
    );
    await small.close();
  });
});

describe('statistics', () => {
  it('report what was scanned, what got through the pipeline and what was returned', async () => {
    const worker = (await logs('{app="worker"}')).stats;
    expect(worker.summary).toMatchObject({
      totalLinesProcessed: 1,
      totalBytesProcessed: 4,
      totalPostFilterLines: 1,
      totalEntriesReturned: 1,
    });
    expect(worker.ingester.store.chunk).toMatchObject({ headChunkLines: 1, headChunkBytes: 4 });
    expect(worker.index).toMatchObject({ totalStreams: 1, totalChunks: 1 });
    const filtered = (await logs('{app="api"} |= "boom"')).stats.summary;
    expect(filtered).toMatchObject({
      totalLinesProcessed: 63,
      totalBytesProcessed: bytes([...infoLines, ...errorLines]),
      totalPostFilterLines: 2,
      totalEntriesReturned: 2,
    });
    expect(filtered.execTime).toBeGreaterThan(0);
  });
});

describe('labels, series and index statistics', () => {
  it('list label names and values, scoped by time and selector', async () => {
    expect((await get('/loki/api/v1/labels', range)).json()).toEqual({
      status: 'success',
      data: ['app', 'level'],
    });
    expect((await get('/loki/api/v1/label/app/values', range)).json().data).toEqual(['api', 'worker']);
    const scoped = await get('/loki/api/v1/label/level/values', { ...range, query: '{app="worker"}' });
    expect(scoped.json().data).toEqual(['info']);
    // Loki leaves "data" out of an empty list.
    expect((await get('/loki/api/v1/label/nope/values', range)).json()).toEqual({ status: 'success' });
    expect((await get('/loki/api/v1/labels', { start: ns(-7200), end: ns(-3600) })).json()).toEqual({
      status: 'success',
    });
  });

  it('list series for any of several match[] selectors, which may be empty-compatible', async () => {
    const params = new URLSearchParams({ ...range });
    params.append('match[]', '{level="error"}');
    params.append('match[]', '{app="worker"}');
    const response = await fetch(`${loki.url}/loki/api/v1/series?${params.toString()}`);
    expect(await response.json()).toEqual({
      status: 'success',
      data: [
        { app: 'api', level: 'error' },
        { app: 'worker', level: 'info' },
      ],
    });
    expect(
      (await get('/loki/api/v1/series', { ...range, 'match[]': '{app=~".*"}' })).json().data,
    ).toHaveLength(3);
    expect((await get('/loki/api/v1/series', { ...range, 'match[]': '{}' })).json().data).toHaveLength(3);
    expect(await error('/loki/api/v1/series', range)).toEqual([400, '0 matcher groups supplied']);
    expect(await error('/loki/api/v1/series', { ...range, 'match[]': '{app="api"} |= "x"' })).toEqual([
      400,
      'only label matchers are supported',
    ]);
  });

  it('count streams, chunks (one per stream and hour), entries and bytes in the range', async () => {
    expect((await get('/loki/api/v1/index/stats', { ...range, query: '{app="worker"}' })).json()).toEqual({
      streams: 1,
      chunks: 1,
      bytes: 4,
      entries: 1,
    });
    expect((await get('/loki/api/v1/index/stats', { ...range, query: '{app="api"}' })).json()).toEqual({
      streams: 2,
      chunks: 2,
      bytes: bytes([...infoLines, ...errorLines]),
      entries: 63,
    });
    const hours = await startLokiDouble();
    hours.push([
      {
        stream: { app: 'x' },
        values: [
          [ns(0), 'a'],
          [ns(3599), 'b'],
          [ns(3600), 'c'],
          [ns(7300), 'd'],
        ],
      },
    ]);
    const stats = await get(
      '/loki/api/v1/index/stats',
      { query: '{app="x"}', start: ns(0), end: ns(7200) },
      hours,
    );
    expect(stats.json()).toEqual({ streams: 1, chunks: 2, bytes: 3, entries: 3 });
    await hours.close();
  });
});

describe("Loki's errors, as plain text", () => {
  const queryRange = (params: Record<string, string>) =>
    error('/loki/api/v1/query_range', { ...range, ...params });

  it('report syntax errors with the position and the unexpected token', async () => {
    expect(await queryRange({ query: '{app="api"' })).toEqual([
      400,
      'parse error at line 1, col 11: syntax error: unexpected $end',
    ]);
    expect(await queryRange({ query: '{app="api"} foo' })).toEqual([
      400,
      'parse error at line 1, col 13: syntax error: unexpected IDENTIFIER',
    ]);
    expect(await queryRange({ query: '{app="api"}[5m]' })).toEqual([
      400,
      'parse error at line 1, col 12: syntax error: unexpected RANGE',
    ]);
    expect(await queryRange({ query: '' })).toEqual([
      400,
      'parse error at line 1, col 1: syntax error: unexpected $end',
    ]);
  });

  it('refuse selectors that match streams without the label, and misplaced groupings', async () => {
    expect(await queryRange({ query: '{app=~".*"}' })).toEqual([
      400,
      'parse error : queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~".*" does not meet this requirement, but app=~".+" will',
    ]);
    expect(await queryRange({ query: 'rate({app="api"}[5m]) by (level)' })).toEqual([
      400,
      'parse error : grouping not allowed for rate aggregation',
    ]);
    expect(await queryRange({ query: 'topk(0, count_over_time({app="api"}[5m]))' })).toEqual([
      400,
      'parse error : invalid parameter (must be greater than 0) topk(0',
    ]);
  });

  it('enforce max_entries_limit_per_query on log queries only, and max_query_length', async () => {
    expect(await queryRange({ query: '{app="api"}', limit: '5000' })).toEqual([
      400,
      'max entries limit per query exceeded, limit > max_entries_limit_per_query (5000 > 1000)',
    ]);
    const metricQuery = await get('/loki/api/v1/query_range', {
      ...range,
      query: 'count_over_time({app="api"}[1m])',
      limit: '5000',
    });
    expect(metricQuery.status).toBe(200);
    expect(await queryRange({ query: '{app="api"}', end: ns(200_000) })).toEqual([
      400,
      'the query time range exceeds the limit (query length: 55h33m20s, limit: 1d)',
    ]);
  });

  it('refuse log queries at the instant endpoint', async () => {
    expect(await error('/loki/api/v1/query', { query: '{app="api"}' })).toEqual([
      400,
      'log queries are not supported as an instant query type, please change your query to a range query type',
    ]);
  });

  it('refuse bad parameters with the messages of Loki (and of Go underneath)', async () => {
    expect(await queryRange({ query: '{app="api"}', limit: '0' })).toEqual([
      400,
      'limit must be a positive value',
    ]);
    expect(await queryRange({ query: '{app="api"}', limit: 'ten' })).toEqual([
      400,
      'strconv.Atoi: parsing "ten": invalid syntax',
    ]);
    expect(await queryRange({ query: '{app="api"}', direction: 'sideways' })).toEqual([
      400,
      "invalid direction 'sideways'",
    ]);
    expect(await queryRange({ query: '{app="api"}', start: 'yesterday' })).toEqual([
      400,
      `could not parse 'start' parameter: strconv.ParseInt: parsing "yesterday": invalid syntax`,
    ]);
    expect(await queryRange({ query: '{app="api"}', start: ns(10), end: ns(0) })).toEqual([
      400,
      'end timestamp must not be before or equal to start time',
    ]);
    expect(await queryRange({ query: '{app="api"}', step: '0' })).toEqual([
      400,
      'zero or negative query resolution step widths are not accepted. Try a positive integer',
    ]);
    expect(await queryRange({ query: '{app="api"}', step: '0.01' })).toEqual([
      400,
      'exceeded maximum resolution of 11,000 points per time series. Try increasing the value of the step parameter',
    ]);
    expect(await queryRange({ query: '{app="api"}', step: 'soon' })).toEqual([
      400,
      'cannot parse "soon" to a valid duration',
    ]);
  });

  it('say plainly what the double does not implement', async () => {
    expect(
      await queryRange({ query: 'quantile_over_time(0.9, {app="api"} | logfmt | unwrap took [1m])' }),
    ).toEqual([400, 'not supported by the Loki test double: the range aggregation quantile_over_time']);
    expect(await queryRange({ query: '{app="api"} | pattern "<_> <msg>"' })).toEqual([
      400,
      'not supported by the Loki test double: the pipeline stage | pattern "<_> <msg>"',
    ]);
    expect(await queryRange({ query: 'sum(count_over_time({app="api"}[1m])) / 2' })).toEqual([
      400,
      'not supported by the Loki test double: binary operations',
    ]);
  });

  it('answer unknown paths with 404 and wrong methods with a bare 405', async () => {
    expect(await error('/loki/api/v1/nope', {})).toEqual([404, '404 page not found\n']);
    const wrong = await fetch(`${loki.url}/loki/api/v1/query_range`, { method: 'DELETE' });
    expect([wrong.status, await wrong.text()]).toEqual([405, '']);
    const pushByGet = await fetch(`${loki.url}/loki/api/v1/push`);
    expect(pushByGet.status).toBe(405);
  });
});

describe('requests', () => {
  it('take parameters from a form-encoded POST body too', async () => {
    const response = await fetch(`${loki.url}/loki/api/v1/query_range`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...range, query: '{app="worker"}' }).toString(),
    });
    expect(entries(((await response.json()) as any).data)).toEqual([[5, 'tick']]);
  });

  it('answer /ready', async () => {
    expect(await get('/ready')).toMatchObject({
      status: 200,
      text: 'ready\n',
      type: 'text/plain; charset=utf-8',
    });
  });
});

describe('pushes', () => {
  let target: LokiDouble;
  const post = (
    body: string | Buffer,
    headers: Record<string, string> = { 'content-type': 'application/json' },
  ) =>
    fetch(`${target.url}/loki/api/v1/push`, { method: 'POST', headers, body }).then(async r => [
      r.status,
      await r.text(),
    ]);
  const line = (labels: Record<string, string>, values: unknown[]) =>
    JSON.stringify({ streams: [{ stream: labels, values }] });

  beforeAll(async () => {
    target = await startLokiDouble();
  });
  afterAll(async () => {
    await target.close();
  });

  it('store JSON pushes, gzip or deflate encoded, and drop exact duplicates', async () => {
    const body = line({ app: 'p' }, [[ns(1), 'one']]);
    expect(await post(body)).toEqual([204, '']);
    expect(
      await post(gzipSync(body), { 'content-type': 'application/json', 'content-encoding': 'gzip' }),
    ).toEqual([204, '']);
    expect(
      await post(deflateRawSync(line({ app: 'p' }, [[ns(2), 'two']])), {
        'content-type': 'application/json',
        'content-encoding': 'deflate',
      }),
    ).toEqual([204, '']);
    const data = (await get('/loki/api/v1/query_range', { ...range, query: '{app="p"}' }, target)).json()
      .data;
    expect(entries(data)).toEqual([
      [2, 'two'],
      [1, 'one'],
    ]);
  });

  it('return structured metadata as stream labels, which label filters can use, and not as index labels', async () => {
    expect(
      await post(
        line({ app: 'sm' }, [
          [ns(3), 'traced', { trace_id: 'abc' }],
          [ns(4), 'plain'],
        ]),
      ),
    ).toEqual([204, '']);
    const data = (
      await get('/loki/api/v1/query_range', { ...range, query: '{app="sm"} | trace_id="abc"' }, target)
    ).json().data;
    expect(data.result).toEqual([{ stream: { app: 'sm', trace_id: 'abc' }, values: [[ns(3), 'traced']] }]);
    expect((await get('/loki/api/v1/labels', range, target)).json().data).toEqual(['app']);
  });

  it('refuse malformed pushes with a plain-text 400, and protobuf with a 415', async () => {
    expect((await post('nope'))[0]).toBe(400);
    expect(await post(line({ app: 'p' }, [[1, 'x']]))).toEqual([
      400,
      'invalid push request: streams[0].values[0][0]: the timestamp must be a string of nanoseconds since the epoch',
    ]);
    expect(await post(line({}, [[ns(1), 'x']]))).toEqual([
      400,
      'error at least one label pair is required per stream',
    ]);
    expect(await post(Buffer.from('x'), {})).toEqual([400, 'mime: no media type']);
    expect(await post('x', { 'content-type': 'application/json', 'content-encoding': 'br' })).toEqual([
      400,
      'Content-Encoding "br" not supported',
    ]);
    const [status, text] = await post('x', { 'content-type': 'application/x-protobuf' });
    expect(status).toBe(415);
    expect(text).toContain('protobuf is not supported');
    expect(() => {
      target.push([{ stream: { app: 'p' }, values: [['soon', 'x']] }]);
    }).toThrow(/timestamp must be a string/);
  });
});

describe('fault injection and recorded requests', () => {
  it('answer query endpoints with the fault until it is cleared, leaving push and /ready alone', async () => {
    loki.setFault({ status: 503, body: 'too many outstanding requests' });
    expect(await error('/loki/api/v1/query_range', { ...range, query: '{app="api"}' })).toEqual([
      503,
      'too many outstanding requests',
    ]);
    expect((await get('/loki/api/v1/labels')).status).toBe(503);
    expect((await get('/ready')).status).toBe(200);
    loki.setFault(null);
    expect((await get('/loki/api/v1/query_range', { ...range, query: '{app="api"}' })).status).toBe(200);
  });

  it('delay answers without changing them when only delayMs is set', async () => {
    loki.setFault({ delayMs: 150 });
    const started = performance.now();
    const slow = await get('/loki/api/v1/query_range', { ...range, query: '{app="worker"}' });
    loki.setFault(null);
    // A lower bound on the wait the double must make before answering: load only lengthens it, so it cannot fail
    // a correct double (the 10 ms spare covers timer rounding), while an ignored delay answers in a few ms.
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    expect(entries(slow.json().data)).toEqual([[5, 'tick']]);
  });

  it('record every request with its parameters, repeated ones as arrays', async () => {
    const params = new URLSearchParams({ start: ns(0) });
    params.append('match[]', '{app="api"}');
    params.append('match[]', '{app="worker"}');
    await fetch(`${loki.url}/loki/api/v1/series?${params.toString()}`);
    expect(loki.requests.at(-1)).toEqual({
      method: 'GET',
      path: '/loki/api/v1/series',
      query: { start: ns(0), 'match[]': ['{app="api"}', '{app="worker"}'] },
    });
  });

  it('forget streams, requests and the fault on reset', async () => {
    const other = await startLokiDouble();
    other.push([{ stream: { app: 'r' }, values: [[ns(1), 'x']] }]);
    other.setFault({ status: 500 });
    other.reset();
    expect(other.requests).toEqual([]);
    const data = (await get('/loki/api/v1/query_range', { ...range, query: '{app="r"}' }, other)).json().data;
    expect(data.result).toEqual([]);
    await other.close();
  });
});
