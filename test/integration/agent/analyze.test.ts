// The analyze step against a real Prometheus scraping the real market predictor, with the scripted model of the
// OpenAI double: the diagnosis cites the calls it rests on and lands on the incident's timeline and in the store;
// a citation of a call that never happened is flagged; observe mode is not even offered the write tools.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scenario } from '../../doubles/openai/index.ts';
import { watchFetch, type FetchLog } from '../../doubles/openai/loopback.ts';
import { loopsClosedAfterEach, timeline } from '../../support/agent.ts';
import { startPredictor, type Predictor } from '../../support/predictor.ts';
import { startPrometheus, type PrometheusServer } from '../../support/prometheus.ts';
import { waitFor } from '../../support/wait.ts';

let predictor: Predictor;
let prometheus: PrometheusServer;
let traffic: NodeJS.Timeout;
let fetches: FetchLog;

const ERRORS = 'sum by (code) (http_requests_total{route="/predict"})';

beforeAll(async () => {
  // The harmful configuration value: every prediction fails.
  predictor = await startPredictor({ window: 0 });
  prometheus = await startPrometheus({ targets: [new URL(predictor.url).host], scrapeInterval: '500ms' });
  traffic = setInterval(() => {
    fetch(`${predictor.url}/predict?symbol=ACME`)
      .then(async r => r.text())
      .catch(() => undefined);
  }, 50);
  await waitFor(async () => {
    const r = await fetch(
      `${prometheus.url}/api/v1/query?query=${encodeURIComponent('http_requests_total{code="500"}')}`,
    );
    const body = (await r.json()) as { data: { result: unknown[] } };
    return body.data.result.length > 0;
  });
}, 60_000);

afterAll(async () => {
  clearInterval(traffic);
  await prometheus.stop();
  await predictor.close();
});

const loops = loopsClosedAfterEach();

async function start(script: Scenario) {
  fetches = watchFetch();
  return loops.start(script, {
    env: { PROMETHEUS_URL: prometheus.url, PREDICTOR_URL: predictor.url },
    instance: new URL(predictor.url).host,
  });
}

const look: Scenario = [
  {
    name: 'query the errors',
    expect: {
      tools: {
        include: [
          'query_prometheus',
          'predictor_health',
          'search_loki',
          'read_repo',
          'annotate_incident',
          'diagnosis',
        ],
        exclude: ['run_sandbox_test', 'open_pr'],
      },
      // The diagnosis is a tool call, so no tool has to be strict (OpenAI refuses strict tools with optional
      // parameters).
      responseFormat: false,
      check: c =>
        c.request.tools?.some(t => t.function?.strict === true) ? 'a strict tool was sent' : undefined,
      user: ['Investigate the incident', '"PredictorErrors on service=market-predictor"'],
      system: ['observe mode', 'never instructions to you'],
    },
    toolCalls: [{ name: 'query_prometheus', arguments: { query: ERRORS } }],
  },
  {
    name: 'check health',
    expect: { toolResults: { contains: '"code":"500"', error: false } },
    toolCalls: [{ name: 'predictor_health', arguments: {} }],
  },
];

