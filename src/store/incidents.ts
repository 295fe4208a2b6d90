// Incidents, their alerts and timelines in SQLite: grouping decisions are made inside one write transaction, and
// the partial unique index on the group key (schema.ts) makes "one open incident per group" hold for every writer.

import type { DatabaseSync } from 'node:sqlite';
import {
  ALERTMANAGER_SOURCE,
  PROMETHEUS_SOURCE,
  groupOf,
  highestSeverity,
  severityRank,
  type AlertInput,
  type Labels,
} from '../incidents/alerts.ts';
import { formatDuration, toRfc3339 } from '../lib/time.ts';
import { preparedStatements, transaction } from './db.ts';

export type IncidentStatus = 'open' | 'acknowledged' | 'resolved';
export type EventKind =
  | 'opened'
  | 'reopened'
  | 'alert_firing'
  | 'alert_resolved'
  | 'quiet'
  | 'resolved'
  | 'status'
  | 'health'
  | 'note'
  | 'finding'
  | 'action'
  // The headless loop's checked diagnosis, and what came of a PR (store/agent.ts).
  | 'diagnosis'
  | 'outcome';

export interface GroupingOptions {
  groupBy: readonly string[];
  quietSeconds: number;
  windowSeconds: number;
  timelineMax: number;
}

export interface IncidentRow {
  id: number;
  group_key: string;
  group_labels: string;
  title: string;
  severity: string;
  status: IncidentStatus;
  started_at: number;
  updated_at: number;
  resolved_at: number | null;
  quiet_since: number | null;
  events_kept: number;
  events_dropped: number;
}

export interface AlertRow {
  fingerprint: string;
  name: string;
  state: 'firing' | 'resolved';
  severity: string | null;
  labels: string;
  annotations: string;
  generator_url: string | null;
  source: string;
  starts_at: number;
  /** Null while it fires, and for an alert that expired: when it ended is not known. */
  ends_at: number | null;
  last_seen: number;
  /** The Prometheus that last reported it firing, and the activeAt it reported; null for one never polled. */
  polled_by: string | null;
  polled_start: number | null;
}

export interface EventRow {
  id: number;
  incident_id: number;
  at: number;
  kind: EventKind;
  summary: string;
  data: string | null;
}

export interface ActiveRow extends IncidentRow {
  alert_count: number;
  firing_count: number;
  last_kind: string | null;
  last_summary: string | null;
  last_at: number | null;
}

/** What one write changed: `opened`/`closed` when the incident entered or left the open set. */
export interface Change {
  id: number;
  opened?: boolean;
  closed?: boolean;
}

/**
 * The id of a change to the pending alerts noted, which incident://active shows: no incident has it (ids start at
 * 1), so it updates that resource alone.
 */
export const PENDING_CHANGE_ID = 0;

// The store revision the write that made a change gave its incident, kept beside the change: the change feed tells
// this process's own writes once, however a poll reads them back.
const revisions = new WeakMap<Change, number>();
export const revisionOf = (change: Change): number | undefined => revisions.get(change);

export interface NewEvent {
  kind: EventKind;
  summary: string;
  data?: unknown;
}

export interface ListFilter {
  status?: 'active' | IncidentStatus | 'all' | undefined;
  /** Unix seconds: incidents updated at or after. */
  since?: number | undefined;
  /** Incidents with a lower id: the page after one that ended with this id. */
  before?: number | undefined;
  limit: number;
}

