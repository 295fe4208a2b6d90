// The whole path, with nothing stubbed: the market predictor's fault → Prometheus's own alerting rule → the watcher
// → one incident → a subscribed MCP client notified → a second alert joins → the fault clears → resolved after the
// quiet period.

import {
  ResourceListChangedNotificationSchema,
  ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWatcher, type Watcher } from '../../../src/incidents/watcher.ts';
import { connect, type Connected } from '../../support/mcp.ts';
import { startPredictor, type Predictor } from '../../support/predictor.ts';
import { startPrometheus, type PrometheusServer } from '../../support/prometheus.ts';
import { waitFor } from '../../support/wait.ts';

const RULES = `groups:
  - name: market-predictor
    rules:
      - alert: PredictorErrors
        expr: sum by (instance) (increase(prediction_errors_total[3s])) > 0
        for: 1s
        labels: { service: market-predictor, severity: warning }
        annotations: { summary: "predictions are failing" }
      - alert: PredictorSlow
        expr: histogram_quantile(0.9, sum by (instance, le) (rate(http_request_duration_seconds_bucket{route="/predict"}[3s]))) > 0.2
        for: 1s
        labels: { service: market-predictor, severity: critical }
        annotations: { summary: "p90 of /predict above 200 ms" }
`;

let dir: string;
let predictor: Predictor;
let prometheus: PrometheusServer;
let mcp: Connected;
let watcher: Watcher;
let traffic: NodeJS.Timeout;
const listChanged: number[] = [];
const updated: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'devops-mcp-flow-'));
  predictor = await startPredictor({ admin: true });
  prometheus = await startPrometheus({
    targets: [new URL(predictor.url).host],
    scrapeInterval: '500ms',
    rules: RULES,
  });
  const config = join(dir, 'devops-mcp.json');
  writeFileSync(config, JSON.stringify({ incidents: { quietSeconds: 2, pollSeconds: 0.25 } }));
  mcp = await connect({
    PROMETHEUS_URL: prometheus.url,
    PREDICTOR_URL: predictor.url,
    DEVOPS_MCP_CONFIG: config,
    DEVOPS_MCP_DB: join(dir, 'incidents.db'),
  });
  mcp.client.setNotificationHandler(ResourceListChangedNotificationSchema, () => {
    listChanged.push(Date.now());
  });
  mcp.client.setNotificationHandler(ResourceUpdatedNotificationSchema, notification => {
    updated.push(notification.params.uri);
  });
  traffic = setInterval(() => {
    fetch(`${predictor.url}/predict?symbol=ACME`)
      .then(async response => response.text())
      .catch(() => undefined);
  }, 40);
  watcher = createWatcher(mcp.ctx, { intervalMs: 250 });
  watcher.start();
}, 60_000);

afterAll(async () => {
  clearInterval(traffic);
  await watcher.stop();
  await mcp.close();
  await prometheus.stop();
  await predictor.close();
  rmSync(dir, { recursive: true, force: true });
});

async function read(uri: string): Promise<any> {
  const result = await mcp.client.readResource({ uri });
  const first = result.contents[0];
  return JSON.parse(first && 'text' in first ? first.text : '{}');
}

describe('an alert from a real Prometheus rule becomes a live incident', () => {
  it('opens, notifies its subscriber, absorbs a related alert, and resolves after the quiet period', async () => {
    // Quiet service: no incident.
    expect((await read('incident://active')).incidents).toEqual([]);

    predictor.setFaults({ error_rate: 1 });
    const active = await waitFor(async () => {
      const view = await read('incident://active');
      return view.incidents.length > 0 ? view : undefined;
    });
    expect(active.incidents).toHaveLength(1);
    const [incident] = active.incidents;
    expect(incident).toMatchObject({
      id: 1,
      uri: 'incident://1',
      title: 'PredictorErrors on service=market-predictor',
      severity: 'warning',
      status: 'open',
      alerts: 1,
      firing: 1,
    });
    await waitFor(() => listChanged.length > 0);
    await mcp.client.subscribeResource({ uri: 'incident://1' });

    // A second, related alert (same service) joins the same incident, and the subscriber hears of it.
    const before = updated.length;
    predictor.setFaults({ error_rate: 1, latency_ms: 300 });
    const joined = await waitFor(async () => {
      const view = await read('incident://1');
      return view.alerts.length === 2 ? view : undefined;
    });
    await waitFor(() => updated.slice(before).includes('incident://1'));
    expect(joined.severity).toBe('critical');
    expect(joined.alerts.map((a: any) => a.name).sort()).toEqual(['PredictorErrors', 'PredictorSlow']);
    expect(joined.alerts[0]).toMatchObject({
      state: 'firing',
      source: 'prometheus',
      labels: { service: 'market-predictor', instance: new URL(predictor.url).host },
      generator_url: expect.stringMatching(new RegExp(`^${prometheus.url}/graph\\?g0\\.expr=`)),
    });
    expect((await read('incident://active')).incidents).toHaveLength(1);
    // The watcher put the predictor's own health verdict on the timeline.
    await waitFor(async () => (await read('incident://1')).timeline.some((e: any) => e.kind === 'health'));
    const health = (await read('incident://1')).timeline.find((e: any) => e.kind === 'health');
    expect(health.summary).toMatch(/^default is degraded: /);

    // The same content through the tools, for clients that only speak tools.
    const viaTool = await mcp.call('get_incident', { id: 1 });
    expect(viaTool.structuredContent).toMatchObject({ id: 1, severity: 'critical', status: 'open' });

    // Fault cleared: the alerts resolve, then the incident resolves once the quiet period has passed.
    const changesBefore = listChanged.length;
    predictor.setFaults({});
    const resolving = await waitFor(async () => {
      const view = await read('incident://1');
      return view.resolving === undefined ? undefined : view;
    }, 30_000);
    expect(resolving.status).toBe('open');
    expect(resolving.alerts.every((a: any) => a.state === 'resolved')).toBe(true);
    const resolved = await waitFor(async () => {
      const view = await read('incident://1');
      return view.status === 'resolved' ? view : undefined;
    });
    expect(resolved.timeline.at(-1).summary).toMatch(/^resolved: every alert stayed resolved for [23] s$/);
    expect((await read('incident://active')).incidents).toEqual([]);
    await waitFor(() => listChanged.length > changesBefore);
  }, 90_000);
});
