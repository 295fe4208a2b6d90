// Budgets and resilience with the scripted model: a misbehaving model (no tool call, an unknown tool, arguments
// that are not JSON) gets bounded corrections; budgets end an investigation with a partial diagnosis and the
// reason, never a crash; an LLM that answers 429 is retried as it asks; one that is down defers the investigation
// until it is back, behind a circuit breaker.
import { describe, expect, it, vi } from 'vitest';
import type { Scenario } from '../../doubles/openai/index.ts';
import { diagnoseFromIncident, getIncident, loopsClosedAfterEach, timeline } from '../../support/agent.ts';
import { waitFor } from '../../support/wait.ts';

const loops = loopsClosedAfterEach();

const start = async (script: Scenario, settings: Record<string, unknown> = {}) =>
  loops.start(script, { agent: settings });

describe('corrections of a misbehaving model', () => {
  it('corrects an answer without tools, an unknown tool and arguments that are not JSON, and records each', async () => {
    // LangChain warns on the console when every tool call of an answer is invalid.
    vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const { agent, env, id, model } = await start([
      { name: 'chatty', content: 'I would look at the metrics first.' },
      {
        name: 'unknown tool',
        expect: { user: ['neither a tool call nor the diagnosis'] },
        toolCalls: [{ name: 'restart_cluster', arguments: { now: true }, misbehave: true }],
      },
      {
        name: 'broken JSON',
        expect: { toolResults: { error: true, contains: 'restart_cluster is not a valid tool' } },
        toolCalls: [{ name: 'get_incident', arguments: '{"id": 1', misbehave: true }],
      },
      {
        name: 'a proper call',
        expect: { toolResults: { error: true, contains: 'not valid JSON' } },
        toolCalls: [{ name: 'get_incident', arguments: { id: 1 } }],
      },
      diagnoseFromIncident,
    ]);
    const [report] = await agent.runOnce();
    model.assertDone();
    expect(report!.budgetHit).toBeUndefined();
    expect(report!.diagnosis).toMatchObject({ confidence: 0.6, flags: [] });
    const store = await env.ctx.store();
    const [investigation] = store.agent.investigations(id);
    const transcript = store.agent.transcript(investigation!.id) as any;
    expect(transcript.corrections.map((c: any) => c.kind)).toEqual([
      'no_diagnosis',
      'unknown_tool',
      'invalid_arguments',
    ]);
    expect(transcript.toolCalls.map((c: any) => [c.tool, c.ok, c.code ?? null])).toEqual([
      ['restart_cluster', false, 'UNKNOWN_TOOL'],
      ['get_incident', false, 'INVALID_ARGUMENT'],
      ['get_incident', true, null],
    ]);
    expect(investigation).toMatchObject({ modelCalls: 5 });
    // The unknown tool is on the timeline among the refused attempts.
    const note = (await timeline(env.ctx, id)).find(
      e => e.kind === 'note' && e.summary.startsWith('Refused'),
    );
    expect(note?.summary).toMatch(
      /restart_cluster \{"now":true\} → Error: restart_cluster is not a valid tool/,
    );
  });

  it('keeps the corrected exchanges in the stored transcript, in the order they happened, each message once', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const { agent, env, id, model } = await start([
      { name: 'chatty', content: 'SAID-ONCE: I would look at the metrics first.' },
      {
        name: 'broken JSON',
        expect: { user: ['neither a tool call nor the diagnosis'] },
        toolCalls: [{ name: 'get_incident', arguments: '{"id": 1', misbehave: true }],
      },
      {
        name: 'a proper call',
        expect: { toolResults: { error: true, contains: 'not valid JSON' } },
        toolCalls: [{ name: 'get_incident', arguments: { id: 1 } }],
      },
      diagnoseFromIncident,
    ]);
    await agent.runOnce();
    model.assertDone();
    const store = await env.ctx.store();
    const transcript = store.agent.transcript(store.agent.investigations(id)[0]!.id) as {
      messages: Array<{ role: string; content: string; tool_calls?: Array<{ name: string }> }>;
    };
    const said = transcript.messages.map(m =>
      m.role === 'ai'
        ? `ai:${m.tool_calls?.map(c => c.name).join(',') || m.content}`
        : `${m.role}:${m.content.slice(0, 40)}`,
    );
    // The seed, then everything the model said and was told, each once.
    expect(said.slice(said.findIndex(line => line.startsWith('ai:')))).toEqual([
      'ai:SAID-ONCE: I would look at the metrics first.',
      expect.stringMatching(/^human:Your answer was neither a tool call nor/),
      // The answer whose only call was not JSON, and the refusal it got.
      expect.stringMatching(/^ai:/),
      expect.stringMatching(/^tool:INVALID_ARGUMENT error: /),
      'ai:get_incident',
      expect.stringMatching(/^tool:/),
      'ai:diagnosis',
    ]);
    expect(said.filter(line => line === 'ai:get_incident')).toHaveLength(1);
  });

  it('answers a call whose arguments are not JSON beside a valid one, and counts one correction', async () => {
    const { agent, env, id, model } = await start([
      {
        name: 'one valid call, one not JSON',
        toolCalls: [
          { name: 'get_incident', arguments: { id: 1 } },
          { name: 'list_incidents', arguments: '{"limit": 5', misbehave: true },
        ],
      },
      {
        ...diagnoseFromIncident,
        expect: {
          check: c =>
            c.lastResult('list_incidents').startsWith('INVALID_ARGUMENT error: ')
              ? undefined
              : 'expected the invalid call answered with the refusal',
        },
      },
    ]);
    const [report] = await agent.runOnce();
    model.assertDone();
    expect(report!.budgetHit).toBeUndefined();
    expect(report!.diagnosis).toMatchObject({ confidence: 0.6, flags: [] });
    const store = await env.ctx.store();
    const transcript = store.agent.transcript(store.agent.investigations(id)[0]!.id) as any;
    expect(transcript.corrections.map((c: any) => c.kind)).toEqual(['invalid_arguments']);
    expect(transcript.toolCalls.map((c: any) => [c.tool, c.ok, c.code ?? null]).sort()).toEqual([
      ['get_incident', true, null],
      ['list_incidents', false, 'INVALID_ARGUMENT'],
    ]);
  });

  it('sends back a diagnosis made before any tool call, and one that does not fit its schema', async () => {
    const { agent, env, id, model } = await start([
      {
        name: 'jump to conclusions',
        json: {
          summary: 'x',
          rootCause: 'y',
          confidence: 1,
          evidence: [],
          proposedChange: null,
          nextSteps: [],
        },
      },
      {
        name: 'look first',
        expect: { toolResults: { error: true, contains: 'nothing supports that diagnosis' } },
        ...getIncident(),
      },
      {
        name: 'a diagnosis missing its fields',
        toolCalls: [{ name: 'diagnosis', arguments: { summary: 'only this' }, misbehave: true }],
      },
      { ...diagnoseFromIncident, expect: { toolResults: { contains: 'rootCause' } } },
    ]);
    const [report] = await agent.runOnce();
    model.assertDone();
    expect(report!.diagnosis).toMatchObject({ confidence: 0.6, flags: [] });
    const store = await env.ctx.store();
    const transcript = store.agent.transcript(store.agent.investigations(id)[0]!.id) as any;
    expect(transcript.corrections.map((c: any) => c.detail)).toEqual([
      'a diagnosis before any tool call',
      'the diagnosis did not fit its schema',
    ]);
  });

  it('ends with a partial diagnosis and the reason once the corrections are spent', async () => {
    const { agent, env, id, model } = await start(
      [
        { name: 'chatty', content: 'Let me think.' },
        { name: 'still chatty', content: 'Thinking more.' },
      ],
      { maxCorrections: 1 },
    );
    const [report] = await agent.runOnce();
    model.assertDone();
    expect(report!.budgetHit).toBe('corrections');
    expect(report!.diagnosis).toMatchObject({
      confidence: 0,
      rootCause: 'unknown',
      flags: ['partial', expect.stringMatching(/^stopped:corrections budget reached/)],
    });
    const [investigation] = (await env.ctx.store()).agent.investigations(id);
    expect(investigation).toMatchObject({ budgetHit: 'corrections', modelCalls: 2 });
    expect(
      (await timeline(env.ctx, id)).some(
        e => e.kind === 'note' && e.summary.startsWith('Unsupported Diagnosis (confidence 0)'),
      ),
    ).toBe(true);
    // A budget is a verdict, not an outage: the incident is not investigated again.
    expect(await agent.runOnce()).toEqual([]);
  });
});

