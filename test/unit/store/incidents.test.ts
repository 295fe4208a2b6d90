import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fingerprintOf, type AlertInput } from '../../../src/incidents/alerts.ts';
import { openStore, type Store } from '../../../src/store/index.ts';

const OPTIONS = { groupBy: ['service', 'job'], quietSeconds: 60, windowSeconds: 600, timelineMax: 500 };

function alert(labels: Record<string, string>, state: AlertInput['state'] = 'firing'): AlertInput {
  return {
    fingerprint: fingerprintOf(labels),
    labels,
    annotations: { summary: `${labels.alertname ?? ''} summary` },
    state,
    startsAt: 1000,
    source: 'prometheus',
  };
}

const errors = { alertname: 'HighErrorRate', service: 'checkout', severity: 'warning' };
const latency = { alertname: 'HighLatency', service: 'checkout', severity: 'critical' };

let store: Store;
beforeEach(() => {
  store = openStore({ path: ':memory:', busyTimeoutMs: 1000, ...OPTIONS });
});
afterEach(() => {
  store.close();
});

const kinds = (id: number) => store.incidents.events(id, 100).map(e => e.kind);

describe('grouping alerts into incidents', () => {
  it('opens one incident for a firing alert and absorbs related alerts of the same service', () => {
    const [opened] = store.incidents.apply([alert(errors)], 1000);
    expect(opened).toEqual({ id: 1, opened: true });
    const [joined] = store.incidents.apply([alert(latency)], 1010);
    expect(joined).toEqual({ id: 1 });
    const incident = store.incidents.get(1);
    expect(incident).toMatchObject({ status: 'open', severity: 'critical', group_key: 'service=checkout' });
    expect(store.incidents.alerts(1).map(a => a.name)).toEqual(['HighLatency', 'HighErrorRate']);
    expect(kinds(1)).toEqual(['opened', 'alert_firing', 'alert_firing']);
  });

  it('groups by job when an alert has no service label, and keeps other groups apart', () => {
    store.incidents.apply(
      [alert({ alertname: 'Down', job: 'api' }), alert({ alertname: 'Down', job: 'db' })],
      1000,
    );
    expect(store.incidents.active().map(i => i.group_key)).toEqual(['job=db', 'job=api']);
  });

  it('deduplicates an alert by fingerprint: a repeated report changes nothing a client would see', () => {
    store.incidents.apply([alert(errors)], 1000);
    const revision = store.incidents.revision();
    expect(store.incidents.apply([alert(errors)], 1015)).toEqual([]);
    expect(store.incidents.revision()).toBe(revision);
    expect(store.incidents.alerts(1)).toHaveLength(1);
    expect(kinds(1)).toEqual(['opened', 'alert_firing']);
  });

  it('notes pending alerts without opening an incident', () => {
    store.incidents.apply([alert(errors, 'pending')], 1000);
    expect(store.incidents.active()).toEqual([]);
    expect(store.incidents.pending()).toEqual([fingerprintOf(errors)]);
    store.incidents.apply([alert(errors)], 1005);
    expect(store.incidents.pending()).toEqual([]);
    expect(store.incidents.active()).toHaveLength(1);
  });

  it('resolves an incident only after every alert stayed resolved for the quiet period', () => {
    store.incidents.apply([alert(errors), alert(latency)], 1000);
    store.incidents.apply([alert(errors, 'resolved')], 1100);
    expect(store.incidents.get(1)?.quiet_since).toBeNull();
    store.incidents.apply([alert(latency, 'resolved')], 1200);
    expect(store.incidents.get(1)?.quiet_since).toBe(1200);
    expect(store.incidents.sweep(1259)).toEqual([]);
    expect(store.incidents.sweep(1260)).toEqual([{ id: 1, closed: true }]);
    expect(store.incidents.get(1)).toMatchObject({ status: 'resolved', resolved_at: 1260 });
    // Severity is the worst the incident reached.
    expect(store.incidents.get(1)?.severity).toBe('critical');
  });

  it('keeps a flapping alert in the same incident: firing again inside the quiet period cancels the resolution', () => {
    store.incidents.apply([alert(errors)], 1000);
    store.incidents.apply([alert(errors, 'resolved')], 1100);
    store.incidents.apply([alert(errors)], 1130);
    expect(store.incidents.sweep(1200)).toEqual([]);
    expect(store.incidents.get(1)).toMatchObject({ status: 'open', quiet_since: null });
    expect(store.incidents.list({ status: 'all', limit: 10 })).toHaveLength(1);
    const last = store.incidents.events(1, 1)[0];
    expect(last?.summary).toMatch(
      /^HighErrorRate firing again during the quiet period: resolution cancelled/,
    );
  });

  it('reopens a resolved incident when its group fires again within the window, and opens a new one after it', () => {
    store.incidents.apply([alert(errors)], 1000);
    store.incidents.apply([alert(errors, 'resolved')], 1100);
    store.incidents.sweep(1160);
    expect(store.incidents.apply([alert(errors)], 1500)).toEqual([{ id: 1, opened: true }]);
    expect(store.incidents.get(1)?.status).toBe('open');
    expect(kinds(1)).toContain('reopened');
    store.incidents.apply([alert(errors, 'resolved')], 1600);
    store.incidents.sweep(1660);
    expect(store.incidents.apply([alert(errors)], 1660 + 601)).toEqual([{ id: 2, opened: true }]);
  });

  it('bounds the timeline: the oldest events go beyond the cap and are counted', () => {
    store.close();
    store = openStore({ path: ':memory:', busyTimeoutMs: 1000, ...OPTIONS, timelineMax: 10 });
    store.incidents.apply([alert(errors)], 1000);
    for (let i = 0; i < 20; i++)
      store.incidents.addEvent(1, { kind: 'note', summary: `note ${i}` }, 1001 + i);
    expect(store.incidents.eventCount(1)).toBe(10);
    expect(store.incidents.get(1)?.events_dropped).toBe(12);
    expect(store.incidents.events(1, 100).at(-1)?.summary).toBe('note 19');
  });

  it('acknowledges and resolves by hand, recording the status change', () => {
    store.incidents.apply([alert(errors)], 1000);
    expect(store.incidents.setStatus(1, 'acknowledged', 1010)).toEqual([{ id: 1, opened: false }]);
    expect(store.incidents.setStatus(1, 'resolved', 1020)).toEqual([{ id: 1, closed: true }]);
    expect(kinds(1).slice(-2)).toEqual(['status', 'resolved']);
  });

  it('resolves again, after the quiet period, a resolved incident acknowledged while no alert fires', () => {
    store.incidents.apply([alert(errors)], 1000);
    store.incidents.apply([alert(errors, 'resolved')], 1010);
    store.incidents.sweep(1070);
    expect(store.incidents.setStatus(1, 'acknowledged', 1200)).toEqual([{ id: 1, opened: true }]);
    expect(store.incidents.active().map(i => i.id)).toEqual([1]);
    expect(store.incidents.events(1, 1)[0]?.summary).toBe(
      'resolved → acknowledged; no alert firing, it resolves after 60 s unless one fires',
    );
    expect(store.incidents.sweep(1259)).toEqual([]);
    expect(store.incidents.sweep(1260)).toEqual([{ id: 1, closed: true }]);
    expect(store.incidents.get(1)).toMatchObject({ status: 'resolved', resolved_at: 1260 });
  });

  it('records a health verdict only when it changes', () => {
    store.incidents.apply([alert(errors)], 1000);
    const degraded = { target: 'default', status: 'degraded', reasons: ['100.0% of requests failed'] };
    expect(store.incidents.recordHealth(1, degraded, 1001)).toEqual([{ id: 1 }]);
    expect(store.incidents.recordHealth(1, degraded, 1002)).toEqual([]);
    expect(
      store.incidents.recordHealth(1, { ...degraded, status: 'healthy', reasons: [] }, 1003),
    ).toHaveLength(1);
    expect(store.incidents.events(1, 2).map(e => e.summary)).toEqual([
      'default is degraded: 100.0% of requests failed',
      'default is healthy',
    ]);
  });
});