export interface IncidentStore {
  /** Applies alerts (any source) at `now`, in one transaction. */
  apply(alerts: readonly AlertInput[], now: number): Change[];
  /**
   * Firing alerts, in incidents not resolved, that `prometheus` (a URL) reported last: what its watcher's poll
   * compares its answer against. `since` is the activeAt it reported. Polled rows from before schema 5 are any
   * Prometheus's.
   */
  polled(prometheus: string): Array<{ fingerprint: string; labels: Labels; since: number }>;
  /**
   * Resolves the firing alerts of a source not seen for `afterSeconds`, as expired: a source that says "resolved"
   * once (Alertmanager) would otherwise leave an alert firing for ever when that one notification was lost. Silence
   * counts from this store's first apply or expire at the earliest: while devops-mcp was down, the repeats that
   * would have been seen could not reach it.
   */
  expire(source: string, afterSeconds: number, now: number): Change[];
  /** Fingerprints of the pending alerts noted. */
  pending(): string[];
  /** The pending alerts noted, oldest first: alerts whose rule holds but whose `for` has not yet passed. */
  pendingAlerts(limit: number): Array<{ name: string; group_key: string; first_seen: number }>;
  /** Forgets noted pending alerts that went away without firing. */
  forgetPending(fingerprints: readonly string[]): Change[];
  /** Resolves incidents whose quiet period has passed. */
  sweep(now: number): Change[];
  get(id: number): IncidentRow | undefined;
  alerts(id: number): AlertRow[];
  /** How many of its resolved alerts were dropped past RESOLVED_ALERTS_KEPT (see `capAlerts`). */
  alertsDropped(id: number): number;
  events(id: number, limit: number): EventRow[];
  eventCount(id: number): number;
  /** How many of its timeline's events are findings and actions. */
  sideCounts(id: number): { findings: number; actions: number };
  active(): ActiveRow[];
  list(filter: ListFilter): ActiveRow[];
  /** How many incidents match `filter`, past its limit. */
  count(filter: Omit<ListFilter, 'limit'>): number;
  /** Incident ids starting with `prefix` (most recent first), for argument completion. */
  ids(prefix: string, limit: number): number[];
  addEvent(id: number, event: NewEvent, now: number): Change[];
  setStatus(id: number, status: 'acknowledged' | 'resolved', now: number, why?: string): Change[];
  /** Records a health verdict on the timeline when it differs from the last one recorded for that target. */
  recordHealth(
    id: number,
    verdict: { target: string; status: string; reasons: readonly string[] },
    now: number,
  ): Change[];
  /** The store-wide revision: it grows with every change any process makes. */
  revision(): number;
  /** Incidents changed after revision `rev`, with their status; PENDING_CHANGE_ID when the pending alerts did. */
  changedSince(rev: number): Array<{ id: number; status: IncidentStatus; rev: number }>;
  /** The status and revision of every incident not resolved. */
  openStates(): Array<{ id: number; status: IncidentStatus; rev: number }>;
}

const OPEN = "status <> 'resolved'";
/** How many of a group's incidents a webhook alert's episode is looked for in (see `finished`). */
const RECENT_INCIDENTS = 20;
/** The group's last RECENT_INCIDENTS incidents, where an alert's earlier episodes are looked for. */
const RECENT = `SELECT id FROM incidents WHERE group_key = ? ORDER BY id DESC LIMIT ${RECENT_INCIDENTS}`;
/** Resolved alerts kept per incident: the newest, as the view orders them; firing ones are all kept. */
export const RESOLVED_ALERTS_KEPT = 100;

