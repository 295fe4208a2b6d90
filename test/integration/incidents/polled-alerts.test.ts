// Polled alerts and whose they are: two watchers on one store, each on its own Prometheus, leave each other's alerts
// alone; an alert that came by webhook first ends when the Prometheus that polled it stops reporting it; and a
// subscriber hears of what the resources show changing without a timeline event (new annotation text, the
// pending alerts).

import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALERTMANAGER_SOURCE, fingerprintOf } from '../../../src/incidents/alerts.ts';
import { ingest } from '../../../src/incidents/intake.ts';
import { createWatcher, type Watcher } from '../../../src/incidents/watcher.ts';
import { connect, type Connected } from '../../support/mcp.ts';
import { startMetricsTarget, type MetricsTarget } from '../../support/metrics-target.ts';
import { startPrometheus, type PrometheusServer } from '../../support/prometheus.ts';
import { waitFor } from '../../support/wait.ts';

const rule = (name: string, expr: string, service: string, extra = '') => `
      - alert: ${name}
        expr: ${expr}
        labels: { service: ${service}, severity: warning }${extra}`;

let dir: string;
let target: MetricsTarget;
let east: PrometheusServer;
let west: PrometheusServer;
let one: Connected;
let two: Connected;
let eastWatcher: Watcher;
let westWatcher: Watcher;
const updated: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'devops-mcp-polled-'));
  target = await startMetricsTarget();
  for (const name of ['checkout_down', 'search_down', 'queue_full', 'disk_latency', 'backlog'])
    target.set(name, {}, 0);
  [east, west] = await Promise.all([
    startPrometheus({
      targets: [target.address],
      scrapeInterval: '200ms',
      rules: `groups:
  - name: east
    rules:${rule('CheckoutDown', 'checkout_down > 0', 'checkout')}${rule('QueueFull', 'queue_full > 0', 'queue')}${rule(
      'SlowDisk',
      'disk_latency > 1',
      'disk',
      '\n        annotations: { summary: "latency is {{ $value }}" }',
    )}${rule('BacklogHigh', 'backlog > 0', 'backlog', '\n        for: 1h')}
`,
    }),
    startPrometheus({
      targets: [target.address],
      scrapeInterval: '200ms',
      rules: `groups:
  - name: west
    rules:${rule('SearchDown', 'search_down > 0', 'search')}
`,
    }),
  ]);
  const config = join(dir, 'devops-mcp.json');
  writeFileSync(config, JSON.stringify({ incidents: { quietSeconds: 300 } }));
  const db = join(dir, 'incidents.db');
  one = await connect({ PROMETHEUS_URL: east.url, DEVOPS_MCP_CONFIG: config, DEVOPS_MCP_DB: db });
  two = await connect({ PROMETHEUS_URL: west.url, DEVOPS_MCP_CONFIG: config, DEVOPS_MCP_DB: db });
  one.client.setNotificationHandler(ResourceUpdatedNotificationSchema, notification => {
    updated.push(notification.params.uri);
  });
  eastWatcher = createWatcher(one.ctx, { intervalMs: 60_000 });
  westWatcher = createWatcher(two.ctx, { intervalMs: 60_000 });
}, 60_000);

