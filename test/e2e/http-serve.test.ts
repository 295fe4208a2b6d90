import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { once } from 'node:events';
import { request } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { createContext } from '../../src/context.ts';
import { startHttpServer, type HttpOptions } from '../../src/http.ts';
import { cleanEnv, run, startHttp, type HttpServe } from '../support/bin.ts';
import { startMetricsTarget, type MetricsTarget } from '../support/metrics-target.ts';
import { startPrometheus, type PrometheusServer } from '../support/prometheus.ts';
import { logSink } from '../support/logs.ts';
import { waitFor } from '../support/wait.ts';

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
  port = server.port,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, res => {
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

describe('the Host and Origin allow-lists', () => {
  /** GET /healthz on `port`: the Host and Origin checks come before any route. */
  const health = async (port: number, headers: Record<string, string>) => {
    const answer = await raw('GET', '/healthz', headers, undefined, port);
    return answer.status === 403 ? `403 ${String(JSON.parse(answer.body).error.message)}` : answer.status;
  };

  it('accept a Host named in http.allowedHosts, at any port, and still refuse others', async () => {
    const here = await serveHere({ allowedHosts: ['mcp.internal'] });
    try {
      const port = here.served.port;
      expect(await health(port, { host: 'mcp.internal' })).toBe(200);
      expect(await health(port, { host: 'MCP.internal:8443' })).toBe(200);
      // A page of that host may call the server too.
      expect(await health(port, { host: 'mcp.internal', origin: 'https://mcp.internal' })).toBe(200);
      expect(await health(port, { host: 'evil.example.com' })).toBe(
        '403 Forbidden: Host evil.example.com is not allowed',
      );
    } finally {
      await here.close();
    }
  });

  it('accept an Origin named in http.allowedOrigins, and refuse another, even of the same name', async () => {
    const here = await serveHere({ allowedOrigins: ['https://app.example.com'] });
    try {
      const port = here.served.port;
      expect(await health(port, { origin: 'https://app.example.com' })).toBe(200);
      expect(await health(port, { origin: 'https://app.example.com/' })).toBe(200);
      expect(await health(port, { origin: 'https://other.example.com' })).toBe(
        '403 Forbidden: Origin https://other.example.com is not allowed',
      );
      expect(await health(port, { origin: 'http://app.example.com' })).toBe(
        '403 Forbidden: Origin http://app.example.com is not allowed',
      );
    } finally {
      await here.close();
    }
  });

  it('on a wildcard bind without allowedHosts, take any Host but only an Origin of that same host', async () => {
    // Reached over loopback only; the token is what guards such a bind.
    const here = await serveHere({ host: '0.0.0.0', token: TOKEN });
    try {
      const port = here.served.port;
      expect(await health(port, {})).toBe(401);
      expect(await health(port, { ...auth })).toBe(200);
      expect(await health(port, { ...auth, origin: `http://127.0.0.1:${port}` })).toBe(200);
      expect(await health(port, { ...auth, origin: 'http://evil.example.com' })).toBe(
        '403 Forbidden: Origin http://evil.example.com is not allowed',
      );
      const named = { ...auth, host: `mcp.example.net:${port}` };
      expect(await health(port, named)).toBe(200);
      expect(await health(port, { ...named, origin: 'https://mcp.example.net' })).toBe(200);
      expect(await health(port, { ...named, origin: `http://127.0.0.1:${port}` })).toBe(
        `403 Forbidden: Origin http://127.0.0.1:${port} is not allowed`,
      );
    } finally {
      await here.close();
    }
  });
});

describe('idle sessions', () => {
  it('keeps a session while its GET event stream is open, and reaps it once the stream has closed', async () => {
    // The reaper looks every sessionIdleMs: a short limit keeps the test short.
    const here = await serveHere({ sessionIdleMs: 200 });
    try {
      const listened = await here.open();
      const listening = new AbortController();
      const stream = await fetch(here.served.url, {
        headers: { ...here.headers(listened), accept: 'text/event-stream' },
        signal: listening.signal,
      });
      expect(stream.status).toBe(200);
      // Opened after the stream, so seen later than the listened-to session: once the reaper takes it, it has
      // passed over the other one too while that one was past the idle limit, and kept it only for its stream.
      const quiet = await here.open();
      await waitFor(() => reaped(here.logs, quiet));
      expect(reaped(here.logs, listened)).toBe(false);
      expect(await ping(here, listened)).toBe(200);
      listening.abort();
      await waitFor(() => reaped(here.logs, listened));
      await waitFor(async () => (await ping(here, listened)) === 404);
    } finally {
      await here.close();
    }
  });
});

describe('refused initialize requests', () => {
  it('leave no server behind: nothing keeps listening to the incident feed, whatever the number', async () => {
    const here = await serveHere();
    const { ctx, served } = here;
    // Each session's server subscribes when it is made: counting from here on counts them all.
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
      await here.close();
    }
  });
});

