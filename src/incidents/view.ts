// What clients see of incidents: the same JSON for the resources and the tools, within the output byte cap, with a
// note saying what was left out and how to see it.

import type { ActiveRow, AlertRow, EventRow, IncidentRow, IncidentStore } from '../store/incidents.ts';
import { toRfc3339 } from '../lib/time.ts';

export const ACTIVE_URI = 'incident://active';
export const incidentUri = (id: number): string => `incident://${id}`;

/** Events read for one incident view; fewer are shown when they do not fit. */
const TIMELINE_READ = 100;
const SIDE_READ = 20;
// Room for the note and the counters.
const RESERVE = 400;

const bytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value));
const time = (seconds: number | null): string | undefined =>
  seconds === null ? undefined : toRfc3339(seconds);
const parse = (text: string | null): unknown => (text === null ? undefined : JSON.parse(text));
const parseLabels = (text: string | null): Record<string, string> | undefined =>
  parse(text) as Record<string, string> | undefined;

export interface IncidentSummary {
  id: number;
  uri: string;
  title: string;
  severity: string;
  status: string;
  started: string;
  updated: string;
  resolved?: string;
  alerts: number;
  firing: number;
  last_event?: { at: string; kind: string; summary: string };
}

export function summarize(row: ActiveRow): IncidentSummary {
  const summary: IncidentSummary = {
    id: row.id,
    uri: incidentUri(row.id),
    title: row.title,
    severity: row.severity,
    status: row.quiet_since === null || row.status === 'resolved' ? row.status : `${row.status} (resolving)`,
    started: toRfc3339(row.started_at),
    updated: toRfc3339(row.updated_at),
    alerts: row.alert_count,
    firing: row.firing_count,
  };
  if (row.resolved_at !== null) summary.resolved = toRfc3339(row.resolved_at);
  if (row.last_at !== null && row.last_kind !== null && row.last_summary !== null) {
    summary.last_event = { at: toRfc3339(row.last_at), kind: row.last_kind, summary: row.last_summary };
  }
  return summary;
}

export interface ListView {
  incidents: IncidentSummary[];
  shown: number;
  total: number;
  truncated: boolean;
  /** Alerts Prometheus reports as pending (their rule's `for` has not passed): no incident yet. */
  pending?: Array<{ alert: string; group: string; since: string }>;
  note?: string;
}

/** A list of incidents, most severe and newest first, cut to the byte cap. */
export function listView(
  rows: readonly ActiveRow[],
  maxBytes: number,
  what: string,
  pending: ReadonlyArray<{ name: string; group_key: string; first_seen: number }> = [],
): ListView {
  const all = rows.map(summarize);
  const pendingView = pending.map(p => ({
    alert: p.name,
    group: p.group_key,
    since: toRfc3339(p.first_seen),
  }));
  const pendingBytes = pendingView.length > 0 ? bytes(pendingView) : 0;
  const kept: IncidentSummary[] = [];
  let used = 0;
  for (const item of all) {
    const size = bytes(item) + 1;
    if (used + size > maxBytes - RESERVE - pendingBytes) break;
    kept.push(item);
    used += size;
  }
  const view: ListView = {
    incidents: kept,
    shown: kept.length,
    total: all.length,
    truncated: kept.length < all.length,
    ...(pendingView.length > 0 ? { pending: pendingView } : {}),
  };
  if (view.truncated) {
    view.note = `Showing ${kept.length} of ${all.length} ${what} to fit ${maxBytes} bytes; ${all.length - kept.length} left out. Read incident://{id} for one, or list_incidents with status or since to narrow.`;
  }
  return view;
}

export interface AlertView {
  name: string;
  state: string;
  severity?: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  generator_url?: string;
  source: string;
  starts: string;
  ends?: string;
  fingerprint: string;
}

export interface EventView {
  id: number;
  at: string;
  kind: string;
  summary: string;
  data?: unknown;
}

export interface IncidentView {
  id: number;
  uri: string;
  title: string;
  severity: string;
  status: string;
  group: Record<string, string>;
  started: string;
  updated: string;
  resolved?: string;
  resolving?: { since: string; resolves_at: string };
  alerts: AlertView[];
  alerts_left_out?: number;
  timeline: EventView[];
  /** Events in the timeline not shown here: older than those shown, or dropped past the per-incident cap. */
  timeline_left_out: number;
  findings: EventView[];
  actions: EventView[];
  links: string[];
  note?: string;
}

