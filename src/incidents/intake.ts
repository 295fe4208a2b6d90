// Alert intake: alerts from any source go into the store in one transaction, and the change feed hears about it.

import type { Context } from '../context.ts';
import type { Change } from '../store/incidents.ts';
import { ALERTMANAGER_SOURCE, type AlertInput } from './alerts.ts';

export async function ingest(ctx: Context, alerts: readonly AlertInput[]): Promise<Change[]> {
  const store = await ctx.store();
  const now = ctx.now();
  const changes = store.incidents.apply(alerts, now);
  ctx.changes.publish(changes);
  return changes;
}

/**
 * Expires webhook alerts not re-sent for `incidents.webhookAlertExpirySeconds`, and resolves incidents whose quiet
 * period has passed; the watcher and the webhook receiver run it on a timer. Alertmanager's "resolved" comes once,
 * and its webhook gives a firing alert no end (endsAt is Go's zero time), so silence is all there is to go by —
 * counted from this process's first sweep or intake at the earliest (the store keeps it), so that the time
 * devops-mcp was down, when Alertmanager's repeats could not reach it, is not taken for silence.
 */
export async function sweep(ctx: Context): Promise<Change[]> {
  const store = await ctx.store();
  const now = ctx.now();
  const changes = [
    ...store.incidents.expire(ALERTMANAGER_SOURCE, ctx.config.incidents.webhookAlertExpirySeconds, now),
    ...store.incidents.sweep(now),
  ];
  ctx.changes.publish(changes);
  return changes;
}

/** Runs `sweep` every `everyMs` until stopped; the timer never keeps the process alive. */
export function startSweeper(ctx: Context, everyMs: number): () => void {
  const timer = setInterval(() => {
    sweep(ctx).catch((error: unknown) => {
      ctx.logger.warn({ err: error }, 'could not resolve quiet incidents');
    });
  }, everyMs);
  timer.unref();
  return () => {
    clearInterval(timer);
  };
}
