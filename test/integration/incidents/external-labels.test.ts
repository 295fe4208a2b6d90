// Prometheus's external labels: a real Prometheus adds them to the alerts it sends to Alertmanager and not to those
// /api/v1/alerts reports. With `incidents.externalLabels` naming them, an alert polled and the same alert pushed
// through the webhook are one alert. The Alertmanager here only records what Prometheus sends it; the webhook
// payload is built from that as Alertmanager builds it (labels as received, a firing alert's endsAt zeroed).

import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.ts';
import { createContext, type Context } from '../../../src/context.ts';
import { startHttpServer, type RunningHttpServer } from '../../../src/http.ts';
import { fingerprintOf } from '../../../src/incidents/alerts.ts';
import { createWatcher, type Watcher } from '../../../src/incidents/watcher.ts';
import { startPrometheus, type PrometheusServer } from '../../support/prometheus.ts';
import { waitFor } from '../../support/wait.ts';
import { logSink } from '../../support/logs.ts';

const TOKEN = 'external-labels-token-0123456789';
const RULES = `groups:
  - name: shop
    rules:
      - alert: CheckoutDown
        expr: vector(1)
        labels: { service: checkout, severity: critical }
        annotations: { summary: "checkout is down" }
      - alert: BillingSlow
        expr: vector(1)
        labels: { service: billing, severity: warning, cluster: from-the-rule }
`;

interface SentAlert {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  startsAt: string;
  generatorURL: string;
}

let alertmanager: Server;
const sent = new Map<string, SentAlert>();
let prometheus: PrometheusServer;
let ctx: Context;
let http: RunningHttpServer;
let watcher: Watcher;

beforeAll(async () => {
  // Prometheus's notifier POSTs its firing alerts to /api/v2/alerts; the latest of each is kept.
  alertmanager = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => {
      if (req.url === '/api/v2/alerts')
        for (const alert of JSON.parse(text) as SentAlert[]) sent.set(alert.labels.alertname ?? '', alert);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>(resolve => alertmanager.listen(0, '127.0.0.1', resolve));
  const { port } = alertmanager.address() as AddressInfo;
  prometheus = await startPrometheus({
    scrapeInterval: '500ms',
    rules: RULES,
    externalLabels: { cluster: 'eu-1', replica: 'a' },
    alertmanagers: [`127.0.0.1:${port}`],
  });
  const config = await loadConfig({
    env: { PROMETHEUS_URL: prometheus.url, DEVOPS_MCP_HTTP_TOKEN: TOKEN },
  });
  ctx = createContext(
    { ...config, incidents: { ...config.incidents, externalLabels: ['cluster', 'replica'] } },
    {
      logDestination: logSink().destination,
    },
  );
  http = await startHttpServer(ctx, {
    host: '127.0.0.1',
    port: 0,
    token: TOKEN,
    allowedHosts: [],
    allowedOrigins: [],
    maxSessions: 4,
    sessionIdleMs: 60_000,
  });
  watcher = createWatcher(ctx, { intervalMs: 60_000 });
}, 60_000);

afterAll(async () => {
  await watcher.stop();
  await http.close();
  await ctx.close();
  await prometheus.stop();
  await new Promise(resolve => alertmanager.close(resolve));
});

/** Alertmanager's webhook payload (version 4) for the alerts Prometheus sent it. */
function webhook(status: 'firing' | 'resolved', alerts: SentAlert[]): string {
  return JSON.stringify({
    version: '4',
    groupKey: '{}:{}',
    truncatedAlerts: 0,
    status,
    receiver: 'devops-mcp',
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://alertmanager:9093',
    alerts: alerts.map(alert => ({
      status,
      labels: alert.labels,
      annotations: alert.annotations,
      startsAt: alert.startsAt,
      endsAt: status === 'firing' ? '0001-01-01T00:00:00Z' : new Date().toISOString(),
      generatorURL: alert.generatorURL,
      fingerprint: fingerprintOf(alert.labels),
    })),
  });
}

function post(body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: http.port,
        method: 'POST',
        path: '/alerts',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      },
      res => {
        res.resume();
        res.on('end', () => {
          resolve(res.statusCode ?? 0);
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('an alert polled from Prometheus and pushed by Alertmanager, with external labels', () => {
  it('is one alert, in one incident, and the resolved notification resolves it', async () => {
    const store = await ctx.store();
    const incidents = () => store.incidents.list({ status: 'all', limit: 10 });
    const alertsOf = () => incidents().flatMap(i => store.incidents.alerts(i.id));
    const byName = () => Object.fromEntries(alertsOf().map(a => [a.name, a]));
    await waitFor(async () => {
      await watcher.poll();
      return alertsOf().length === 2;
    });
    const pushed = await waitFor(() => (sent.size === 2 ? [...sent.values()] : undefined));
    // What upstream does: the external labels only on what it sends, a rule's own label in both.
    const reported = (await (await fetch(`${prometheus.url}/api/v1/alerts`)).json()) as {
      data: { alerts: Array<{ labels: Record<string, string> }> };
    };
    const reportedLabels = Object.fromEntries(reported.data.alerts.map(a => [a.labels.alertname, a.labels]));
    expect(reportedLabels).toEqual({
      BillingSlow: {
        alertname: 'BillingSlow',
        service: 'billing',
        severity: 'warning',
        cluster: 'from-the-rule',
      },
      CheckoutDown: { alertname: 'CheckoutDown', service: 'checkout', severity: 'critical' },
    });
    expect(Object.fromEntries(pushed.map(a => [a.labels.alertname, a.labels]))).toEqual({
      BillingSlow: { ...reportedLabels.BillingSlow, replica: 'a' },
      CheckoutDown: { ...reportedLabels.CheckoutDown, cluster: 'eu-1', replica: 'a' },
    });
    const polled = byName();

    expect(await post(webhook('firing', pushed))).toBe(200);
    const alerts = byName();
    expect(Object.keys(alerts).sort()).toEqual(['BillingSlow', 'CheckoutDown']);
    expect(alertsOf()).toHaveLength(2);
    // The polled alerts, unchanged: the external labels are not on them.
    expect(alerts.CheckoutDown?.fingerprint).toBe(polled.CheckoutDown?.fingerprint);
    expect(alerts.BillingSlow?.fingerprint).toBe(polled.BillingSlow?.fingerprint);
    expect(JSON.parse(alerts.CheckoutDown?.labels ?? '{}')).toEqual(reportedLabels.CheckoutDown);
    expect(JSON.parse(alerts.BillingSlow?.labels ?? '{}')).toEqual({
      alertname: 'BillingSlow',
      service: 'billing',
      severity: 'warning',
    });
    expect(incidents()).toHaveLength(2);

    expect(await post(webhook('resolved', pushed))).toBe(200);
    expect(alertsOf().map(a => a.state)).toEqual(['resolved', 'resolved']);
    expect(incidents().every(i => i.quiet_since !== null)).toBe(true);
  }, 60_000);
});
