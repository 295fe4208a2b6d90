import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeBackfill, type Backfill } from '../../support/backfill.ts';
import { connect, textOf, type Connected } from '../../support/mcp.ts';
import { startMetricsTarget, type MetricsTarget } from '../../support/metrics-target.ts';
import { startPrometheus, type PrometheusServer } from '../../support/prometheus.ts';
import { toRfc3339 } from '../../../src/lib/time.ts';

let prometheus: PrometheusServer;
let target: MetricsTarget;
let mcp: Connected;
let data: Backfill;

async function waitForScrape(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const response = await fetch(`${url}/api/v1/query?query=count(market_price)`);
    const body = (await response.json()) as { data: { result: unknown[] } };
    if (body.data.result.length > 0) return;
    await new Promise(resolve => setTimeout(resolve, 100));
  }
  throw new Error('Prometheus never scraped the test target');
}

beforeAll(async () => {
  data = makeBackfill(Date.now() / 1000);
  target = await startMetricsTarget();
  target.set('market_price', { symbol: 'ACME' }, 101.5);
  target.set('market_price', { symbol: 'GLOBEX' }, 42);
  prometheus = await startPrometheus({ targets: [target.address], backfill: data.text });
  await waitForScrape(prometheus.url);
  mcp = await connect({ PROMETHEUS_URL: prometheus.url });
});

afterAll(async () => {
  await mcp.close();
  await prometheus.stop();
  await target.close();
});

const structured = (result: Awaited<ReturnType<Connected['call']>>) =>
  result.structuredContent as Record<string, any>;