export function createIncidentStore(db: DatabaseSync, options: GroupingOptions): IncidentStore {
  const sql = preparedStatements(db);

  // One revision per transaction, taken on the first change in it.
  let txRev: number | undefined;
  // When this process first used the store (a sweep runs right after start): what `expire` counts silence from,
  // as Alertmanager's repeats could not reach a devops-mcp that was down.
  let upSince: number | undefined;
  const rev = (): number =>
    (txRev ??= (
      sql("UPDATE meta SET value = value + 1 WHERE key = 'rev' RETURNING value").get() as { value: number }
    ).value);
  // A function, so that the check reads what rev() took during the work, not what flow analysis last saw.
  const takenRev = (): number | undefined => txRev;
  const write = <T>(work: () => T): T =>
    transaction(db, () => {
      txRev = undefined;
      try {
        const out = work();
        // The changes a write returns are known by its revision: the feed finds them when a poll reads them back.
        const taken = takenRev();
        if (Array.isArray(out) && taken !== undefined)
          for (const change of out as Change[]) revisions.set(change, taken);
        return out;
      } finally {
        txRev = undefined;
      }
    });

  function event(id: number, now: number, e: NewEvent): void {
    sql('INSERT INTO events (incident_id, at, kind, summary, data) VALUES (?, ?, ?, ?, ?)').run(
      id,
      now,
      e.kind,
      e.summary,
      e.data === undefined ? null : JSON.stringify(e.data),
    );
    const { events_kept: kept } = sql(
      'UPDATE incidents SET updated_at = ?, rev = ?, events_kept = events_kept + 1 WHERE id = ? RETURNING events_kept',
    ).get(now, rev(), id) as { events_kept: number };
    // Bounded timeline: beyond the cap the oldest events go, and the incident counts them.
    const excess = kept - options.timelineMax;
    if (excess > 0) {
      sql(
        'DELETE FROM events WHERE id IN (SELECT id FROM events WHERE incident_id = ? ORDER BY id LIMIT ?)',
      ).run(id, excess);
      sql(
        'UPDATE incidents SET events_kept = events_kept - ?, events_dropped = events_dropped + ? WHERE id = ?',
      ).run(excess, excess, id);
    }
  }

  function openIncident(group: { key: string; labels: Labels }, alert: AlertInput, now: number): Change {
    const current = sql(`SELECT id FROM incidents WHERE group_key = ? AND ${OPEN}`).get(group.key) as
      { id: number } | undefined;
    if (current) return { id: current.id };
    const recent = sql(
      "SELECT id, resolved_at FROM incidents WHERE group_key = ? AND status = 'resolved' ORDER BY id DESC LIMIT 1",
    ).get(group.key) as { id: number; resolved_at: number } | undefined;
    if (recent && now - recent.resolved_at <= options.windowSeconds) {
      sql("UPDATE incidents SET status = 'open', resolved_at = NULL, quiet_since = NULL WHERE id = ?").run(
        recent.id,
      );
      event(recent.id, now, {
        kind: 'reopened',
        summary: `reopened: ${alertName(alert)} fired ${Math.round(now - recent.resolved_at)} s after it resolved (window ${options.windowSeconds} s)`,
      });
      return { id: recent.id, opened: true };
    }
    const title = `${alertName(alert)} on ${Object.entries(group.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(',')}`;
    // The partial unique index decides; a concurrent writer's incident is absorbed instead of duplicated.
    const inserted = sql(
      `INSERT INTO incidents (group_key, group_labels, title, severity, status, started_at, updated_at, rev)
       VALUES (?, ?, ?, ?, 'open', ?, ?, ?)
       ON CONFLICT (group_key) WHERE ${OPEN} DO NOTHING RETURNING id`,
    ).get(
      group.key,
      JSON.stringify(group.labels),
      title,
      alert.labels.severity ?? 'none',
      Math.min(alert.startsAt, now),
      now,
      rev(),
    ) as { id: number } | undefined;
    if (!inserted) {
      const existing = sql(`SELECT id FROM incidents WHERE group_key = ? AND ${OPEN}`).get(group.key) as {
        id: number;
      };
      return { id: existing.id };
    }
    event(inserted.id, now, { kind: 'opened', summary: `opened by ${alertName(alert)}` });
    return { id: inserted.id, opened: true };
  }

  /** Severity only rises while an incident lasts: its worst moment is what it is remembered by. */
  function raiseSeverity(id: number, current: string, severity: string | undefined): void {
    const highest = highestSeverity([current, severity]);
    if (severityRank(highest) > severityRank(current))
      sql('UPDATE incidents SET severity = ? WHERE id = ?').run(highest, id);
  }

  /**
   * Whether a webhook alert is of an episode already reported resolved: one that ended at or after its startsAt (a
   * real re-fire starts after the end before it). A "firing" sent after the "resolved" of the same episode — by the
   * other replica of an Alertmanager HA pair, or delivered late — must not fire it again: Alertmanager would never
   * resolve it twice. The end is compared, not the start: a polled alert starts at Prometheus's activeAt, earlier
   * than the FiredAt Alertmanager gets for a rule with `for`. An alert that expired has no end until its "resolved"
   * comes: its next repeat proves it still fires. A poll is never stale, so polled alerts are not checked.
   *
   * Looked for in the group's last RECENT_INCIDENTS incidents: a few indexed lookups however long its history
   * (each firing webhook alert is looked for, a new one in vain). A notification of an older episode — that many
   * incidents of the group opened since, each `windowSeconds` after the one before resolved — is not one still on
   * its way, and an alert wrongly fired again still expires.
   */
  function finished(alert: AlertInput, groupKey: string): boolean {
    return (
      sql(
        `SELECT 1 FROM alerts
         WHERE incident_id IN (${RECENT})
           AND fingerprint = ? AND state = 'resolved' AND ends_at IS NOT NULL AND ends_at >= ? LIMIT 1`,
      ).get(groupKey, alert.fingerprint, alert.startsAt) !== undefined
    );
  }

  function fire(alert: AlertInput, now: number, changes: Map<number, Change>): void {
    const group = groupOf(alert.labels, options.groupBy);
    if (alert.source === ALERTMANAGER_SOURCE && finished(alert, group.key)) return;
    sql('DELETE FROM pending_alerts WHERE fingerprint = ?').run(alert.fingerprint);
    const labels = JSON.stringify(alert.labels);
    const annotations = JSON.stringify(alert.annotations);
    // Found by its fingerprint, as resolveAlert finds it: an alert firing in an open incident stays in it, whatever
    // group its labels make now (incidents.groupBy changed, or another process on the file groups otherwise).
    const firing = sql(
      `SELECT a.incident_id AS id, a.annotations, a.polled_by, a.polled_start, a.last_seen FROM alerts a
       JOIN incidents i ON i.id = a.incident_id
       WHERE i.${OPEN} AND a.fingerprint = ? AND a.state = 'firing' ORDER BY a.incident_id DESC LIMIT 1`,
    ).get(alert.fingerprint) as FiringRow | undefined;
    if (firing && !endedUnseen(alert, firing)) {
      sql('UPDATE alerts SET last_seen = ?, annotations = ? WHERE incident_id = ? AND fingerprint = ?').run(
        now,
        annotations,
        firing.id,
        alert.fingerprint,
      );
      if (alert.polled)
        sql(
          'UPDATE alerts SET polled_by = ?, polled_start = ? WHERE incident_id = ? AND fingerprint = ?',
        ).run(alert.polled.by, alert.startsAt, firing.id, alert.fingerprint);
      // Subscribers hear of new annotation text, but the timeline does not: one with {{ $value }} changes at every
      // evaluation. That is one notification a poll at most (apply merges a poll's changes), as often as a client
      // re-reading the incident would see it differ.
      if (!sameLabels(firing.annotations, alert.annotations)) {
        sql('UPDATE incidents SET rev = ? WHERE id = ?').run(rev(), firing.id);
        merge(changes, { id: firing.id });
      }
      return;
    }
    let change: Change;
    if (firing) {
      sql(
        "UPDATE alerts SET state = 'resolved', ends_at = NULL WHERE incident_id = ? AND fingerprint = ?",
      ).run(firing.id, alert.fingerprint);
      event(firing.id, now, {
        kind: 'alert_resolved',
        summary: `${alertName(alert)} ended between two polls: Prometheus reports it active again since ${toRfc3339(alert.startsAt)}; when it ended is not known`,
        data: { fingerprint: alert.fingerprint, ended_unseen: true },
      });
      change = { id: firing.id };
    } else {
      change = openIncident(group, alert, now);
      if (change.opened === true) merge(changes, change);
    }
    const existing = sql('SELECT 1 FROM alerts WHERE incident_id = ? AND fingerprint = ?').get(
      change.id,
      alert.fingerprint,
    );
    sql(
      `INSERT INTO alerts (incident_id, fingerprint, name, state, severity, labels, annotations, generator_url, source, starts_at, ends_at, last_seen, polled_by, polled_start)
       VALUES (?, ?, ?, 'firing', ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)
       ON CONFLICT (incident_id, fingerprint) DO UPDATE SET state = 'firing', ends_at = NULL, starts_at = excluded.starts_at,
         last_seen = excluded.last_seen, annotations = excluded.annotations, polled_by = excluded.polled_by,
         polled_start = excluded.polled_start`,
    ).run(
      change.id,
      alert.fingerprint,
      alertName(alert),
      alert.labels.severity ?? null,
      labels,
      annotations,
      alert.generatorURL ?? null,
      alert.source,
      alert.startsAt,
      now,
      alert.polled?.by ?? null,
      alert.polled ? alert.startsAt : null,
    );
    const incident = sql('SELECT quiet_since, severity FROM incidents WHERE id = ?').get(change.id) as {
      quiet_since: number | null;
      severity: string;
    };
    if (incident.quiet_since !== null) {
      sql('UPDATE incidents SET quiet_since = NULL WHERE id = ?').run(change.id);
    }
    raiseSeverity(change.id, incident.severity, alert.labels.severity);
    merge(changes, change);
    const again = existing !== undefined || incident.quiet_since !== null;
    event(change.id, now, {
      kind: 'alert_firing',
      summary: `${alertName(alert)} firing${again ? ' again' : ''}${incident.quiet_since === null ? '' : ' during the quiet period: resolution cancelled'}${summaryOf(alert)}`,
      data: { fingerprint: alert.fingerprint, severity: alert.labels.severity },
    });
  }

  function resolveAlert(alert: AlertInput, now: number, changes: Map<number, Change>): void {
    sql('DELETE FROM pending_alerts WHERE fingerprint = ?').run(alert.fingerprint);
    // Found by its fingerprint among the open incidents, not by the group its labels make now: after a change of
    // incidents.groupBy (or a restart with another config) the alert sits in the incident of its old group, and
    // would otherwise never resolve there.
    const rows = sql(
      `SELECT a.incident_id AS id, a.starts_at FROM alerts a JOIN incidents i ON i.id = a.incident_id
       WHERE i.${OPEN} AND a.fingerprint = ? AND a.state = 'firing'`,
    ).all(alert.fingerprint) as Array<{ id: number; starts_at: number }>;
    for (const row of rows) {
      if (earlier(alert, row.starts_at)) continue;
      sql(
        "UPDATE alerts SET state = 'resolved', ends_at = ?, last_seen = ? WHERE incident_id = ? AND fingerprint = ?",
      ).run(alert.endsAt ?? now, now, row.id, alert.fingerprint);
      alertEnded(row.id, now, changes, {
        kind: 'alert_resolved',
        summary: `${alertName(alert)} resolved`,
        data: { fingerprint: alert.fingerprint },
      });
    }
    // The end an expired alert lacked: with it, a "firing" of that episode still on its way is known to be stale.
    const expired = sql(
      `SELECT incident_id AS id, starts_at FROM alerts WHERE incident_id IN (${RECENT})
         AND fingerprint = ? AND state = 'resolved' AND ends_at IS NULL`,
    ).all(groupOf(alert.labels, options.groupBy).key, alert.fingerprint) as Array<{
      id: number;
      starts_at: number;
    }>;
    for (const row of expired) {
      if (earlier(alert, row.starts_at)) continue;
      sql('UPDATE alerts SET ends_at = ?, last_seen = ? WHERE incident_id = ? AND fingerprint = ?').run(
        alert.endsAt ?? now,
        now,
        row.id,
        alert.fingerprint,
      );
    }
  }

  /** An alert of incident `id` resolved: on the timeline, and the quiet period starts if it was the last firing. */
  function alertEnded(id: number, now: number, changes: Map<number, Change>, e: NewEvent): void {
    merge(changes, { id });
    event(id, now, e);
    const firing = sql("SELECT count(*) AS n FROM alerts WHERE incident_id = ? AND state = 'firing'").get(
      id,
    ) as { n: number };
    if (firing.n > 0) return;
    sql('UPDATE incidents SET quiet_since = ? WHERE id = ?').run(now, id);
    event(id, now, {
      kind: 'quiet',
      summary: `every alert resolved; resolves after ${options.quietSeconds} s unless one fires again`,
    });
  }

  /**
   * Drops an incident's resolved alerts past the newest RESOLVED_ALERTS_KEPT, and counts them: a label templated from
   * the value (`depth: {{ $value }}`) makes a new alert at every evaluation, and its rows would otherwise grow for as
   * long as the incident lasts, with every read of it. A late webhook "firing" of a dropped alert is no longer known
   * to be stale; an episode that old is not one still on its way. Run after a write's alerts are applied.
   */
  function capAlerts(id: number): void {
    const { changes: dropped } = sql(
      `DELETE FROM alerts WHERE incident_id = ? AND state = 'resolved' AND rowid NOT IN (
         SELECT rowid FROM alerts WHERE incident_id = ? AND state = 'resolved' ORDER BY starts_at DESC, rowid DESC LIMIT ?)`,
    ).run(id, id, RESOLVED_ALERTS_KEPT);
    if (Number(dropped) > 0)
      sql('UPDATE incidents SET alerts_dropped = alerts_dropped + ? WHERE id = ?').run(dropped, id);
  }

  /** Notes a pending alert; true when it was not noted before. */
  function notePending(alert: AlertInput, now: number): boolean {
    const group = groupOf(alert.labels, options.groupBy);
    const known = sql('SELECT 1 FROM pending_alerts WHERE fingerprint = ?').get(alert.fingerprint);
    sql(
      `INSERT INTO pending_alerts (fingerprint, group_key, name, labels, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (fingerprint) DO UPDATE SET last_seen = excluded.last_seen`,
    ).run(alert.fingerprint, group.key, alertName(alert), JSON.stringify(alert.labels), now, now);
    return known === undefined;
  }

  /** The pending alerts changed: other processes find it by the revision kept for it (see changedSince). */
  function pendingChanged(): Change {
    sql("UPDATE meta SET value = ? WHERE key = 'pending_rev'").run(rev());
    return { id: PENDING_CHANGE_ID };
  }

  function resolveIncident(id: number, now: number, summary: string): Change {
    sql("UPDATE incidents SET status = 'resolved', resolved_at = ?, quiet_since = NULL WHERE id = ?").run(
      now,
      id,
    );
    event(id, now, { kind: 'resolved', summary });
    return { id, closed: true };
  }

  const filtered = (filter: Omit<ListFilter, 'limit'>) => {
    const where: string[] = [];
    const params: Array<string | number> = [];
    if (filter.status === 'active' || filter.status === undefined) where.push(`i.${OPEN}`);
    else if (filter.status !== 'all') {
      where.push('i.status = ?');
      params.push(filter.status);
    }
    if (filter.since !== undefined) {
      where.push('i.updated_at >= ?');
      params.push(filter.since);
    }
    if (filter.before !== undefined) {
      where.push('i.id < ?');
      params.push(filter.before);
    }
    return { where: where.length > 0 ? `WHERE ${where.join(' AND ')}` : '', params };
  };
  const activeSelect = `SELECT i.*,
      (SELECT count(*) FROM alerts a WHERE a.incident_id = i.id) AS alert_count,
      (SELECT count(*) FROM alerts a WHERE a.incident_id = i.id AND a.state = 'firing') AS firing_count,
      e.kind AS last_kind, e.summary AS last_summary, e.at AS last_at
    FROM incidents i
    LEFT JOIN events e ON e.id = (SELECT max(id) FROM events WHERE incident_id = i.id)`;

  return {
    apply(alerts, now) {
      upSince ??= now;
      if (alerts.length === 0) return [];
      return write(() => {
        const changes = new Map<number, Change>();
        let noted = false;
        for (const alert of alerts) {
          if (alert.state === 'firing') fire(alert, now, changes);
          else if (alert.state === 'resolved') resolveAlert(alert, now, changes);
          else if (notePending(alert, now)) noted = true;
        }
        if (noted) merge(changes, pendingChanged());
        for (const id of changes.keys()) capAlerts(id);
        if (options.quietSeconds === 0) for (const change of sweepNow(now)) merge(changes, change);
        return [...changes.values()];
      });
    },
    polled(prometheus) {
      return (
        sql(
          `SELECT a.fingerprint, a.labels, coalesce(a.polled_start, a.starts_at) AS since FROM alerts a
           JOIN incidents i ON i.id = a.incident_id
           WHERE a.state = 'firing' AND i.${OPEN}
             AND (a.polled_by = ? OR (a.polled_by IS NULL AND a.source = ?))`,
        ).all(prometheus, PROMETHEUS_SOURCE) as Array<{ fingerprint: string; labels: string; since: number }>
      ).map(r => ({ fingerprint: r.fingerprint, labels: JSON.parse(r.labels) as Labels, since: r.since }));
    },
    expire(source, afterSeconds, now) {
      upSince ??= now;
      if (now - upSince <= afterSeconds) return [];
      const stale = () =>
        sql(
          `SELECT a.incident_id AS id, a.fingerprint, a.name, a.last_seen FROM alerts a JOIN incidents i ON i.id = a.incident_id
           WHERE a.state = 'firing' AND a.source = ? AND a.last_seen < ? AND i.${OPEN}`,
        ).all(source, now - afterSeconds) as Array<{
          id: number;
          fingerprint: string;
          name: string;
          last_seen: number;
        }>;
      // Read outside the write lock first: most sweeps find nothing to expire.
      if (stale().length === 0) return [];
      return write(() => {
        const changes = new Map<number, Change>();
        for (const row of stale()) {
          // last_seen stays: it was not seen now.
          sql(
            "UPDATE alerts SET state = 'resolved', ends_at = NULL WHERE incident_id = ? AND fingerprint = ?",
          ).run(row.id, row.fingerprint);
          alertEnded(row.id, now, changes, {
            kind: 'alert_resolved',
            summary: `${row.name} expired: not seen since ${toRfc3339(row.last_seen)}, for more than ${formatDuration(afterSeconds)}`,
            data: { fingerprint: row.fingerprint, expired: true, last_seen: row.last_seen },
          });
        }
        if (options.quietSeconds === 0) for (const change of sweepNow(now)) merge(changes, change);
        return [...changes.values()];
      });
    },
    pending() {
      return (sql('SELECT fingerprint FROM pending_alerts').all() as Array<{ fingerprint: string }>).map(
        r => r.fingerprint,
      );
    },
    pendingAlerts: limit =>
      sql('SELECT name, group_key, first_seen FROM pending_alerts ORDER BY first_seen LIMIT ?').all(
        limit,
      ) as Array<{ name: string; group_key: string; first_seen: number }>,
    forgetPending(fingerprints) {
      if (fingerprints.length === 0) return [];
      return write(() => {
        let forgot = false;
        for (const fingerprint of fingerprints)
          if (sql('DELETE FROM pending_alerts WHERE fingerprint = ?').run(fingerprint).changes > 0)
            forgot = true;
        return forgot ? [pendingChanged()] : [];
      });
    },
    sweep(now) {
      const due = sql(
        `SELECT id FROM incidents WHERE ${OPEN} AND quiet_since IS NOT NULL AND quiet_since <= ? LIMIT 1`,
      ).get(now - options.quietSeconds);
      if (!due) return [];
      return write(() => sweepNow(now));
    },
    get: id => sql('SELECT * FROM incidents WHERE id = ?').get(id) as IncidentRow | undefined,
    alerts: id =>
      sql(
        "SELECT * FROM alerts WHERE incident_id = ? ORDER BY state = 'firing' DESC, starts_at DESC, rowid DESC",
      ).all(id) as unknown as AlertRow[],
    alertsDropped: id =>
      (
        sql('SELECT alerts_dropped FROM incidents WHERE id = ?').get(id) as
          { alerts_dropped: number } | undefined
      )?.alerts_dropped ?? 0,
    events: (id, limit) =>
      (
        sql('SELECT * FROM events WHERE incident_id = ? ORDER BY id DESC LIMIT ?').all(
          id,
          limit,
        ) as unknown as EventRow[]
      ).reverse(),
    eventCount: id =>
      (sql('SELECT events_kept AS n FROM incidents WHERE id = ?').get(id) as { n: number } | undefined)?.n ??
      0,
    sideCounts: id => {
      const rows = sql(
        "SELECT kind, count(*) AS n FROM events WHERE incident_id = ? AND kind IN ('finding', 'action') GROUP BY kind",
      ).all(id) as Array<{ kind: string; n: number }>;
      const of = (kind: string) => rows.find(r => r.kind === kind)?.n ?? 0;
      return { findings: of('finding'), actions: of('action') };
    },
    active: () => sql(`${activeSelect} WHERE i.${OPEN} ORDER BY i.id DESC`).all() as unknown as ActiveRow[],
    list(filter) {
      const { where, params } = filtered(filter);
      return sql(`${activeSelect} ${where} ORDER BY i.id DESC LIMIT ?`).all(
        ...params,
        filter.limit,
      ) as unknown as ActiveRow[];
    },
    count(filter) {
      const { where, params } = filtered(filter);
      return (sql(`SELECT count(*) AS n FROM incidents i ${where}`).get(...params) as { n: number }).n;
    },
    ids: (prefix, limit) =>
      (
        sql("SELECT id FROM incidents WHERE CAST(id AS TEXT) LIKE ? || '%' ORDER BY id DESC LIMIT ?").all(
          prefix,
          limit,
        ) as Array<{ id: number }>
      ).map(r => r.id),
    addEvent(id, e, now) {
      return write(() => {
        event(id, now, e);
        return [{ id }];
      });
    },
    setStatus(id, status, now, why) {
      return write(() => {
        const row = sql('SELECT status FROM incidents WHERE id = ?').get(id) as
          { status: IncidentStatus } | undefined;
        if (!row || row.status === status) return [];
        const reason = why === undefined ? '' : `: ${why}`;
        if (status === 'resolved') return [resolveIncident(id, now, `resolved by hand${reason}`)];
        let quiet = false;
        if (row.status === 'resolved') {
          // Acknowledging a resolved incident reopens it rather than being refused (annotate_incident and the README
          // offer `acknowledged` on any incident), unless its group already has another one open.
          const group = sql('SELECT group_key FROM incidents WHERE id = ?').get(id) as { group_key: string };
          const other = sql(`SELECT id FROM incidents WHERE group_key = ? AND ${OPEN}`).get(group.group_key);
          if (other) return [];
          // With no alert firing, nothing would ever resolve it again: its quiet period starts now, so the flap
          // guard resolves it as any other (a firing alert cancels that, as it does for any quiet incident).
          const firing = sql(
            "SELECT count(*) AS n FROM alerts WHERE incident_id = ? AND state = 'firing'",
          ).get(id) as { n: number };
          quiet = firing.n === 0;
        }
        sql("UPDATE incidents SET status = 'acknowledged', resolved_at = NULL WHERE id = ?").run(id);
        if (quiet) sql('UPDATE incidents SET quiet_since = ? WHERE id = ?').run(now, id);
        const resolves = quiet
          ? `; no alert firing, it resolves after ${options.quietSeconds} s unless one fires`
          : '';
        event(id, now, { kind: 'status', summary: `${row.status} → acknowledged${reason}${resolves}` });
        return [{ id, opened: row.status === 'resolved' }];
      });
    },
    recordHealth(id, verdict, now) {
      const last = () => {
        const row = sql(
          "SELECT json_extract(data, '$.status') AS status FROM events WHERE incident_id = ? AND kind = 'health' AND json_extract(data, '$.target') = ? ORDER BY id DESC LIMIT 1",
        ).get(id, verdict.target) as { status: string } | undefined;
        return row?.status;
      };
      // Read outside the write lock first: most checks find the verdict unchanged and need no transaction.
      if (last() === verdict.status) return [];
      return write(() => {
        if (last() === verdict.status) return [];
        const why = verdict.reasons.length > 0 ? `: ${verdict.reasons.slice(0, 3).join('; ')}` : '';
        event(id, now, {
          kind: 'health',
          summary: `${verdict.target} is ${verdict.status}${why}`,
          data: { target: verdict.target, status: verdict.status, reasons: verdict.reasons },
        });
        return [{ id }];
      });
    },
    revision: () => (sql("SELECT value FROM meta WHERE key = 'rev'").get() as { value: number }).value,
    // One statement, so that the pending alerts' revision and the incidents' are read at one moment.
    changedSince: rev =>
      sql(
        `SELECT id, status, rev FROM incidents WHERE rev > ?
         UNION ALL SELECT ${PENDING_CHANGE_ID}, 'open', value FROM meta WHERE key = 'pending_rev' AND value > ?
         ORDER BY rev`,
      ).all(rev, rev) as Array<{
        id: number;
        status: IncidentStatus;
        rev: number;
      }>,
    openStates: () =>
      sql(`SELECT id, status, rev FROM incidents WHERE ${OPEN}`).all() as Array<{
        id: number;
        status: IncidentStatus;
        rev: number;
      }>,
  };

  function sweepNow(now: number): Change[] {
    const due = sql(
      `SELECT id, quiet_since FROM incidents WHERE ${OPEN} AND quiet_since IS NOT NULL AND quiet_since <= ?`,
    ).all(now - options.quietSeconds) as Array<{ id: number; quiet_since: number }>;
    return due.map(row =>
      resolveIncident(
        row.id,
        now,
        `resolved: every alert stayed resolved for ${Math.round(now - row.quiet_since)} s`,
      ),
    );
  }
}

