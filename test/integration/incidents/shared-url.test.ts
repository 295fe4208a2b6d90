// Watchers whose Prometheus API shares one URL: Mimir (or Cortex, Thanos) tenants told apart by X-Scope-OrgID, and
// one URL load-balanced over the two replicas of an HA pair. Neither runs here, so a stand-in speaks the part of
// Prometheus's HTTP API the watcher reads, as those servers do.

import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWatcher } from '../../../src/incidents/watcher.ts';
import { connect, type Connected } from '../../support/mcp.ts';

const STARTED = '2026-01-01T00:00:00Z';
const firing = (alertname: string, service: string, activeAt: string) => ({
  labels: { alertname, service },
  annotations: {},
  state: 'firing',
  activeAt,
  value: '1',
});

let server: Server;
let url: string;
let dir: string;
let replica = 0;

/** Per tenant, its own alert; with no tenant, the replicas in turn, their activeAt 300 ms apart. */
function alertsFor(tenant: string | undefined) {
  if (tenant === 'a') return [firing('ADown', 'a', '2026-06-01T10:00:00Z')];
  if (tenant === 'b') return [firing('BDown', 'b', '2026-06-01T10:00:00Z')];
  replica ^= 1;
  return [firing('LbDown', 'lb', replica ? '2026-06-01T10:00:00.000Z' : '2026-06-01T10:00:00.300Z')];
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'devops-mcp-shared-url-'));
  server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://stand-in').pathname;
    const tenant = req.headers['x-scope-orgid'] as string | undefined;
    const data =
      path === '/api/v1/status/runtimeinfo'
        ? { startTime: STARTED }
        : path === '/api/v1/rules'
          ? { groups: [] }
          : path === '/api/v1/alerts'
            ? { alerts: alertsFor(tenant) }
            : undefined;
    res.setHeader('content-type', 'application/json');
    if (data === undefined) res.statusCode = 404;
    res.end(JSON.stringify(data === undefined ? { status: 'error' } : { status: 'success', data }));
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise(resolve => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

async function watching(name: string, headers: Record<string, string>, db: string): Promise<Connected> {
  const config = join(dir, `${name}.json`);
  writeFileSync(config, JSON.stringify({ incidents: { quietSeconds: 300 }, prometheus: { headers } }));
  return connect({ PROMETHEUS_URL: url, DEVOPS_MCP_CONFIG: config, DEVOPS_MCP_DB: db, LOG_LEVEL: 'silent' });
}

async function kindsOf(c: Connected, service: string): Promise<string[]> {
  const store = await c.ctx.store();
  const incident = store.incidents.list({ status: 'all', limit: 10 }).find(i => i.title.endsWith(service));
  return store.incidents.events(incident?.id ?? 0, 100).map(e => e.kind);
}

describe('watchers of one Prometheus API URL', () => {
  it('leave the alerts of another tenant (X-Scope-OrgID) firing, poll after poll', async () => {
    const db = join(dir, 'tenants.db');
    const a = await watching('a', { 'X-Scope-OrgID': 'a' }, db);
    const b = await watching('b', { 'X-Scope-OrgID': 'b' }, db);
    const watchers = [
      createWatcher(a.ctx, { intervalMs: 60_000 }),
      createWatcher(b.ctx, { intervalMs: 60_000 }),
    ];
    try {
      for (let i = 0; i < 3; i++) for (const watcher of watchers) await watcher.poll();
      expect(await kindsOf(a, 'service=a')).toEqual(['opened', 'alert_firing']);
      expect(await kindsOf(a, 'service=b')).toEqual(['opened', 'alert_firing']);
    } finally {
      for (const watcher of watchers) await watcher.stop();
      await a.close();
      await b.close();
    }
  });

  it('take the replicas of an HA pair behind it for one alert that never stopped firing', async () => {
    const c = await watching('lb', {}, join(dir, 'lb.db'));
    const watcher = createWatcher(c.ctx, { intervalMs: 60_000 });
    try {
      for (let i = 0; i < 6; i++) await watcher.poll();
      expect(await kindsOf(c, 'service=lb')).toEqual(['opened', 'alert_firing']);
    } finally {
      await watcher.stop();
      await c.close();
    }
  });
});