describe('query_prometheus on a real Prometheus', () => {
  it('answers an instant query with each series value and the evaluation time', async () => {
    const result = await mcp.call('query_prometheus', { query: 'market_price' });
    expect(result.isError).toBeFalsy();
    const out = structured(result);
    expect(out.result_type).toBe('vector');
    expect(out.common_labels).toMatchObject({ __name__: 'market_price', job: 'test' });
    const bySymbol = Object.fromEntries(out.series.map((s: any) => [s.labels.symbol, s.value]));
    expect(bySymbol).toEqual({ ACME: 101.5, GLOBEX: 42 });
    expect(out.time).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(textOf(result)).toBe(JSON.stringify(out));
  });

  it('answers scalar expressions', async () => {
    const out = structured(await mcp.call('query_prometheus', { query: '1 + 2' }));
    expect(out).toMatchObject({ result_type: 'scalar', value: 3, series: [] });
  });

  it('summarizes a range with exact figures, the burst and its time', async () => {
    const result = await mcp.call('query_prometheus', {
      query: 'predictor_error_ratio',
      start: data.errorsStart,
      end: toRfc3339(data.errorsEnd),
      step: '15s',
    });
    const out = structured(result);
    expect(out).toMatchObject({
      result_type: 'matrix',
      start: toRfc3339(data.errorsStart),
      end: toRfc3339(data.errorsEnd),
      step: '15s',
      step_seconds: 15,
      series_total: 1,
    });
    const [series] = out.series;
    expect(series).toMatchObject({
      min: 0.01,
      max: 0.9,
      max_at: toRfc3339(data.errorsSpikeAt),
      trend: 'flat',
    });
    expect(series.samples).toBe(481);
    expect(series.spikes).toEqual([{ at: toRfc3339(data.errorsSpikeAt), value: 0.9 }]);
    expect(series.shape).toHaveLength(24);
  });

  it('keeps 40 series × 601 points under 8 KB and every series visible', async () => {
    const result = await mcp.call('query_prometheus', {
      query: 'fleet_load',
      start: data.fleetStart,
      end: data.fleetEnd,
      step: 1,
    });
    const text = textOf(result);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(8192);
    const out = structured(result);
    expect(out.series_total).toBe(40);
    expect(out.series_shown).toBe(40);
    expect(out.common_labels).toMatchObject({ __name__: 'fleet_load', job: 'fleet' });
    const host7 = out.series.find((s: any) => s.labels.instance === 'host-7');
    expect(host7.samples).toBe(601);
    expect(host7.min).toBeCloseTo(6, 1);
    expect(host7.max).toBeCloseTo(8, 1);
  });

  it('returns raw points with format "full" under its larger cap', async () => {
    const out = structured(
      await mcp.call('query_prometheus', {
        query: 'fleet_load{instance="host-3"}',
        start: data.fleetStart,
        end: data.fleetStart + 60,
        step: '1s',
        format: 'full',
      }),
    );
    expect(out.series[0].values).toHaveLength(61);
    expect(out.series[0].values[0][0]).toBe(data.fleetStart);
  });

  it('gives format "full" the points of as many series as fit, and says how many', async () => {
    const result = await mcp.call('query_prometheus', {
      query: 'fleet_load',
      start: data.fleetStart,
      end: data.fleetEnd,
      step: '1s',
      format: 'full',
    });
    expect(Buffer.byteLength(textOf(result))).toBeLessThanOrEqual(32_768);
    const out = structured(result);
    expect(out).toMatchObject({ series_total: 40, truncated: true });
    expect(out.series_shown).toBeGreaterThan(0);
    // Every series shown has its points; the one that peaks highest comes first.
    expect(out.series.every((s: any) => s.values?.length === 601)).toBe(true);
    expect(out.series[0].labels.instance).toBe('host-39');
    expect(out.note).toMatch(
      new RegExp(
        `^Points of ${out.series_shown} of 40 series \\(highest max first, passing over any too big to fit: one left out may peak higher\\)`,
      ),
    );
  });

  it('raises the step of a year-long query at 1s instead of failing or flooding', async () => {
    const result = await mcp.call('query_prometheus', {
      query: 'predictor_error_ratio',
      start: 'now-365d',
      step: '1s',
    });
    expect(result.isError).toBeFalsy();
    const out = structured(result);
    expect(out.step).toBe('12h');
    expect(out.step_note).toBe('step raised from 1s to 12h to stay within 1100 points per series');
    expect(Buffer.byteLength(textOf(result))).toBeLessThanOrEqual(8192);
  });

  it('chooses a step when none is given and echoes it', async () => {
    const out = structured(await mcp.call('query_prometheus', { query: 'market_price', start: 'now-1h' }));
    expect(out).toMatchObject({ step: '15s', step_seconds: 15 });
  });

  it('passes Prometheus errors on with their errorType and a hint', async () => {
    const result = await mcp.call('query_prometheus', { query: 'rate(market_price[5m]' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(
      /^QUERY_ERROR: Prometheus rejected the query \(errorType bad_data, HTTP 400\): .*parse error/,
    );
    expect(textOf(result)).toContain('Hint: Fix the PromQL');
  });

  it('refuses end before start, time with a range, and step without a range', async () => {
    const backwards = await mcp.call('query_prometheus', { query: 'up', start: 'now', end: 'now-1h' });
    expect(textOf(backwards)).toMatch(/^INVALID_ARGUMENT: end \(.*\) must be after start/);
    const mixed = await mcp.call('query_prometheus', { query: 'up', time: 'now', start: 'now-1h' });
    expect(textOf(mixed)).toMatch(/^INVALID_ARGUMENT: time is for instant queries/);
    const stepOnly = await mcp.call('query_prometheus', { query: 'up', step: '1m' });
    expect(textOf(stepOnly)).toMatch(/^INVALID_ARGUMENT: step only applies to a range query/);
    const badStep = await mcp.call('query_prometheus', { query: 'up', start: 'now-1h', step: '-5s' });
    expect(textOf(badStep)).toMatch(/^INVALID_ARGUMENT: step "-5s"/);
  });

  it('says how to find names when nothing matches', async () => {
    const out = structured(await mcp.call('query_prometheus', { query: 'no_such_metric' }));
    expect(out.series_total).toBe(0);
    expect(out.note).toContain('explore_prometheus');
    const range = structured(
      await mcp.call('query_prometheus', { query: 'no_such_metric', start: 'now-1h' }),
    );
    expect(range).toMatchObject({ series_total: 0, series: [], truncated: false });
    expect(range.shape_every).toBeUndefined();
  });

  it('says the figures are of the points at the step, and how to see a burst the step hides', async () => {
    // At 5 minutes from a minute past the start, no point falls on the one-sample burst.
    const window = { start: data.errorsStart + 60, end: data.errorsEnd, step: '5m' };
    const out = structured(await mcp.call('query_prometheus', { query: 'predictor_error_ratio', ...window }));
    expect(out.series[0]).toMatchObject({ max: 0.01 });
    expect(out.note).toContain('Figures are of the points at the 5m step');
    expect(out.note).toContain('max_over_time(predictor_error_ratio[5m]) (or min_over_time)');
    const peaks = structured(
      await mcp.call('query_prometheus', { query: 'max_over_time(predictor_error_ratio[5m])', ...window }),
    );
    expect(peaks.series[0]).toMatchObject({ max: 0.9 });
    expect(peaks.note).not.toContain('max_over_time');
  });

  it('says an empty result at a coarse step may be samples between the points, and how to find them', async () => {
    // Thirty days at the automatic 3h step, ending 400 s after the last sample: one point just past the
    // lookback, the one before an hour before the first sample. Nothing is seen, though the metric exists.
    const end = data.errorsEnd + 400;
    const window = { start: end - 30 * 86_400, end };
    const out = structured(await mcp.call('query_prometheus', { query: 'predictor_error_ratio', ...window }));
    expect(out).toMatchObject({ step: '3h', series_total: 0 });
    expect(out.note).toMatch(/^No series at the points of the 3h step, but each sees only the last 5m/);
    expect(out.note).toContain('max_over_time(predictor_error_ratio[3h]) at this step finds them');
    // The query it gives does find them.
    const found = structured(
      await mcp.call('query_prometheus', { query: 'max_over_time(predictor_error_ratio[3h])', ...window }),
    );
    expect(found.series[0]).toMatchObject({ max: 0.9 });
    // At a step within the lookback an empty result is a name or a time range to check, as before.
    const fine = structured(
      await mcp.call('query_prometheus', { query: 'predictor_error_ratio', start: end - 60, end }),
    );
    expect(fine.note).toMatch(/^No series matched. Check the metric name/);
  });

  it('gives a query Prometheus accepts at any step, for a query ending in a comment too', async () => {
    const end = data.errorsEnd;
    for (const [query, step] of [
      ['no_such_metric', 450.5],
      ['rate(no_such_metric[5m])', 3600.25],
      ['no_such_metric # a comment', 900],
      ['sum(rate(no_such_metric[5m])) # per job', 450.5],
    ] as const) {
      const window = { start: end - 10 * step, end, step };
      const out = structured(await mcp.call('query_prometheus', { query, ...window }));
      const suggested = /missed\. (.*) at this step finds them/s.exec(String(out.note))?.[1];
      expect({ query, suggested }).toEqual({ query, suggested: expect.stringContaining('max_over_time(') });
      const result = await mcp.call('query_prometheus', { query: suggested, ...window });
      expect({ query, suggested, error: result.isError ? textOf(result) : undefined }).toEqual({
        query,
        suggested,
        error: undefined,
      });
    }
  });

  it('summarizes an instant range selector at the spacing of its samples', async () => {
    // Seven seconds after a scrape: the series has not stopped, it has not been scraped again yet.
    const out = structured(
      await mcp.call('query_prometheus', {
        query: 'predictor_error_ratio[30m]',
        time: data.errorsSpikeAt + 907,
      }),
    );
    const [series] = out.series;
    expect(series).toMatchObject({ samples: 120, max: 0.9 });
    expect(series.to).toBeUndefined();
    expect(series.spikes).toEqual([{ at: toRfc3339(data.errorsSpikeAt), value: 0.9 }]);
    expect(out.note).toMatch(/^Figures cover every sample/);
  });

  it('keeps a string result a string, even one that reads as a number', async () => {
    const out = structured(await mcp.call('query_prometheus', { query: '"42"' }));
    expect(out).toMatchObject({ result_type: 'string', value: '42' });
  });

  it('says what a series of only NaN holds instead of leaving it looking empty', async () => {
    const out = structured(
      await mcp.call('query_prometheus', { query: 'vector(0) / 0', start: 'now-10m', step: '1m' }),
    );
    expect(out.series[0]).toMatchObject({ samples: 11, first: 'NaN', last: 'NaN', non_finite: { NaN: 11 } });
  });

  it('summarizes values near the largest float without overflowing (a gauge at its limit)', async () => {
    for (const format of ['summary', 'full'] as const) {
      const result = await mcp.call('query_prometheus', {
        query: 'vector(1.7e308)',
        start: 'now-10m',
        step: '1m',
        format,
      });
      expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
    }
    const out = structured(
      await mcp.call('query_prometheus', { query: 'vector(1.7e308)', start: 'now-10m', step: '1m' }),
    );
    expect(out.series[0]).toMatchObject({ min: 1.7e308, max: 1.7e308, mean: 1.7e308, trend: 'flat' });
  });

  it('takes a step longer than a short range (one point), and says nothing of a budget it did not need', async () => {
    const out = structured(
      await mcp.call('query_prometheus', { query: 'sum(up)', start: 'now-30m', step: '1h' }),
    );
    expect(out.step).toBe('1h');
    const short = structured(
      await mcp.call('query_prometheus', { query: 'up', start: 'now-2m', step: '1m' }),
    );
    expect(short.note ?? '').not.toContain('to fit the budget');
  });

  it("refuses the steps the README's Errors table says it refuses, and only those", async () => {
    const readme = readFileSync(join(import.meta.dirname, '..', '..', '..', 'README.md'), 'utf8');
    const row = readme.split('\n').find(line => line.startsWith('| `INVALID_ARGUMENT` |')) ?? '';
    expect(row).toContain('a step under a millisecond or over a year');
    const tiny = await mcp.call('query_prometheus', { query: 'up', start: 'now-1h', step: '0.5ms' });
    expect(textOf(tiny)).toMatch(/^INVALID_ARGUMENT: step "0.5ms" is shorter than a millisecond/);
    const huge = await mcp.call('query_prometheus', { query: 'up', start: 'now-1h', step: '400d' });
    expect(textOf(huge)).toMatch(/^INVALID_ARGUMENT: step "400d" is longer than a year/);
    // A step longer than the range is taken (one point), so the table must not say it is refused.
    const long = await mcp.call('query_prometheus', { query: 'up', start: 'now-30m', step: '1h' });
    expect(long.isError).toBeFalsy();
    expect(row).not.toContain('longer than the range');
  });
});

describe('query_prometheus on a stand-in Prometheus, for answers a real one gives only at scale', () => {
  let fake: Server;
  let stand: Connected;
  const WARNINGS = Array.from({ length: 20 }, (_, i) => `PromQL info: warning ${i} ${'w'.repeat(2000)}`);

  beforeAll(async () => {
    fake = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const query = url.searchParams.get('query') ?? '';
      const at = Number(url.searchParams.get('time') ?? url.searchParams.get('end'));
      let data: unknown;
      let warnings: string[] | undefined;
      let infos: string[] | undefined;
      if (url.pathname.startsWith('/api/v1/label/')) {
        data = Array.from({ length: 900 }, (_, i) => `metric_${i}_${'n'.repeat(40)}`);
      } else if (url.pathname === '/api/v1/metadata') {
        data = {};
      } else if (query === 'burst[5m]') {
        // One burst over three scrapes, 15 s apart.
        const values = Array.from({ length: 20 }, (_, i) => [
          at - 300 + i * 15,
          i >= 10 && i <= 12 ? '60' : '1',
        ]);
        data = { resultType: 'matrix', result: [{ metric: { job: 'b' }, values }] };
      } else if (query === 'informed') {
        data = { resultType: 'vector', result: [{ metric: {}, value: [at, '1'] }] };
        warnings = ['a warning'];
        infos = ['PromQL info: metric might not be a counter', 'the series was resampled'];
      } else if (query === 'many[1m]') {
        const result = Array.from({ length: 250_000 }, (_, i) => ({
          metric: { i: String(i) },
          values: [[at - 30, '1']],
        }));
        data = { resultType: 'matrix', result };
      } else if (query === 'none[1m]') {
        data = { resultType: 'matrix', result: [] };
      } else {
        const start = Number(url.searchParams.get('start'));
        const step = Number(url.searchParams.get('step'));
        const result = Array.from({ length: 50 }, (_, i) => {
          const values: Array<[number, string]> = [];
          for (let t = start; t <= at; t += step) values.push([t, String(Math.sin(t / 300 + i) * 100 + i)]);
          return { metric: { __name__: 'm', pod: `pod-${i}-${'x'.repeat(40)}` }, values };
        });
        data = { resultType: 'matrix', result };
        warnings = WARNINGS;
        infos = ['PromQL info: one info more'];
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          status: 'success',
          data,
          ...(warnings ? { warnings } : {}),
          ...(infos ? { infos } : {}),
        }),
      );
    });
    await new Promise<void>(resolve => fake.listen(0, '127.0.0.1', resolve));
    stand = await connect({ PROMETHEUS_URL: `http://127.0.0.1:${(fake.address() as AddressInfo).port}` });
  });

  afterAll(async () => {
    await stand.close();
    fake.close();
  });

  it('keeps many warnings within the byte cap: the first few, cut short, and how many more', async () => {
    const result = await stand.call('query_prometheus', { query: 'm', start: 'now-1h' });
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(Buffer.byteLength(textOf(result))).toBeLessThanOrEqual(8192);
    const { warnings } = structured(result);
    expect(warnings).toHaveLength(6);
    expect(warnings[0]).toMatch(/^PromQL info: warning 0 w+… \[\+\d+ chars\]$/);
    expect(warnings[0].length).toBeLessThan(400);
    expect(warnings.at(-1)).toBe('+16 more');
  });

  it("passes Prometheus's infos on beside its warnings, each labelled as info", async () => {
    const { warnings } = structured(await stand.call('query_prometheus', { query: 'informed' }));
    expect(warnings).toEqual([
      'a warning',
      'PromQL info: metric might not be a counter',
      'info: the series was resampled',
    ]);
  });

  it('counts one burst over three scrapes of an instant range selector as one spike', async () => {
    const out = structured(await stand.call('query_prometheus', { query: 'burst[5m]' }));
    expect(out.series[0].spikes).toHaveLength(1);
  });

  it('says how to see the rest of a list cut to fit the byte cap, and that limit would not help', async () => {
    const cut = structured(await stand.call('explore_prometheus', { limit: 1000 }));
    expect(cut).toMatchObject({ total: 900, truncated: true });
    expect(cut.note).toMatch(/^\d+ more not shown to fit 8\.0 KiB; narrow with `search` or `match`\.$/);
    const limited = structured(await stand.call('explore_prometheus', { limit: 5 }));
    expect(limited.note).toBe(
      '895 more not shown; narrow with `search` or `match`, or raise `limit` (max 1000).',
    );
  });

  it('shapes an instant range selector over 250k series without overflowing the stack', async () => {
    const result = await stand.call('query_prometheus', { query: 'many[1m]' });
    expect(result.isError, textOf(result)).toBeFalsy();
    const out = structured(result);
    expect(out).toMatchObject({ result_type: 'matrix', series_total: 250_000, truncated: true });
    expect(Buffer.byteLength(textOf(result))).toBeLessThanOrEqual(8192);
  });

  it('says nothing matched an instant range selector, with no shape of an empty window', async () => {
    const out = structured(await stand.call('query_prometheus', { query: 'none[1m]' }));
    expect(out).toMatchObject({ result_type: 'matrix', series_total: 0, series: [], truncated: false });
    expect(out.shape_every).toBeUndefined();
    expect(out.note).toMatch(/^No series matched/);
  });
});

