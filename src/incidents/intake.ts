// Alert intake: alerts from any source go into the store in one transaction, and the change feed hears about it.

import type { Context } from '../context.ts';
import type { Change } from '../store/incidents.ts';
import type { AlertInput } from './alerts.ts';

export async function ingest(ctx: Context, alerts: readonly AlertInput[]): Promise<Change[]> {
  const store = await ctx.store();
  const now = ctx.now();
  const changes = store.incidents.apply(alerts, now);
  ctx.changes.publish(changes);
  return changes;
}

/** Resolves incidents whose quiet period has passed; the watcher and the webhook receiver run it on a timer. */
export async function sweep(ctx: Context): Promise<Change[]> {
  const store = await ctx.store();
  const changes = store.incidents.sweep(ctx.now());
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
