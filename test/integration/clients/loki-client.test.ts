// The Loki client against the Loki double, alone or behind a gateway that limits its URLs as nginx does: long
// queries go as a POST form, and each failure comes back with the code and hint that say who can fix it.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLokiClient, type LokiClient } from '../../../src/clients/loki.ts';
import { ToolError } from '../../../src/lib/errors.ts';
import { startLokiDouble, type LokiDouble } from '../../doubles/loki/index.ts';

// nginx's default large_client_header_buffers (4 8k): a longer request line is refused with 414.
const GATEWAY_MAX_LINE = 8192;

let loki: LokiDouble;
let gateway: Server;
let gatewayUrl: string;
const clients: LokiClient[] = [];

beforeAll(async () => {
  loki = await startLokiDouble();
  // Loki's own gateway in front of the double: passes requests on, method and body, as nginx does.
  gateway = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const line = `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1`;
      if (line.length > GATEWAY_MAX_LINE) {
        res.writeHead(414, { 'content-type': 'text/html' }).end('<html>414 Request-URI Too Large</html>');
        return;
      }
      const body = Buffer.concat(chunks);
      void fetch(`${loki.url}${req.url ?? ''}`, {
        method: req.method ?? 'GET',
        headers: { 'content-type': req.headers['content-type'] ?? 'text/plain' },
        ...(body.length > 0 ? { body } : {}),
      }).then(async reply => {
        res.writeHead(reply.status, { 'content-type': reply.headers.get('content-type') ?? 'text/plain' });
        res.end(Buffer.from(await reply.arrayBuffer()));
      });
    });
  });
  await new Promise<void>(resolve => gateway.listen(0, '127.0.0.1', resolve));
  gatewayUrl = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
});

afterEach(async () => {
  loki.reset();
  await Promise.all(clients.splice(0).map(client => client.close()));
});

afterAll(async () => {
  await new Promise(resolve => gateway.close(resolve));
  await loki.close();
});

function client(url = loki.url, maxResponseBytes = 1024 * 1024): LokiClient {
  const created = createLokiClient({ url, timeoutMs: 5000, maxResponseBytes });
  clients.push(created);
  return created;
}

const now = () => Math.floor(Date.now() / 1000);
const window = () => ({ start: now() - 3600, end: now() + 1 });

function pushLine(labels: Record<string, string>, line: string): void {
  loki.push([{ stream: labels, values: [[`${now() - 60}000000000`, line]] }]);
}

async function failure(call: Promise<unknown>): Promise<ToolError> {
  try {
    await call;
  } catch (error) {
    if (error instanceof ToolError) return error;
    throw error;
  }
  throw new Error('the call succeeded');
}

