import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { request } from 'node:http';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { createContext } from '../../src/context.ts';
import { startHttpServer } from '../../src/http.ts';
import { cleanEnv, run, startHttp, type HttpServe } from '../support/bin.ts';
import { startMetricsTarget, type MetricsTarget } from '../support/metrics-target.ts';
import { startPrometheus, type PrometheusServer } from '../support/prometheus.ts';

const TOKEN = 'e2e-http-token-0123456789abcdef';
const INIT = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};
const ACCEPT = 'application/json, text/event-stream';

let prometheus: PrometheusServer;
let target: MetricsTarget;
let server: HttpServe;

beforeAll(async () => {
  target = await startMetricsTarget();
  target.set('orders_pending', {}, 3);
  prometheus = await startPrometheus({ targets: [target.address] });
  for (let i = 0; i < 100; i++) {
    const body = (await (await fetch(`${prometheus.url}/api/v1/query?query=orders_pending`)).json()) as any;
    if (body.data.result.length > 0) break;
    await new Promise(resolve => setTimeout(resolve, 100));
  }
  server = await startHttp(cleanEnv({ PROMETHEUS_URL: prometheus.url, DEVOPS_MCP_HTTP_TOKEN: TOKEN }));
});

afterAll(async () => {
  await server.kill();
  await prometheus.stop();
  await target.close();
});

/** A raw request, so tests can send the Host header a browser under DNS rebinding would. */
function raw(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, method, path, headers }, res => {
      // An event stream stays open: its status and headers are what the test needs.
      if (res.headers['content-type']?.includes('text/event-stream')) {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '' });
        res.destroy();
        return;
      }
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text });
      });
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const auth = { authorization: `Bearer ${TOKEN}` };
const json = { 'content-type': 'application/json', accept: ACCEPT };

describe('devops-mcp serve --http', () => {
  it('serves tools to an SDK client carrying the bearer token', async () => {
    const client = new Client({ name: 'e2e', version: '1' });
    const transport = new StreamableHTTPClientTransport(new URL(server.url), {
      requestInit: { headers: auth },
    });
    await client.connect(transport);
    expect(transport.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect((await client.listTools()).tools.map(t => t.name)).toContain('query_prometheus');
    const result = await client.callTool({
      name: 'query_prometheus',
      arguments: { query: 'orders_pending' },
    });
    expect(result.structuredContent).toMatchObject({ result_type: 'vector', series: [{ value: 3 }] });
    await transport.terminateSession();
    await client.close();
  });

  it('opens the GET event stream, and forgets a session after DELETE', async () => {
    const init = await raw('POST', '/mcp', { ...auth, ...json }, INIT);
    expect(init.status).toBe(200);
    const session = String(init.headers['mcp-session-id']);
    const headers = { ...auth, ...json, 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' };
    await raw('POST', '/mcp', headers, { jsonrpc: '2.0', method: 'notifications/initialized' });
    const stream = await raw('GET', '/mcp', { ...headers, accept: 'text/event-stream' });
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toContain('text/event-stream');
    expect((await raw('DELETE', '/mcp', headers)).status).toBe(200);
    const after = await raw('POST', '/mcp', headers, { jsonrpc: '2.0', id: 2, method: 'tools/list' });
    expect(after.status).toBe(404);
  });

  it('gives two clients two sessions', async () => {
    const a = await raw('POST', '/mcp', { ...auth, ...json }, INIT);
    const b = await raw('POST', '/mcp', { ...auth, ...json }, INIT);
    expect(a.headers['mcp-session-id']).not.toEqual(b.headers['mcp-session-id']);
  });

  it('refuses requests without the right token', async () => {
    const none = await raw('POST', '/mcp', json, INIT);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toContain('Bearer');
    expect(
      (await raw('POST', '/mcp', { ...json, authorization: 'Bearer wrong-token-wrong-token' }, INIT)).status,
    ).toBe(401);
    expect((await raw('GET', '/healthz', {})).status).toBe(401);
  });

  it('refuses a foreign Host or Origin (DNS rebinding) and accepts local ones', async () => {
    expect((await raw('POST', '/mcp', { ...auth, ...json, host: 'evil.example.com' }, INIT)).status).toBe(
      403,
    );
    const evilOrigin = { ...auth, ...json, origin: 'http://evil.example.com' };
    expect((await raw('POST', '/mcp', evilOrigin, INIT)).status).toBe(403);
    const localOrigin = { ...auth, ...json, origin: `http://localhost:${server.port}` };
    expect((await raw('POST', '/mcp', localOrigin, INIT)).status).toBe(200);
    expect(
      (await raw('POST', '/mcp', { ...auth, ...json, host: `localhost:${server.port}` }, INIT)).status,
    ).toBe(200);
  });

  it('answers /healthz, 404 elsewhere, and 400 for a request without a session', async () => {
    const health = await raw('GET', '/healthz', auth);
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ status: 'ok', version: '0.1.0' });
    expect((await raw('GET', '/admin', auth)).status).toBe(404);
    expect(
      (await raw('POST', '/mcp', { ...auth, ...json }, { jsonrpc: '2.0', id: 5, method: 'tools/list' }))
        .status,
    ).toBe(400);
    expect((await raw('POST', '/mcp', { ...auth, ...json }, undefined)).status).toBe(400);
  });

  it('refuses to listen off loopback without a token, naming the setting', async () => {
    const result = await run(['serve', '--http', '--host', '0.0.0.0', '--port', '0'], cleanEnv());
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'DEVOPS_MCP_HTTP_TOKEN: required when serving HTTP on a non-loopback host',
    );
  });

  it('rejects bad flags with usage', async () => {
    const result = await run(['serve', '--port', '80'], cleanEnv());
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--host and --port need --http');
  });

  it('exits 0 on SIGTERM', async () => {
    const other = await startHttp(cleanEnv());
    expect(await other.kill('SIGTERM')).toBe(0);
  });
});

