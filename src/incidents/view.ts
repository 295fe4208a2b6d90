// What clients see of incidents: the same JSON for the resources and the tools, within the output byte cap, with a
// note saying what was left out and how to see it.

import { field, type AgentStore } from '../store/agent.ts';
import type { ActiveRow, AlertRow, EventRow, IncidentRow, IncidentStore } from '../store/incidents.ts';
import { cutIndex } from '../lib/logs.ts';
import { redactDeep, type Redactor } from '../lib/redact.ts';
import { toRfc3339 } from '../lib/time.ts';

export const ACTIVE_URI = 'incident://active';
export const incidentUri = (id: number): string => `incident://${id}`;
/** The full transcript of one investigation, apart from the incident view (resources/incidents.ts). */
export const transcriptUri = (id: number, investigation: number): string =>
  `incident://${id}/investigations/${investigation}`;

/** Events read for one incident view; fewer are shown when they do not fit. */
const TIMELINE_READ = 100;
const SIDE_READ = 20;
// Room for the note and the counters.
const RESERVE = 400;

const bytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value));
const time = (seconds: number | null): string | undefined =>
  seconds === null ? undefined : toRfc3339(seconds);
// What alerts and notes carry is scrubbed of the configured secrets as it is read, before anything is cut: a secret
// cut in two matches no longer, and the scrubbing of the finished view would let its first part go out.
const unscrubbed: Redactor = text => text;
const parse = (text: string | null, redact: Redactor): unknown =>
  text === null ? undefined : redactDeep(JSON.parse(text), redact);
const parseLabels = (text: string | null, redact: Redactor): Record<string, string> | undefined =>
  parse(text, redact) as Record<string, string> | undefined;

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

