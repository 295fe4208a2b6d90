// A flapping alert from a real Prometheus rule: firing again inside the quiet period keeps the incident open;
// firing again soon after it resolved reopens it; much later, a new incident opens. The clock of devops-mcp is
// the test's, so the quiet period and the window pass without waiting.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWatcher, type Watcher } from '../../../src/incidents/watcher.ts';
import { connect, type Connected } from '../../support/mcp.ts';
import { startMetricsTarget, type MetricsTarget } from '../../support/metrics-target.ts';
import { startPrometheus, type PrometheusServer } from '../../support/prometheus.ts';
import { waitFor } from '../../support/wait.ts';

let dir: string;
let target: MetricsTarget;
let prometheus: PrometheusServer;
let mcp: Connected;
let watcher: Watcher;
let clock = Date.now() / 1000;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'devops-mcp-flap-'));
  target = await startMetricsTarget();
  target.set('queue_stuck', { queue: 'orders' }, 0);
  prometheus = await startPrometheus({
    targets: [target.address],
    scrapeInterval: '200ms',
    rules: `groups:
  - name: orders
    rules:
      - alert: QueueStuck
        expr: queue_stuck > 0
        labels: { service: orders, severity: warning }
      - alert: InvoicesLate
        expr: invoices_late > 0
        for: 3s
        labels: { service: billing, severity: critical }
`,
  });
  const config = join(dir, 'devops-mcp.json');
  writeFileSync(config, JSON.stringify({ incidents: { quietSeconds: 60, windowSeconds: 600 } }));
  mcp = await connect({ PROMETHEUS_URL: prometheus.url, DEVOPS_MCP_CONFIG: config }, () => clock);
  watcher = createWatcher(mcp.ctx, { intervalMs: 60_000 });
}, 60_000);

afterAll(async () => {
  await watcher.stop();
  await mcp.close();
  await prometheus.stop();
  await target.close();
  rmSync(dir, { recursive: true, force: true });
});

async function incidents(): Promise<any[]> {
  const result = await mcp.call('list_incidents', { status: 'all' });
  return (result.structuredContent as any).incidents.filter((i: any) => i.title.endsWith('service=orders'));
}

/** Polls (as the watcher's timer would) until the incidents match. */
async function until(check: (list: any[]) => boolean): Promise<any[]> {
  return waitFor(async () => {
    await watcher.poll();
    const list = await incidents();
    return check(list) ? list : undefined;
  });
}

async function active(): Promise<any> {
  const first = (await mcp.client.readResource({ uri: 'incident://active' })).contents[0];
  return JSON.parse(first && 'text' in first ? first.text : '{}');
}

describe('a pending alert', () => {
  it('is noted while its rule waits out `for`, and opens an incident once it fires', async () => {
    target.set('invoices_late', {}, 1);
    const noted = await waitFor(async () => {
      await watcher.poll();
      const view = await active();
      return view.pending?.length > 0 ? view : undefined;
    });
    expect(noted.pending).toEqual([
      { alert: 'InvoicesLate', group: 'service=billing', since: expect.any(String) },
    ]);
    expect(noted.incidents).toEqual([]);
    const fired = await waitFor(async () => {
      await watcher.poll();
      const view = await active();
      return view.incidents.length > 0 ? view : undefined;
    });
    expect(fired.incidents[0]).toMatchObject({
      title: 'InvoicesLate on service=billing',
      severity: 'critical',
    });
    expect(fired.pending).toBeUndefined();
    // Gone again, so that the flapping test below starts from a quiet store.
    target.set('invoices_late', {}, 0);
    await waitFor(async () => {
      await watcher.poll();
      return (await active()).incidents[0]?.status === 'open (resolving)';
    });
    clock += 61;
    await watcher.poll();
    expect((await active()).incidents).toEqual([]);
  }, 60_000);
});

describe('a flapping alert', () => {
  it('stays one incident through the quiet period, reopens within the window, and is new after it', async () => {
    target.set('queue_stuck', { queue: 'orders' }, 1);
    let list = await until(l => l.length === 1);
    expect(list[0]).toMatchObject({ id: 2, status: 'open', firing: 1 });

    target.set('queue_stuck', { queue: 'orders' }, 0);
    await until(l => l[0]?.status === 'open (resolving)');
    clock += 30; // inside the 60 s quiet period
    target.set('queue_stuck', { queue: 'orders' }, 1);
    list = await until(l => l[0]?.status === 'open' && l[0]?.firing === 1);
    expect(list).toHaveLength(1);
    const timeline = (await mcp.call('get_incident', { id: 2 })).structuredContent as any;
    expect(timeline.timeline.map((e: any) => e.summary)).toContainEqual(
      'QueueStuck firing again during the quiet period: resolution cancelled',
    );

    // Resolved for good once quiet for 60 s.
    target.set('queue_stuck', { queue: 'orders' }, 0);
    await until(l => l[0]?.status === 'open (resolving)');
    clock += 61;
    await until(l => l[0]?.status === 'resolved');

    // Back within the 600 s window: the same incident, reopened.
    clock += 100;
    target.set('queue_stuck', { queue: 'orders' }, 1);
    list = await until(l => l[0]?.status === 'open');
    expect(list.map(i => i.id)).toEqual([2]);

    // Resolved again, and back after the window: a new incident.
    target.set('queue_stuck', { queue: 'orders' }, 0);
    await until(l => l[0]?.status === 'open (resolving)');
    clock += 61;
    await until(l => l[0]?.status === 'resolved');
    clock += 601;
    target.set('queue_stuck', { queue: 'orders' }, 1);
    list = await until(l => l.length === 2);
    expect(list.map(i => [i.id, i.status])).toEqual([
      [3, 'open'],
      [2, 'resolved'],
    ]);
  }, 90_000);
});
