// What a poll may conclude from Prometheus's answer over time: an alert that ended and fired again between two polls
// is a new episode; a Prometheus that restarted says nothing of an end, though it reports nothing of a rule until
// its group is first evaluated, and reports as pending again an alert whose `for` it did not restore.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWatcher, type Watcher } from '../../../src/incidents/watcher.ts';
import { connect, type Connected } from '../../support/mcp.ts';
import { startMetricsTarget, type MetricsTarget } from '../../support/metrics-target.ts';
import { freePort } from '../../support/ports.ts';
import { waitFor } from '../../support/wait.ts';

// CacheCold's group is evaluated every 5 s, so after a start Prometheus reports nothing of it for a while;
// DiskFull's `for` is shorter than Prometheus's grace period, so a restart makes it pending again.
const RULES = `groups:
  - name: slow
    interval: 5s
    rules:
      - alert: CacheCold
        expr: cache_cold > 0
        labels: { service: cache, severity: warning }
  - name: fast
    rules:
      - alert: DiskFull
        expr: disk_full > 0
        for: 2s
        labels: { service: disk, severity: warning }
      - alert: QueueStuck
        expr: queue_stuck > 0
        labels: { service: queue, severity: warning }
      - alert: JoinBroken
        expr: join_a * on() group_left() join_b > 0
        labels: { service: join, severity: warning }
`;

let dir: string;
let target: MetricsTarget;
let url: string;
let child: ChildProcess | undefined;
let mcp: Connected;
let watcher: Watcher;

/** Starts Prometheus on the same port and data directory each time, as a restart does. */
async function startPrometheus(port: number): Promise<void> {
  child = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: 'ignore' },
  );
  await waitFor(
    async () => {
      try {
        return (await fetch(`${url}/-/ready`)).ok;
      } catch {
        return false;
      }
    },
    30_000,
    50,
  );
}

async function stopPrometheus(): Promise<void> {
  const running = child;
  child = undefined;
  if (running?.exitCode !== null) return;
  const exited = new Promise(resolve => running.once('exit', resolve));
  running.kill('SIGTERM');
  await exited;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'devops-mcp-restart-'));
  target = await startMetricsTarget();
  for (const name of ['cache_cold', 'disk_full', 'queue_stuck', 'join_a']) target.set(name, {}, 0);
  target.set('join_b', { k: '1' }, 1);
  writeFileSync(join(dir, 'rules.yml'), RULES);
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global: { scrape_interval: 200ms, evaluation_interval: 500ms }',
      `rule_files: ['${join(dir, 'rules.yml')}']`,
      `scrape_configs: [{ job_name: test, static_configs: [{ targets: ['${target.address}'] }] }]`,
    ].join('\n'),
  );
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  await startPrometheus(port);
  const config = join(dir, 'devops-mcp.json');
  writeFileSync(config, JSON.stringify({ incidents: { quietSeconds: 2 } }));
  mcp = await connect({
    PROMETHEUS_URL: url,
    DEVOPS_MCP_CONFIG: config,
    DEVOPS_MCP_DB: join(dir, 'incidents.db'),
  });
  watcher = createWatcher(mcp.ctx, { intervalMs: 60_000 });
}, 60_000);

afterAll(async () => {
  await watcher.stop();
  await mcp.close();
  await stopPrometheus();
  await target.close();
  rmSync(dir, { recursive: true, force: true });
});

async function reported(name: string, state?: string): Promise<any> {
  const body = (await (await fetch(`${url}/api/v1/alerts`)).json()) as any;
  return body.data.alerts.find(
    (a: any) => a.labels.alertname === name && (state === undefined || a.state === state),
  );
}

const firing = (name: string) => reported(name, 'firing');

async function restart(): Promise<void> {
  await stopPrometheus();
  await startPrometheus(Number(new URL(url).port));
}

/** The health Prometheus gives the rule, once its group was evaluated since Prometheus started. */
async function evaluatedHealth(name: string): Promise<string | undefined> {
  const started = ((await (await fetch(`${url}/api/v1/status/runtimeinfo`)).json()) as any).data.startTime;
  const body = (await (await fetch(`${url}/api/v1/rules`)).json()) as any;
  for (const group of body.data.groups) {
    const rule = group.rules.find((r: any) => r.name === name);
    if (rule && Date.parse(group.lastEvaluation) >= Date.parse(started)) return rule.health;
  }
  return undefined;
}

async function incident(service: string): Promise<any> {
  const list = (await mcp.call('list_incidents', { status: 'all' })).structuredContent as any;
  const row = list.incidents.find((i: any) => i.title.endsWith(`service=${service}`));
  return row && (await mcp.call('get_incident', { id: row.id })).structuredContent;
}