describe('budgets', () => {
  it('refuses tool calls past the tool-call budget and lets the model conclude', async () => {
    const { agent, model } = await start(
      [
        {
          name: 'two calls',
          toolCalls: [
            { name: 'get_incident', arguments: { id: 1 } },
            { name: 'list_incidents', arguments: {} },
          ],
        },
        {
          name: 'conclude',
          expect: {
            check: c =>
              c.lastResult('list_incidents').startsWith('BUDGET: ')
                ? undefined
                : 'expected the budget refusal',
          },
          ...diagnoseFromIncident,
        },
      ],
      { maxToolCalls: 1 },
    );
    const [report] = await agent.runOnce();
    model.assertDone();
    expect(report!.diagnosis).toMatchObject({ confidence: 0.6, flags: [] });
  });

  it('ends a model that keeps calling tools at the model-call budget, with a partial diagnosis', async () => {
    const { agent, env, id, model } = await start([getIncident(), getIncident(), getIncident()], {
      maxModelCalls: 2,
    });
    const [report] = await agent.runOnce();
    expect(model.progress().step).toBe(2);
    expect(report!.budgetHit).toBe('model_calls');
    expect(report!.diagnosis!.nextSteps[0]).toMatch(/2 tool call\(s\) were made \(get_incident\)/);
    expect((await env.ctx.store()).agent.investigations(id)[0]).toMatchObject({
      budgetHit: 'model_calls',
      modelCalls: 2,
      toolCalls: 2,
    });
  });

  it('counts in a partial diagnosis only the calls that reached a tool, and tells the refused ones apart', async () => {
    const { agent, env, id } = await start(
      [
        {
          name: 'three calls, two past the tool-call budget',
          toolCalls: [
            { name: 'get_incident', arguments: { id: 1 } },
            { name: 'list_incidents', arguments: {} },
            { name: 'list_incidents', arguments: { limit: 5 } },
          ],
        },
        {
          name: 'one more past the budget',
          expect: {
            check: c =>
              c.lastResult('list_incidents').startsWith('BUDGET: ')
                ? undefined
                : 'expected the budget refusal',
          },
          toolCalls: [{ name: 'get_incident', arguments: { id: 1 } }],
        },
        getIncident(),
      ],
      { maxToolCalls: 1, maxModelCalls: 2 },
    );
    const [report] = await agent.runOnce();
    expect(report!.budgetHit).toBe('model_calls');
    expect(report!.diagnosis!.nextSteps).toEqual([
      'Investigate further by hand: 1 tool call(s) were made (get_incident); 3 more were refused before reaching a tool.',
    ]);
    expect((await env.ctx.store()).agent.investigations(id)[0]).toMatchObject({ toolCalls: 1 });
  });

  it('counts tokens from the answers and stops at the token budget', async () => {
    const { agent, model } = await start(
      [
        { ...getIncident(), usage: { prompt_tokens: 900, completion_tokens: 200 } },
        { ...getIncident(), usage: { prompt_tokens: 900, completion_tokens: 200 } },
      ],
      { maxTokens: 1000 },
    );
    const [report] = await agent.runOnce();
    expect(model.progress().step).toBe(1);
    expect(report!.budgetHit).toBe('tokens');
  });
});