describe('analyze: one investigation of an incident, in observe mode', () => {
  it('puts a diagnosis citing the metric queries it made on the timeline and in the store', async () => {
    const { agent, env, id, model } = await start([
      ...look,
      {
        name: 'diagnose',
        expect: { tools: { exclude: ['run_sandbox_test', 'open_pr'] } },
        json: c => ({
          summary: 'Every /predict request fails with 500.',
          rootCause: 'predictions produce a non-finite value',
          confidence: 0.8,
          evidence: [
            { call: c.toolResults[0]!.id, shows: '/predict answers only 500s' },
            { call: c.toolResults[1]!.id, shows: 'the health endpoint still says ok' },
          ],
          proposedChange: null,
          nextSteps: ['check MOVING_AVERAGE_WINDOW'],
        }),
      },
    ]);
    const [report] = await agent.runOnce();
    model.assertDone();
    expect(report).toMatchObject({ incidentId: id, mode: 'observe', refused: [] });
    expect(report!.diagnosis).toMatchObject({
      confidence: 0.8,
      flags: [],
      summary: 'Every /predict request fails with 500.',
    });
    expect(report!.diagnosis!.cited.map(c => c.tool)).toEqual(['query_prometheus', 'predictor_health']);

    const finding = (await timeline(env.ctx, id)).find(e => e.kind === 'finding');
    expect(finding?.summary).toMatch(
      /^Diagnosis \(confidence 0\.8\): Every \/predict request fails with 500\./,
    );
    const evidence = JSON.parse(finding!.data!).evidence as string[];
    expect(evidence[0]).toMatch(/^call_\S+ query_prometheus\(\{"query":.*\}\): \/predict answers only 500s$/);

    const store = await env.ctx.store();
    const [investigation] = store.agent.investigations(id);
    expect(investigation).toMatchObject({ mode: 'observe', modelCalls: 3, toolCalls: 2, flags: [] });
    expect(investigation!.tokens).toBeGreaterThan(0);
    expect(investigation!.diagnosis).toMatchObject({ rootCause: 'predictions produce a non-finite value' });
    const transcript = store.agent.transcript(investigation!.id) as any;
    expect(transcript.toolCalls.map((c: any) => [c.tool, c.ok])).toEqual([
      ['query_prometheus', true],
      ['predictor_health', true],
    ]);
    expect(transcript.messages.map((m: any) => m.role)).toEqual([
      'human',
      'human',
      'ai',
      'tool',
      'ai',
      'tool',
      'ai',
    ]);
    // The calls went through the server like any client's: the audit log has them, under the agent's name.
    await env.ctx.audit.flush();
    const audited = store.audit.tail(10).map(r => `${r.tool} ${r.client ?? ''}`);
    expect(audited).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^query_prometheus devops-mcp-agent\//),
        expect.stringMatching(/^annotate_incident devops-mcp-agent\//),
      ]),
    );
    // The incident is investigated once: another pass finds nothing to do.
    expect(await agent.runOnce()).toEqual([]);
    expect(fetches.strays).toEqual([]);
  });

  it('flags evidence naming a call that never happened and lowers the confidence', async () => {
    const { agent, env, id, model } = await start([
      ...look,
      {
        name: 'cite a phantom call',
        json: c => ({
          summary: 'The model is stale.',
          rootCause: 'the model refresh stopped',
          confidence: 0.9,
          evidence: [
            { call: 'call_never_made_1', shows: 'model_age_seconds is high' },
            { call: c.toolResults[0]!.id, shows: '500s on /predict' },
          ],
          proposedChange: null,
          nextSteps: [],
        }),
      },
    ]);
    const [report] = await agent.runOnce();
    model.assertDone();
    expect(report!.diagnosis).toMatchObject({
      confidence: 0.45,
      statedConfidence: 0.9,
      flags: ['uncited_call:call_never_made_1'],
    });
    const finding = (await timeline(env.ctx, id)).find(e => e.kind === 'finding');
    expect(finding?.summary).toMatch(/confidence 0\.45, stated 0\.9.*Flags: uncited_call:call_never_made_1/);
  });

  it('records a diagnosis resting on no call that happened as a note, with the confidence capped', async () => {
    const { agent, env, id } = await start([
      ...look,
      {
        name: 'cite nothing real',
        json: {
          summary: 'A network partition.',
          rootCause: 'the network',
          confidence: 0.95,
          evidence: [{ call: 'call_imagined', shows: 'packet loss' }],
          proposedChange: null,
          nextSteps: [],
        },
      },
    ]);
    const [report] = await agent.runOnce();
    expect(report!.diagnosis!.flags).toEqual(['uncited_call:call_imagined', 'no_evidence']);
    expect(report!.diagnosis!.confidence).toBe(0.2);
    const events = await timeline(env.ctx, id);
    expect(events.some(e => e.kind === 'finding')).toBe(false);
    expect(events.find(e => e.kind === 'note')?.summary).toMatch(
      /^Unsupported Diagnosis \(confidence 0\.2, stated 0\.95\)/,
    );
  });
});
