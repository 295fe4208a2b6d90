// Alert intake over time, fed Alertmanager's own payloads on the test's clock: a "firing" that comes after the
// "resolved" of the same episode, a "resolved" of an earlier one, and webhook alerts that Alertmanager stopped
// re-sending.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.ts';
import { createContext, type Context } from '../../../src/context.ts';
import { fingerprintOf } from '../../../src/incidents/alerts.ts';
import { ingest, sweep } from '../../../src/incidents/intake.ts';
import { PROMETHEUS_SOURCE } from '../../../src/incidents/watcher.ts';
import { parseWebhook } from '../../../src/incidents/webhook.ts';
import { toRfc3339 } from '../../../src/lib/time.ts';
import type { Change } from '../../../src/store/incidents.ts';
import { PAYLOAD } from '../../support/alertmanager.ts';

const STARTS = '2026-12-01T10:00:00Z';
const HOUR = 3600;
let clock: number;
let ctx: Context;

beforeEach(async () => {
  clock = Date.parse(STARTS) / 1000 + 30;
  // The defaults: quiet period 300 s, window 1800 s, webhook alerts expire after 12 h.
  ctx = createContext(await loadConfig({ env: { DEVOPS_MCP_DB: ':memory:', LOG_LEVEL: 'silent' } }), {
    now: () => clock,
  });
});
afterEach(async () => {
  await ctx.close();
});

/** A notification of PAYLOAD's alert, received now; a "resolved" one ends it 30 s ago. */
async function notify(status: 'firing' | 'resolved', startsAt = STARTS): Promise<Change[]> {
  const endsAt = status === 'resolved' ? toRfc3339(clock - 30) : '0001-01-01T00:00:00Z';
  const alert = { ...PAYLOAD.alerts[0], status, startsAt, endsAt };
  const parsed = parseWebhook(JSON.stringify({ ...PAYLOAD, status, alerts: [alert] }), clock);
  if (!parsed.ok) throw new Error(parsed.problem);
  return ingest(ctx, parsed.alerts);
}

/** PAYLOAD's alert as a poll reports it: firing since Prometheus's activeAt, or resolved as the watcher does. */
async function poll(state: 'firing' | 'resolved', activeAt = Date.parse(STARTS) / 1000): Promise<Change[]> {
  const labels = PAYLOAD.alerts[0]?.labels ?? {};
  const ends = state === 'resolved' ? { startsAt: clock, endsAt: clock } : { startsAt: activeAt };
  return ingest(ctx, [
    {
      fingerprint: fingerprintOf(labels),
      labels,
      annotations: {},
      state,
      ...ends,
      source: PROMETHEUS_SOURCE,
    },
  ]);
}

async function incidents(): Promise<Array<[number, string, number]>> {
  const store = await ctx.store();
  return store.incidents
    .list({ status: 'all', limit: 10 })
    .map(i => [i.id, i.status, i.firing_count] as [number, string, number]);
}

async function summaries(id: number): Promise<string[]> {
  return (await ctx.store()).incidents.events(id, 100).map(e => e.summary);
}

