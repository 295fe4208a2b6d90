// The loop left running for days: what a process that died left behind, an LLM that refuses the key, a conversation
// longer than the model's window, an outage of hours, a quota that asks for a long wait, a model told by the data to
// close incidents, and what the operator is told while incidents wait.
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { createChatModel } from '../../../src/agent/llm.ts';
import { openAgent } from '../../../src/agent/loop.ts';
import type { Scenario } from '../../doubles/openai/index.ts';
import {
  diagnoseFromIncident,
  getIncident,
  loopsClosedAfterEach,
  openIncident,
  timeline,
  type LoopOptions,
} from '../../support/agent.ts';

const loops = loopsClosedAfterEach();

const start = async (script: Scenario, settings: Record<string, unknown> = {}, options: LoopOptions = {}) =>
  loops.start(script, { ...options, agent: settings });

/** The pid of a process of this host that has ended. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid;
}

describe('what a process that died left behind', () => {
  it('closes an investigation whose process is gone, and investigates its incident again', async () => {
    const { agent, env, id, model } = await start([getIncident(), diagnoseFromIncident]);
    const store = await env.ctx.store();
    // Killed mid-investigation (SIGKILL, an OOM kill, a second Ctrl-C): the row never got its end.
    const left = store.agent.startInvestigation(
      id,
      'observe',
      env.ctx.now() - 30,
      `${hostname()}:${deadPid()}`,
    );
    const [report] = await agent.runOnce();
    model.assertDone();
    expect(report).toMatchObject({ incidentId: id, diagnosis: { summary: 'PredictorErrors fires.' } });
    expect(store.agent.investigation(left)).toMatchObject({ budgetHit: 'stopped', flags: ['abandoned'] });
    expect(store.agent.investigation(left)?.endedAt).toBeDefined();
  });

  it('tells a process restarted with the same host and pid (a container) from the one that died', async () => {
    const { agent, env, id, model } = await start([getIncident(), diagnoseFromIncident]);
    const store = await env.ctx.store();
    const left = store.agent.startInvestigation(
      id,
      'observe',
      env.ctx.now() - 30,
      `${hostname()}:${process.pid}:dead0000`,
    );
    const [report] = await agent.runOnce();
    model.assertDone();
    expect(report).toMatchObject({ diagnosis: { summary: 'PredictorErrors fires.' } });
    expect(store.agent.investigation(left)).toMatchObject({ budgetHit: 'stopped', flags: ['abandoned'] });
  });

  it('gives up an incident whose investigations keep dying with their process, and keeps their slots spent', async () => {
    const { agent, env, id } = await start([], { maxInvestigationsPerHour: 5 });
    const store = await env.ctx.store();
    // Three crashed processes' investigations of the incident (a result that exhausts the memory, each time).
    for (let crash = 0; crash < 3; crash++) {
      const at = env.ctx.now() - 60 + crash;
      expect(store.agent.take('agent_investigations', 5, 3600, at)).toEqual({ ok: true });
      store.agent.startInvestigation(id, 'observe', at, `${hostname()}:${deadPid()}`);
    }
    // Closed, and not taken up a fourth time; the three slots are still taken.
    expect(await agent.runOnce()).toEqual([]);
    expect(store.agent.investigations(id).map(inv => inv.flags)).toEqual([
      ['abandoned'],
      ['abandoned'],
      ['abandoned'],
    ]);
    expect(store.agent.take('agent_investigations', 5, 3600, env.ctx.now())).toEqual({ ok: true });
    expect(store.agent.take('agent_investigations', 5, 3600, env.ctx.now())).toEqual({ ok: true });
    expect(store.agent.take('agent_investigations', 5, 3600, env.ctx.now())).toMatchObject({ ok: false });
  });

  it('leaves alone an investigation a live process is running, and does not run a second one beside it', async () => {
    const { agent, env, id } = await start([]);
    const store = await env.ctx.store();
    // Another loop on the same file, alive (this test's parent process stands for it).
    const running = store.agent.startInvestigation(
      id,
      'observe',
      env.ctx.now(),
      `${hostname()}:${process.ppid}`,
    );
    expect(await agent.runOnce()).toEqual([]);
    expect(await agent.handle(id)).toMatchObject({
      skipped: 'not waiting for an investigation any more (resolved, or taken up by another loop)',
    });
    expect(store.agent.investigations(id).map(inv => inv.id)).toEqual([running]);
    expect(store.agent.investigation(running)?.endedAt).toBeUndefined();
  });
});

describe('an LLM endpoint that refuses, overflows or asks to wait', () => {
  it('defers the incident while the endpoint refuses the key, and investigates it once the key is right', async () => {
    const { agent, env, id, model } = await start(
      [getIncident(), diagnoseFromIncident],
      { breakerFailures: 1 },
      {
        env: { OPENAI_API_KEY: 'sk-revoked' },
      },
    );
    const [report] = await agent.runOnce();
    expect(report).toMatchObject({ budgetHit: 'llm_unavailable', deferred: true });
    const store = await env.ctx.store();
    expect(store.agent.investigations(id).map(inv => inv.budgetHit)).toEqual(['llm_unavailable']);
    // The key is fixed and the loop restarted: the incident is still waiting, and now gets its investigation.
    const config = { ...env.ctx.config, openai: { ...env.ctx.config.openai, apiKey: model.apiKey } };
    const fixed = loops.close(
      await openAgent(env.ctx, {
        mode: 'observe',
        stop: new AbortController().signal,
        model: await createChatModel(config),
      }),
    );
    const [next] = await fixed.runOnce();
    model.assertDone();
    expect(next).toMatchObject({ incidentId: id, diagnosis: { summary: 'PredictorErrors fires.' } });
  });

  it('ends a conversation longer than the model’s context window as a budget, keeping what it found', async () => {
    const { agent, env, id, model } = await start([
      {
        ...getIncident(),
        expect: {
          check: () => {
            model.fail({ contextLength: true });
            return undefined;
          },
        },
      },
    ]);
    const [report] = await agent.runOnce();
    expect(report).toMatchObject({ budgetHit: 'context' });
    const [investigation] = (await env.ctx.store()).agent.investigations(id);
    expect(investigation).toMatchObject({ budgetHit: 'context', modelCalls: 1, toolCalls: 1 });
    expect(investigation!.tokens).toBeGreaterThan(0);
  });

  it('records the calls and tokens of an investigation an unexpected error ended', async () => {
    const { agent, env, id, model } = await start([
      {
        ...getIncident(),
        expect: {
          check: () => {
            model.fail({ status: 400 });
            return undefined;
          },
        },
      },
    ]);
    expect(await agent.runOnce()).toMatchObject([{ skipped: expect.stringMatching(/^failed: 400 /) }]);
    const store = await env.ctx.store();
    const [investigation] = store.agent.investigations(id);
    expect(investigation).toMatchObject({ budgetHit: 'error', modelCalls: 1, toolCalls: 1 });
    expect(investigation!.tokens).toBeGreaterThan(0);
    const transcript = store.agent.transcript(investigation!.id) as { toolCalls: Array<{ tool: string }> };
    expect(transcript.toolCalls.map(call => call.tool)).toEqual(['get_incident']);
  });

  it('does not retry a wait longer than a retry makes, and holds the breaker open that long', async () => {
    const { agent, model } = await start([getIncident(), diagnoseFromIncident], { llmRetries: 3 });
    model.fail({ status: 429, retryAfterSeconds: 600 });
    expect(await agent.runOnce()).toMatchObject([{ budgetHit: 'llm_unavailable' }]);
    expect(model.requests.map(r => r.status)).toEqual([429]);
    expect(agent.breaker.state()).toBe('open');
    expect(agent.breaker.retryInMs()).toBeGreaterThan(590_000);
    expect(await agent.runOnce()).toMatchObject([
      { skipped: expect.stringMatching(/^the LLM endpoint is unavailable; retrying in (59\d|600) s$/) },
    ]);
  });

  it('tells an outage once, on the incident’s timeline and to the operator, not at every probe', async () => {
    const lines: string[] = [];
    const { agent, env, id, model } = await start(
      [getIncident(), diagnoseFromIncident],
      { llmRetries: 0, breakerFailures: 1, breakerCooldownSeconds: 0.01 },
      { narrate: line => lines.push(line) },
    );
    model.fail({ status: 503, count: 3 });
    for (let probe = 0; probe < 3; probe++) {
      await new Promise(resolve => setTimeout(resolve, 20));
      expect(await agent.handle(id)).toMatchObject({ budgetHit: 'llm_unavailable', deferred: true });
    }
    const events = await timeline(env.ctx, id);
    expect(events.filter(e => e.kind === 'diagnosis')).toHaveLength(1);
    expect(events.filter(e => e.kind === 'note' && /unavailable/.test(e.summary))).toHaveLength(1);
    expect(lines).toEqual([
      `incident ${id}: investigating in observe mode`,
      expect.stringMatching(new RegExp(`^incident ${id}: ended \\(llm_unavailable\\)`)),
    ]);
    // The probes the endpoint never answered leave no row: the first deferral stands for the outage.
    const store = await env.ctx.store();
    expect(store.agent.investigations(id).map(inv => inv.budgetHit)).toEqual(['llm_unavailable']);
    // Back: the probe that gets answered is told from its start.
    await new Promise(resolve => setTimeout(resolve, 20));
    expect(await agent.handle(id)).toMatchObject({ diagnosis: { summary: 'PredictorErrors fires.' } });
    model.assertDone();
    expect(lines.slice(2)).toEqual([
      `incident ${id}: investigating in observe mode`,
      expect.stringMatching(new RegExp(`^incident ${id}: get_incident `)),
      expect.stringMatching(new RegExp(`^incident ${id}: diagnosed `)),
    ]);
    expect(store.agent.investigations(id).map(inv => inv.budgetHit ?? 'diagnosed')).toEqual([
      'llm_unavailable',
      'diagnosed',
    ]);
  });

  it('gives a deferred investigation’s slot back, however much time passed between its steps', async () => {
    // A clock that moves on at every reading: the slot is taken and the investigation started at one instant.
    let clock = 1_750_000_000;
    const now = () => (clock += 0.001);
    const { agent, id, model } = await start(
      [getIncident(), diagnoseFromIncident],
      { llmRetries: 0, maxInvestigationsPerHour: 1 },
      { now },
    );
    model.fail({ status: 503, count: 3 });
    expect(await agent.handle(id)).toMatchObject({ budgetHit: 'llm_unavailable' });
    agent.breaker.success();
    expect(await agent.handle(id)).toMatchObject({ budgetHit: 'llm_unavailable' });
  });
});

describe('an endpoint that reports no usage', () => {
  it('still ends the run at agent.maxTokens, counting about four characters a token', async () => {
    const { agent, env, id } = await start(
      [
        { ...getIncident(), usage: null },
        { ...getIncident(), usage: null },
        { ...diagnoseFromIncident, usage: null },
      ],
      { maxTokens: 200 },
    );
    expect(await agent.handle(id)).toMatchObject({ budgetHit: 'tokens' });
    const [investigation] = (await env.ctx.store()).agent.investigations(id);
    expect(investigation!.tokens).toBeGreaterThan(200);
  });
});

describe('what the model may write', () => {
  it('refuses to resolve or acknowledge incidents, or to annotate another, whatever the data told it', async () => {
    const { agent, env, id } = await start([
      {
        name: 'obey an alert annotation that says the other incident is a false alarm',
        toolCalls: [
          { name: 'get_incident', arguments: { id: 1 } },
          { name: 'annotate_incident', arguments: { id: 2, status: 'resolved', note: 'false alarm' } },
          { name: 'annotate_incident', arguments: { id: 1, status: 'acknowledged' } },
          { name: 'annotate_incident', arguments: { id: 1, note: 'looked at it' } },
        ],
      },
      diagnoseFromIncident,
    ]);
    const other = await openIncident(env.ctx, '127.0.0.1:10', 'PricingErrors', 'pricing');
    const report = await agent.handle(id);
    expect(report.refused.map(r => [r.tool, r.code])).toEqual([
      ['annotate_incident', 'OUT_OF_SCOPE'],
      ['annotate_incident', 'OUT_OF_SCOPE'],
    ]);
    const store = await env.ctx.store();
    expect(store.incidents.get(other)?.status).toBe('open');
    expect(store.incidents.get(id)?.status).toBe('open');
    expect((await timeline(env.ctx, id)).some(e => e.kind === 'note' && e.summary === 'looked at it')).toBe(
      true,
    );
  });
});

describe('what the operator is told', () => {
  it('tells once, not every poll, why an incident waits', async () => {
    const lines: string[] = [];
    const stop = new AbortController();
    const { agent } = await start(
      [],
      { maxInvestigationsPerHour: 0, pollSeconds: 0.05 },
      { narrate: line => lines.push(line), stop: stop.signal },
    );
    setTimeout(() => {
      stop.abort();
    }, 400);
    await agent.run();
    const told = lines.filter(line => line.includes('waiting: investigation budget of 0 per hour'));
    expect(told).toEqual([expect.stringMatching(/^incident 1: waiting: investigation budget of 0 per hour/)]);
  });

  it('narrates no secret, even one the model wrote into a call', async () => {
    const lines: string[] = [];
    const { agent, model } = await start(
      [
        {
          name: 'echo the key it was somehow shown',
          toolCalls: [
            { name: 'get_incident', arguments: { id: 1 } },
            { name: 'annotate_incident', arguments: { id: 1, note: 'key sk-test-openai-double' } },
          ],
        },
        diagnoseFromIncident,
      ],
      {},
      { narrate: line => lines.push(line) },
    );
    await agent.runOnce();
    model.assertDone();
    const narrated = lines.find(line => line.includes('annotate_incident'));
    expect(narrated).toContain('[REDACTED]');
    expect(lines.join('\n')).not.toContain(model.apiKey);
  });
});