describe('idle sessions', () => {
  it('keeps a session while its GET event stream is open, and reaps it once the stream has closed', async () => {
    const ctx = createContext(await loadConfig({ env: { DEVOPS_MCP_DB: ':memory:' } }), {
      logDestination: new Writable({
        write: (_c, _e, done) => {
          done();
        },
      }),
    });
    // The reaper looks every sessionIdleMs: a short limit keeps the test short.
    const idle = await startHttpServer(ctx, {
      host: '127.0.0.1',
      port: 0,
      token: undefined,
      allowedHosts: [],
      allowedOrigins: [],
      maxSessions: 4,
      sessionIdleMs: 200,
    });
    try {
      const post = (body: unknown, session?: string) =>
        fetch(idle.url, {
          method: 'POST',
          headers: {
            ...json,
            ...(session ? { 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' } : {}),
          },
          body: JSON.stringify(body),
        });
      const init = await post(INIT);
      const session = init.headers.get('mcp-session-id') ?? '';
      await init.text();
      await (await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, session)).text();
      const listening = new AbortController();
      const stream = await fetch(idle.url, {
        headers: {
          accept: 'text/event-stream',
          'mcp-session-id': session,
          'mcp-protocol-version': '2025-06-18',
        },
        signal: listening.signal,
      });
      expect(stream.status).toBe(200);
      await sleep(1000);
      const during = await post({ jsonrpc: '2.0', id: 2, method: 'tools/list' }, session);
      await during.text();
      expect(during.status).toBe(200);
      listening.abort();
      await sleep(1000);
      const after = await post({ jsonrpc: '2.0', id: 3, method: 'tools/list' }, session);
      await after.text();
      expect(after.status).toBe(404);
    } finally {
      await idle.close();
      await ctx.close();
    }
  });
});

describe('refused initialize requests', () => {
  it('leave no server behind: nothing keeps listening to the incident feed, whatever the number', async () => {
    const ctx = createContext(await loadConfig({ env: { DEVOPS_MCP_DB: ':memory:' } }), {
      logDestination: new Writable({
        write: (_c, _e, done) => {
          done();
        },
      }),
    });
    let listening = 0;
    const subscribe = ctx.changes.subscribe.bind(ctx.changes);
    ctx.changes.subscribe = listener => {
      listening++;
      const stop = subscribe(listener);
      return () => {
        listening--;
        stop();
      };
    };
    const served = await startHttpServer(ctx, {
      host: '127.0.0.1',
      port: 0,
      token: undefined,
      allowedHosts: [],
      allowedOrigins: [],
      maxSessions: 4,
      sessionIdleMs: 60_000,
    });
    try {
      for (let i = 0; i < 20; i++) {
        // No Accept header: the transport answers 406 and opens no session.
        const refused = await fetch(served.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(INIT),
        });
        await refused.text();
        expect(refused.status).toBe(406);
      }
      expect(listening).toBe(0);
      const opened = await fetch(served.url, { method: 'POST', headers: json, body: JSON.stringify(INIT) });
      await opened.text();
      expect(opened.status).toBe(200);
      expect(listening).toBe(1);
    } finally {
      await served.close();
      await ctx.close();
    }
  });
});
