import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fingerprintOf } from '../../../src/incidents/alerts.ts';
import { incidentView, listView, transcriptView } from '../../../src/incidents/view.ts';
import { createRedactor } from '../../../src/lib/redact.ts';
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

  it("cuts long texts, marked, when even the fewest events do not fit, and shows a finding's evidence once", () => {
    fire({ alertname: 'A', service: 's'.repeat(200_000) }, 1000);
    const evidence = Array.from({ length: 20 }, (_, i) => `call ${i}: ${'x'.repeat(990)}`);
    store.incidents.addEvent(1, { kind: 'finding', summary: 'f'.repeat(4000), data: { evidence } }, 1001);
    const view = incidentView(store.incidents, 1, 8192, 60);
    const text = JSON.stringify(view);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(8192);
    expect(view?.title).toMatch(/^A on service=s+…\[\d+ chars cut\]$/);
    expect(view?.group.service).toMatch(/…\[\d+ chars cut\]$/);
    expect(view?.findings[0]?.summary).toMatch(/^f+…\[\d+ chars cut\]$/);
    expect(text.split('call 0: ')).toHaveLength(2);
    expect(view?.timeline.find(e => e.kind === 'finding')).not.toHaveProperty('data');
    expect(view?.note).toMatch(/; long texts cut where marked "…\[N chars cut\]"\./);
  });

  it('fits an incident whose alerts carry a huge severity label, in the view and in the list', () => {
    fire({ alertname: 'A', service: 's', severity: 'critical'.repeat(200) }, 1000);
    const view = incidentView(store.incidents, 1, 1024, 60);
    expect(Buffer.byteLength(JSON.stringify(view))).toBeLessThanOrEqual(1024);
    const list = listView(store.incidents.active(), 1024, 'active incidents');
    expect(Buffer.byteLength(JSON.stringify(list))).toBeLessThanOrEqual(1024);
  });

  it('scrubs the configured secrets from alert and timeline texts before it cuts them', () => {
    const secret = 'ghp_ViewT0kenCCCCCCCCCCCCCCCCCCCCCCCCCCCCC';
    const redact = createRedactor([secret]);
    // The list cuts an event's summary at 200 characters, a severity at 40; the view a text at 1,000 to fit.
    fire({ alertname: 'A', service: 's', severity: `${'c'.repeat(30)}${secret}` }, 1000);
    store.incidents.addEvent(
      1,
      { kind: 'note', summary: `${'n'.repeat(985)}${secret}${'n'.repeat(9000)}` },
      1001,
    );
    store.incidents.addEvent(1, { kind: 'note', summary: `${'m'.repeat(190)}${secret}` }, 1002);
    const view = JSON.stringify(incidentView(store.incidents, 1, 8192, 60, undefined, redact));
    const list = JSON.stringify(listView(store.incidents.active(), 8192, 'active incidents', { redact }));
    for (const text of [view, list]) {
      expect(text).toContain('[REDACTED]');
      expect(text).not.toContain(secret.slice(0, 6));
    }
  });

  it('says how many older findings it did not read, even when the rest fits', () => {
    fire({ alertname: 'A', service: 's' }, 1000);
    for (let i = 0; i < 25; i++)
      store.incidents.addEvent(1, { kind: 'finding', summary: `f${i}`, data: { evidence: ['e'] } }, 1001 + i);
    const view = incidentView(store.incidents, 1, 64 * 1024, 60);
    expect(view?.findings).toHaveLength(20);
    expect(view?.note).toBe(
      'Not shown: 5 older findings (only the newest events are read; the store keeps them).',
    );
  });

  it('lets the timeline, alerts and findings go to none to fit, and the note counts what went', () => {
    const labels = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`label_${i}`, 'v'.repeat(200)]));
    for (let i = 0; i < 40; i++) fire({ alertname: `A${i}`, service: 's', ...labels }, 1000 + i);
    for (let i = 0; i < 30; i++) {
      store.incidents.addEvent(
        1,
        { kind: 'finding', summary: `finding ${i} ${'y'.repeat(90)}`, data: { evidence: ['e'.repeat(90)] } },
        2000 + i,
      );
    }
    const view = incidentView(store.incidents, 1, 1024, 60);
    expect(Buffer.byteLength(JSON.stringify(view))).toBeLessThanOrEqual(1024);
    expect(view).toMatchObject({ timeline: [], alerts: [], alerts_left_out: 40, findings: [] });
    // 1 opened + 40 alert_firing + 30 findings.
    expect(view?.timeline_left_out).toBe(71);
    expect(view?.note).toMatch(
      /^Cut to fit 1024 bytes: 71 older timeline events not shown; alert annotations left out; 40 of 40 alerts left out \(firing ones kept first\); 30 older findings left out; /,
    );
  });

  it('counts the incidents past the rows it was given, and says how to see more', () => {
    for (let i = 0; i < 5; i++) fire({ alertname: 'A', service: `svc-${i}` }, 1000 + i);
    const view = listView(store.incidents.active(), 8192, 'incidents', { total: 25, more: 'Raise limit.' });
    expect(view).toMatchObject({ shown: 5, total: 25, truncated: true });
    expect(view.note).toBe('Showing 5 of 25 incidents; 20 left out. Raise limit.');
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

describe('the transcript view, cut to fit', () => {
  it('keeps the start and end of the conversation when the tool list and tool calls alone would fill the room', () => {
    fire({ alertname: 'HighErrorRate', service: 'checkout' }, 1000);
    // The agent's transcript: 40 messages of 3 KB, the 11 tools it was offered (10 KB), 20 tool calls (20 KB).
    const transcript = {
      mode: 'observe',
      offered: Array.from({ length: 11 }, (_, i) => ({ name: `tool${i}`, description: 'd'.repeat(900) })),
      messages: Array.from({ length: 40 }, (_, i) => ({
        role: i % 2 ? 'ai' : 'tool',
        content: `message ${i}: ${'x'.repeat(3000)}`,
      })),
      toolCalls: Array.from({ length: 20 }, (_, i) => ({
        tool: 'query_prometheus',
        args: { query: 'up' },
        ok: true,
        i,
        summary: 's'.repeat(1500),
      })),
      modelTurns: 20,
    };
    const run = store.agent.startInvestigation(1, 'observe', 1100);
    store.agent.finishInvestigation(run, {
      diagnosis: { summary: 's' },
      flags: [],
      transcript,
      tokens: 10,
      modelCalls: 20,
      toolCalls: 20,
      now: 1200,
    });
    const view = transcriptView(store.agent, 1, run, 32_768);
    expect(Buffer.byteLength(JSON.stringify(view))).toBeLessThanOrEqual(32_768);
    const kept = view?.transcript as {
      messages: Array<{ content?: string; left_out?: number }>;
      toolCalls: unknown[];
      modelTurns: number;
    };
    const messages = kept.messages;
    expect(messages[0]?.content).toMatch(/^message 0: x/);
    expect(messages.at(-1)?.content).toMatch(/^message 39: x/);
    expect(messages.find(m => m.left_out !== undefined)?.left_out).toBe(40 - (messages.length - 1));
    // The conversation holds a fair part of the room, as much as the tool calls beside it.
    expect(Buffer.byteLength(JSON.stringify(messages))).toBeGreaterThan(6000);
    expect(kept.toolCalls.length).toBeGreaterThan(2);
    expect(kept.modelTurns).toBe(20);
    expect(view?.note).toMatch(/^Cut to fit 32768 bytes/);
  });
});
