import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fingerprintOf } from '../../../src/incidents/alerts.ts';
import { incidentView, listView } from '../../../src/incidents/view.ts';
import { openStore, type Store } from '../../../src/store/index.ts';

let store: Store;
beforeEach(() => {
  store = openStore({
    path: ':memory:',
    busyTimeoutMs: 1000,
    groupBy: ['service'],
    quietSeconds: 60,
    windowSeconds: 0,
    timelineMax: 500,
  });
});
afterEach(() => {
  store.close();
});

function fire(labels: Record<string, string>, at: number) {
  store.incidents.apply(
    [
      {
        fingerprint: fingerprintOf(labels),
        labels,
        annotations: { summary: 'x'.repeat(300) },
        state: 'firing',
        startsAt: at,
        source: 'prometheus',
        generatorURL: 'http://p/graph',
      },
    ],
    at,
  );
}

describe('incident views', () => {
  it('shows the whole incident when it fits: alerts, timeline, findings, links', () => {
    fire({ alertname: 'A', service: 's', severity: 'warning' }, 1000);
    store.incidents.addEvent(
      1,
      { kind: 'finding', summary: 'errors began at the deploy', data: { evidence: ['query_prometheus: …'] } },
      1001,
    );
    const view = incidentView(store.incidents, 1, 8192, 60);
    expect(view).toMatchObject({
      id: 1,
      uri: 'incident://1',
      status: 'open',
      severity: 'warning',
      group: { service: 's' },
      timeline_left_out: 0,
      links: ['http://p/graph'],
      findings: [{ kind: 'finding', data: { evidence: ['query_prometheus: …'] } }],
    });
    expect(view?.note).toBeUndefined();
    expect(view?.alerts[0]).toMatchObject({ name: 'A', state: 'firing', generator_url: 'http://p/graph' });
  });

  it('cuts a large incident to the byte cap, newest events kept, and says what was left out', () => {
    for (let i = 0; i < 40; i++) fire({ alertname: `A${i}`, service: 's' }, 1000 + i);
    for (let i = 0; i < 300; i++)
      store.incidents.addEvent(1, { kind: 'note', summary: `note ${i} ${'y'.repeat(80)}` }, 2000 + i);
    const view = incidentView(store.incidents, 1, 4096, 60);
    expect(Buffer.byteLength(JSON.stringify(view))).toBeLessThanOrEqual(4096);
    expect(view?.timeline.at(-1)?.summary).toMatch(/^note 299 /);
    expect(view?.timeline_left_out).toBe(341 - (view?.timeline.length ?? 0));
    expect(view?.note).toMatch(
      /^Cut to fit 4096 bytes: \d+ older timeline events not shown; alert annotations left out; \d+ of 40 alerts left out/,
    );
  });

  it('cuts a long list of incidents and says how many were left out', () => {
    for (let i = 0; i < 100; i++) fire({ alertname: 'A', service: `svc-${i}` }, 1000 + i);
    const view = listView(store.incidents.active(), 4096, 'active incidents');
    expect(Buffer.byteLength(JSON.stringify(view))).toBeLessThanOrEqual(4096);
    expect(view.total).toBe(100);
    expect(view.truncated).toBe(true);
    expect(view.incidents[0]?.id).toBe(100);
    expect(view.note).toMatch(new RegExp(`^Showing ${view.shown} of 100 active incidents to fit 4096 bytes`));
  });
});
