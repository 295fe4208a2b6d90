// Incident benchmark (not part of `npm test`): a store holding 10,000 incidents and 200,000 timeline events, then the
// median of resources/read of incident://active and of one incident://{id} (an MCP client over the SDK's in-memory
// transport, so the figure is the server's own work), and of the intake of a 100-alert Alertmanager webhook
// payload over real HTTP. Targets: ≤ 10 ms, ≤ 10 ms, ≤ 50 ms.
//   node bench/incidents.ts

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig } from '../src/config.ts';
import { createContext } from '../src/context.ts';
import { startHttpServer } from '../src/http.ts';
import { fingerprintOf } from '../src/incidents/alerts.ts';
import { createServer } from '../src/server.ts';

const INCIDENTS = 10_000;
const EVENTS = 200_000;
const ACTIVE = 40;
const READS = 300;
const INTAKES = 60;
const WARMUP = 30;

const median = (values: number[]): number => {
  const sorted = values.toSorted((a, b) => a - b);
  return sorted[sorted.length >> 1] ?? Number.NaN;
};

const dir = mkdtempSync(join(tmpdir(), 'devops-mcp-bench-incidents-'));
const token = 'bench-token-0123456789abcdef';
const config = await loadConfig({
  env: { DEVOPS_MCP_DB: join(dir, 'bench.db'), DEVOPS_MCP_HTTP_TOKEN: token },
});
const ctx = createContext(config, {
  logDestination: new Writable({
    write: (_c, _e, done) => {
      done();
    },
  }),
});

