import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLokiDouble, type LokiDouble } from '../../doubles/loki/index.ts';
import { connect, textOf, type Connected } from '../../support/mcp.ts';
import { freePort } from '../../support/ports.ts';
import { startPredictor } from '../../support/predictor.ts';

let loki: LokiDouble;
let mcp: Connected;
let dir: string;

async function predict(url: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await (await fetch(`${url}/predict?symbol=ACME`)).text();
}

beforeAll(async () => {
  loki = await startLokiDouble();
  // The real predictor ships its own logs: 20 good requests, then 30 failing ones.
  const predictor = await startPredictor({ admin: true, lokiUrl: loki.url });
  await predict(predictor.url, 20);
  predictor.setFaults({ error_rate: 1 });
  await predict(predictor.url, 30);
  await predictor.close(); // flushes the shipper
  mcp = await connect({ LOKI_URL: loki.url });
  dir = await mkdtemp(join(tmpdir(), 'devops-mcp-loki-'));
});

afterAll(async () => {
  await mcp.close();
  await loki.close();
  await rm(dir, { recursive: true, force: true });
});

const structured = (result: Awaited<ReturnType<Connected['call']>>) => {
  expect(result.isError, textOf(result)).toBeFalsy();
  return result.structuredContent as any;
};

/**
 * A server connected to a gateway in front of the double: `answer` answers the requests it takes (returning true),
 * the rest go through to the double.
 */
async function gatewayTo(answer: (req: IncomingMessage, res: ServerResponse) => boolean) {
  const gateway = createServer((req, res) => {
    if (answer(req, res)) return;
    void fetch(`${loki.url}${req.url ?? ''}`).then(async reply => {
      res.writeHead(reply.status, { 'content-type': reply.headers.get('content-type') ?? 'text/plain' });
      res.end(Buffer.from(await reply.arrayBuffer()));
    });
  });
  await new Promise<void>(resolve => gateway.listen(0, '127.0.0.1', resolve));
  const behind = await connect({ LOKI_URL: `http://127.0.0.1:${(gateway.address() as AddressInfo).port}` });
  return { behind, gateway };
}

