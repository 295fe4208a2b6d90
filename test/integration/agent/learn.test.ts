// Learning: after a PR, the loop watches the incident that asked for it and the PR on GitHub, and records the
// outcome — resolved after the change, not resolved within the window, or closed unmerged by a person.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAgent } from '../../../src/agent/loop.ts';
import { startGithubDouble, type GithubDouble } from '../../doubles/github/index.ts';
import { startOpenAiDouble } from '../../doubles/openai/index.ts';
import { createChatModel } from '../../../src/agent/llm.ts';
import { loopsClosedAfterEach, openIncident, timeline, viaDiagnosisTool } from '../../support/agent.ts';

let github: GithubDouble;
let dir: string;

beforeAll(async () => {
  github = await startGithubDouble();
  dir = await mkdtemp(join(tmpdir(), 'devops-mcp-learn-'));
});

afterAll(async () => {
  await github.close();
  await rm(dir, { recursive: true, force: true });
});

const loops = loopsClosedAfterEach();

/** An incident already investigated, with a draft PR the loop made for it, its outcome pending. */
async function withPendingPr(name: string, settings: Record<string, unknown> = {}) {
  const repo = `acme/${name}`;
  // The loop's PR branch for incident 1 (the first incident of a fresh store), one commit ahead.
  await github.addRepo({
    owner: 'acme',
    name,
    files: { 'a.txt': 'a\n' },
    branches: { 'devops-mcp/incident-1': {} },
  });
  await github.pushCommit(repo, 'devops-mcp/incident-1', { 'a.txt': 'b\n' }, 'the fix');
  const file = join(dir, `${name}.json`);
  await writeFile(file, JSON.stringify({ agent: settings }));
  const lines: string[] = [];
  // No investigation is due, so the scripted model is never asked.
  const { agent, env, id, model } = await loops.start([], {
    env: { DEVOPS_MCP_CONFIG: file, GITHUB_TOKEN: github.token, GITHUB_API_URL: github.url },
    narrate: l => lines.push(l),
  });
  const store = await env.ctx.store();
  const investigation = store.agent.startInvestigation(id, 'autonomous', env.ctx.now());
  store.agent.finishInvestigation(investigation, {
    diagnosis: { summary: 'x' },
    flags: [],
    transcript: {},
    tokens: 0,
    modelCalls: 0,
    toolCalls: 0,
    now: env.ctx.now(),
  });
  const github_ = env.ctx.github!;
  const ref = { owner: 'acme', repo: name };
  const pull = await github_.createPull(ref, {
    title: 't',
    body: 'b',
    head: `devops-mcp/incident-${id}`,
    base: 'main',
    draft: true,
  });
  if (pull === 'exists') throw new Error('unexpected');
  store.agent.recordOutcome({
    incidentId: id,
    repo,
    prNumber: pull.number,
    prUrl: pull.url,
    outcome: 'pending',
    now: env.ctx.now() - 1,
  });
  return { agent, env, id, model, repo, number: pull.number, lines, store };
}

describe('learn: the outcome of a PR', () => {
  it('is "closed unmerged" when a person closes the PR', async () => {
    const { agent, env, id, model, repo, number, lines, store } = await withPendingPr('closed');
    expect(await agent.runOnce()).toEqual([]);
    expect(store.agent.outcomes(id)).toMatchObject([{ outcome: 'pending' }]);
    github.closePull(repo, number);
    // GitHub is asked about a pending PR at most every five minutes: the next pass does not see the close yet…
    await agent.runOnce();
    expect(store.agent.outcomes(id)).toMatchObject([{ outcome: 'pending' }]);
    // …the first pass five minutes after the last question does.
    store.agent.markOutcomeChecked(id, repo, number, env.ctx.now() - 300);
    await agent.runOnce();
    expect(store.agent.outcomes(id)).toMatchObject([
      { repo, prNumber: number, outcome: 'pr_closed_unmerged' },
    ]);
    expect(lines).toContain(`incident ${id}: outcome of ${repo}#${number}: pr_closed_unmerged`);
    model.assertDone();
  });

  it('is "resolved after the change" when the incident resolves after the PR', async () => {
    const { agent, env, id, store } = await withPendingPr('resolved');
    store.incidents.setStatus(id, 'resolved', env.ctx.now(), 'alerts resolved');
    await agent.runOnce();
    expect(store.agent.outcomes(id)).toMatchObject([{ outcome: 'resolved_after_change' }]);
    // The outcome is on the timeline, and feeds the next similar incident's investigation.
    expect((await timeline(env.ctx, id)).map(e => e.summary).join('\n')).toMatch(/resolved after the change/);
  });

  it('is "not resolved" when the incident outlives the window', async () => {
    const { agent, id, store } = await withPendingPr('unresolved', { outcomeWindowSeconds: 0 });
    await agent.runOnce();
    expect(store.agent.outcomes(id)).toMatchObject([{ outcome: 'not_resolved' }]);
  });
});

describe('learn: outcomes feed later investigations', () => {
  it('seeds the next similar incident with the past one and what came of its PR', async () => {
    const { agent: first, env, id, store } = await withPendingPr('feed');
    store.incidents.setStatus(id, 'resolved', env.ctx.now(), 'alerts resolved');
    await first.runOnce();
    // The next model, on the same store: the loop of this context asks it.
    const model = loops.close(
      await startOpenAiDouble(
        viaDiagnosisTool([
          {
            name: 'see the past',
            expect: {
              user: [
                'Similar past incidents',
                `incident ${id} "PredictorErrors`,
                'resolved after the change',
              ],
            },
            toolCalls: [{ name: 'list_incidents', arguments: {} }],
          },
          {
            name: 'diagnose',
            json: c => ({
              summary: 'Same as before.',
              rootCause: 'the window',
              confidence: 0.5,
              evidence: [{ call: c.toolResults[0]!.id, shows: 'incidents' }],
              proposedChange: null,
              nextSteps: [],
            }),
          },
        ]),
      ),
    );
    const config = {
      ...env.ctx.config,
      openai: { ...env.ctx.config.openai, baseUrl: model.url, apiKey: model.apiKey },
    };
    const agent = loops.close(
      await openAgent(env.ctx, {
        mode: 'observe',
        stop: new AbortController().signal,
        model: await createChatModel(config),
      }),
    );
    const next = await openIncident(env.ctx, '127.0.0.1:10', 'PredictorErrors', 'market-predictor-eu');
    const [report] = await agent.runOnce();
    model.assertDone();
    expect(report).toMatchObject({ incidentId: next, diagnosis: { flags: [] } });
  });
});
