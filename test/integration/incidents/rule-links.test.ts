// An alert's link to the expression behind it, when rules share an alert name: a warning and a critical variant with
// their own thresholds, or two rules told apart only by the series their expressions give. A real Prometheus.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrometheusClient } from '../../../src/clients/prometheus.ts';
import { createWatcher, type Watcher } from '../../../src/incidents/watcher.ts';
import { connect, type Connected } from '../../support/mcp.ts';
import { startPrometheus, type PrometheusServer } from '../../support/prometheus.ts';
import { waitFor } from '../../support/wait.ts';

const RULES = `groups:
  - name: shop
    rules:
      - alert: HighLatency
        expr: vector(5) > 1
        labels: { service: shop, severity: warning }
      - alert: HighLatency
        expr: vector(5) > 100
        labels: { service: shop, severity: critical }
      - alert: PathErrors
        expr: label_replace(vector(1), "path", "/a", "", "")
        labels: { service: cart }
      - alert: PathErrors
        expr: label_replace(vector(2), "path", "/b", "", "")
        labels: { service: cart }
`;

let dir: string;
let prometheus: PrometheusServer;
let mcp: Connected;
let watcher: Watcher;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'devops-mcp-rule-links-'));
  prometheus = await startPrometheus({ scrapeInterval: '500ms', rules: RULES });
  mcp = await connect({ PROMETHEUS_URL: prometheus.url, DEVOPS_MCP_DB: join(dir, 'incidents.db') });
  watcher = createWatcher(mcp.ctx, { intervalMs: 250 });
  watcher.start();
}, 60_000);

afterAll(async () => {
  await watcher.stop();
  await mcp.close();
  await prometheus.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function read(uri: string): Promise<any> {
  const result = await mcp.client.readResource({ uri });
  const first = result.contents[0];
  return JSON.parse(first && 'text' in first ? first.text : '{}');
}

const expressionOf = (alert: { generator_url?: string | undefined }) =>
  new URL(alert.generator_url ?? 'http://none/').searchParams.get('g0.expr');

describe('links of alerts whose rules share a name', () => {
  it("links each alert to its own rule's expression", async () => {
    const alerts = await waitFor(async () => {
      const views = await Promise.all(
        ((await read('incident://active')).incidents as Array<{ uri: string }>).map(i => read(i.uri)),
      );
      const all = views.flatMap(
        v => v.alerts as Array<{ labels: Record<string, string>; generator_url?: string }>,
      );
      return all.length === 3 ? all : undefined;
    });
    const byKey = new Map(alerts.map(a => [`${a.labels.alertname}${a.labels.path ?? ''}`, expressionOf(a)]));
    // Only the warning fires: its link is to its own threshold, not the critical rule's `> 100`.
    expect(byKey.get('HighLatency')).toBe('vector(5) > 1');
    expect(byKey.get('PathErrors/a')).toBe('label_replace(vector(1), "path", "/a", "", "")');
    expect(byKey.get('PathErrors/b')).toBe('label_replace(vector(2), "path", "/b", "", "")');
  }, 60_000);

  it("finds an alert not yet listed under its rule by the rule's labels, and guesses no link between rules alike", async () => {
    const client = createPrometheusClient({
      url: prometheus.url,
      timeoutMs: 5000,
      maxResponseBytes: 1 << 20,
    });
    const rules = await client.alertRules();
    await client.close();
    expect(rules.queryOf({ alertname: 'HighLatency', service: 'shop', severity: 'critical' })).toBe(
      'vector(5) > 100',
    );
    expect(rules.queryOf({ alertname: 'PathErrors', service: 'cart', path: '/c' })).toBeUndefined();
  });
});