describe('search_loki against the Loki double fed by the real predictor', () => {
  it('collapses repeated error lines into one group with a count and first/last time', async () => {
    const out = structured(
      await mcp.call('search_loki', {
        query: '{service="market-predictor", level="error"} |= "prediction failed"',
      }),
    );
    expect(out.kind).toBe('logs');
    expect(out.lines).toBe(30);
    expect(out.truncated).toBe(false);
    const groups = out.streams.flatMap((s: any) => s.groups);
    expect(groups).toHaveLength(1);
    expect(groups[0]).toMatchObject({ count: 30 });
    expect(groups[0].text).toContain('prediction failed');
    expect(groups[0].first <= groups[0].last).toBe(true);
    expect(
      Buffer.byteLength(textOf(await mcp.call('search_loki', { query: '{service="market-predictor"}' }))),
    ).toBeLessThanOrEqual(8192);
  });

  it("shows what varies between a group's lines, not the first line's addresses and numbers", async () => {
    const now = BigInt(Math.floor(Date.now() / 1000) - 300) * 1_000_000_000n;
    loki.push([
      {
        stream: { service: 'db-proxy', level: 'error' },
        values: Array.from({ length: 20 }, (_, i): [string, string] => [
          String(now + BigInt(i) * 5_000_000_000n),
          `level=error msg="connect failed" upstream=10.0.${i < 18 ? 1 : 9}.${i % 3}:5432 latency_ms=${100 + i * 37} pool=3`,
        ]),
      },
    ]);
    const out = structured(await mcp.call('search_loki', { query: '{service="db-proxy"}' }));
    expect(out.streams.flatMap((s: any) => s.groups)).toEqual([
      expect.objectContaining({
        text: 'level=error msg="connect failed" upstream=<ip> latency_ms=<100..803> pool=3',
        count: 20,
      }),
    ]);
  });

  it('points at the pipeline stages when they, not the selector, may have dropped every line', async () => {
    const now = BigInt(Math.floor(Date.now() / 1000) - 300) * 1_000_000_000n;
    loki.push([
      {
        stream: { service: 'logfmt-only', level: 'error' },
        values: [[String(now), 'level=error msg="upstream failed" status=502']],
      },
    ]);
    // Lines in logfmt: | json finds no status to compare, so the label filter drops them all.
    const parsed = structured(
      await mcp.call('search_loki', { query: '{service="logfmt-only"} | json | status >= 500' }),
    );
    expect(parsed.lines).toBe(0);
    expect(parsed.note).toMatch(/^No line matched\. The pipeline stages may drop every line/);
    expect(parsed.note).toContain('run {service="logfmt-only"} alone to see the lines');
    const counted = structured(
      await mcp.call('search_loki', {
        query: 'sum(count_over_time({service="logfmt-only"} |= "no such text" [5m]))',
      }),
    );
    expect(counted.note).toMatch(/^No line matched\. The pipeline stages may drop every line/);
    // Without stages, the selector is what to check.
    const bare = structured(await mcp.call('search_loki', { query: '{service="no-such-service"}' }));
    expect(bare.note).toBe('No line matched. Check the selector with explore_loki, or widen the range.');
  });

  it('names the selector with the stages when a binary query matched nothing', async () => {
    // The double reads no binary operation; in front of it, a gateway answers one as Loki does when neither side
    // has a line: an empty matrix. Index statistics go through to the double.
    const { behind, gateway } = await gatewayTo((req, res) => {
      if (!req.url?.includes('/query_range')) return false;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [] } }));
      return true;
    });
    const result = await behind.call('search_loki', {
      query:
        'sum(count_over_time({service="all-lines"}[5m])) / sum(count_over_time({service="logfmt-only"} |= "no such text" [5m]))',
    });
    await behind.close();
    gateway.close();
    const out = structured(result);
    expect(out.note).toMatch(/^No line matched\. The pipeline stages may drop every line/);
    expect(out.note).toContain('run {service="logfmt-only"} alone to see the lines');
  });

  it('says when more lines matched than the limit, and where to read on', async () => {
    const out = structured(
      await mcp.call('search_loki', { query: '{service="market-predictor"}', limit: 5 }),
    );
    expect(out.lines).toBe(5);
    expect(out.truncated).toBe(true);
    expect(out.note).toMatch(
      /More lines matched than the 5 returned: older ones were not read\. .* move end to \d{19} to read on/,
    );
    // One more than the limit is asked of Loki, to know whether more exist.
    expect(loki.requests.at(-1)?.query.limit).toBe('6');
  });

  it('pages by the nanosecond without skipping lines, backward and forward', async () => {
    // Two lines in one nanosecond and all four within a millisecond: a cut rounded to ms would skip some.
    const base = BigInt(Math.floor(Date.now() / 1000) - 60) * 1_000_000_000n;
    const at = (ns: number) => String(base + 123_000_000n + BigInt(ns));
    loki.push([
      {
        stream: { service: 'pager', level: 'info' },
        values: [
          [at(400_000), 'D'],
          [at(200_000), 'B'],
          [at(0), 'A'],
        ],
      },
      { stream: { service: 'pager', level: 'warn' }, values: [[at(200_000), 'C']] },
    ]);
    const page = async (direction: 'backward' | 'forward', limit: number) => {
      const seen: string[] = [];
      const field = direction === 'backward' ? 'end' : 'start';
      let cursor: Record<string, string> = { start: 'now-10m' };
      for (let i = 0; i < 6; i++) {
        const out = structured(
          await mcp.call('search_loki', { query: '{service="pager"}', limit, direction, ...cursor }),
        );
        seen.push(...out.streams.flatMap((s: any) => s.groups.map((g: any) => g.text)));
        const next = new RegExp(`move ${field} to (\\d{19}) to read on`).exec(out.note ?? '')?.[1];
        if (!next) return { seen, note: out.note as string | undefined };
        cursor = direction === 'backward' ? { start: 'now-10m', end: next } : { start: next };
      }
      throw new Error(`still paging after 6 pages: ${seen.join(',')}`);
    };
    const backward = await page('backward', 2);
    expect(new Set(backward.seen)).toEqual(new Set(['A', 'B', 'C', 'D']));
    expect(backward.seen.slice(0, 1)).toEqual(['D']);
    const forward = await page('forward', 2);
    expect(new Set(forward.seen)).toEqual(new Set(['A', 'B', 'C', 'D']));
    // With room for only one of two lines at one time, moving the cut cannot get past them.
    const stuck = await page('backward', 1);
    expect(stuck.seen).toEqual(['D', 'B']);
    expect(stuck.note).toMatch(/More than 1 lines share the time \d{19} \(ns\): raise limit/);
  });

  it('keeps non-ASCII lines within the byte cap', async () => {
    const now = BigInt(Math.floor(Date.now() / 1000) - 120) * 1_000_000_000n;
    loki.push([
      {
        stream: { service: 'i18n', level: 'error' },
        values: Array.from({ length: 200 }, (_, i): [string, string] => [
          String(now + BigInt(i)),
          `ошибка ${String.fromCharCode(0x4e00 + i)}${'界'.repeat(380)} ${'😀'.repeat(20)} ${i}`,
        ]),
      },
    ]);
    const result = await mcp.call('search_loki', { query: '{service="i18n"}', limit: 200 });
    const out = structured(result);
    expect(out.truncated).toBe(true);
    expect(out.note).toMatch(/Showing \d+ of 200 distinct messages to fit 8\.0 KiB/);
    expect(Buffer.byteLength(textOf(result))).toBeLessThanOrEqual(8192);
  });

  it('summarizes metric queries like query_prometheus', async () => {
    const out = structured(
      await mcp.call('search_loki', {
        query: 'sum by (level) (count_over_time({service="market-predictor"}[5m]))',
        start: 'now-10m',
      }),
    );
    expect(out.kind).toBe('metric');
    expect(out.step).toBe('5s');
    const levels = out.series.map((s: any) => s.labels.level ?? out.common_labels?.level).sort();
    expect(levels).toContain('error');
    const errors = out.series.find((s: any) => s.labels.level === 'error');
    expect(errors.max).toBe(30);
  });

  it('points at the column of bad LogQL, before asking Loki', async () => {
    const before = loki.requests.length;
    const result = await mcp.call('search_loki', {
      query: 'sum(count_over_time({service="market-predictor"}[5minutes]))',
    });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/^INVALID_ARGUMENT: LogQL syntax error at column \d+/);
    expect(textOf(await mcp.call('search_loki', { query: '{level=~".*"}' }))).toMatch(/matches every stream/);
    expect(loki.requests.length).toBe(before);
  });

  it('refuses a query that would scan more than the budget, with the figures', async () => {
    const config = join(dir, 'tight.json');
    await writeFile(config, JSON.stringify({ loki: { url: loki.url, maxBytesScanned: 1024 } }));
    const tight = await connect({ DEVOPS_MCP_CONFIG: config });
    const result = await tight.call('search_loki', { query: '{service="market-predictor"} |= "x"' });
    await tight.close();
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(
      /^QUERY_TOO_EXPENSIVE: This query would scan about [\d.]+ KiB in \d streams over 1h; the limit is 1\.0 KiB/,
    );
    expect(textOf(result)).toContain('Hint: Add labels to the stream selector');
  });

  it("explains Loki's own limits instead of hitting them", async () => {
    const long = await mcp.call('search_loki', { query: '{service="market-predictor"}', start: 'now-40d' });
    expect(textOf(long)).toMatch(/^INVALID_ARGUMENT: The range .* is longer than Loki allows \(4w2d1h\)/);
    const many = structured(
      await mcp.call('search_loki', { query: '{service="market-predictor"}', limit: 5000 }),
    );
    expect(many.limit).toBe(1000);
    expect(many.note).toContain('limit lowered to 1000');
  });

  it("passes on Loki's own errors and survives Loki being down", async () => {
    loki.setFault({ status: 500, body: 'rpc error: code = Unavailable' });
    const failing = await mcp.call('search_loki', { query: '{service="market-predictor"}' });
    loki.setFault(null);
    expect(textOf(failing)).toMatch(
      /^BACKEND_ERROR: Loki rejected the query \(HTTP 500\): rpc error: code = Unavailable/,
    );
    const down = await connect({ LOKI_URL: `http://127.0.0.1:${await freePort()}` });
    expect(textOf(await down.call('search_loki', { query: '{app="x"}' }))).toMatch(
      /^BACKEND_UNREACHABLE: Loki is unreachable/,
    );
    await down.close();
  });

  it('queries as is a Loki without index/stats (an older one, or a gateway that does not pass it on)', async () => {
    // A gateway in front of the double that answers 404 for index/stats alone.
    const { behind, gateway } = await gatewayTo((req, res) => {
      if (!req.url?.includes('/index/stats')) return false;
      res.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found');
      return true;
    });
    const result = await behind.call('search_loki', { query: '{service="market-predictor"}' });
    await behind.close();
    gateway.close();
    expect(result.isError, textOf(result)).toBeFalsy();
    expect((result.structuredContent as { lines: number }).lines).toBeGreaterThan(0);
  });

  it('points at LOKI_URL when the URL is not Loki API (a 404: a wrong path prefix)', async () => {
    const misplaced = await connect({ LOKI_URL: `${loki.url}/not-loki` });
    const result = await misplaced.call('search_loki', { query: '{service="market-predictor"}' });
    await misplaced.close();
    expect(textOf(result)).toMatch(/^BACKEND_ERROR: Loki rejected the query \(HTTP 404\)/);
    expect(textOf(result)).toMatch(/Hint: Check LOKI_URL/);
  });
});

