import { mkdtempSync, rmSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fingerprintOf } from '../../../src/incidents/alerts.ts';
import { createRedactor } from '../../../src/lib/redact.ts';
import { openStore, type Store, type StoreOptions } from '../../../src/store/index.ts';
import { MIGRATIONS, SCHEMA_VERSION } from '../../../src/store/schema.ts';

const OPTIONS = {
  busyTimeoutMs: 5000,
  groupBy: ['service'],
  quietSeconds: 0,
  windowSeconds: 0,
  timelineMax: 500,
};
const SECRET = 'ghp_0123456789abcdefSECRET';

let dir: string;
const opened: Store[] = [];
const open = (path = ':memory:', extra: Partial<StoreOptions> = {}): Store => {
  const store = openStore({ path, ...OPTIONS, ...extra });
  opened.push(store);
  return store;
};

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'devops-mcp-agent-store-'));
});
afterEach(() => {
  for (const store of opened.splice(0)) store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Fires an alert and resolves it again, leaving a resolved incident; returns its id. */
function incident(store: Store, labels: Record<string, string>, at: number, finding?: string): number {
  const alert = {
    fingerprint: fingerprintOf(labels),
    labels,
    annotations: {},
    startsAt: at,
    source: 'prometheus',
  };
  const [change] = store.incidents.apply([{ ...alert, state: 'firing' }], at);
  if (!change) throw new Error('no incident opened');
  if (finding !== undefined)
    store.incidents.addEvent(change.id, { kind: 'finding', summary: finding }, at + 1);
  store.incidents.apply([{ ...alert, state: 'resolved' }], at + 2);
  return change.id;
}

describe('the kill switch', () => {
  it('is one flag for every process on the file, saying who paused it, when and why', () => {
    const path = join(dir, 'shared.db');
    const a = open(path);
    const b = open(path);
    expect(b.agent.paused()).toEqual({ paused: false });
    a.agent.setPaused(true, 'alice@ops', 1000, 'bad deploy in flight');
    expect(b.agent.paused()).toEqual({
      paused: true,
      by: 'alice@ops',
      at: 1000,
      reason: 'bad deploy in flight',
    });
    b.agent.setPaused(false, 'bob@ops', 2000);
    expect(a.agent.paused()).toEqual({ paused: false, by: 'bob@ops', at: 2000 });
  });
});

describe('similar incidents', () => {
  it('ranks a past incident of the same alert above an unrelated one, and carries what was done and how it went', () => {
    const store = open();
    const past = incident(
      store,
      { alertname: 'HighErrorRate', service: 'checkout' },
      1000,
      'errors began when the cache window was set to zero',
    );
    const unrelated = incident(
      store,
      { alertname: 'DiskFull', service: 'billing' },
      2000,
      'the disk filled with logs; the cache was not involved',
    );
    const other = incident(store, { alertname: 'CertExpiring', service: 'edge' }, 2500);
    store.agent.recordOutcome({
      incidentId: past,
      repo: 'acme/checkout',
      prNumber: 7,
      prUrl: 'https://github.com/acme/checkout/pull/7',
      outcome: 'resolved_after_change',
      now: 1500,
    });
    const now = incident(
      store,
      { alertname: 'HighErrorRate', service: 'checkout' },
      3000,
      'cache window errors',
    );

    const found = store.agent.similar(now, 5);
    expect(found.map(f => f.id)).toEqual([past, unrelated]);
    expect(found.map(f => f.id)).not.toContain(now);
    expect(found.map(f => f.id)).not.toContain(other);
    expect(found[0]).toMatchObject({
      id: past,
      title: 'HighErrorRate on service=checkout',
      status: 'resolved',
      summary: 'errors began when the cache window was set to zero',
      outcome: 'resolved_after_change',
    });
    expect(found[0]?.score).toBeGreaterThan(found[1]?.score ?? Infinity);
    expect(store.agent.similar(now, 1)).toHaveLength(1);
  });

  it('finds incidents by the words of their diagnoses, and prefers the diagnosis summary as theirs', () => {
    const store = open();
    const past = incident(store, { alertname: 'LatencyHigh', service: 'api' }, 1000);
    const investigation = store.agent.startInvestigation(past, 'observe', 1001);
    store.agent.finishInvestigation(investigation, {
      diagnosis: { summary: 'connection pool exhausted by the retry storm', confidence: 0.8 },
      flags: [],
      transcript: [],
      tokens: 10,
      modelCalls: 1,
      toolCalls: 1,
      now: 1002,
    });
    const now = incident(store, { alertname: 'ErrorsHigh', service: 'web' }, 2000, 'pool exhausted again');
    expect(store.agent.similar(now, 5)).toEqual([
      expect.objectContaining({ id: past, summary: 'connection pool exhausted by the retry storm' }),
    ]);
  });

  it('scrubs configured secrets from the titles and findings it hands on (they go to the model)', () => {
    const store = open(':memory:', { redact: createRedactor([SECRET]) });
    // An exporter that leaks a token into a label value: the incident's title carries it.
    const past = incident(
      store,
      { alertname: 'AuthFailures', service: `svc-${SECRET}` },
      1000,
      `rejected token ${SECRET}`,
    );
    const now = incident(store, { alertname: 'AuthFailures', service: 'svc' }, 2000);
    const [found] = store.agent.similar(now, 5);
    expect(found).toMatchObject({
      id: past,
      title: 'AuthFailures on service=svc-[REDACTED]',
      summary: 'rejected token [REDACTED]',
    });
  });

  it('finds nothing for an incident that does not exist', () => {
    expect(open().agent.similar(42, 5)).toEqual([]);
  });
});

describe('investigations', () => {
  it('round-trip: the checked diagnosis and counts, the transcript apart, and a diagnosis on the timeline', () => {
    const store = open(':memory:', { redact: createRedactor([SECRET]) });
    const id = incident(store, { alertname: 'HighErrorRate', service: 'checkout' }, 1000);
    const first = store.agent.startInvestigation(id, 'propose', 1100);
    expect(store.agent.investigations(id)).toEqual([
      {
        id: first,
        incidentId: id,
        mode: 'propose',
        startedAt: 1100,
        flags: [],
        tokens: 0,
        modelCalls: 0,
        toolCalls: 0,
      },
    ]);
    const diagnosis = {
      summary: 'the cache window was set to 0',
      rootCause: `config change; the log said "token ${SECRET}"`,
      confidence: 0.55,
      evidence: [{ call: 'call_1', shows: 'error ratio 0.4 since 10:02' }],
    };
    const transcript = {
      messages: [{ role: 'tool', content: `Authorization: Bearer ${SECRET}` }],
      usage: { input_tokens: 900, output_tokens: 300 },
      headers: { authorization: 'Bearer abc' },
    };
    store.agent.finishInvestigation(first, {
      diagnosis,
      flags: ['claim without evidence: "deploy at 10:00"'],
      transcript,
      tokens: 1200,
      modelCalls: 3,
      toolCalls: 4,
      budgetHit: 'toolCalls',
      now: 1200,
    });

    const [stored] = store.agent.investigations(id);
    expect(stored).toMatchObject({
      id: first,
      endedAt: 1200,
      flags: ['claim without evidence: "deploy at 10:00"'],
      tokens: 1200,
      modelCalls: 3,
      toolCalls: 4,
      budgetHit: 'toolCalls',
      diagnosis: { summary: 'the cache window was set to 0', confidence: 0.55 },
    });
    expect(stored).not.toHaveProperty('transcript');
    expect(store.agent.latestDiagnosis(id)?.id).toBe(first);
    // Nothing stored is a secret: configured secret values and secret-named fields are redacted on the way in.
    expect(JSON.stringify(stored)).not.toContain(SECRET);
    expect(store.agent.transcript(first)).toEqual({
      messages: [{ role: 'tool', content: 'Authorization: Bearer [REDACTED]' }],
      usage: { input_tokens: 900, output_tokens: 300 },
      headers: { authorization: '[REDACTED]' },
    });
    const dump = store.db.prepare('SELECT diagnosis, transcript FROM investigations').all();
    expect(JSON.stringify(dump)).not.toContain(SECRET);

    const last = store.incidents.events(id, 1)[0];
    expect(last).toMatchObject({ kind: 'diagnosis' });
    expect(last?.summary).toBe(
      `partial diagnosis (investigation ${first}, confidence 0.55, 1 flagged, budget hit: toolCalls): the cache window was set to 0`,
    );

    const second = store.agent.startInvestigation(id, 'observe', 1300);
    expect(store.agent.investigations(id).map(i => i.id)).toEqual([first, second]);
    // A running investigation is not the latest diagnosis.
    expect(store.agent.latestDiagnosis(id)?.id).toBe(first);
    expect(store.agent.transcript(second)).toBeUndefined();
  });

  it('tells subscribers of this process that the incident changed', () => {
    const heard: number[] = [];
    const store = open(':memory:', { onChange: changes => heard.push(...changes.map(c => c.id)) });
    const id = incident(store, { alertname: 'A', service: 's' }, 1000);
    const run = store.agent.startInvestigation(id, 'observe', 1001);
    store.agent.finishInvestigation(run, {
      diagnosis: { summary: 's' },
      flags: [],
      transcript: {},
      tokens: 0,
      modelCalls: 0,
      toolCalls: 0,
      now: 1002,
    });
    store.agent.recordOutcome({
      incidentId: id,
      repo: 'a/b',
      prNumber: 1,
      prUrl: 'u',
      outcome: 'pending',
      now: 1003,
    });
    expect(heard).toEqual([id, id]);
  });
});

describe('outcomes', () => {
  it('keeps the latest outcome per PR and writes each change on the timeline once', () => {
    const store = open();
    const id = incident(store, { alertname: 'A', service: 's' }, 1000);
    const pr = { incidentId: id, repo: 'acme/app', prNumber: 3, prUrl: 'https://github.com/acme/app/pull/3' };
    store.agent.recordOutcome({ ...pr, outcome: 'pending', now: 1100 });
    store.agent.recordOutcome({ ...pr, outcome: 'pending', now: 1150 });
    store.agent.recordOutcome({ ...pr, outcome: 'resolved_after_change', now: 1200 });
    expect(store.agent.outcomes(id)).toEqual([
      { repo: 'acme/app', prNumber: 3, prUrl: pr.prUrl, outcome: 'resolved_after_change', at: 1200 },
    ]);
    const outcomes = store.incidents.events(id, 100).filter(e => e.kind === 'outcome');
    expect(outcomes.map(e => e.summary)).toEqual([
      'acme/app#3: PR open, outcome pending',
      'acme/app#3: resolved after the change',
    ]);
  });
});

describe('claiming and closing investigations', () => {
  it('starts one only while it is wanted, and finishes it once', () => {
    const store = open();
    const id = incident(store, { alertname: 'HighErrorRate', service: 'checkout' }, 1000);
    const start = { mode: 'observe' as const, now: 1100, owner: 'host-a:1' };
    expect(store.agent.claimInvestigation(id, start, () => false)).toBeUndefined();
    expect(store.agent.investigations(id)).toEqual([]);
    const run = store.agent.claimInvestigation(id, start, () => true)!;
    expect(store.agent.unfinishedInvestigations()).toMatchObject([{ id: run, owner: 'host-a:1' }]);
    const result = { diagnosis: null, flags: [], transcript: {}, tokens: 0, modelCalls: 0, toolCalls: 0 };
    expect(store.agent.finishInvestigation(run, { ...result, budgetHit: 'stopped', now: 1200 })).toBe(true);
    // A second ending (the owner, late, after another loop closed it as abandoned) changes nothing.
    expect(store.agent.finishInvestigation(run, { ...result, now: 1300 })).toBe(false);
    expect(store.agent.investigation(run)).toMatchObject({ endedAt: 1200, budgetHit: 'stopped' });
    expect(store.agent.unfinishedInvestigations()).toEqual([]);
  });

  it('keeps what a running one spent and the cooldown it holds, for whoever closes it, and nothing once it ended', () => {
    const path = join(dir, 'shared.db');
    const [mine, other] = [open(path), open(path)];
    const id = incident(mine, { alertname: 'HighErrorRate', service: 'checkout' }, 1000);
    const run = mine.agent.claimInvestigation(
      id,
      { mode: 'autonomous', now: 1100, owner: 'host-a:1' },
      () => true,
    )!;
    const cooldown = { counter: 'agent_cooldown:service=checkout', at: 1150 };
    mine.agent.recordProgress(run, { tokens: 900, modelCalls: 3, toolCalls: 2, cooldown });
    expect(other.agent.unfinishedInvestigations()).toMatchObject([
      { id: run, tokens: 900, modelCalls: 3, toolCalls: 2, cooldown },
    ]);
    // The progress is the loop's bookkeeping, not a transcript: a reader sees none until the investigation ends.
    expect(other.agent.transcript(run)).toBeUndefined();
    // Past its PR it holds none.
    mine.agent.recordProgress(run, { tokens: 1000, modelCalls: 4, toolCalls: 2 });
    expect(other.agent.unfinishedInvestigations()[0]).not.toHaveProperty('cooldown');
    const result = {
      diagnosis: null,
      flags: [],
      transcript: { t: 1 },
      tokens: 1200,
      modelCalls: 5,
      toolCalls: 3,
    };
    expect(other.agent.finishInvestigation(run, { ...result, now: 1200 })).toBe(true);
    mine.agent.recordProgress(run, { tokens: 1, modelCalls: 1, toolCalls: 1, cooldown });
    expect(mine.agent.investigation(run)).toMatchObject({ tokens: 1200, modelCalls: 5 });
    expect(mine.agent.transcript(run)).toEqual({ t: 1 });
    expect(mine.agent.discardInvestigation(run)).toBe(false);
  });

  it('discards a running one without a trace', () => {
    const store = open();
    const id = incident(store, { alertname: 'HighErrorRate', service: 'checkout' }, 1000);
    const events = store.incidents.events(id, 500).length;
    const run = store.agent.claimInvestigation(
      id,
      { mode: 'observe', now: 1100, owner: 'host-a:1' },
      () => true,
    )!;
    expect(store.agent.discardInvestigation(run)).toBe(true);
    expect(store.agent.investigations(id)).toEqual([]);
    expect(store.incidents.events(id, 500)).toHaveLength(events);
  });
});

describe('pruning', () => {
  it('drops transcripts that ended before the cut and counter slots older than any window, nothing else', () => {
    const store = open();
    const id = incident(store, { alertname: 'HighErrorRate', service: 'checkout' }, 1000);
    const result = { diagnosis: { summary: 'x' }, flags: [], tokens: 5, modelCalls: 1, toolCalls: 1 };
    const old = store.agent.startInvestigation(id, 'observe', 1100);
    store.agent.finishInvestigation(old, { ...result, transcript: { messages: ['old'] }, now: 1200 });
    const recent = store.agent.startInvestigation(id, 'observe', 5000);
    store.agent.finishInvestigation(recent, { ...result, transcript: { messages: ['recent'] }, now: 5100 });
    expect(store.agent.take('agent_cooldown:service=gone', 1, 9 * 86_400, 1000)).toEqual({ ok: true });

    expect(store.agent.prune(1000 + 8 * 86_400 + 1, 5000)).toBe(1);
    expect(store.agent.transcript(old)).toBeUndefined();
    expect(store.agent.transcript(recent)).toEqual({ messages: ['recent'] });
    expect(store.agent.investigation(old)).toMatchObject({ tokens: 5, diagnosis: { summary: 'x' } });
    // The slot of a group that never fired again is gone.
    expect(store.agent.take('agent_cooldown:service=gone', 1, 9 * 86_400, 1000 + 8 * 86_400 + 2)).toEqual({
      ok: true,
    });
  });
});

describe('sliding-window counters', () => {
  it('are shared by every process on the file and say when the next slot frees', () => {
    const path = join(dir, 'shared.db');
    const a = open(path);
    const b = open(path);
    expect(a.agent.take('investigations', 2, 3600, 1000)).toEqual({ ok: true });
    expect(b.agent.take('investigations', 2, 3600, 1500)).toEqual({ ok: true });
    expect(a.agent.take('investigations', 2, 3600, 2000)).toEqual({ ok: false, retryAfterSeconds: 2600 });
    expect(b.agent.take('cooldown:service=checkout', 1, 600, 2000)).toEqual({ ok: true });
    // The first slot leaves the window.
    expect(b.agent.take('investigations', 2, 3600, 4601)).toEqual({ ok: true });
    expect(a.agent.take('investigations', 2, 3600, 4602)).toEqual({ ok: false, retryAfterSeconds: 498 });
  });

  it('give a slot back', () => {
    const store = open();
    expect(store.agent.take('prs', 1, 3600, 1000)).toEqual({ ok: true });
    store.agent.release('prs', 1000);
    expect(store.agent.take('prs', 1, 3600, 1001)).toEqual({ ok: true });
  });

  it('refuse everything at a limit of zero', () => {
    expect(open().agent.take('prs', 0, 3600, 1000)).toEqual({ ok: false, retryAfterSeconds: 3600 });
  });
});

describe('migrating a version-1 file', () => {
  it('keeps its incidents, alerts, timelines and audit rows, and makes them searchable', () => {
    const path = join(dir, 'v1.db');
    const v1 = new DatabaseSync(path);
    v1.exec(MIGRATIONS[0] ?? '');
    v1.exec('PRAGMA user_version = 1');
    v1.exec(`
      INSERT INTO incidents (id, group_key, group_labels, title, severity, status, started_at, updated_at, resolved_at, rev, events_kept)
      VALUES (1, 'service=checkout', '{"service":"checkout"}', 'HighErrorRate on service=checkout', 'critical', 'resolved', 1000, 1100, 1100, 1, 1),
             (2, 'service=checkout', '{"service":"checkout"}', 'HighErrorRate on service=checkout', 'warning', 'open', 2000, 2000, NULL, 2, 0);
      INSERT INTO alerts (incident_id, fingerprint, name, state, labels, annotations, source, starts_at, last_seen)
      VALUES (1, 'f1', 'HighErrorRate', 'resolved', '{}', '{}', 'prometheus', 1000, 1100),
             (2, 'f1', 'HighErrorRate', 'firing', '{}', '{}', 'prometheus', 2000, 2000);
      INSERT INTO events (incident_id, at, kind, summary) VALUES (1, 1050, 'finding', 'cache window set to zero');
      INSERT INTO audit (id, at, tool, args, outcome, ms, prev_hash, hash) VALUES (1, 1, 'query_prometheus', '{}', 'ok', 1, '', 'h');
    `);
    v1.close();

    const store = open(path);
    expect(store.db.prepare('PRAGMA user_version').get()).toEqual({ user_version: SCHEMA_VERSION });
    expect(store.incidents.get(1)).toMatchObject({
      title: 'HighErrorRate on service=checkout',
      status: 'resolved',
    });
    expect(store.incidents.alerts(2)).toHaveLength(1);
    expect(store.incidents.events(1, 10).map(e => e.summary)).toEqual(['cache window set to zero']);
    expect(store.audit.get(1)).toMatchObject({ tool: 'query_prometheus' });
    expect(store.agent.similar(2, 5)).toEqual([
      expect.objectContaining({ id: 1, summary: 'cache window set to zero' }),
    ]);
    expect(store.agent.paused()).toEqual({ paused: false });
  });
});
