// Benchmark of store.agent.similar (not part of `npm test`): a store holding 10,000 incidents, each with its alerts,
// findings (common words each in a quarter of them, and rare ones) and, for every tenth, a diagnosis, then the median and the slowest of `similar(id, 5)` for 300 incidents. Target: well
// under 10 ms.
//   node bench/similar.ts

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../src/store/index.ts';

const INCIDENTS = 10_000;
const READS = 300;
const WARMUP = 30;
const ALERTS = [
  'HighErrorRate',
  'HighLatency',
  'PredictorDown',
  'DiskFull',
  'MemoryPressure',
  'CertExpiring',
];
const VOCABULARY =
  'cache window config deploy rollback pool connection exhausted retry storm timeout upstream database lock queue backlog memory leak garbage collector pause thread disk full logs rotation certificate expired dns resolver flapping probe health check latency spike error ratio predictor model drift feature stale batch job cron'.split(
    ' ',
  );

let seed = 42;
const random = (): number => {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  return seed / 2 ** 31;
};
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
// Rare words too (a module, a host, an error class), as real findings have: 3,000 of them, two per text.
const RARE = Array.from(
  { length: 3000 },
  (_, i) => `x${i.toString(36).replace(/\d/g, d => 'abcdefghij'[Number(d)] ?? '')}q`,
);
const sentence = (n: number): string =>
  [...Array.from({ length: n }, () => pick(VOCABULARY)), pick(RARE), pick(RARE)].join(' ');
const median = (values: number[]): number =>
  values.toSorted((a, b) => a - b)[values.length >> 1] ?? Number.NaN;

const dir = mkdtempSync(join(tmpdir(), 'devops-mcp-bench-similar-'));
const store = openStore({
  path: join(dir, 'bench.db'),
  busyTimeoutMs: 5000,
  groupBy: ['service'],
  quietSeconds: 300,
  windowSeconds: 1800,
  timelineMax: 500,
});
try {
  const db = store.db;
  const seeding = performance.now();
  db.exec('BEGIN');
  const incident = db.prepare(
    `INSERT INTO incidents (id, group_key, group_labels, title, severity, status, started_at, updated_at, resolved_at, rev)
     VALUES (?, ?, ?, ?, 'warning', 'resolved', ?, ?, ?, ?)`,
  );
  const alert = db.prepare(
    `INSERT INTO alerts (incident_id, fingerprint, name, state, labels, annotations, source, starts_at, last_seen)
     VALUES (?, ?, ?, 'resolved', '{}', '{}', 'prometheus', ?, ?)`,
  );
  const finding = db.prepare(
    "INSERT INTO events (incident_id, at, kind, summary) VALUES (?, ?, 'finding', ?)",
  );
  const t0 = 1_700_000_000;
  for (let id = 1; id <= INCIDENTS; id++) {
    const service = `svc-${id % 500}`;
    const name = pick(ALERTS);
    const at = t0 + id * 60;
    incident.run(
      id,
      `service=${service}`,
      JSON.stringify({ service }),
      `${name} on service=${service}`,
      at,
      at,
      at,
      id,
    );
    alert.run(id, `f${id}`, name, at, at);
    if (random() < 0.3) alert.run(id, `g${id}`, pick(ALERTS), at, at);
    finding.run(id, at + 1, sentence(12));
  }
  db.exec('COMMIT');
  // A diagnosis for every tenth incident, through the store's own path.
  for (let id = 10; id <= INCIDENTS; id += 10) {
    const run = store.agent.startInvestigation(id, 'observe', t0 + id * 60 + 2);
    store.agent.finishInvestigation(run, {
      diagnosis: { summary: sentence(10), rootCause: sentence(8), confidence: 0.7 },
      flags: [],
      transcript: { messages: [] },
      tokens: 1000,
      modelCalls: 2,
      toolCalls: 3,
      now: t0 + id * 60 + 3,
    });
    if (id % 20 === 0) {
      store.agent.recordOutcome({
        incidentId: id,
        repo: 'acme/app',
        prNumber: id,
        prUrl: `https://github.com/acme/app/pull/${id}`,
        outcome: 'resolved_after_change',
        now: t0 + id * 60 + 4,
      });
    }
  }
  const seeded = performance.now() - seeding;

  const times: number[] = [];
  let found = 0;
  for (let i = 0; i < WARMUP + READS; i++) {
    const id = 1 + Math.floor(random() * INCIDENTS);
    const start = performance.now();
    const similar = store.agent.similar(id, 5);
    const ms = performance.now() - start;
    if (i >= WARMUP) {
      times.push(ms);
      found += similar.length;
    }
  }
  const lines = [
    `similar incidents: ${INCIDENTS} incidents (seeded in ${(seeded / 1000).toFixed(1)} s)`,
    `  similar(id, 5): median ${median(times).toFixed(2)} ms, slowest ${Math.max(...times).toFixed(2)} ms over ${READS} incidents (target ≤ 10 ms); ${(found / READS).toFixed(1)} found each`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  store.close();
  rmSync(dir, { recursive: true, force: true });
}
