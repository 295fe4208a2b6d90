import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fingerprintOf } from '../../../src/incidents/alerts.ts';
import { incidentView, transcriptView } from '../../../src/incidents/view.ts';
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
  const labels = { alertname: 'HighErrorRate', service: 'checkout' };
  store.incidents.apply(
    [
      {
        fingerprint: fingerprintOf(labels),
        labels,
        annotations: { summary: 'x'.repeat(200) },
        state: 'firing',
        startsAt: 1000,
        source: 'prometheus',
      },
    ],
    1000,
  );
});
afterEach(() => {
  store.close();
});

function investigate(diagnosis: unknown, transcript: unknown): number {
  const run = store.agent.startInvestigation(1, 'observe', 1100);
  store.agent.finishInvestigation(run, {
    diagnosis,
    flags: ['evidence names call_9, which did not happen', 'claim without evidence: "the deploy"'],
    transcript,
    tokens: 10,
    modelCalls: 1,
    toolCalls: 2,
    now: 1200,
  });
  return run;
}

describe("the headless loop's diagnosis in the incident view", () => {
  it('is absent until an investigation ends with one, and then the latest one is shown', () => {
    expect(incidentView(store.incidents, 1, 8192, 60, store.agent)?.diagnosis).toBeUndefined();
    investigate({ summary: 'first' }, {});
    const second = investigate({ summary: 'second', confidence: 0.4 }, {});
    store.agent.startInvestigation(1, 'observe', 1300); // still running
    expect(incidentView(store.incidents, 1, 8192, 60, store.agent)?.diagnosis).toMatchObject({
      investigation: second,
      summary: 'second',
      confidence: 0.4,
      transcript_uri: `incident://1/investigations/${second}`,
    });
  });

  it('is shortened to fit a small cap, pointing at the transcript for the whole of it', () => {
    const run = investigate(
      {
        summary: 's'.repeat(2000),
        rootCause: 'r'.repeat(2000),
        confidence: 0.9,
        evidence: Array.from({ length: 30 }, (_, i) => ({ call: `call_${i}`, shows: 'e'.repeat(300) })),
        nextSteps: ['n'.repeat(300)],
      },
      {},
    );
    const view = incidentView(store.incidents, 1, 3072, 60, store.agent);
    expect(Buffer.byteLength(JSON.stringify(view))).toBeLessThanOrEqual(3072);
    expect(view?.diagnosis).toMatchObject({ investigation: run, confidence: 0.9 });
    expect(view?.note).toContain(`diagnosis shortened (the whole one: incident://1/investigations/${run})`);
  });
});

describe('the transcript resource', () => {
  it('belongs to its incident only', () => {
    const run = investigate({ summary: 's' }, ['hello']);
    expect(transcriptView(store.agent, 1, run, 32_768)?.transcript).toEqual(['hello']);
    expect(transcriptView(store.agent, 2, run, 32_768)).toBeUndefined();
    expect(transcriptView(store.agent, 1, run + 1, 32_768)).toBeUndefined();
  });

  it('says a transcript past store.transcriptDays was dropped, and keeps the figures', () => {
    const run = investigate({ summary: 's' }, ['hello']);
    store.agent.prune(1200 + 86_400, 1300);
    expect(transcriptView(store.agent, 1, run, 32_768)).toMatchObject({
      transcript: null,
      tokens: 10,
      note: 'The transcript was dropped after store.transcriptDays; the diagnosis and figures stay.',
    });
  });

  it('keeps the start and the end of a long transcript, counting what it left out', () => {
    const steps = Array.from({ length: 500 }, (_, i) => `step ${i} ${'x'.repeat(200)}`);
    const run = investigate({ summary: 's' }, steps);
    const view = transcriptView(store.agent, 1, run, 8192);
    expect(Buffer.byteLength(JSON.stringify(view))).toBeLessThanOrEqual(8192);
    const kept = view?.transcript as unknown[];
    expect(kept[0]).toMatch(/^step 0 /);
    expect(kept.at(-1)).toMatch(/^step 499 /);
    const marker = kept.find(item => typeof item === 'object') as { left_out: number };
    expect(marker.left_out).toBe(500 - (kept.length - 1));
    expect(view?.note).toMatch(/^Cut to fit 8192 bytes/);
  });
});
