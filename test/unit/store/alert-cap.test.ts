// An incident's alerts under label churn: a label templated from the value makes a new alert at every evaluation.
// The store keeps the newest resolved ones and every firing one, and the view counts those it no longer has.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fingerprintOf, type AlertInput } from '../../../src/incidents/alerts.ts';
import { incidentView } from '../../../src/incidents/view.ts';
import { RESOLVED_ALERTS_KEPT } from '../../../src/store/incidents.ts';
import { openStore, type Store } from '../../../src/store/index.ts';

const OPTIONS = { groupBy: ['service'], quietSeconds: 60, windowSeconds: 600, timelineMax: 500 };

function alert(labels: Record<string, string>, state: AlertInput['state'], startsAt: number): AlertInput {
  return {
    fingerprint: fingerprintOf(labels),
    labels,
    annotations: {},
    state,
    startsAt,
    source: 'prometheus',
  };
}

const queue = (depth: number) => ({ alertname: 'QueueDeep', service: 'orders', depth: String(depth) });
const down = { alertname: 'WorkerDown', service: 'orders' };

let store: Store;
beforeEach(() => {
  store = openStore({ path: ':memory:', busyTimeoutMs: 1000, ...OPTIONS });
});
afterEach(() => {
  store.close();
});

describe('the alerts of an incident under label churn', () => {
  it('keeps the newest resolved alerts and every firing one, and the view counts the ones dropped', () => {
    let now = 1_800_000_000;
    store.incidents.apply([alert(down, 'firing', now)], now);
    const polls = 300;
    for (let i = 0; i < polls; i++) {
      now += 15;
      store.incidents.apply(
        [alert(queue(i), 'firing', now), ...(i > 0 ? [alert(queue(i - 1), 'resolved', now - 15)] : [])],
        now,
      );
    }
    const rows = store.incidents.alerts(1);
    const firing = rows.filter(a => a.state === 'firing').map(a => JSON.parse(a.labels));
    // The oldest alert of all still fires: it stays, as does the newest.
    expect(firing).toEqual([queue(polls - 1), down]);
    const resolved = rows.filter(a => a.state === 'resolved').map(a => Number(JSON.parse(a.labels).depth));
    expect(resolved).toEqual(Array.from({ length: RESOLVED_ALERTS_KEPT }, (_, i) => polls - 2 - i));
    const dropped = polls - 1 - RESOLVED_ALERTS_KEPT;
    expect(store.incidents.alertsDropped(1)).toBe(dropped);
    expect(store.incidents.active()[0]).toMatchObject({
      alert_count: RESOLVED_ALERTS_KEPT + 2,
      firing_count: 2,
    });

    const view = incidentView(store.incidents, 1, 8192, 60);
    expect(view?.alerts.slice(0, 2).map(a => a.labels)).toEqual([queue(polls - 1), down]);
    expect(view?.alerts_left_out).toBe(dropped + rows.length - (view?.alerts.length ?? 0));
    expect(view?.note).toContain(
      `${view?.alerts_left_out} of ${polls + 1} alerts left out (firing ones kept first)`,
    );
    // Another incident keeps its own count.
    store.incidents.apply([alert({ alertname: 'Down', service: 'db' }, 'firing', now)], now);
    expect(store.incidents.alertsDropped(2)).toBe(0);
    expect(incidentView(store.incidents, 2, 8192, 60)?.alerts_left_out).toBeUndefined();
  });
});
