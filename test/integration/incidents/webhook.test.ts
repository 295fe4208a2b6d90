// POST /alerts, the Alertmanager webhook receiver, on the real HTTP server: every way a payload can arrive.

import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.ts';
import { createContext, type Context } from '../../../src/context.ts';
import { startHttpServer, type RunningHttpServer } from '../../../src/http.ts';
import { PAYLOAD } from '../../support/alertmanager.ts';
import { processOwner } from '../../../src/lib/owner.ts';
import { logSink } from '../../support/logs.ts';

const TOKEN = 'webhook-token-0123456789abcdef';
let ctx: Context;
let server: RunningHttpServer;

beforeAll(async () => {
  const config = await loadConfig({ env: { DEVOPS_MCP_HTTP_TOKEN: TOKEN } });
  ctx = createContext(
    { ...config, incidents: { ...config.incidents, webhookMaxBytes: 64 * 1024 } },
    {
      owner: processOwner(),
      logDestination: logSink().destination,
    },
  );
  server = await startHttpServer(ctx, {
    host: '127.0.0.1',
    port: 0,
    token: TOKEN,
    allowedHosts: [],
    allowedOrigins: [],
    maxSessions: 4,
    sessionIdleMs: 60_000,
  });
});

afterAll(async () => {
  await server.close();
  await ctx.close();
});

function post(
  body: string | Buffer,
  headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` },
  method = 'POST',
): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: server.port,
        method,
        path: '/alerts',
        headers: { 'content-type': 'application/json', ...headers },
      },
      res => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body: text === '' ? undefined : JSON.parse(text) });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const count = async (): Promise<number> =>
  (await ctx.store()).incidents.list({ status: 'all', limit: 1000 }).length;

describe('POST /alerts (Alertmanager webhook, payload version 4)', () => {
  it('refuses a request without the token, or with a wrong one, and stores nothing', async () => {
    expect((await post(JSON.stringify(PAYLOAD), {})).status).toBe(401);
    expect(
      (await post(JSON.stringify(PAYLOAD), { authorization: 'Bearer not-the-token-at-all' })).status,
    ).toBe(401);
    expect(
      (await post(JSON.stringify(PAYLOAD), { authorization: `Bearer ${TOKEN}`, host: 'evil.example.com' }))
        .status,
    ).toBe(403);
    expect(await count()).toBe(0);
  });

  it('answers 400 naming the problem for malformed JSON, a wrong version, a huge body, and stores nothing', async () => {
    const malformed = await post('{"version": "4", "alerts": [');
    expect(malformed.status).toBe(400);
    expect(malformed.body.error).toMatch(/^Bad Request: the body is not JSON: .*; nothing was stored$/);

    const wrongVersion = await post(JSON.stringify({ ...PAYLOAD, version: '3' }));
    expect(wrongVersion).toEqual({
      status: 400,
      body: {
        status: 'error',
        error:
          'Bad Request: version "3" is not supported: this receiver takes Alertmanager\'s webhook payload version "4"; nothing was stored',
      },
    });

    const huge = {
      ...PAYLOAD,
      alerts: Array.from({ length: 2000 }, (_, i) => ({
        ...PAYLOAD.alerts[0],
        labels: { alertname: `A${i}`, service: 'x' },
      })),
    };
    const tooBig = await post(JSON.stringify(huge));
    expect(tooBig).toEqual({
      status: 400,
      body: {
        status: 'error',
        error:
          'Bad Request: the body is larger than 65536 bytes (incidents.webhookMaxBytes); nothing was stored',
      },
    });

    const badField = await post(
      JSON.stringify({ ...PAYLOAD, alerts: [{ ...PAYLOAD.alerts[0], status: 'burning' }] }),
    );
    expect(badField.status).toBe(400);
    expect(badField.body.error).toMatch(/^Bad Request: alerts\.0\.status: /);
    expect((await post('', { authorization: `Bearer ${TOKEN}` }, 'GET')).status).toBe(405);
    expect(await count()).toBe(0);
  });

  it('opens an incident from a valid payload, and resolves its alert from the resolved notification', async () => {
    const accepted = await post(JSON.stringify(PAYLOAD));
    expect(accepted).toEqual({ status: 200, body: { status: 'ok', alerts: 1, incidents: [1] } });
    const store = await ctx.store();
    expect(store.incidents.get(1)).toMatchObject({
      status: 'open',
      severity: 'critical',
      group_key: 'service=checkout',
    });
    expect(store.incidents.alerts(1)[0]).toMatchObject({
      name: 'HighErrorRate',
      state: 'firing',
      source: 'alertmanager',
      generator_url: 'http://prometheus:9090/graph?g0.expr=x',
    });
    // Alertmanager repeats a group: nothing new.
    expect((await post(JSON.stringify(PAYLOAD))).body.incidents).toEqual([]);
    const resolved = {
      ...PAYLOAD,
      status: 'resolved',
      alerts: [{ ...PAYLOAD.alerts[0], status: 'resolved', endsAt: '2026-12-01T10:05:00Z' }],
    };
    expect((await post(JSON.stringify(resolved))).body.incidents).toEqual([1]);
    expect(store.incidents.alerts(1)[0]).toMatchObject({
      state: 'resolved',
      ends_at: Date.parse('2026-12-01T10:05:00Z') / 1000,
    });
    expect(store.incidents.get(1)?.quiet_since).not.toBeNull();
    expect(await count()).toBe(1);
  });
});