describe('two writers on one database file', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'devops-mcp-store-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('never make two open incidents for one group', () => {
    const path = join(dir, 'shared.db');
    const a = openStore({ path, busyTimeoutMs: 5000, ...OPTIONS });
    const b = openStore({ path, busyTimeoutMs: 5000, ...OPTIONS });
    try {
      for (let i = 0; i < 20; i++) {
        const labels = { ...errors, alertname: `Alert${i}` };
        (i % 2 === 0 ? a : b).incidents.apply([alert(labels)], 1000 + i);
        (i % 2 === 0 ? b : a).incidents.apply([alert(labels)], 1000 + i);
      }
      expect(a.incidents.active()).toHaveLength(1);
      expect(b.incidents.alerts(1)).toHaveLength(20);
    } finally {
      a.close();
      b.close();
    }
  });

  it('are refused a second open incident by the schema itself', () => {
    const path = join(dir, 'shared.db');
    const a = openStore({ path, busyTimeoutMs: 5000, ...OPTIONS });
    try {
      a.incidents.apply([alert(errors)], 1000);
      // A writer that skipped the lookup (an older version, a hand-written INSERT) hits the partial unique index.
      expect(() => {
        a.db.exec(
          "INSERT INTO incidents (group_key, group_labels, title, severity, status, started_at, updated_at, rev) VALUES ('service=checkout', '{}', 't', 'none', 'open', 1, 1, 1)",
        );
      }).toThrow(/UNIQUE constraint failed: incidents.group_key/);
    } finally {
      a.close();
    }
  });

  it('resolve an alert where it fires after incidents.groupBy changed between two starts', () => {
    const path = join(dir, 'regrouped.db');
    const before = openStore({ path, busyTimeoutMs: 5000, ...OPTIONS, groupBy: ['service'] });
    before.incidents.apply([alert(errors)], 1000);
    before.close();
    const after = openStore({ path, busyTimeoutMs: 5000, ...OPTIONS, groupBy: ['alertname'] });
    try {
      after.incidents.apply([alert(errors, 'resolved')], 1100);
      expect(after.incidents.get(1)?.quiet_since).toBe(1100);
      expect(after.incidents.sweep(1160)).toEqual([{ id: 1, closed: true }]);
    } finally {
      after.close();
    }
  });

  it('take the later activeAt of the other replica behind one URL for the same episode, and a start after the last sighting for a new one', () => {
    const polled = (startsAt: number): AlertInput => ({
      ...alert(errors),
      startsAt,
      polled: { by: 'http://prometheus:9090', upSince: 500 },
    });
    store.incidents.apply([polled(1000)], 1015);
    // The other replica evaluated the rule 300 ms later: the alert has not stopped firing.
    store.incidents.apply([polled(1000.3)], 1030);
    store.incidents.apply([polled(1000)], 1045);
    store.incidents.apply([polled(1000.3)], 1060);
    expect(kinds(1)).toEqual(['opened', 'alert_firing']);
    // Active again since after the last poll that saw it: it ended, and fired again, between two polls.
    store.incidents.apply([polled(1070)], 1075);
    expect(kinds(1)).toEqual(['opened', 'alert_firing', 'alert_resolved', 'alert_firing']);
  });

  it('keep a still-firing alert in its incident after incidents.groupBy changed between two starts', () => {
    const path = join(dir, 'regrouped-firing.db');
    const before = openStore({ path, busyTimeoutMs: 5000, ...OPTIONS, groupBy: ['service'] });
    before.incidents.apply([alert(errors)], 1000);
    before.close();
    const after = openStore({ path, busyTimeoutMs: 5000, ...OPTIONS, groupBy: ['alertname'] });
    try {
      expect(after.incidents.apply([alert(errors)], 1015)).toEqual([]);
      expect(after.incidents.list({ status: 'all', limit: 10 }).map(i => i.title)).toEqual([
        'HighErrorRate on service=checkout',
      ]);
      expect(after.incidents.alerts(1).map(a => [a.state, a.last_seen])).toEqual([['firing', 1015]]);
    } finally {
      after.close();
    }
  });
});