/** `startHttpServer` in this process, with its log lines kept. */
async function serveHere(options: Partial<HttpOptions> = {}, env: Record<string, string> = {}) {
  const logs: string[] = [];
  const ctx = createContext(await loadConfig({ env: { DEVOPS_MCP_DB: ':memory:', ...env } }), {
    logDestination: logSink(logs).destination,
  });
  const served = await startHttpServer(ctx, {
    host: '127.0.0.1',
    port: 0,
    token: undefined,
    allowedHosts: [],
    allowedOrigins: [],
    maxSessions: 4,
    sessionIdleMs: 60_000,
    ...options,
  });
  const headers = (session?: string) => ({
    ...json,
    ...(session ? { 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' } : {}),
  });
  const post = (body: unknown, session?: string) =>
    fetch(served.url, { method: 'POST', headers: headers(session), body: JSON.stringify(body) });
  /** A new session, initialized. */
  const open = async (): Promise<string> => {
    const init = await post(INIT);
    await init.text();
    const session = init.headers.get('mcp-session-id') ?? '';
    await (await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, session)).text();
    return session;
  };
  return {
    ctx,
    served,
    logs,
    headers,
    post,
    open,
    async close() {
      await served.close();
      await ctx.close();
    },
  };
}

/**
 * Whether the idle reaper has logged closing `session`. Polling the session itself would not do: every request to
 * it counts as use, and would keep it from ever going idle.
 */
function reaped(logs: readonly string[], session: string): boolean {
  return logs.some(line => line.includes('closing idle session') && line.includes(session));
}

/** The status a ping on `session` gets. */
async function ping(here: { post: (body: unknown, session?: string) => Promise<Response> }, session: string) {
  const answer = await here.post({ jsonrpc: '2.0', id: 99, method: 'ping' }, session);
  await answer.text();
  return answer.status;
}

/** A backend that accepts connections and never answers, counting them: a call is under way once one came. */
async function hangingBackend(): Promise<{ url: string; connections: () => number; close: () => void }> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const hung = createServer(socket => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>(resolve => hung.listen(0, '127.0.0.1', resolve));
  const { port } = hung.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => connections,
    close: () => {
      for (const socket of sockets) socket.destroy();
      hung.close();
    },
  };
}

describe('a cancelled call', () => {
  it('has its event stream closed, so its session can go idle', async () => {
    // Accepts connections and never answers: the call waits on Prometheus until it is cancelled.
    const silent = await hangingBackend();
    const here = await serveHere({ sessionIdleMs: 200 }, { PROMETHEUS_URL: silent.url });
    try {
      const session = await here.open();
      const call = await here.post(
        {
          jsonrpc: '2.0',
          id: 2,
          method: 'tools/call',
          params: { name: 'query_prometheus', arguments: { query: 'up' } },
        },
        session,
      );
      expect(call.headers.get('content-type')).toContain('text/event-stream');
      const ended = call.text().then(() => 'ended');
      // Cancelled once it is waiting on Prometheus, not before the server has taken it up.
      await waitFor(() => silent.connections() > 0);
      const cancel = await here.post(
        { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 2, reason: 'test' } },
        session,
      );
      expect(cancel.status).toBe(202);
      // No response comes (the specification says none is sent), but the stream ends; left open, it would stay so
      // for ever (a keepalive every 15 s), so a deadline far past any wait for the abort tells the two apart.
      expect(await Promise.race([ended, sleep(10_000).then(() => 'still open')])).toBe('ended');
      await waitFor(() => reaped(here.logs, session));
      await waitFor(async () => (await ping(here, session)) === 404);
    } finally {
      await here.close();
      silent.close();
    }
  });

  it("closes a batch's stream only once its other requests are answered", async () => {
    const silent = await hangingBackend();
    const here = await serveHere({}, { PROMETHEUS_URL: silent.url });
    try {
      const session = await here.open();
      const batch = await here.post(
        [
          {
            jsonrpc: '2.0',
            id: 2,
            method: 'tools/call',
            params: { name: 'query_prometheus', arguments: { query: 'up' } },
          },
          { jsonrpc: '2.0', id: 3, method: 'ping' },
        ],
        session,
      );
      const body = batch.text();
      await waitFor(() => silent.connections() > 0);
      await (
        await here.post(
          { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 2 } },
          session,
        )
      ).text();
      const text = await Promise.race([body, sleep(10_000).then(() => 'still open')]);
      expect(text).toContain('"id":3');
      expect(text).not.toContain('"id":2');
    } finally {
      await here.close();
      silent.close();
    }
  });
});