try {
  // Seed with plain SQL in one transaction: what a long-lived store holds, written fast.
  const store = await ctx.store();
  const seeding = performance.now();
  const db = store.db;
  db.exec('BEGIN');
  const incident = db.prepare(
    `INSERT INTO incidents (id, group_key, group_labels, title, severity, status, started_at, updated_at, resolved_at, rev, events_kept)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const alert = db.prepare(
    `INSERT INTO alerts (incident_id, fingerprint, name, state, severity, labels, annotations, generator_url, source, starts_at, ends_at, last_seen)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'prometheus', ?, ?, ?)`,
  );
  const event = db.prepare(
    'INSERT INTO events (incident_id, at, kind, summary, data) VALUES (?, ?, ?, ?, ?)',
  );
  const t0 = 1_700_000_000;
  const perIncident = EVENTS / INCIDENTS;
  for (let id = 1; id <= INCIDENTS; id++) {
    const active = id > INCIDENTS - ACTIVE;
    const service = `svc-${id % 500}`;
    const started = t0 + id * 60;
    incident.run(
      id,
      active ? `service=active-${id}` : `service=${service}`,
      JSON.stringify({ service }),
      `HighErrorRate on service=${service}`,
      id % 3 === 0 ? 'critical' : 'warning',
      active ? 'open' : 'resolved',
      started,
      started + 600,
      active ? null : started + 600,
      id,
      EVENTS / INCIDENTS,
    );
    for (let a = 0; a < 2; a++) {
      const labels = {
        alertname: a === 0 ? 'HighErrorRate' : 'HighLatency',
        service,
        instance: `10.0.0.${id % 250}:8080`,
      };
      alert.run(
        id,
        fingerprintOf(labels),
        labels.alertname,
        active ? 'firing' : 'resolved',
        'warning',
        JSON.stringify(labels),
        JSON.stringify({
          summary: 'error ratio above 5% for 5 minutes',
          runbook_url: 'https://runbooks.example.com/x',
        }),
        'http://prometheus:9090/graph?g0.expr=rate(http_requests_total%5B5m%5D)',
        started,
        active ? null : started + 300,
        started + 300,
      );
    }
    for (let e = 0; e < perIncident; e++) {
      event.run(
        id,
        started + e,
        e === 0 ? 'opened' : 'alert_firing',
        `HighErrorRate firing: event ${e} of incident ${id}`,
        null,
      );
    }
  }
  db.exec(`UPDATE meta SET value = ${INCIDENTS} WHERE key = 'rev'`);
  db.exec('COMMIT');
  const seeded = performance.now() - seeding;

  const server = createServer(ctx);
  const client = new Client({ name: 'bench', version: '1' });
  const [a, b] = InMemoryTransport.createLinkedPair();
  await Promise.all([client.connect(a), server.connect(b)]);

  const sizes = new Map<string, number>();
  async function time(uri: string): Promise<number> {
    const times: number[] = [];
    for (let i = 0; i < WARMUP + READS; i++) {
      const started = performance.now();
      const result = await client.readResource({ uri });
      if (i >= WARMUP) times.push(performance.now() - started);
      const [content] = result.contents;
      if (!content || !('text' in content)) throw new Error(`no content for ${uri}`);
      sizes.set(uri, Buffer.byteLength(content.text));
    }
    return median(times);
  }
  const active = await time('incident://active');
  const one = await time(`incident://${INCIDENTS - 7}`);

  // Webhook intake over real HTTP, 100 new alerts per payload across 10 services.
  const http = await startHttpServer(ctx, {
    host: '127.0.0.1',
    port: 0,
    token,
    allowedHosts: [],
    allowedOrigins: [],
    maxSessions: 4,
    sessionIdleMs: 60_000,
  });
  const agent = new Agent({ keepAlive: true });
  const post = (body: string) =>
    new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: http.port,
          method: 'POST',
          path: '/alerts',
          agent,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
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
  const intakes: number[] = [];
  for (let round = 0; round < WARMUP + INTAKES; round++) {
    const payload = {
      version: '4',
      groupKey: `{}:{round="${round}"}`,
      truncatedAlerts: 0,
      status: 'firing',
      receiver: 'devops-mcp',
      alerts: Array.from({ length: 100 }, (_, i) => ({
        status: 'firing',
        labels: {
          alertname: `Bench${round}_${i}`,
          service: `hook-${i % 10}`,
          severity: i % 7 === 0 ? 'critical' : 'warning',
        },
        annotations: { summary: `bench alert ${i} of round ${round}` },
        startsAt: new Date().toISOString(),
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus:9090/graph?g0.expr=up',
        fingerprint: '',
      })),
    };
    const body = JSON.stringify(payload);
    const started = performance.now();
    const status = await post(body);
    if (round >= WARMUP) intakes.push(performance.now() - started);
    if (status !== 200) throw new Error(`webhook answered ${status}`);
  }
  agent.destroy();
  await http.close();
  await client.close();

  const rows: Array<[string, string, string]> = [
    [
      `resources/read incident://active (${sizes.get('incident://active') ?? 0} bytes)`,
      `${active.toFixed(2)} ms`,
      `≤ 10 ms: ${active <= 10 ? 'yes' : 'NO'}`,
    ],
    [
      `resources/read incident://{id} (${sizes.get(`incident://${INCIDENTS - 7}`) ?? 0} bytes)`,
      `${one.toFixed(2)} ms`,
      `≤ 10 ms: ${one <= 10 ? 'yes' : 'NO'}`,
    ],
    [
      'POST /alerts, 100 alerts',
      `${median(intakes).toFixed(2)} ms`,
      `≤ 50 ms: ${median(intakes) <= 50 ? 'yes' : 'NO'}`,
    ],
  ];
  process.stdout.write(
    `devops-mcp incidents bench (node ${process.version}; ${INCIDENTS} incidents, ${EVENTS} events, ${ACTIVE} active; ` +
      `store ${(statSync(join(dir, 'bench.db')).size / 1024 / 1024).toFixed(0)} MB, seeded in ${(seeded / 1000).toFixed(1)} s; medians of ${READS} reads and ${INTAKES} intakes)\n\n`,
  );
  process.stdout.write('| measure | median | target |\n| --- | --- | --- |\n');
  for (const row of rows) process.stdout.write(`| ${row.join(' | ')} |\n`);
} finally {
  await ctx.close();
  rmSync(dir, { recursive: true, force: true });
}