describe('a "firing" notification of an episode already resolved', () => {
  it('is ignored inside the quiet period: the resolution is not cancelled and the incident resolves', async () => {
    await notify('firing');
    clock += 300;
    await notify('resolved');
    clock += 20;
    // The other replica of an Alertmanager HA pair, still holding the alert as firing.
    expect(await notify('firing')).toEqual([]);
    expect(await incidents()).toEqual([[1, 'open', 0]]);
    clock += 300;
    expect(await sweep(ctx)).toEqual([{ id: 1, closed: true }]);
    expect(await incidents()).toEqual([[1, 'resolved', 0]]);
    expect((await summaries(1)).filter(s => s.includes('firing again'))).toEqual([]);
  });

  it('neither reopens the resolved incident nor opens a new one, however late it is delivered', async () => {
    await notify('firing');
    clock += 300;
    await notify('resolved');
    clock += 301;
    await sweep(ctx);
    clock += 600; // within incidents.windowSeconds
    expect(await notify('firing')).toEqual([]);
    clock += HOUR; // past it
    expect(await notify('firing')).toEqual([]);
    clock += 3 * 86_400;
    await sweep(ctx);
    expect(await incidents()).toEqual([[1, 'resolved', 0]]);
  });

  it('is ignored after a poll resolved it, though the poll started it at activeAt, before FiredAt', async () => {
    // A rule with `for: 5m`: pending at 09:55, firing at 10:00, the FiredAt Prometheus sends Alertmanager.
    await poll('firing', Date.parse(STARTS) / 1000 - 300);
    clock += 15;
    await notify('firing');
    clock += 600;
    await poll('resolved');
    clock += 301;
    expect(await sweep(ctx)).toEqual([{ id: 1, closed: true }]);
    clock += 20;
    // The other replica's late "firing" of that episode.
    expect(await notify('firing')).toEqual([]);
    expect(await incidents()).toEqual([[1, 'resolved', 0]]);
  });

  it('is a new episode when its startsAt is later: the alert fires again', async () => {
    await notify('firing');
    clock += 300;
    await notify('resolved');
    clock += 20;
    expect(await notify('firing', '2026-12-01T10:05:40Z')).toEqual([{ id: 1 }]);
    expect(await incidents()).toEqual([[1, 'open', 1]]);
    expect((await summaries(1)).at(-1)).toBe(
      'HighErrorRate firing again during the quiet period: resolution cancelled: 5xx above 5%',
    );
  });
});

describe('a "resolved" notification', () => {
  it('of an earlier episode does not resolve the one firing now', async () => {
    await notify('firing');
    clock += 570;
    await notify('resolved');
    clock += 100;
    const refired = toRfc3339(clock - 20);
    expect(await notify('firing', refired)).toEqual([{ id: 1 }]);
    clock += 20;
    // The other replica's late "resolved" of the first episode.
    expect(await notify('resolved')).toEqual([]);
    clock += 600;
    expect(await sweep(ctx)).toEqual([]);
    expect(await incidents()).toEqual([[1, 'open', 1]]);
    clock += 60;
    expect(await notify('resolved', refired)).toEqual([{ id: 1 }]);
    expect(await incidents()).toEqual([[1, 'open', 0]]);
  });

  it('of the episode a poll started resolves it: the poll started it at activeAt, before FiredAt', async () => {
    await poll('firing', Date.parse(STARTS) / 1000 - 300);
    clock += 600;
    expect(await notify('resolved')).toEqual([{ id: 1 }]);
    expect(await incidents()).toEqual([[1, 'open', 0]]);
  });
});