describe('sessions at http.maxSessions', () => {
  // Only the clock: a session seen in the last 30 s may not go, and the tests move time on rather than wait.
  const later = (ms: number) => vi.advanceTimersByTime(ms);
  afterEach(() => {
    vi.useRealTimers();
  });

  it('make room by closing the least recently seen one without a stream, and refuse only when all have one', async () => {
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    const here = await serveHere({ maxSessions: 2 });
    try {
      const first = await here.open();
      const second = await here.open();
      // Both were seen just now: neither goes.
      const early = await here.post(INIT);
      expect(early.status).toBe(503);
      expect(early.headers.get('retry-after')).toBe('30');
      await early.text();
      later(31_000);
      // The first is seen again: the second is now the least recently seen, and seen too long ago to be kept.
      await (await here.post({ jsonrpc: '2.0', id: 2, method: 'ping' }, first)).text();
      const third = await here.open();
      expect(third).not.toBe('');
      const ping = async (session: string) => {
        const answer = await here.post({ jsonrpc: '2.0', id: 3, method: 'ping' }, session);
        await answer.text();
        return answer.status;
      };
      expect(await ping(second)).toBe(404);
      expect(await ping(first)).toBe(200);
      expect(await ping(third)).toBe(200);
      expect(here.logs.join('')).toContain(
        'closing the least recently seen session: http.maxSessions reached',
      );
      // With an event stream open in each, no session can go.
      const listening = new AbortController();
      for (const session of [first, third]) {
        const stream = await fetch(here.served.url, {
          headers: { ...here.headers(session), accept: 'text/event-stream' },
          signal: listening.signal,
        });
        expect(stream.status).toBe(200);
      }
      later(31_000);
      const refused = await here.post(INIT);
      expect(refused.status).toBe(503);
      expect(await refused.json()).toMatchObject({ error: { code: -32000 } });
      listening.abort();
    } finally {
      await here.close();
    }
  });

  it('keep a session whose request body is still arriving', async () => {
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    const here = await serveHere({ maxSessions: 1 });
    try {
      const session = await here.open();
      later(31_000);
      const body = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' });
      const slow = request(here.served.url, { method: 'POST', headers: here.headers(session) });
      const answered = new Promise<number>((resolve, reject) => {
        slow.on('response', res => {
          res.resume();
          res.on('end', () => {
            resolve(res.statusCode ?? 0);
          });
        });
        slow.on('error', reject);
      });
      slow.write(body.slice(0, 10));
      await sleep(200);
      const refused = await here.post(INIT);
      expect(refused.status).toBe(503);
      await refused.text();
      slow.end(body.slice(10));
      expect(await answered).toBe(200);
    } finally {
      await here.close();
    }
  });

  it('keep a session that an initialize the transport refuses would have taken the place of', async () => {
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    const here = await serveHere({ maxSessions: 1 });
    try {
      const session = await here.open();
      later(31_000);
      // No Accept header: the transport answers 406 and opens no session, so none has to make room for it.
      const refused = await fetch(here.served.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(INIT),
      });
      expect(refused.status).toBe(406);
      await refused.text();
      expect(await ping(here, session)).toBe(200);
      later(31_000);
      // One it takes still does.
      const next = await here.open();
      expect(await ping(here, next)).toBe(200);
      expect(await ping(here, session)).toBe(404);
    } finally {
      await here.close();
    }
  });

  it('refuse clients that connect at once rather than evict one that is still connecting', async () => {
    const here = await serveHere({ maxSessions: 2 });
    const clients: Client[] = [];
    try {
      await here.open();
      const connect = async (): Promise<string> => {
        const client = new Client({ name: 'e2e', version: '1' });
        clients.push(client);
        try {
          await client.connect(new StreamableHTTPClientTransport(new URL(here.served.url)));
          await client.ping();
          return 'connected';
        } catch (error) {
          return String(error);
        }
      };
      const outcomes = await Promise.all([connect(), connect(), connect()]);
      expect(outcomes.filter(o => o === 'connected')).toHaveLength(1);
      const refusals = outcomes.filter(o => o !== 'connected');
      expect(refusals).toHaveLength(2);
      for (const refusal of refusals) expect(refusal).toContain('Too many sessions');
    } finally {
      await Promise.allSettled(clients.map(c => c.close()));
      await here.close();
    }
  });
});