describe('the wall clock', () => {
  it('ends an investigation whose model does not answer in time, with a partial diagnosis', async () => {
    const { agent, model, env, id } = await start([getIncident(), diagnoseFromIncident], {
      maxSeconds: 1,
      llmRetries: 0,
    });
    model.fail({ delayMs: 10_000 });
    const [report] = await agent.runOnce();
    expect(report!.budgetHit).toBe('wall_clock');
    expect(report!.diagnosis!.summary).toBe(
      'Investigation ended before a diagnosis: wall clock budget of 1 s reached.',
    );
    expect((await env.ctx.store()).agent.investigations(id)[0]).toMatchObject({ budgetHit: 'wall_clock' });
  });
});

describe('an LLM that fails', () => {
  it('honours retry-after on 429 and carries on', async () => {
    const { agent, model, env, id } = await start([getIncident(), diagnoseFromIncident], { llmRetries: 3 });
    model.fail({ status: 429, count: 2, retryAfterSeconds: 0 });
    const [report] = await agent.runOnce();
    model.assertDone();
    expect(report!.budgetHit).toBeUndefined();
    expect(model.requests.map(r => r.status)).toEqual([429, 429, 200, 200]);
    const transcript = (await env.ctx.store()).agent.transcript(
      (await env.ctx.store()).agent.investigations(id)[0]!.id,
    ) as any;
    expect(transcript.modelTurns.map((t: any) => t.retries)).toEqual([2, 0]);
  });

  it('defers the investigation while the LLM is down, and investigates once it is back', async () => {
    const { agent, model, env, id } = await start([getIncident(), diagnoseFromIncident], {
      llmRetries: 1,
      breakerFailures: 1,
      breakerCooldownSeconds: 0.2,
    });
    model.fail({ status: 500, count: 2 });
    const [first] = await agent.runOnce();
    expect(first).toMatchObject({ budgetHit: 'llm_unavailable' });
    expect(agent.breaker.state()).toBe('open');
    const [skipped] = await agent.runOnce();
    expect(skipped!.skipped).toMatch(/^the LLM endpoint is unavailable; retrying in \d+ s$/);
    await waitFor(() => agent.breaker.state() !== 'open');
    const [second] = await agent.runOnce();
    model.assertDone();
    expect(second!.budgetHit).toBeUndefined();
    expect(second!.diagnosis!.confidence).toBe(0.6);
    expect((await env.ctx.store()).agent.investigations(id).map(i => i.budgetHit ?? 'done')).toEqual([
      'llm_unavailable',
      'done',
    ]);
  });
  it('probes again after a probe that the endpoint refused (a 400 is no outage, and no verdict either)', async () => {
    const { agent, model, id } = await start([getIncident(), diagnoseFromIncident], {
      llmRetries: 0,
      breakerFailures: 1,
      breakerCooldownSeconds: 0.1,
    });
    model.fail({ status: 500, count: 1 });
    expect(await agent.handle(id)).toMatchObject({ budgetHit: 'llm_unavailable' });
    await waitFor(() => agent.breaker.state() !== 'open');
    model.fail({ status: 400, count: 1 });
    await expect(agent.handle(id)).rejects.toThrow(/400/);
    const third = await agent.handle(id);
    model.assertDone();
    expect(third.budgetHit).toBeUndefined();
    expect(model.requests.map(r => r.status)).toEqual([500, 400, 200, 200]);
  });
});

describe('stopping', () => {
  it('ends at once when told to stop, the model call in flight abandoned, and leaves the incident for the next run', async () => {
    const stop = new AbortController();
    const { agent, env, id, model } = await loops.start(
      [
        {
          name: 'read the incident, and meanwhile SIGTERM arrives',
          expect: {
            check: () => {
              stop.abort();
              return undefined;
            },
          },
          toolCalls: [{ name: 'get_incident', arguments: { id: 1 } }],
        },
      ],
      { agent: { pollSeconds: 0.05 }, stop: stop.signal },
    );
    await agent.run();
    model.assertDone();
    const [investigation] = (await env.ctx.store()).agent.investigations(id);
    // The answer under way was not waited for: the tool call it carried was never made. A model call can take up to
    // agent.llmTimeoutMs, longer than a service manager waits before it kills the process.
    expect(investigation).toMatchObject({ budgetHit: 'stopped', toolCalls: 0 });
    expect(investigation!.endedAt).toBeDefined();
  });
});