export function summarize(row: ActiveRow, redact: Redactor = unscrubbed): IncidentSummary {
  const summary: IncidentSummary = {
    id: row.id,
    uri: incidentUri(row.id),
    title: cutText(redact(row.title), SUMMARY_TEXT),
    severity: cutText(redact(row.severity), SEVERITY_TEXT),
    status: row.quiet_since === null || row.status === 'resolved' ? row.status : `${row.status} (resolving)`,
    started: toRfc3339(row.started_at),
    updated: toRfc3339(row.updated_at),
    alerts: row.alert_count,
    firing: row.firing_count,
  };
  if (row.resolved_at !== null) summary.resolved = toRfc3339(row.resolved_at);
  if (row.last_at !== null && row.last_kind !== null && row.last_summary !== null) {
    summary.last_event = {
      at: toRfc3339(row.last_at),
      kind: row.last_kind,
      summary: cutText(redact(row.last_summary), SUMMARY_TEXT),
    };
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

export interface ListOptions {
  /** How many incidents match, when `rows` are only the first of them (a query's limit); default `rows.length`. */
  total?: number;
  /** How to see the incidents past `rows`, for the note when all of `rows` fit. */
  more?: string;
  pending?: ReadonlyArray<{ name: string; group_key: string; first_seen: number }>;
  /** Scrubs the configured secrets from the incidents' texts before they are cut. */
  redact?: Redactor;
}

/** A list of incidents, newest first, cut to the byte cap; the note says how many were left out and why. */
export function listView(
  rows: readonly ActiveRow[],
  maxBytes: number,
  what: string,
  { total = rows.length, more, pending = [], redact = unscrubbed }: ListOptions = {},
): ListView {
  const all = rows.map(row => summarize(row, redact));
  const pendingView = pending.map(p => ({
    alert: redact(p.name),
    group: redact(p.group_key),
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
  const count = Math.max(total, all.length);
  const view: ListView = {
    incidents: kept,
    shown: kept.length,
    total: count,
    truncated: kept.length < count,
    ...(pendingView.length > 0 ? { pending: pendingView } : {}),
  };
  if (view.truncated) {
    const cut = kept.length < all.length;
    const how =
      cut || more === undefined
        ? 'Read incident://{id} for one, or list_incidents with status or since to narrow.'
        : more;
    view.note = `Showing ${kept.length} of ${count} ${what}${cut ? ` to fit ${maxBytes} bytes` : ''}; ${count - kept.length} left out. ${how}`;
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

/** The latest checked diagnosis of the headless loop, bounded; the whole one is in its transcript resource. */
export interface DiagnosisView {
  investigation: number;
  transcript_uri: string;
  mode: string;
  at?: string;
  summary?: string;
  root_cause?: string;
  confidence?: number;
  evidence?: unknown[];
  /** Evidence items not shown. */
  evidence_left_out?: number;
  proposed_change?: unknown;
  next_steps?: unknown[];
  /** What the citation check found: evidence naming calls that did not happen, claims without evidence. */
  flags: string[];
  budget_hit?: string;
  tokens: number;
  model_calls: number;
  tool_calls: number;
}

export interface OutcomeView {
  repo: string;
  pr_number: number;
  pr_url: string;
  outcome: string;
  at: string;
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
  diagnosis?: DiagnosisView;
  /** What came of the PRs made for it (resolved after the change, not resolved, closed unmerged, pending). */
  outcomes?: OutcomeView[];
  alerts: AlertView[];
  /** Alerts not shown here: cut to fit, or older resolved ones the store no longer keeps (RESOLVED_ALERTS_KEPT). */
  alerts_left_out?: number;
  timeline: EventView[];
  /** Events in the timeline not shown here: older than those shown, or dropped past the per-incident cap. */
  timeline_left_out: number;
  findings: EventView[];
  actions: EventView[];
  links: string[];
  note?: string;
}

function alertView(row: AlertRow, withAnnotations: boolean, redact: Redactor): AlertView {
  const view: AlertView = {
    name: redact(row.name),
    state: row.state,
    labels: parseLabels(row.labels, redact) ?? {},
    source: row.source,
    starts: toRfc3339(row.starts_at),
    fingerprint: row.fingerprint,
  };
  if (row.severity !== null) view.severity = cutText(redact(row.severity), SEVERITY_TEXT);
  const annotations = parseLabels(row.annotations, redact);
  if (withAnnotations && annotations && Object.keys(annotations).length > 0) view.annotations = annotations;
  if (row.generator_url !== null) view.generator_url = redact(row.generator_url);
  if (row.ends_at !== null) view.ends = toRfc3339(row.ends_at);
  return view;
}

const EVIDENCE_SHOWN = 12;
const LIST_SHOWN = 5;
const OUTCOMES_SHOWN = 10;

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Titles and last events in lists, in characters. */
const SUMMARY_TEXT = 200;
const SEVERITY_TEXT = 40;

/** `text` cut to about `max` characters, marked with how many went: what is cut only to fit the byte cap. */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  const end = cutIndex(text, max);
  return `${text.slice(0, end)}…[${text.length - end} chars cut]`;
}

/**
 * `value` with every string (keys too) cut to `max` characters, and every list and object to its first `items`,
 * at any depth; each cut marked.
 */
function squeeze(value: unknown, max: number, items: number): unknown {
  if (typeof value === 'string') return cutText(value, max);
  if (Array.isArray(value)) {
    const kept = value.slice(0, items).map(item => squeeze(item, max, items));
    return value.length > items ? [...kept, `…[${value.length - items} more items cut]`] : kept;
  }
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  const kept = entries.slice(0, items).map(([key, item]) => [cutText(key, max), squeeze(item, max, items)]);
  if (entries.length > items) kept.push(['…', `[${entries.length - items} more entries cut]`]);
  return Object.fromEntries(kept);
}

/** `value` with its strings clipped and its lists shortened, two levels deep: a diagnosis's parts, bounded. */
function bounded(value: unknown, max: number, depth = 0): unknown {
  if (typeof value === 'string') return clip(value, max);
  if (Array.isArray(value))
    return depth >= 2 ? `[${value.length} items]` : value.slice(0, 20).map(v => bounded(v, max, depth + 1));
  if (value === null || typeof value !== 'object') return value;
  if (depth >= 2) return '{…}';
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, bounded(v, max, depth + 1)]));
}

function diagnosisView(
  incidentId: number,
  agent: Pick<AgentStore, 'latestDiagnosis'>,
): DiagnosisView | undefined {
  const run = agent.latestDiagnosis(incidentId);
  if (!run) return undefined;
  const d = run.diagnosis;
  const view: DiagnosisView = {
    investigation: run.id,
    transcript_uri: transcriptUri(incidentId, run.id),
    mode: run.mode,
    flags: run.flags.slice(0, 10).map(flag => clip(flag, 200)),
    tokens: run.tokens,
    model_calls: run.modelCalls,
    tool_calls: run.toolCalls,
  };
  if (run.endedAt !== undefined) view.at = toRfc3339(run.endedAt);
  const text = (name: string, max: number) => {
    const value = field(d, name);
    return typeof value === 'string' ? clip(value, max) : undefined;
  };
  const summary = text('summary', 600);
  if (summary !== undefined) view.summary = summary;
  const rootCause = text('rootCause', 600);
  if (rootCause !== undefined) view.root_cause = rootCause;
  const confidence = field(d, 'confidence');
  if (typeof confidence === 'number') view.confidence = confidence;
  const evidence = field(d, 'evidence');
  if (Array.isArray(evidence)) {
    view.evidence = evidence.slice(0, EVIDENCE_SHOWN).map(item => bounded(item, 300, 1));
    if (evidence.length > EVIDENCE_SHOWN) view.evidence_left_out = evidence.length - EVIDENCE_SHOWN;
  }
  const change = field(d, 'proposedChange');
  if (change !== null && typeof change === 'object') {
    // The files as paths and actions: their contents are in the transcript and, once tested, the PR.
    const { files, ...rest } = change as Record<string, unknown>;
    view.proposed_change = {
      ...(bounded(rest, 500) as object),
      ...(Array.isArray(files)
        ? {
            files: files.slice(0, 20).map(f => {
              const file = (f ?? {}) as Record<string, unknown>;
              return typeof file.path === 'string'
                ? { path: file.path, ...(typeof file.action === 'string' ? { action: file.action } : {}) }
                : bounded(f, 200, 1);
            }),
          }
        : {}),
    };
  }
  const next = field(d, 'nextSteps');
  if (Array.isArray(next)) view.next_steps = next.slice(0, LIST_SHOWN).map(item => bounded(item, 200, 1));
  if (run.budgetHit !== undefined) view.budget_hit = run.budgetHit;
  return view;
}

function eventView(row: EventRow, redact: Redactor): EventView {
  const view: EventView = { id: row.id, at: toRfc3339(row.at), kind: row.kind, summary: redact(row.summary) };
  const data = parse(row.data, redact);
  if (data !== undefined) view.data = data;
  return view;
}

/**
 * One incident with its alerts, recent timeline, findings, actions and links — and, given the agent store, the latest
 * checked diagnosis and the outcomes of its PRs; undefined when there is none. `redact` scrubs the configured
 * secrets from its texts before they are cut.
 */
export function incidentView(
  store: IncidentStore,
  id: number,
  maxBytes: number,
  quietSeconds: number,
  agent?: Pick<AgentStore, 'latestDiagnosis' | 'outcomes'>,
  redact: Redactor = unscrubbed,
): IncidentView | undefined {
  const row: IncidentRow | undefined = store.get(id);
  if (!row) return undefined;
  const alertRows = store.alerts(id);
  const events = store.events(id, TIMELINE_READ);
  const total = store.eventCount(id) + row.events_dropped;
  const side = store
    .events(id, TIMELINE_READ + SIDE_READ)
    .filter(e => e.kind === 'finding' || e.kind === 'action');
  const urls = alertRows.map(a => a.generator_url).filter((u): u is string => u !== null);
  const links = [...new Set(urls.map(redact))];
  const eventViews = (rows: readonly EventRow[]) => rows.map(e => eventView(e, redact));
  const base: IncidentView = {
    id,
    uri: incidentUri(id),
    title: redact(row.title),
    // An alert's severity label, unbounded on the wire: a name, never worth more than a few dozen characters.
    severity: cutText(redact(row.severity), SEVERITY_TEXT),
    status: row.status,
    group: parseLabels(row.group_labels, redact) ?? {},
    started: toRfc3339(row.started_at),
    updated: toRfc3339(row.updated_at),
    alerts: alertRows.map(a => alertView(a, true, redact)),
    timeline: eventViews(events),
    timeline_left_out: total - events.length,
    findings: eventViews(side.filter(e => e.kind === 'finding').slice(-SIDE_READ)),
    actions: eventViews(side.filter(e => e.kind === 'action').slice(-SIDE_READ)),
    links,
  };
  const resolved = time(row.resolved_at);
  if (resolved !== undefined) base.resolved = resolved;
  const dropped = store.alertsDropped(id);
  if (dropped > 0) base.alerts_left_out = dropped;
  if (row.quiet_since !== null && row.status !== 'resolved') {
    base.resolving = {
      since: toRfc3339(row.quiet_since),
      resolves_at: toRfc3339(row.quiet_since + quietSeconds),
    };
  }
  if (agent) {
    const diagnosis = diagnosisView(id, agent);
    if (diagnosis) base.diagnosis = diagnosis;
    const outcomes = agent.outcomes(id).slice(-OUTCOMES_SHOWN);
    if (outcomes.length > 0) {
      base.outcomes = outcomes.map(o => ({
        repo: o.repo,
        pr_number: o.prNumber,
        pr_url: o.prUrl,
        outcome: o.outcome,
        at: toRfc3339(o.at),
      }));
    }
  }
  // Only the newest SIDE_READ of each are read: the rest are as left out as what fit() drops.
  const counts = store.sideCounts(id);
  const unread = {
    findings: Math.max(0, counts.findings - base.findings.length),
    actions: Math.max(0, counts.actions - base.actions.length),
  };
  return fit(ordered(base), alertRows, maxBytes, redact, unread);
}

/** The view with the loop's diagnosis and outcomes right after the incident's state, before its alerts. */
function ordered(view: IncidentView): IncidentView {
  const { diagnosis, outcomes, ...rest } = view;
  if (diagnosis === undefined && outcomes === undefined) return view;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(rest)) {
    if (key === 'alerts') {
      if (diagnosis !== undefined) out.diagnosis = diagnosis;
      if (outcomes !== undefined) out.outcomes = outcomes;
    }
    out[key] = value;
  }
  return out as unknown as IncidentView;
}

/** What fit() left out or shortened beyond the timeline and alerts (their counts are on the view), for the note. */
interface Cuts {
  annotations: boolean;
  findings: number;
  actions: number;
  diagnosis?: 'shortened' | 'left out';
  outcomes: number;
  links: number;
  texts: boolean;
}

/**
 * The view as sent: an event listed in `findings` or `actions` carries its `data` (a finding's evidence, a run's
 * receipt) there only, not again in the timeline.
 */
function rendered(view: IncidentView): IncidentView {
  const listed = new Set([...view.findings, ...view.actions].map(e => e.id));
  return {
    ...view,
    timeline: view.timeline.map(e =>
      listed.has(e.id) && e.data !== undefined ? { id: e.id, at: e.at, kind: e.kind, summary: e.summary } : e,
    ),
  };
}

function cutNote(view: IncidentView, alertCount: number, cuts: Cuts, transcript: string | undefined): string {
  const parts = [`${view.timeline_left_out} older timeline events not shown`];
  if (cuts.annotations) parts.push('alert annotations left out');
  if (view.alerts_left_out !== undefined)
    parts.push(`${view.alerts_left_out} of ${alertCount} alerts left out (firing ones kept first)`);
  const side = [
    cuts.findings > 0 ? `${cuts.findings} older findings` : '',
    cuts.actions > 0 ? `${cuts.actions} older actions` : '',
  ].filter(Boolean);
  if (side.length > 0) parts.push(`${side.join(' and ')} left out`);
  if (cuts.diagnosis !== undefined && transcript !== undefined)
    parts.push(`diagnosis ${cuts.diagnosis} (the whole one: ${transcript})`);
  if (cuts.outcomes > 0) parts.push(`${cuts.outcomes} PR outcomes left out`);
  if (cuts.links > 0) parts.push(`${cuts.links} links left out`);
  if (cuts.texts) parts.push('long texts cut where marked "…[N chars cut]"');
  return parts.join('; ');
}

/**
 * Drops the oldest events, then annotations, then alerts, then older findings and actions, then the diagnosis's
 * details (the transcript resource keeps them), keeping a few of each; then cuts long texts (title, labels,
 * summaries, data), marked; then lets the timeline, findings, actions and alerts go to none, and links, outcomes and
 * the diagnosis too: until the view, note included, fits `maxBytes`. The note says what went.
 */
function fit(
  view: IncidentView,
  alertRows: readonly AlertRow[],
  maxBytes: number,
  redact: Redactor,
  unread: { findings: number; actions: number } = { findings: 0, actions: 0 },
): IncidentView {
  const cuts: Cuts = {
    annotations: false,
    findings: unread.findings,
    actions: unread.actions,
    outcomes: 0,
    links: 0,
    texts: false,
  };
  const whole = rendered(view);
  if (bytes(whole) <= maxBytes) {
    if (unread.findings === 0 && unread.actions === 0) return whole;
    const older = [
      unread.findings > 0 ? `${unread.findings} older findings` : '',
      unread.actions > 0 ? `${unread.actions} older actions` : '',
    ].filter(Boolean);
    const noted = {
      ...whole,
      note: `Not shown: ${older.join(' and ')} (only the newest events are read; the store keeps them).`,
    };
    if (bytes(noted) <= maxBytes) return noted;
  }
  const transcript = view.diagnosis?.transcript_uri;
  // Those the store dropped count among the alerts left out, as the timeline's dropped events do among its.
  const dropped = view.alerts_left_out ?? 0;
  const final = (): IncidentView => ({
    ...rendered(view),
    note: `Cut to fit ${maxBytes} bytes: ${cutNote(view, alertRows.length + dropped, cuts, transcript)}. The store keeps older events (up to incidents.timelineMax per incident).`,
  });
  const over = () => bytes(final()) > maxBytes;

  const dropEvents = (min: number) => {
    while (view.timeline.length > min && over()) {
      const n = Math.min(Math.ceil(view.timeline.length / 4), view.timeline.length - min);
      view.timeline = view.timeline.slice(n);
      view.timeline_left_out += n;
    }
  };
  const dropAlerts = (min: number) => {
    while (view.alerts.length > min && over()) {
      view.alerts = view.alerts.slice(0, Math.max(min, Math.floor(view.alerts.length * 0.75)));
      view.alerts_left_out = dropped + alertRows.length - view.alerts.length;
    }
  };
  const dropSide = (min: number) => {
    while ((view.findings.length > min || view.actions.length > min) && over()) {
      const f = Math.max(0, Math.min(Math.ceil(view.findings.length / 2), view.findings.length - min));
      const a = Math.max(0, Math.min(Math.ceil(view.actions.length / 2), view.actions.length - min));
      view.findings = view.findings.slice(f);
      view.actions = view.actions.slice(a);
      cuts.findings += f;
      cuts.actions += a;
    }
  };
  const squeezeTexts = (max: number, items: number) => {
    const before = bytes(view);
    view.title = cutText(view.title, max);
    view.group = squeeze(view.group, max, items) as Record<string, string>;
    // The view's own lists and records lose items and fields only as counted here: their values are squeezed.
    const fields = <T extends object>(record: T): T =>
      Object.fromEntries(Object.entries(record).map(([k, v]) => [k, squeeze(v, max, items)])) as T;
    view.alerts = view.alerts.map(fields);
    view.timeline = view.timeline.map(fields);
    view.findings = view.findings.map(fields);
    view.actions = view.actions.map(fields);
    view.links = view.links.map(link => cutText(link, max));
    if (view.diagnosis) view.diagnosis = fields(view.diagnosis);
    if (view.outcomes) view.outcomes = view.outcomes.map(fields);
    if (bytes(view) < before) cuts.texts = true;
  };

  dropEvents(3);
  if (over() && view.alerts.some(a => a.annotations !== undefined)) {
    // All the alerts are still there.
    view.alerts = alertRows.map(a => alertView(a, false, redact));
    cuts.annotations = true;
  }
  dropAlerts(1);
  dropSide(1);
  const diagnosis = view.diagnosis;
  if (diagnosis && over()) {
    delete diagnosis.proposed_change;
    delete diagnosis.next_steps;
    while (over() && diagnosis.evidence && diagnosis.evidence.length > 1) {
      const kept = Math.floor(diagnosis.evidence.length / 2);
      diagnosis.evidence_left_out = (diagnosis.evidence_left_out ?? 0) + diagnosis.evidence.length - kept;
      diagnosis.evidence = diagnosis.evidence.slice(0, kept);
    }
    if (over()) {
      if (diagnosis.summary !== undefined) diagnosis.summary = clip(diagnosis.summary, 160);
      if (diagnosis.root_cause !== undefined) diagnosis.root_cause = clip(diagnosis.root_cause, 160);
      diagnosis.flags = diagnosis.flags.slice(0, 3).map(flag => clip(flag, 80));
    }
    cuts.diagnosis = 'shortened';
  }
  // The last resorts: long texts cut, harder each time, then nothing kept but the incident itself.
  for (const [max, items] of [
    [1000, 20],
    [500, 10],
    [250, 10],
    [100, 5],
  ] as const) {
    if (over()) squeezeTexts(max, items);
  }
  dropEvents(0);
  dropSide(0);
  dropAlerts(0);
  if (over() && view.links.length > 0) {
    cuts.links = view.links.length;
    view.links = [];
  }
  if (over() && view.outcomes) {
    cuts.outcomes = view.outcomes.length;
    delete view.outcomes;
  }
  if (over() && view.diagnosis) {
    delete view.diagnosis;
    cuts.diagnosis = 'left out';
  }
  if (over()) squeezeTexts(40, 2);
  return final();
}

export interface TranscriptView {
  incident: number;
  investigation: number;
  uri: string;
  mode: string;
  started: string;
  ended?: string;
  tokens: number;
  model_calls: number;
  tool_calls: number;
  budget_hit?: string;
  flags: string[];
  transcript: unknown;
  note?: string;
}

/** One investigation's full transcript, cut to `maxBytes`: its parts share the room, long lists losing their middle. */
export function transcriptView(
  agent: Pick<AgentStore, 'investigation' | 'transcript'>,
  incidentId: number,
  investigationId: number,
  maxBytes: number,
): TranscriptView | undefined {
  const run = agent.investigation(investigationId);
  if (run?.incidentId !== incidentId) return undefined;
  const view: TranscriptView = {
    incident: incidentId,
    investigation: run.id,
    uri: transcriptUri(incidentId, run.id),
    mode: run.mode,
    started: toRfc3339(run.startedAt),
    tokens: run.tokens,
    model_calls: run.modelCalls,
    tool_calls: run.toolCalls,
    flags: run.flags,
    transcript: agent.transcript(run.id) ?? null,
  };
  if (run.endedAt !== undefined) view.ended = toRfc3339(run.endedAt);
  if (run.budgetHit !== undefined) view.budget_hit = run.budgetHit;
  if (view.transcript === null && run.endedAt !== undefined)
    view.note = 'The transcript was dropped after store.transcriptDays; the diagnosis and figures stay.';
  const whole = bytes(view.transcript);
  const room = maxBytes - RESERVE - bytes({ ...view, transcript: null });
  if (whole <= room) return view;
  view.transcript = shrink(view.transcript, Math.max(0, room));
  view.note = `Cut to fit ${maxBytes} bytes: the transcript has ${whole} bytes; the middle of each long list (marked left_out) and long texts were left out.`;
  return view;
}

/**
 * `value` cut to about `room` bytes of JSON: a list keeps its first and last items, an object shares the room among
 * its parts.
 */
function shrink(value: unknown, room: number): unknown {
  if (bytes(value) <= room) return value;
  if (typeof value === 'string') return clip(value, Math.max(16, Math.floor(room / 2)));
  if (Array.isArray(value)) {
    const items = value.map(item => shrink(item, Math.max(64, Math.floor(room / 4))));
    if (bytes(items) <= room) return items;
    const cut = (k: number) => [
      ...items.slice(0, Math.ceil(k / 2)),
      { left_out: items.length - k },
      ...items.slice(items.length - Math.floor(k / 2)),
    ];
    // The most items that fit, found by bisection (the size grows with the count).
    let [low, high] = [0, items.length - 1];
    while (low < high) {
      const mid = Math.ceil((low + high) / 2);
      if (bytes(cut(mid)) <= room) low = mid;
      else high = mid - 1;
    }
    return cut(low);
  }
  if (value === null || typeof value !== 'object') return value;
  const out = { ...(value as Record<string, unknown>) };
  // The names and punctuation stay whatever the values become: the values share what is left. The smallest part
  // goes first and keeps all of itself if it fits in an even share; what it leaves goes to the larger ones. Taken
  // largest first instead, the largest part would be cut to nothing whenever the others alone overflow.
  const keys = Object.keys(out);
  let left = room - bytes(Object.fromEntries(keys.map(key => [key, 0]))) + keys.length;
  const sizes = keys.map(key => ({ key, size: bytes(out[key]) })).sort((a, b) => a.size - b.size);
  for (const [i, { key, size }] of sizes.entries()) {
    const share = Math.floor(left / (sizes.length - i));
    if (size > share) out[key] = shrink(out[key], Math.max(16, share));
    left -= bytes(out[key]);
  }
  return out;
}
