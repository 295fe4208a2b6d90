// The Prometheus client's reading of answers the Prometheus of the integration tests does not give: a proxy in
// front, and the native histogram samples and infos of newer versions.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrometheusClient } from '../../../src/clients/prometheus.ts';
import { ToolError } from '../../../src/lib/errors.ts';

let proxy: Server;
let url: string;

beforeAll(async () => {
  // What oauth2-proxy or a hosted Prometheus answers without credentials: an HTML page, not Prometheus's JSON.
  proxy = createServer((req, res) => {
    // A proxy that passes only GET answers a POST as Prometheus answers one to a GET-only endpoint.
    if (req.url?.includes('get-only') && req.method === 'POST') {
      res.writeHead(405, { 'content-type': 'text/plain' }).end('Method Not Allowed');
      return;
    }
    if (req.url?.includes('limited')) {
      res.writeHead(429, { 'content-type': 'text/plain', 'retry-after': '0' }).end('Too Many Requests');
      return;
    }
    const status = req.url?.includes('forbidden') ? 403 : 401;
    res.writeHead(status, { 'content-type': 'text/html' }).end('<html><body>Sign in</body></html>');
  });
  await new Promise<void>(resolve => proxy.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});

afterAll(() => {
  proxy.close();
});

describe('the Prometheus client behind a proxy', () => {
  it('says the credentials were refused, not that the answer is not JSON', async () => {
    for (const [base, status] of [
      [url, 401],
      [`${url}/forbidden`, 403],
    ] as const) {
      const client = createPrometheusClient({ url: base, timeoutMs: 2000, maxResponseBytes: 1 << 20 });
      const error = await client.query('up', 1764000000).catch((e: unknown) => e);
      await client.close();
      expect(error).toBeInstanceOf(ToolError);
      expect(error).toMatchObject({
        code: 'BACKEND_ERROR',
        message: `Prometheus refused devops-mcp's credentials (HTTP ${status}).`,
        hint: expect.stringContaining('PROMETHEUS_URL'),
      });
    }
  });

  it('says a proxy is limiting requests when 429 outlasts the retries', async () => {
    const client = createPrometheusClient({
      url: `${url}/limited`,
      timeoutMs: 3000,
      maxResponseBytes: 1 << 20,
    });
    const error = await client.query('up', 1764000000).catch((e: unknown) => e);
    await client.close();
    expect(error).toMatchObject({
      code: 'RATE_LIMITED',
      message: 'Prometheus is limiting requests (HTTP 429); Retry-After: 0.',
    });
  });
});

describe('the Prometheus client on a method an endpoint does not take', () => {
  it('says HTTP 405 is a refused method, not an answer that is not JSON from the wrong URL', async () => {
    const client = createPrometheusClient({
      url: `${url}/get-only`,
      timeoutMs: 2000,
      maxResponseBytes: 1 << 20,
    });
    // Long enough to go by POST.
    const error = await client.query(`up{job!="${'z'.repeat(3000)}"}`, 1764000000).catch((e: unknown) => e);
    await client.close();
    expect(error).toBeInstanceOf(ToolError);
    expect(error).toMatchObject({
      code: 'BACKEND_ERROR',
      message: 'Prometheus does not accept POST at /api/v1/query (HTTP 405 Method Not Allowed).',
      hint: 'A proxy in front of Prometheus may pass only GET; a shorter query or selector (under about 2,000 characters) goes by GET.',
    });
  });
});

describe('the Prometheus client on answers with native histograms', () => {
  let stand: Server;
  let standUrl: string;
  const histogram = (count: string, sum: string) => ({
    count,
    sum,
    buckets: [[0, '1', '2', count]],
  });

  beforeAll(async () => {
    // Shapes as Prometheus's docs/querying/api.md gives them: `histogram` beside or instead of `value`, and a
    // series of a matrix with `values`, `histograms` or both.
    stand = createServer((req, res) => {
      const data = req.url?.startsWith('/api/v1/query_range')
        ? {
            resultType: 'matrix',
            result: [
              {
                metric: { job: 'switched' },
                values: [[1764000000, '2']],
                histograms: [[1764000015, histogram('5', '1.5')]],
              },
              { metric: { job: 'native' }, histograms: [[1764000015, histogram('3', '+Inf')]] },
              { metric: { job: 'float' }, values: [[1764000000, '7']] },
            ],
          }
        : {
            resultType: 'vector',
            result: [
              { metric: { job: 'native' }, histogram: [1764000000, histogram('50', '165')] },
              { metric: { job: 'float' }, value: [1764000000, '7'] },
            ],
          };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ status: 'success', data, infos: ['PromQL info: metric might not be a counter'] }),
      );
    });
    await new Promise<void>(resolve => stand.listen(0, '127.0.0.1', resolve));
    standUrl = `http://127.0.0.1:${(stand.address() as AddressInfo).port}`;
  });

  afterAll(() => {
    stand.close();
  });

  it('reads histogram samples of a vector beside float ones, and the infos', async () => {
    const client = createPrometheusClient({ url: standUrl, timeoutMs: 2000, maxResponseBytes: 1 << 20 });
    const answer = await client.query('{job=~".+"}', 1764000000);
    await client.close();
    expect(answer.infos).toEqual(['PromQL info: metric might not be a counter']);
    expect(answer.data).toEqual({
      resultType: 'vector',
      result: [
        { metric: { job: 'native' }, histogram: [1764000000, histogram('50', '165')] },
        { metric: { job: 'float' }, value: [1764000000, '7'] },
      ],
    });
  });

  it('reads a matrix whose series hold float samples, histogram samples or both', async () => {
    const client = createPrometheusClient({ url: standUrl, timeoutMs: 2000, maxResponseBytes: 1 << 20 });
    const answer = await client.queryRange('{job=~".+"}', 1764000000, 1764000015, 15);
    await client.close();
    expect(answer.infos).toEqual(['PromQL info: metric might not be a counter']);
    if (answer.data.resultType !== 'matrix') throw new Error('not a matrix');
    const [switched, native, float] = answer.data.result;
    expect(Array.from(switched?.samples.v ?? [])).toEqual([2]);
    expect(switched?.histograms).toEqual({
      t: Float64Array.of(1764000015),
      count: Float64Array.of(5),
      sum: Float64Array.of(1.5),
    });
    expect(native?.samples.t.length).toBe(0);
    expect(native?.histograms?.sum[0]).toBe(Number.POSITIVE_INFINITY);
    expect(float?.histograms).toBeUndefined();
  });
});