describe('explore_prometheus on a real Prometheus', () => {
  it('finds metric names with their type and help', async () => {
    const out = structured(await mcp.call('explore_prometheus', { search: 'PREDICTOR', start: 'now-3h' }));
    expect(out.metrics).toEqual([{ name: 'predictor_error_ratio' }]);
    const live = structured(await mcp.call('explore_prometheus', { search: 'market' }));
    expect(live.metrics).toEqual([{ name: 'market_price', type: 'gauge' }]);
  });

  it("lists label names and one label's values, scoped by a selector", async () => {
    const labels = structured(
      await mcp.call('explore_prometheus', { list: 'labels', match: 'market_price' }),
    );
    expect(labels.values).toEqual(['__name__', 'instance', 'job', 'symbol']);
    const values = structured(await mcp.call('explore_prometheus', { list: 'values', label: 'symbol' }));
    expect(values.values).toEqual(['ACME', 'GLOBEX']);
  });

  it('takes a selector as long as its schema allows for each list, label values too (GET only)', async () => {
    // 2000 characters, the cap on `match`: past the length at which queries and label names go by POST.
    const match = `{__name__="market_price",symbol!="${'z'.repeat(2000 - 36)}"}`;
    expect(match).toHaveLength(2000);
    const metrics = await mcp.call('explore_prometheus', { match });
    expect(metrics.isError, textOf(metrics)).toBeFalsy();
    expect(structured(metrics).metrics).toEqual([{ name: 'market_price', type: 'gauge' }]);
    const labels = structured(await mcp.call('explore_prometheus', { list: 'labels', match }));
    expect(labels.values).toEqual(['__name__', 'instance', 'job', 'symbol']);
    const values = await mcp.call('explore_prometheus', { list: 'values', label: 'symbol', match });
    expect(values.isError, textOf(values)).toBeFalsy();
    expect(structured(values).values).toEqual(['ACME', 'GLOBEX']);
  });

  it('truncates long lists and says how many were left out', async () => {
    const out = structured(
      await mcp.call('explore_prometheus', {
        list: 'values',
        label: 'instance',
        start: data.fleetStart,
        end: data.fleetEnd,
        limit: 5,
      }),
    );
    expect(out).toMatchObject({ shown: 5, total: 40, truncated: true });
    expect(out.note).toContain('35 more');
  });

  it('refuses a label with a list it would not filter, instead of echoing it as if it had', async () => {
    for (const list of ['labels', 'metrics']) {
      const result = await mcp.call('explore_prometheus', { list, label: 'symbol' });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(
        new RegExp(`^INVALID_ARGUMENT: label only applies to list "values", not list "${list}"`),
      );
    }
  });

  it('points at `match` when a selector matched nothing', async () => {
    const typo = structured(
      await mcp.call('explore_prometheus', { list: 'values', label: 'symbol', match: 'market_prise' }),
    );
    expect(typo).toMatchObject({ values: [], total: 0 });
    expect(typo.note).toMatch(/^Nothing matched in this window; check the selector in `match`/);
    const unscoped = structured(await mcp.call('explore_prometheus', { search: 'no_such_metric_name' }));
    expect(unscoped.note).toBe('Nothing matched in this window; try a broader search or an older window.');
  });

  it('asks for a label when listing values', async () => {
    const result = await mcp.call('explore_prometheus', { list: 'values' });
    expect(textOf(result)).toMatch(/^INVALID_ARGUMENT: list "values" needs `label`/);
  });
});