afterAll(async () => {
  await eastWatcher.stop();
  await westWatcher.stop();
  await one.close();
  await two.close();
  await Promise.all([east.stop(), west.stop()]);
  await target.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The alerts a Prometheus reports now. */
async function reported(prometheus: PrometheusServer): Promise<any[]> {
  const body = (await (await fetch(`${prometheus.url}/api/v1/alerts`)).json()) as any;
  return body.data.alerts;
}

async function incident(title: string): Promise<any> {
  const list = (await one.call('list_incidents', { status: 'all' })).structuredContent as any;
  const row = list.incidents.find((i: any) => i.title === title);
  return row && (await one.call('get_incident', { id: row.id })).structuredContent;
}

const events = (view: any): string[] => view.timeline.map((e: any) => `${e.kind}: ${e.summary}`);

describe('two watchers on one store, each on its own Prometheus', () => {
  it("leave each other's alerts firing, poll after poll", async () => {
    target.set('checkout_down', {}, 1);
    target.set('search_down', {}, 1);
    await waitFor(async () => (await reported(east)).some(a => a.state === 'firing'));
    await waitFor(async () => (await reported(west)).some(a => a.state === 'firing'));
    for (let round = 0; round < 3; round++) {
      await eastWatcher.poll();
      await westWatcher.poll();
    }
    for (const title of ['CheckoutDown on service=checkout', 'SearchDown on service=search']) {
      const view = await incident(title);
      expect(view.status).toBe('open');
      expect(view.alerts.map((a: any) => a.state)).toEqual(['firing']);
      expect(events(view)).toEqual([
        `opened: opened by ${title.split(' ')[0]}`,
        `alert_firing: ${title.split(' ')[0]} firing`,
      ]);
    }
  }, 30_000);
});

describe('an alert that came by webhook before a poll saw it', () => {
  it('resolves when the Prometheus that polled it stops reporting it, though no "resolved" came', async () => {
    const labels = {
      alertname: 'QueueFull',
      instance: target.address,
      job: 'test',
      service: 'queue',
      severity: 'warning',
    };
    await ingest(one.ctx, [
      {
        fingerprint: fingerprintOf(labels),
        labels,
        annotations: {},
        state: 'firing',
        startsAt: Date.now() / 1000,
        source: ALERTMANAGER_SOURCE,
      },
    ]);
    target.set('queue_full', {}, 1);
    await waitFor(async () => (await reported(east)).some(a => a.labels.alertname === 'QueueFull'));
    await eastWatcher.poll();
    await westWatcher.poll();
    expect((await incident('QueueFull on service=queue')).alerts[0].state).toBe('firing');

    target.set('queue_full', {}, 0);
    await waitFor(async () => !(await reported(east)).some(a => a.labels.alertname === 'QueueFull'));
    await eastWatcher.poll();
    const view = await incident('QueueFull on service=queue');
    expect(view.alerts[0].state).toBe('resolved');
    expect(events(view)).toContain('alert_resolved: QueueFull resolved');
  }, 30_000);
});

describe('a subscriber', () => {
  it("hears that an alert's annotation changed, with nothing added to the timeline", async () => {
    target.set('disk_latency', {}, 5);
    const summary = async (text: string) =>
      (await reported(east)).some(a => a.annotations.summary === text && a.state === 'firing');
    await waitFor(async () => summary('latency is 5'));
    await eastWatcher.poll();
    const first = await incident('SlowDisk on service=disk');
    await one.client.subscribeResource({ uri: `incident://${first.id}` });

    target.set('disk_latency', {}, 7);
    await waitFor(async () => summary('latency is 7'));
    updated.length = 0;
    await eastWatcher.poll();
    expect(updated).toContain(`incident://${first.id}`);
    const view = await incident('SlowDisk on service=disk');
    expect(view.alerts[0].annotations).toEqual({ summary: 'latency is 7' });
    expect(view.timeline).toHaveLength(first.timeline.length);
  }, 30_000);

  it('of incident://active hears that an alert became pending, and that it went away', async () => {
    await one.client.subscribeResource({ uri: 'incident://active' });
    const pending = async () => (await reported(east)).some(a => a.labels.alertname === 'BacklogHigh');
    target.set('backlog', {}, 1);
    await waitFor(pending);
    updated.length = 0;
    await eastWatcher.poll();
    expect(updated).toContain('incident://active');

    target.set('backlog', {}, 0);
    await waitFor(async () => !(await pending()));
    updated.length = 0;
    await eastWatcher.poll();
    expect(updated).toContain('incident://active');
  }, 30_000);
});