describe('search_loki metric queries', () => {
  const nowSeconds = () => Math.floor(Date.now() / 1000);
  const lines = (service: string, times: number[], text: (i: number) => string): void => {
    loki.push([
      {
        stream: { service, level: 'error' },
        values: times.map((t, i): [string, string] => [`${t}000000000`, text(i)]),
      },
    ]);
  };

  it('never steps past the shortest [range], so no line falls between two windows', async () => {
    // 120 lines in 4 minutes, 7.3 h into a day: at the 10m step a day would get, no window of 5m held them.
    const end = nowSeconds() - 600;
    const start = end - 86_400;
    lines(
      'gap',
      Array.from({ length: 120 }, (_, i) => start + 100 * 600 + 10 + i * 2),
      i => `payment failed code=${i}`,
    );
    const query = 'sum(count_over_time({service="gap"}[5m]))';
    const out = structured(await mcp.call('search_loki', { query, start, end }));
    expect(out.step).toBe('5m');
    expect(out.series_total).toBe(1);
    // Windows side by side count each line once.
    expect(Math.round(out.series[0].mean * out.series[0].samples)).toBe(120);

    // A step asked for is taken as query_prometheus takes it, and one past the [range] is said to miss lines.
    const coarse = structured(await mcp.call('search_loki', { query, start, end, step: '10m' }));
    expect(coarse.step).toBe('10m');
    expect(coarse.note).toMatch(/^step 10m is longer than the shortest \[range\] \(5m\): lines between/);
    const fine = structured(await mcp.call('search_loki', { query, start, end, step: 1 }));
    expect(fine.step).toBe('2m');
    expect(fine.note).toMatch(/^step raised from 1s to 2m to stay within 1100 points per series\./);
    const fraction = structured(await mcp.call('search_loki', { query, start: 'now-5m', step: '1.5s' }));
    expect(fraction.step).toBe('1.5s');
    // Where a step of [range] would pass the point budget, the note says what the step misses.
    const month = structured(
      await mcp.call('search_loki', { query: 'sum(count_over_time({service="gap"}[1m]))', start: 'now-30d' }),
    );
    expect(month.step).toBe('1h');
    expect(month.note).toMatch(/^step 1h is longer than the shortest \[range\] \(1m\): lines between/);
  });

  it('refuses a step it cannot use', async () => {
    expect(textOf(await mcp.call('search_loki', { query: '{service="gap"}', step: '1m' }))).toMatch(
      /^INVALID_ARGUMENT: step only applies to a metric query/,
    );
    expect(
      textOf(await mcp.call('search_loki', { query: 'rate({service="gap"}[5m])', step: 'soon' })),
    ).toMatch(/^INVALID_ARGUMENT: step "soon" is not a positive duration/);
  });

  it('counts the steps without lines as 0 in line counts, and only there', async () => {
    // A burst 30 to 25 minutes ago in the last hour.
    const now = nowSeconds();
    lines(
      'sparse',
      Array.from({ length: 50 }, (_, i) => now - 1800 + i * 6),
      i => `error id=${i}`,
    );
    const counted = structured(
      await mcp.call('search_loki', { query: 'count_over_time({service="sparse"}[1m])', start: 'now-1h' }),
    );
    expect(counted.series[0]).toMatchObject({ min: 0, max: 10, first: 0, last: 0, trend: 'flat' });
    expect(counted.series[0].mean).toBeCloseTo(50 / 60, 1);
    expect(counted.note).toContain('Steps whose window held no line count as 0');
    // The largest of no series is none: as Loki gives it.
    const largest = structured(
      await mcp.call('search_loki', {
        query: 'max(count_over_time({service="sparse"}[1m]))',
        start: 'now-1h',
      }),
    );
    expect(largest.series[0].min).toBeGreaterThan(0);
    expect(largest.series[0].samples).toBeLessThan(40);
    expect(largest.note).toBeUndefined();
  });

  it('says when nothing matched', async () => {
    const out = structured(
      await mcp.call('search_loki', { query: 'sum(count_over_time({service="nothing"}[5m]))' }),
    );
    expect(out.series).toEqual([]);
    expect(out.note).toBe('No line matched. Check the selector with explore_loki, or widen the range.');
  });

  it('asks the cost guardrail about the window an offset reads', async () => {
    const twoDaysAgo = nowSeconds() - 2 * 86_400 - 1800;
    lines(
      'big',
      Array.from({ length: 2000 }, (_, i) => twoDaysAgo + i),
      i => `big line ${'x'.repeat(100)} ${i}`,
    );
    const config = join(dir, 'offset.json');
    await writeFile(config, JSON.stringify({ loki: { url: loki.url, maxBytesScanned: 4096 } }));
    const tight = await connect({ DEVOPS_MCP_CONFIG: config });
    const result = await tight.call('search_loki', {
      query: 'sum(count_over_time({service="big"}[5m] offset 2d))',
      start: 'now-1h',
    });
    await tight.close();
    expect(textOf(result)).toMatch(
      /^QUERY_TOO_EXPENSIVE: This query would scan about [\d.]+ KiB .* over 1h5m/,
    );
  });

  it('takes a selector whose only matcher is a negative one that cannot match an empty value', async () => {
    const out = structured(await mcp.call('search_loki', { query: '{service!=""}', limit: 1 }));
    expect(out.lines).toBe(1);
  });
});