function merge(changes: Map<number, Change>, change: Change): void {
  const known = changes.get(change.id);
  changes.set(change.id, {
    id: change.id,
    ...((known?.opened ?? change.opened) ? { opened: true } : {}),
    ...((known?.closed ?? change.closed) ? { closed: true } : {}),
  });
}

/**
 * Whether a webhook "resolved" is of an episode before the one a row holds: it started earlier. A polled row
 * starts at Prometheus's activeAt, no later than the FiredAt Alertmanager has for the same episode, so that
 * episode's "resolved" still ends it. A poll's "resolved" is never of another episode.
 */
function earlier(alert: AlertInput, startsAt: number): boolean {
  return alert.source === ALERTMANAGER_SOURCE && alert.startsAt < startsAt;
}

interface FiringRow {
  id: number;
  annotations: string;
  polled_by: string | null;
  polled_start: number | null;
  last_seen: number;
}

/**
 * Whether a polled alert firing here is of a new episode: the Prometheus that reported the one stored, running since
 * before it began, now reports a later activeAt, so the alert ended and fired again between two polls (or while
 * devops-mcp was down). A Prometheus that restarted since gives its alerts a new activeAt (it restores no `for`
 * shorter than its grace period), which says nothing of an end; another Prometheus's activeAt is its own. The new
 * activeAt must also be later than the last time the alert was seen firing: one URL in front of an HA pair answers
 * from either replica, whose activeAt for one alert differ by their evaluation offsets, and the later of the two is
 * no new episode.
 */
function endedUnseen(alert: AlertInput, row: FiringRow): boolean {
  const polled = alert.polled;
  return (
    polled?.upSince !== undefined &&
    row.polled_by === polled.by &&
    row.polled_start !== null &&
    polled.upSince < row.polled_start &&
    alert.startsAt > row.polled_start &&
    alert.startsAt > row.last_seen
  );
}

/** Whether stored label JSON holds the same names and values, in whatever order. */
function sameLabels(stored: string, labels: Labels): boolean {
  const before = JSON.parse(stored) as Labels;
  const names = Object.keys(labels);
  return names.length === Object.keys(before).length && names.every(name => before[name] === labels[name]);
}

function alertName(alert: AlertInput): string {
  return alert.labels.alertname ?? 'alert';
}

function summaryOf(alert: AlertInput): string {
  const text = alert.annotations.summary ?? alert.annotations.description;
  return text === undefined ? '' : `: ${text.slice(0, 200)}`;
}