const events = (view: any): string[] => view.timeline.map((e: any) => `${e.kind}: ${e.summary}`);

describe('an alert that ends and fires again between two polls', () => {
  it('is recorded as resolved, at an unknown time, then firing again from its new start', async () => {
    target.set('queue_stuck', {}, 1);
    const first = await waitFor(async () => firing('QueueStuck'));
    await watcher.poll();
    target.set('queue_stuck', {}, 0);
    await waitFor(async () => !(await firing('QueueStuck')));
    target.set('queue_stuck', {}, 1);
    const again = await waitFor(async () => firing('QueueStuck'));
    expect(Date.parse(again.activeAt)).toBeGreaterThan(Date.parse(first.activeAt));
    await watcher.poll();

    const view = await incident('queue');
    expect(view.status).toBe('open');
    expect(events(view).slice(2)).toEqual([
      expect.stringMatching(
        /^alert_resolved: QueueStuck ended between two polls: .*when it ended is not known$/,
      ),
      'alert_firing: QueueStuck firing again',
    ]);
    expect(view.alerts).toHaveLength(1);
    expect(Date.parse(view.alerts[0].starts)).toBe(Date.parse(again.activeAt));
  }, 30_000);
});

describe('a Prometheus restart', () => {
  it('resolves no alert whose condition holds throughout, and keeps when each started', async () => {
    target.set('cache_cold', {}, 1);
    target.set('disk_full', {}, 1);
    await waitFor(async () => (await firing('CacheCold')) && (await firing('DiskFull')));
    await watcher.poll();
    const starts = async () =>
      Promise.all(['cache', 'disk', 'queue'].map(async s => (await incident(s)).alerts[0].starts as string));
    const before = await starts();
    const timelines = await Promise.all(['cache', 'disk', 'queue'].map(async s => events(await incident(s))));

    await restart();
    // Polled as often as the watcher may: before the slow group's first evaluation, and while DiskFull is pending.
    await waitFor(
      async () => {
        await watcher.poll();
        const all = await Promise.all(['CacheCold', 'DiskFull', 'QueueStuck'].map(firing));
        return all.every(Boolean);
      },
      30_000,
      50,
    );
    await watcher.poll();

    expect(await starts()).toEqual(before);
    for (const [i, service] of ['cache', 'disk', 'queue'].entries()) {
      const view = await incident(service);
      expect(view.status).toBe('open');
      expect(view.alerts.map((a: any) => a.state)).toEqual(['firing']);
      expect(events(view)).toEqual(timelines[i]);
    }
  }, 60_000);
});

describe('after a Prometheus restart', () => {
  it('resolves an alert whose condition ended and came back since: pending again, it is not held firing', async () => {
    // DiskFull fires since before this restart; after it, it is pending again, as its `for` was not restored.
    await restart();
    await waitFor(async () => reported('DiskFull', 'pending'), 10_000, 50);
    await watcher.poll();
    expect((await incident('disk')).alerts.map((a: any) => a.state)).toEqual(['firing']);
    // Its condition ends and returns before the next poll: pending since a later evaluation, it had ended.
    target.set('disk_full', {}, 0);
    await waitFor(async () => !(await reported('DiskFull')), 10_000, 50);
    target.set('disk_full', {}, 1);
    await waitFor(async () => reported('DiskFull', 'pending'), 10_000, 50);
    await watcher.poll();
    const view = await incident('disk');
    expect(view.alerts.map((a: any) => a.state)).toEqual(['resolved']);
    expect(events(view)).toContain('alert_resolved: DiskFull resolved');
  }, 30_000);

  it('keeps firing an alert whose rule fails to evaluate since the start, as Prometheus kept it before', async () => {
    target.set('join_a', {}, 1);
    await waitFor(async () => firing('JoinBroken'));
    await watcher.poll();
    // A second right-hand series: every evaluation now fails (many-to-many matching), and Prometheus keeps the
    // alert as it was; after a restart it has none to keep.
    target.set('join_b', { k: '2' }, 1);
    await waitFor(async () => (await evaluatedHealth('JoinBroken')) === 'err', 10_000, 50);
    await restart();
    await waitFor(async () => (await evaluatedHealth('JoinBroken')) === 'err', 10_000, 50);
    expect(await reported('JoinBroken')).toBeUndefined();
    await watcher.poll();
    const view = await incident('join');
    expect(view.alerts.map((a: any) => a.state)).toEqual(['firing']);
  }, 60_000);
});