describe('request bodies', () => {
  it('answer 413 to a body over 4 MB, every time, rather than resetting the connection', async () => {
    const here = await serveHere();
    try {
      const session = await here.open();
      for (const mb of [5, 6, 7, 8, 5, 6, 7, 8, 5, 6, 7, 8]) {
        const body = JSON.stringify({
          jsonrpc: '2.0',
          id: 2,
          method: 'tools/call',
          params: { name: 'list_incidents', arguments: { since: 'x'.repeat(mb * 1024 * 1024) } },
        });
        const answer = await fetch(here.served.url, { method: 'POST', headers: here.headers(session), body });
        expect(answer.status).toBe(413);
        expect(await answer.json()).toMatchObject({
          error: { code: -32000, message: 'Request body too large' },
        });
      }
      // Past what is drained, reading stops: the answer says the connection closes.
      const huge = await fetch(here.served.url, {
        method: 'POST',
        headers: here.headers(session),
        body: Buffer.alloc(70 * 1024 * 1024, 'a'),
      });
      expect(huge.status).toBe(413);
      expect(huge.headers.get('connection')).toBe('close');
      expect((await here.post({ jsonrpc: '2.0', id: 3, method: 'ping' }, session)).status).toBe(200);
    } finally {
      await here.close();
    }
  });

  it('answer a body that is not JSON with the JSON-RPC parse error, and log it', async () => {
    const here = await serveHere();
    try {
      const session = await here.open();
      for (const body of ['{"jsonrpc":"2.0","id":1,"method":"initialize",', '']) {
        const answer = await fetch(here.served.url, { method: 'POST', headers: here.headers(session), body });
        expect(answer.status).toBe(400);
        expect(await answer.json()).toMatchObject({ error: { code: -32700 } });
      }
      // JSON that is not JSON-RPC: the transport refuses it and tells the server, which logs it.
      const wrong = await here.post({ foo: 1 }, session);
      expect(wrong.status).toBe(400);
      await wrong.text();
      const warnings = here.logs.filter(l => l.includes('"level":40')).join('');
      expect(warnings).toContain('Parse error: the body is not JSON');
      expect(warnings).toContain('MCP message dropped or failed');
    } finally {
      await here.close();
    }
  });
});

describe('refused requests in the log', () => {
  it('are cut, and at most ten a minute before a session exists, or for each session', async () => {
    const here = await serveHere();
    try {
      const refusals = () => here.logs.filter(line => line.includes('refused request'));
      // An Origin of 15 KB: Node takes headers up to 16 KB.
      const origin = `http://${'a'.repeat(15_000)}.com`;
      for (let i = 0; i < 15; i++) {
        const answer = await raw('GET', '/healthz', { origin }, undefined, here.served.port);
        expect(answer.status).toBe(403);
      }
      for (let i = 0; i < 5; i++) {
        const answer = await fetch(here.served.url, { method: 'POST', headers: json, body: `not json ${i}` });
        expect(answer.status).toBe(400);
        await answer.text();
      }
      expect(refusals()).toHaveLength(10);
      for (const line of refusals()) expect(line.length).toBeLessThan(1500);
      expect(refusals()[0]).toContain('"status":403');
      // On a session, its own limit: ten of these, whatever the refusals before it.
      const session = await here.open();
      for (let i = 0; i < 30; i++) {
        const answer = await fetch(here.served.url, {
          method: 'POST',
          headers: here.headers(session),
          body: `not json ${i}`,
        });
        expect(answer.status).toBe(400);
        await answer.text();
      }
      expect(here.logs.filter(line => line.includes('the body is not JSON'))).toHaveLength(10);
    } finally {
      await here.close();
    }
  });
});

describe('a client that goes away mid-body', () => {
  it('is a debug line, not an error with a stack', async () => {
    const here = await serveHere({}, { LOG_LEVEL: 'debug' });
    try {
      for (const path of ['/mcp', '/alerts']) {
        const socket = connect(here.served.port, '127.0.0.1');
        // With Expect: 100-continue the server says "continue" as it hands the request on: once that is heard, the
        // body is being read. The connection then closes 995 bytes short of the body it announced.
        socket.write(
          `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: ${ACCEPT}\r\nExpect: 100-continue\r\nContent-Length: 1000\r\n\r\n`,
        );
        await once(socket, 'data');
        socket.write('{"a":');
        socket.destroy();
        await waitFor(() =>
          here.logs.some(
            line =>
              line.includes('went away') &&
              line.includes(`"level":20`) &&
              line.includes(path === '/mcp' ? 'request body' : 'webhook body'),
          ),
        );
      }
      expect(here.logs.filter(line => /"level":(50|60)/.test(line))).toEqual([]);
      expect(here.logs.join('')).not.toContain('request failed');
    } finally {
      await here.close();
    }
  });
});