describe('a webhook alert Alertmanager stopped re-sending', () => {
  it('stays firing while it is re-sent every repeat_interval, then expires with a note saying since when', async () => {
    expect(ctx.config.incidents.webhookAlertExpirySeconds).toBe(12 * HOUR);
    await notify('firing');
    clock += 4 * HOUR;
    await notify('firing');
    clock += 4 * HOUR;
    await notify('firing');
    const lastSeen = clock;
    clock += 12 * HOUR;
    expect(await sweep(ctx)).toEqual([]);
    expect(await incidents()).toEqual([[1, 'open', 1]]);
    // Its "resolved" was lost (devops-mcp was down when Alertmanager sent it).
    clock += 1;
    expect(await sweep(ctx)).toEqual([{ id: 1 }]);
    expect((await summaries(1)).slice(-2)).toEqual([
      `HighErrorRate expired: not seen since ${toRfc3339(lastSeen)}, for more than 12h`,
      'every alert resolved; resolves after 300 s unless one fires again',
    ]);
    const [alert] = (await ctx.store()).incidents.alerts(1);
    // When it ended is not known.
    expect(alert).toMatchObject({ state: 'resolved', ends_at: null, last_seen: lastSeen });
    clock += 300;
    expect(await sweep(ctx)).toEqual([{ id: 1, closed: true }]);
    expect(await incidents()).toEqual([[1, 'resolved', 0]]);
  });

  it('fires again when Alertmanager re-sends it after it expired: its end was never reported', async () => {
    await notify('firing');
    clock += 12 * HOUR + 1;
    await sweep(ctx);
    clock += 300;
    await sweep(ctx);
    expect(await incidents()).toEqual([[1, 'resolved', 0]]);
    clock += 600;
    expect(await notify('firing')).toEqual([{ id: 1, opened: true }]);
    expect(await incidents()).toEqual([[1, 'open', 1]]);
  });

  it('takes its end from a "resolved" that comes after it expired: a late "firing" of it stays ignored', async () => {
    await notify('firing');
    clock += 12 * HOUR + 1;
    await sweep(ctx);
    clock += 300;
    await sweep(ctx);
    clock += 60;
    // Alertmanager's "resolved" was only late, not lost.
    expect(await notify('resolved')).toEqual([]);
    expect((await ctx.store()).incidents.alerts(1)).toMatchObject([
      { state: 'resolved', ends_at: clock - 30 },
    ]);
    clock += 20;
    // The other replica's "firing" of that episode.
    expect(await notify('firing')).toEqual([]);
    expect(await incidents()).toEqual([[1, 'resolved', 0]]);
  });

  it('does not expire for the time devops-mcp was down: Alertmanager could not re-send it then', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'devops-mcp-intake-'));
    const start = async () => {
      await ctx.close();
      const env = { DEVOPS_MCP_DB: join(dir, 'incidents.db'), LOG_LEVEL: 'silent' };
      ctx = createContext(await loadConfig({ env }), { now: () => clock });
    };
    try {
      await start();
      await notify('firing');
      clock += 4 * HOUR;
      await notify('firing');
      // Down for 13 h: the repeats at 8, 12 and 16 h found nobody; up again at 17 h.
      clock += 13 * HOUR;
      await start();
      expect(await sweep(ctx)).toEqual([]);
      clock += 3 * HOUR;
      await notify('firing');
      expect(await incidents()).toEqual([[1, 'open', 1]]);
      // Still expires when, up again, it hears nothing for incidents.webhookAlertExpirySeconds.
      clock += 12 * HOUR + 1;
      expect(await sweep(ctx)).toEqual([{ id: 1 }]);
    } finally {
      await ctx.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is the only kind that expires: a polled alert ends when Prometheus stops reporting it', async () => {
    const labels = { alertname: 'QueueStuck', service: 'orders' };
    const polled = {
      fingerprint: fingerprintOf(labels),
      labels,
      annotations: {},
      state: 'firing' as const,
      startsAt: clock,
      source: 'prometheus',
    };
    await ingest(ctx, [polled]);
    clock += 3 * 86_400;
    expect(await sweep(ctx)).toEqual([]);
    expect(await incidents()).toEqual([[1, 'open', 1]]);
  });

  it('expires after incidents.webhookAlertExpirySeconds, which is at least 10 minutes', async () => {
    const file = (incidents: Record<string, unknown>) => ({
      env: { DEVOPS_MCP_CONFIG: 'devops-mcp.json', DEVOPS_MCP_DB: ':memory:', LOG_LEVEL: 'silent' },
      readFile: () => JSON.stringify({ incidents }),
    });
    await expect(loadConfig(file({ webhookAlertExpirySeconds: 60 }))).rejects.toThrow(
      /incidents\.webhookAlertExpirySeconds/,
    );
    await ctx.close();
    ctx = createContext(await loadConfig(file({ webhookAlertExpirySeconds: HOUR })), { now: () => clock });
    await notify('firing');
    clock += HOUR + 1;
    expect(await sweep(ctx)).toEqual([{ id: 1 }]);
    expect(await incidents()).toEqual([[1, 'open', 0]]);
  });
});
