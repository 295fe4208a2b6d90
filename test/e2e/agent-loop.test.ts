// The whole loop, nothing stubbed but what cannot run here: the real market predictor starts with its harmful
// configuration value, a real Prometheus rule fires, the watcher opens one incident, the agent (scripted model) in
// autonomous mode queries metrics and logs, checks health, reads the offending file, proposes the fix, the real
// sandbox passes it, a draft PR with exactly the fix and its receipt lands in the GitHub double's git repository,
// the incident shows the cited diagnosis and the PR; the fix applied to the running predictor resolves the incident
// and the outcome is recorded. The same scenario in observe mode runs no sandbox and writes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAgent } from '../../src/agent/loop.ts';
import type { Mode } from '../../src/agent/modes.ts';
import { createWatcher } from '../../src/incidents/watcher.ts';
import { startOpenAiDouble } from '../doubles/openai/index.ts';
import { agentContext, timeline } from '../support/agent.ts';
import {
  CONFIG_FILE,
  REPO,
  investigation,
  startStage,
  withWindow,
  type Stage,
} from '../support/agent-stage.ts';
import { waitFor } from '../support/wait.ts';

let stage: Stage;

beforeAll(async () => {
  stage = await startStage();
}, 60_000);

afterAll(async () => {
  await stage.close();
});

async function run(mode: Mode) {
  const model = await startOpenAiDouble(investigation(mode));
  const env = await agentContext(stage.env, model);
  const watcher = createWatcher(env.ctx, { intervalMs: 250 });
  watcher.start();
  const agent = await openAgent(env.ctx, { mode, stop: new AbortController().signal });
  const store = await env.ctx.store();
  const incident = await waitFor(() => store.incidents.active()[0], 30_000);
  const close = async () => {
    await watcher.stop();
    await agent.close();
    await env.ctx.close();
    await model.close();
  };
  return { model, env, agent, store, id: incident.id, close };
}

describe('the headless loop, end to end', () => {
  it('in observe mode diagnoses the incident, runs no sandbox and writes nothing', async () => {
    stage.github.reset();
    const { model, env, agent, id, close } = await run('observe');
    try {
      const [report] = await agent.runOnce();
      model.assertDone();
      expect(report).toMatchObject({
        incidentId: id,
        mode: 'observe',
        diagnosis: { confidence: 0.9, flags: [] },
      });
      expect(report!.acted).toBeUndefined();
      expect((await timeline(env.ctx, id)).filter(e => e.kind === 'action')).toEqual([]);
      expect(stage.github.writes()).toEqual([]);
    } finally {
      await close();
    }
  }, 120_000);

  it('in autonomous mode fixes it: tested change, draft PR with the receipt, incident resolved, outcome recorded', async () => {
    stage.github.reset();
    const { model, env, agent, store, id, close } = await run('autonomous');
    try {
      const [report] = await agent.runOnce();
      model.assertDone();
      expect(report!.diagnosis).toMatchObject({ confidence: 0.9, flags: [] });
      const pr = report!.acted!.pr!;
      expect(pr).toMatchObject({ repo: REPO, branch: `devops-mcp/incident-${id}` });

      // Exactly the fix, on the prefixed branch, as a draft with the receipt of the passing run.
      const { github } = stage;
      expect(await github.git(REPO, 'show', `${pr.branch}:${CONFIG_FILE}`)).toBe(withWindow(20));
      expect((await github.git(REPO, 'diff', '--name-only', 'main', pr.branch)).trim()).toBe(CONFIG_FILE);
      const created = github.writes().find(w => w.method === 'POST' && w.path.endsWith('/pulls'))!;
      const sent = created.body as { draft: boolean; body: string };
      expect(sent.draft).toBe(true);
      expect(sent.body).toContain(`Incident: incident://${id}`);
      expect(sent.body).toMatch(
        /Tested in the devops-mcp sandbox: `node --test` passed on base commit [0-9a-f]{40}/,
      );

      // The incident shows the cited diagnosis and the PR.
      const view = await agent.mcp.read(`incident://${id}`);
      expect(view).toContain(pr.url);
      expect(view).toContain('MOVING_AVERAGE_WINDOW is 0');
      const finding = (await timeline(env.ctx, id)).find(e => e.kind === 'finding');
      expect(JSON.parse(finding!.data!).evidence).toHaveLength(4);

      // The fix reaches the running service: the alert resolves, then the incident, and the loop records it.
      await stage.deployFix();
      await waitFor(() => store.incidents.get(id)?.status === 'resolved', 60_000);
      await agent.runOnce();
      expect(store.agent.outcomes(id)).toMatchObject([
        { repo: REPO, prNumber: pr.number, outcome: 'resolved_after_change' },
      ]);
    } finally {
      await close();
    }
  }, 180_000);
});