describe('the Loki client', () => {
  it('sends a query too long for a gateway URL as a POST form, and a short one as a GET', async () => {
    pushLine({ app: 'checkout' }, 'order ord-100042 failed');
    // 1000 order ids: ~11,000 characters, over the gateway's line limit as a URL.
    const ids = Array.from({ length: 1000 }, (_, i) => `ord-${100000 + i}`).join('|');
    const behind = client(gatewayUrl);
    const data = await behind.queryRange({ query: `{app="checkout"} |~ "${ids}"`, ...window(), limit: 10 });
    expect(data.resultType).toBe('streams');
    expect(data.result.flatMap(s => s.values.map(v => v[1]))).toEqual(['order ord-100042 failed']);
    expect(loki.requests.at(-1)?.method).toBe('POST');

    await behind.queryRange({ query: '{app="checkout"}', ...window(), limit: 10 });
    expect(loki.requests.at(-1)).toMatchObject({ method: 'GET', query: { query: '{app="checkout"}' } });
  });

  it('says a request too long for a proxy is too long, not that the LogQL is wrong', async () => {
    loki.setFault({ status: 414, body: '<html>414 Request-URI Too Large</html>' });
    const error = await failure(client().queryRange({ query: '{app="checkout"}', ...window() }));
    expect(error.code).toBe('QUERY_ERROR');
    expect(error.message).toBe('The request is too long for Loki or a proxy in front of it (HTTP 414).');
    expect(error.hint).toMatch(/^Shorten the query/);
  });

  it('sends the operator to the credentials when Loki or a proxy refuses them', async () => {
    // A multi-tenant Loki without X-Scope-OrgID.
    loki.setFault({ status: 401, body: 'no org id\n' });
    const missingTenant = await failure(client().labels(window()));
    expect(missingTenant.code).toBe('BACKEND_ERROR');
    expect(missingTenant.message).toBe("Loki refused devops-mcp's request (HTTP 401): no org id");
    expect(missingTenant.hint).toMatch(/loki\.headers .*X-Scope-OrgID/);

    loki.setFault({ status: 403, body: '<html><body><h1>403 Forbidden</h1></body></html>' });
    const forbidden = await failure(client().queryRange({ query: '{app="checkout"}', ...window() }));
    expect(forbidden.code).toBe('BACKEND_ERROR');
    expect(forbidden.hint).toMatch(/credentials/);
    expect(forbidden.hint).not.toMatch(/LogQL/);
  });

  it('reads a rejected regex that mentions timeout as a query error, and only a 5xx as a timeout', async () => {
    const rejected = await failure(client().queryRange({ query: '{app=~"timeout("}', ...window() }));
    expect(rejected.message).toMatch(/HTTP 400.*timeout\(/);
    expect(rejected.code).toBe('QUERY_ERROR');
    expect(rejected.hint).toMatch(/^Fix the LogQL/);

    const filtered = await failure(
      client().queryRange({ query: '{app="checkout"} |~ "read timeout(.*"', ...window() }),
    );
    expect(filtered.code).toBe('QUERY_ERROR');

    // Loki's own timeout: a 504 with its wording.
    loki.setFault({
      status: 504,
      body: 'request timed out, decrease the duration of the request or add more label matchers (prefer exact match over regex match) to reduce the amount of data processed',
    });
    expect((await failure(client().queryRange({ query: '{app="checkout"}', ...window() }))).code).toBe(
      'BACKEND_TIMEOUT',
    );
    loki.setFault({ status: 500, body: 'rpc error: context deadline exceeded' });
    expect((await failure(client().queryRange({ query: '{app="checkout"}', ...window() }))).code).toBe(
      'BACKEND_TIMEOUT',
    );
  });

  it('decides the other client errors: an answer too large for Loki, and statuses Loki does not send', async () => {
    loki.setFault({ status: 413, body: 'response larger than the max (104857601 vs 104857600)' });
    const large = await failure(client().queryRange({ query: '{app="checkout"}', ...window() }));
    expect(large.code).toBe('RESULT_TOO_LARGE');
    expect(large.hint).toMatch(/a lower limit/);

    // A status Loki's API does not answer (a proxy's 407) is no LogQL mistake.
    loki.setFault({ status: 407, body: '' });
    const proxy = await failure(client().queryRange({ query: '{app="checkout"}', ...window() }));
    expect(proxy.code).toBe('BACKEND_ERROR');
    expect(proxy.hint).toMatch(/^Check LOKI_URL and loki\.headers/);
  });

  it('names the method a GET-only proxy refuses, and that a shorter query goes by GET', async () => {
    pushLine({ app: 'checkout' }, 'order ord-100042 failed');
    const getOnly = createServer((req, res) => {
      if (req.method !== 'GET') {
        res
          .writeHead(405, { 'content-type': 'text/html' })
          .end('<html>\r\n<head><title>405 Not Allowed</title></head>\r\n<body>nginx</body>\r\n</html>');
        return;
      }
      void fetch(`${loki.url}${req.url ?? ''}`).then(async reply => {
        res.writeHead(reply.status, { 'content-type': reply.headers.get('content-type') ?? 'text/plain' });
        res.end(Buffer.from(await reply.arrayBuffer()));
      });
    });
    await new Promise<void>(resolve => getOnly.listen(0, '127.0.0.1', resolve));
    try {
      const behind = client(`http://127.0.0.1:${(getOnly.address() as AddressInfo).port}`);
      const ids = Array.from({ length: 1000 }, (_, i) => `ord-${100000 + i}`).join('|');
      const refused = await failure(
        behind.queryRange({ query: `{app="checkout"} |~ "${ids}"`, ...window() }),
      );
      expect(refused.code).toBe('BACKEND_ERROR');
      expect(refused.message).toBe(
        'Loki does not accept POST at /loki/api/v1/query_range (HTTP 405 Method Not Allowed).',
      );
      expect(refused.hint).toMatch(
        /^A proxy in front of Loki may pass only GET; a shorter query goes by GET/,
      );
      // The short query the hint points to goes through.
      const data = await behind.queryRange({ query: '{app="checkout"}', ...window(), limit: 10 });
      expect(data.result.flatMap(s => s.values.map(v => v[1]))).toEqual(['order ord-100042 failed']);
    } finally {
      await new Promise(resolve => getOnly.close(resolve));
    }
  });

  it('asks for fewer lines, not PromQL aggregations, when an answer is over the read cap', async () => {
    loki.push([
      {
        stream: { app: 'fat' },
        values: Array.from({ length: 50 }, (_, i): [string, string] => [
          `${now() - 60}${String(i).padStart(9, '0')}`,
          `line ${i} ${'x'.repeat(2000)}`,
        ]),
      },
    ]);
    const error = await failure(
      client(loki.url, 64 * 1024).queryRange({ query: '{app="fat"}', ...window(), limit: 50 }),
    );
    expect(error.code).toBe('RESULT_TOO_LARGE');
    expect(error.hint).toMatch(/^Ask for less: fewer lines \(a lower limit/);
    expect(error.hint).not.toMatch(/topk/);
  });
});
