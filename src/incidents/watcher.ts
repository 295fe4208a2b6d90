// The watcher of `serve --watch` (and the agent's monitor step): polls Prometheus's /api/v1/alerts, turns what it
// reports into incidents, resolves the alerts it no longer reports, and puts health verdict changes of the
// affected target on the incident's timeline.

import type { Counters } from '../clients/predictor.ts';
import {
  NO_ALERT_RULES,
  type AlertRules,
  type PrometheusAlert,
  type RuleEvaluation,
} from '../clients/prometheus.ts';
import type { Context } from '../context.ts';
import { assess } from '../lib/health.ts';
import type { Change } from '../store/incidents.ts';
import { fingerprintOf, PROMETHEUS_SOURCE, withoutLabels, type AlertInput } from './alerts.ts';
import { ingest, sweep } from './intake.ts';
import { targetMatcher } from './targets.ts';

export interface Watcher {
  /**
   * One round: read the alerts, apply them, check health. Never throws; false when the alerts could not be read (or
   * the round failed), so a one-off run can tell "nothing fires" from "nothing was read".
   */
  poll(): Promise<boolean>;
  start(): void;
  stop(): Promise<void>;
}

export { PROMETHEUS_SOURCE } from './alerts.ts';

export function createWatcher(ctx: Context, options: { intervalMs: number }): Watcher {
  const log = ctx.logger.child({ component: 'watcher' });
  const prometheus = ctx.prometheus;
  const counters = new Map<string, Counters>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<boolean> | undefined;
  let failing = false;
  let stopped = false;
  /** Per alert, the activeAt its Prometheus first reported since it (last) started; see round(). */
  const sinceStart = new Map<string, { upSince: number; activeAt: number }>();

  const base = prometheus?.describe();
  // Whose alerts these are: the URL without credentials, and the tenant asked for, since Mimir, Cortex and Thanos
  // serve every tenant at one URL (X-Scope-OrgID in prometheus.headers). Watchers on other servers or tenants may
  // share the store; each resolves only what its own stopped reporting.
  const tenant = Object.entries(ctx.config.prometheus?.headers ?? {})
    .find(([name]) => name.toLowerCase() === 'x-scope-orgid')?.[1]
    .trim();
  const by = `${base ?? ''}${tenant ? ` (tenant ${tenant})` : ''}`;
  const graphLink = (query: string | undefined) =>
    query === undefined || base === undefined
      ? undefined
      : `${base}/graph?g0.expr=${encodeURIComponent(query)}&g0.tab=1`;

  function toInput(
    alert: PrometheusAlert,
    rules: AlertRules,
    by: string,
    upSince: number | undefined,
  ): AlertInput | undefined {
    if (alert.state !== 'firing' && alert.state !== 'pending') return undefined;
    const activeAt = alert.activeAt === undefined ? Number.NaN : Date.parse(alert.activeAt) / 1000;
    // Dropped from polled alerts too: where a rule sets a label of that name, Prometheus keeps the rule's value in
    // both sources (it adds an external label only where one is missing).
    const labels = withoutLabels(alert.labels, ctx.config.incidents.externalLabels);
    return {
      fingerprint: fingerprintOf(labels),
      labels,
      annotations: alert.annotations,
      state: alert.state,
      startsAt: Number.isFinite(activeAt) ? activeAt : ctx.now(),
      generatorURL: graphLink(rules.queryOf(alert.labels)),
      source: PROMETHEUS_SOURCE,
      polled: { by, upSince },
    };
  }

  async function round(): Promise<boolean> {
    if (!prometheus) return true;
    let reported: PrometheusAlert[];
    let rules = NO_ALERT_RULES;
    let evaluation: RuleEvaluation | undefined;
    try {
      // Read before the alerts: a rule group evaluated by then has its alerts in the answer that follows. Without it
      // (a proxy that passes only /api/v1/alerts), absence is trusted as before.
      evaluation = await prometheus.ruleEvaluation().catch(() => undefined);
      [reported, rules] = await Promise.all([
        prometheus.alerts(),
        prometheus.alertRules().catch(() => NO_ALERT_RULES),
      ]);
      if (failing) log.info('Prometheus answers again; watching alerts');
      failing = false;
    } catch (error) {
      // Prometheus unreachable says nothing about the alerts: none is resolved for it.
      if (!failing) log.warn({ err: error }, 'cannot read alerts from Prometheus; will retry');
      failing = true;
      return false;
    }
    const upSince = evaluation?.startedAt;
    const reportedInputs = reported
      .map(a => toInput(a, rules, by, upSince))
      .filter((a): a is AlertInput => a !== undefined);
    const firingNow = new Set(reportedInputs.filter(a => a.state === 'firing').map(a => a.fingerprint));
    const pendingStarts = new Map(
      reportedInputs.filter(a => a.state === 'pending').map(a => [a.fingerprint, a.startsAt] as const),
    );
    const pendingNow = new Set(pendingStarts.keys());
    const store = await ctx.store();
    const now = ctx.now();
    const polled = store.incidents.polled(by);
    // The activeAt Prometheus first gave each alert it reports since its start (pending or firing, they share it),
    // kept while the alert fires here: one resolved here is forgotten, its next appearance an episode of its own.
    if (upSince !== undefined) {
      const firingHere = new Set(polled.map(k => k.fingerprint));
      for (const [fingerprint, seen] of sinceStart)
        if (seen.upSince !== upSince || !firingHere.has(fingerprint)) sinceStart.delete(fingerprint);
      for (const a of reportedInputs)
        if (!sinceStart.has(a.fingerprint)) sinceStart.set(a.fingerprint, { upSince, activeAt: a.startsAt });
    }
    const resolved: AlertInput[] = [];
    const held = new Set<string>();
    for (const known of polled) {
      if (firingNow.has(known.fingerprint)) continue;
      // Its rule not evaluated since Prometheus started: missing from the answer, it has not ended.
      if (evaluation?.notEvaluated.has(known.labels.alertname ?? '') === true) continue;
      // Pending again, and since before Prometheus restarted: Prometheus restores no `for` shorter than its grace
      // period (10 min by default), so the alert waits out its `for` again though its condition may have held
      // throughout. It stays firing, and is not noted as pending; but only while it is active since the activeAt
      // this Prometheus first gave it after its start: one active since a later one had its condition end after
      // the restart, and goes the way it would have without one.
      const pendingSince = pendingStarts.get(known.fingerprint);
      if (
        pendingSince !== undefined &&
        upSince !== undefined &&
        known.since < upSince &&
        sinceStart.get(known.fingerprint)?.activeAt === pendingSince
      ) {
        held.add(known.fingerprint);
        continue;
      }
      resolved.push({
        fingerprint: known.fingerprint,
        labels: known.labels,
        annotations: {},
        state: 'resolved',
        startsAt: now,
        endsAt: now,
        source: PROMETHEUS_SOURCE,
      });
    }
    const inputs = [...reportedInputs.filter(a => !held.has(a.fingerprint)), ...resolved];
    ctx.changes.publish(
      store.incidents.forgetPending(
        store.incidents.pending().filter(f => (!pendingNow.has(f) || held.has(f)) && !firingNow.has(f)),
      ),
    );
    await ingest(ctx, inputs);
    await sweep(ctx);
    await checkHealth();
    return true;
  }

  async function checkHealth(): Promise<void> {
    const predictor = ctx.predictor;
    const settings = ctx.config.predictor;
    if (!predictor || !settings) return;
    const store = await ctx.store();
    const targets = targetMatcher(settings);
    const affected = new Map<string, number[]>();
    for (const incident of store.incidents.active()) {
      const names = new Set<string>();
      for (const alert of store.incidents.alerts(incident.id)) {
        const labels = JSON.parse(alert.labels) as Record<string, string>;
        const name = targets.of(labels);
        if (name !== undefined) names.add(name);
      }
      for (const name of names) affected.set(name, [...(affected.get(name) ?? []), incident.id]);
    }
    const changes: Change[] = [];
    for (const [target, ids] of affected) {
      const now = ctx.now();
      const probe = await predictor.probe(target);
      // The watcher keeps its own counters, so that predictor_health's windows stay the caller's.
      const { counters: seen, status, reasons } = assess(probe, counters.get(target), now, settings);
      if (seen) counters.set(target, seen);
      for (const id of ids)
        changes.push(...store.incidents.recordHealth(id, { target, status, reasons }, now));
    }
    ctx.changes.publish(changes);
  }

  async function poll(): Promise<boolean> {
    // One round at a time: a slow Prometheus must not pile rounds up.
    running ??= round()
      .catch((error: unknown) => {
        log.error({ err: error }, 'watch round failed');
        return false;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  }

  return {
    poll,
    start() {
      if (timer || stopped) return;
      void poll();
      timer = setInterval(() => void poll(), options.intervalMs);
    },
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
}