function alertView(row: AlertRow, withAnnotations: boolean): AlertView {
  const view: AlertView = {
    name: row.name,
    state: row.state,
    labels: parseLabels(row.labels) ?? {},
    source: row.source,
    starts: toRfc3339(row.starts_at),
    fingerprint: row.fingerprint,
  };
  if (row.severity !== null) view.severity = row.severity;
  const annotations = parseLabels(row.annotations);
  if (withAnnotations && annotations && Object.keys(annotations).length > 0) view.annotations = annotations;
  if (row.generator_url !== null) view.generator_url = row.generator_url;
  if (row.ends_at !== null) view.ends = toRfc3339(row.ends_at);
  return view;
}

function eventView(row: EventRow): EventView {
  const view: EventView = { id: row.id, at: toRfc3339(row.at), kind: row.kind, summary: row.summary };
  const data = parse(row.data);
  if (data !== undefined) view.data = data;
  return view;
}

/** One incident with its alerts, recent timeline, findings, actions and links; undefined when there is none. */
export function incidentView(
  store: IncidentStore,
  id: number,
  maxBytes: number,
  quietSeconds: number,
): IncidentView | undefined {
  const row: IncidentRow | undefined = store.get(id);
  if (!row) return undefined;
  const alertRows = store.alerts(id);
  const events = store.events(id, TIMELINE_READ);
  const total = store.eventCount(id) + row.events_dropped;
  const side = store
    .events(id, TIMELINE_READ + SIDE_READ)
    .filter(e => e.kind === 'finding' || e.kind === 'action');
  const links = [...new Set(alertRows.map(a => a.generator_url).filter((u): u is string => u !== null))];
  const base: IncidentView = {
    id,
    uri: incidentUri(id),
    title: row.title,
    severity: row.severity,
    status: row.status,
    group: parseLabels(row.group_labels) ?? {},
    started: toRfc3339(row.started_at),
    updated: toRfc3339(row.updated_at),
    alerts: alertRows.map(a => alertView(a, true)),
    timeline: events.map(eventView),
    timeline_left_out: total - events.length,
    findings: side
      .filter(e => e.kind === 'finding')
      .slice(-SIDE_READ)
      .map(eventView),
    actions: side
      .filter(e => e.kind === 'action')
      .slice(-SIDE_READ)
      .map(eventView),
    links,
  };
  const resolved = time(row.resolved_at);
  if (resolved !== undefined) base.resolved = resolved;
  if (row.quiet_since !== null && row.status !== 'resolved') {
    base.resolving = {
      since: toRfc3339(row.quiet_since),
      resolves_at: toRfc3339(row.quiet_since + quietSeconds),
    };
  }
  return fit(base, alertRows, maxBytes);
}

/** Drops the oldest events, then annotations, then alerts, until the view fits; says what went. */
function fit(view: IncidentView, alertRows: readonly AlertRow[], maxBytes: number): IncidentView {
  const budget = maxBytes - RESERVE;
  if (bytes(view) <= budget) return view;
  const notes: string[] = [];
  const shownEvents = view.timeline.length;
  while (view.timeline.length > 3 && bytes(view) > budget) {
    view.timeline = view.timeline.slice(Math.ceil(view.timeline.length / 4));
  }
  view.timeline_left_out += shownEvents - view.timeline.length;
  if (bytes(view) > budget) {
    view.alerts = alertRows.map(a => alertView(a, false));
    notes.push('alert annotations left out');
  }
  while (view.alerts.length > 1 && bytes(view) > budget) {
    view.alerts = view.alerts.slice(0, Math.max(1, Math.floor(view.alerts.length * 0.75)));
  }
  if (view.alerts.length < alertRows.length) {
    view.alerts_left_out = alertRows.length - view.alerts.length;
    notes.push(`${view.alerts_left_out} of ${alertRows.length} alerts left out (firing ones kept first)`);
  }
  while (bytes(view) > budget && (view.findings.length > 1 || view.actions.length > 1)) {
    view.findings = view.findings.slice(Math.ceil(view.findings.length / 2));
    view.actions = view.actions.slice(Math.ceil(view.actions.length / 2));
    notes.push('older findings and actions left out');
  }
  view.note = `Cut to fit ${maxBytes} bytes: ${view.timeline_left_out} older timeline events not shown${notes.length > 0 ? `; ${[...new Set(notes)].join('; ')}` : ''}. The store keeps older events (up to incidents.timelineMax per incident).`;
  return view;
}