describe("search_loki's shaping within the cap", () => {
  // A double of its own: the labels these streams have would show in explore_loki's lists above.
  let own: LokiDouble;
  let server: Connected;
  beforeAll(async () => {
    own = await startLokiDouble();
    server = await connect({ LOKI_URL: own.url });
  });
  afterAll(async () => {
    await server.close();
    await own.close();
  });
  const recent = () => BigInt(Math.floor(Date.now() / 1000) - 600) * 1_000_000_000n;
  // Characters a terminal would act on: C0 (bar tab), DEL, C1, and the bidi embeddings, overrides and isolates.
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  const UNPRINTABLE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

  it("shows lines of a query over many streams, paying for a stream's labels only when it is shown", async () => {
    const now = recent();
    // 35 pods of one deployment, each with the labels a Kubernetes shipper gives (about 300 bytes of them).
    for (let i = 0; i < 35; i++) {
      own.push([
        {
          stream: {
            namespace: 'prod-many',
            app: 'checkout',
            pod: `checkout-7d9f8b6c5-${(100_000 + i * 7919).toString(36)}`,
            node: `ip-10-0-${i % 8}-${i}.eu-west-1.compute.internal`,
            filename: `/var/log/pods/prod_checkout-7d9f8b6c5-${i}_0123abcd-1111-2222-3333-${String(i).padStart(12, '0')}/checkout/0.log`,
          },
          values: [[String(now + BigInt(i) * 1_000_000_000n), `level=error msg="provider timeout" n=${i}`]],
        },
      ]);
    }
    const result = await server.call('search_loki', { query: '{namespace="prod-many"} |= "error"' });
    const out = structured(result);
    expect(out.lines).toBe(35);
    expect(out.groups_shown).toBeGreaterThanOrEqual(15);
    expect(out.streams).toHaveLength(out.groups_shown);
    expect(out.note).toMatch(new RegExp(`^Showing ${out.groups_shown} of 35 distinct messages`));
    expect(Buffer.byteLength(textOf(result))).toBeLessThanOrEqual(8192);

    // A label value as long as a line is cut as a line is, so that its stream's lines still show.
    own.push(
      Array.from({ length: 40 }, (_, i) => ({
        stream: { service: 'long-pods', pod: `pod-${i}-${'p'.repeat(1500)}` },
        values: [[String(now + BigInt(i)), `line ${i}`] as [string, string]],
      })),
    );
    const long = await server.call('search_loki', { query: '{service="long-pods"}' });
    const pods = structured(long);
    expect(pods.groups_shown).toBeGreaterThanOrEqual(10);
    expect(pods.streams[0].labels.pod).toMatch(/^pod-\d+-p+… \[\+\d+ chars\]$/);
    expect(Buffer.byteLength(textOf(long))).toBeLessThanOrEqual(8192);
  });

  it('stays within the cap with a long query and long labels every stream shares', async () => {
    const now = recent();
    own.push([{ stream: { service: 'long-query' }, values: [[String(now), 'order 1 failed']] }]);
    // A query of 9,000 characters, as a model may write one with a list of ids.
    const ids = Array.from({ length: 780 }, (_, i) => `ord-${100_000 + i}`).join('|');
    const query = `{service="long-query"} |~ "${ids}"`;
    for (const q of [query, `sum(count_over_time(${query} [5m]))`]) {
      const result = await server.call('search_loki', { query: q });
      expect(structured(result).query).toMatch(
        /{service="long-query"} \|~ "ord-100000\|.*… \[\+\d+ chars\]$/,
      );
      expect(Buffer.byteLength(textOf(result))).toBeLessThanOrEqual(8192);
    }

    const big = 'v'.repeat(2000);
    own.push(
      ['1', '2'].map(x => ({
        stream: { service: 'long-labels', a: big, b: big, c: big, d: big, e: big, x },
        values: [[String(now), `hello world ${x}`] as [string, string]],
      })),
    );
    const logs = await server.call('search_loki', { query: '{service="long-labels"}' });
    const shaped = structured(logs);
    expect(shaped.groups_shown).toBe(2);
    expect(shaped.common_labels.a).toMatch(/^v+… \[\+\d+ chars\]$/);
    expect(Buffer.byteLength(textOf(logs))).toBeLessThanOrEqual(8192);
    const metric = await server.call('search_loki', {
      query: 'sum by (a, b, c, d, e, x) (count_over_time({service="long-labels"}[5m]))',
    });
    expect(structured(metric).series_shown).toBe(2);
    expect(Buffer.byteLength(textOf(metric))).toBeLessThanOrEqual(8192);
  });

  it('refuses a nanosecond cursor given as a number, which JSON has rounded, and says to pass a string', async () => {
    const base = recent();
    own.push([
      {
        stream: { service: 'numeric-pager' },
        values: Array.from({ length: 4 }, (_, k): [string, string] => [
          String(base + BigInt((k + 1) * 150)),
          `L${k}`,
        ]),
      },
    ]);
    const first = structured(
      await server.call('search_loki', { query: '{service="numeric-pager"}', limit: 2, start: 'now-20m' }),
    );
    expect(first.note).toMatch(/move end to \d{19} to read on \(a nanosecond epoch, as a string\)/);
    const next = /move end to (\d{19})/.exec(first.note)?.[1];
    const result = await server.call('search_loki', {
      query: '{service="numeric-pager"}',
      limit: 2,
      start: 'now-20m',
      end: Number(next),
    });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/^INVALID_ARGUMENT: end is a number past 2\^53/);
    expect(textOf(result)).toContain('as a string');
  });

  it('sends log lines and labels as printable text, scrubbed of secrets before that', async () => {
    const now = recent();
    own.push([
      {
        stream: { service: 'controls', note: 'a\u001b[31mred\u202e' },
        values: [
          [String(now), 'user login ok \u001b[2K\r\u001b[32mALL CHECKS PASSED\u001b[0m'],
          [String(now + 1n), 'path=/admin \u202etxt.exe\u202c \u009b31m C1-CSI'],
          [String(now + 2n), 'nul\u0000byte, bell\u0007, tab\tkept'],
        ],
      },
    ]);
    const result = await server.call('search_loki', { query: '{service="controls"}' });
    expect(textOf(result)).not.toMatch(UNPRINTABLE);
    const out = structured(result);
    expect(JSON.stringify(out)).not.toMatch(/\\u00(?:0[0-8]|1[0-9a-f])|\\u007f|\\u00[89]/);
    expect(out.streams[0].labels.note).toBe('a␛[31mred\ufffd');
    expect(out.streams[0].groups.map((g: any) => g.text).sort()).toEqual([
      'nul␀byte, bell␇, tab\tkept',
      'path=/admin \ufffdtxt.exe\ufffd \ufffd31m C1-CSI',
      'user login ok ␛[2K␍␛[32mALL CHECKS PASSED␛[0m',
    ]);

    // A Loki password holding a control character: made printable first, it would no longer read as the secret.
    const secret = 'hunter\u0007two-password';
    const url = new URL(own.url);
    const keyed = await connect({
      LOKI_URL: `${url.protocol}//reader:${encodeURIComponent(secret)}@${url.host}`,
    });
    own.push([
      {
        stream: { service: 'leaky', client: `reader:${secret}` },
        values: [[String(now), `auth failed for ${secret}`]],
      },
    ]);
    const leaky = await keyed.call('search_loki', { query: '{service="leaky"}' });
    await keyed.close();
    expect(structured(leaky).streams[0].groups[0].text).toBe('auth failed for [REDACTED]');
    expect(structured(leaky).streams[0].labels.client).toBe('reader:[REDACTED]');
    expect(textOf(leaky)).not.toContain('hunter');
  });
});

describe('explore_loki', () => {
  it('lists stream labels and values', async () => {
    expect(structured(await mcp.call('explore_loki', {})).values).toEqual(['level', 'service']);
    const levels = structured(
      await mcp.call('explore_loki', {
        list: 'values',
        label: 'level',
        match: '{service="market-predictor"}',
      }),
    );
    expect(levels.values).toEqual(['error', 'info', 'warn']);
  });

  it('says a label was not seen rather than listing no values for it without a word', async () => {
    const out = structured(await mcp.call('explore_loki', { list: 'values', label: 'lvl' }));
    expect(out).toMatchObject({ values: [], total: 0 });
    expect(out.note).toBe(
      'No stream in this window has the label lvl; list "labels" shows the labels there are, or try an older window.',
    );
    const known = structured(await mcp.call('explore_loki', { list: 'values', label: 'level' }));
    expect(known.note).toBeUndefined();
  });

  it('refuses a label with the list of label names, which it would not filter', async () => {
    const result = await mcp.call('explore_loki', { list: 'labels', label: 'level' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/^INVALID_ARGUMENT: label only applies to list "values"/);
  });
});
