// The Prometheus client's reading of answers that do not come from Prometheus itself: a proxy in front.
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
