// The act step on the real Docker engine with the GitHub double: the proposed change goes to run_sandbox_test, a
// failing run goes back to the model for a revision, and only a passing run's receipt opens the draft PR (in
// autonomous mode), whose body carries the diagnosis, its evidence and the incident link.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { checkOutcomes } from '../../../src/agent/learn.ts';
import type { Mode } from '../../../src/agent/modes.ts';
import { startGithubDouble, type GithubDouble } from '../../doubles/github/index.ts';
import type { Scenario } from '../../doubles/openai/index.ts';
import { loopsClosedAfterEach, openIncident, timeline, type Loop } from '../../support/agent.ts';
import {
  CONFIG_FILE,
  fixingWindow,
  PREDICTOR,
  predictorRepoSettings,
  readConfig,
  REPO,
  SANDBOX_LIMITS,
  withWindow,
} from '../../support/agent-stage.ts';
import { filesOf } from '../../support/files.ts';

/** A model's own open_pr call adding one file, and the diagnosis that follows, citing its PR calls. */
const pr = (branch: string, path: string) => ({
  name: 'open_pr',
  arguments: {
    repo: REPO,
    branch,
    title: `Add ${path}`,
    body: 'notes',
    changes: [{ path, action: 'create', content: 'notes\n' }],
  },
});
const conclude: Scenario[number] = {
  name: 'conclude',
  json: c => ({
    summary: 'Notes added.',
    rootCause: 'none',
    confidence: 0.6,
    evidence: c.toolResults.filter(r => r.name === 'open_pr').map(r => ({ call: r.id, shows: 'a PR' })),
    proposedChange: null,
    nextSteps: [],
  }),
};

let github: GithubDouble;
let dir: string;
let configFile: string;
/** A policy that lets the model open PRs itself (no receipt needed), under a loop budget of one PR an hour. */
let modelPrsFile: string;

beforeAll(async () => {
  github = await startGithubDouble();
  // The repository as it runs in production: with the harmful value.
  await github.addRepo({
    owner: 'acme',
    name: 'market-predictor',
    files: { ...filesOf(PREDICTOR), [CONFIG_FILE]: withWindow(0) },
  });
  dir = await mkdtemp(join(tmpdir(), 'devops-mcp-act-'));
  configFile = join(dir, 'config.json');
  await writeFile(
    configFile,
    JSON.stringify({
      ...predictorRepoSettings(),
      sandbox: { limits: SANDBOX_LIMITS },
      agent: { maxRevisions: 1 },
    }),
  );
  modelPrsFile = join(dir, 'model-prs.json');
  await writeFile(
    modelPrsFile,
    JSON.stringify({
      ...predictorRepoSettings({ pr: { requireReceipt: false } }),
      agent: { maxPrsPerHour: 1 },
    }),
  );
}, 60_000);

afterAll(async () => {
  await github.close();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  github.reset();
});

const loops = loopsClosedAfterEach();
const start = async (script: Scenario, mode: Mode, file = configFile) =>
  loops.start(script, {
    mode,
    env: { DEVOPS_MCP_CONFIG: file, GITHUB_TOKEN: github.token, GITHUB_API_URL: github.url },
  });

describe('act: sandbox first, then the PR', () => {
  it('in autonomous mode, tests the fix and opens a draft PR with the diagnosis, evidence and incident link', async () => {
    const { agent, env, id, model } = await start(
      [
        {
          ...readConfig,
          expect: {
            tools: { include: ['read_repo', 'run_sandbox_test', 'open_pr'] },
            system: ['autonomous mode'],
          },
        },
        {
          name: 'propose the fix',
          expect: { toolResults: { contains: 'MOVING_AVERAGE_WINDOW = 0' } },
          json: fixingWindow(20),
        },
      ],
      'autonomous',
    );
    const [report] = await agent.runOnce();
    model.assertDone();
    expect(report!.acted).toMatchObject({
      tested: true,
      passed: true,
      runs: 1,
      pr: { repo: REPO, branch: 'devops-mcp/incident-1' },
    });
    expect(await github.git(REPO, 'show', `devops-mcp/incident-${id}:${CONFIG_FILE}`)).toBe(withWindow(20));
    const pulls = github.writes().filter(w => w.method === 'POST' && w.path.endsWith('/pulls'));
    expect(pulls).toHaveLength(1);
    const body = (pulls[0]!.body as { body: string; draft: boolean }).body;
    expect((pulls[0]!.body as { draft: boolean }).draft).toBe(true);
    expect(body).toContain(`Incident: incident://${id}`);
    expect(body).toContain('**Root cause:** src/config.mjs sets MOVING_AVERAGE_WINDOW = 0');
    expect(body).toMatch(
      /- `call_\S+` read_repo `\{"repo":"acme\/market-predictor","path":"src\/config\.mjs"\}`: MOVING_AVERAGE_WINDOW = 0/,
    );

    const actions = (await timeline(env.ctx, id)).filter(e => e.kind === 'action').map(e => e.summary);
    expect(actions).toEqual([
      `sandbox run of "test" on ${REPO} passed`,
      expect.stringMatching(new RegExp(`^pull request ${REPO}#\\d+ created: `)),
    ]);
    const store = await env.ctx.store();
    expect(store.agent.outcomes(id)).toMatchObject([{ repo: REPO, outcome: 'pending' }]);
  }, 120_000);

  it('opens the PR of a passing fix whatever the length of its diagnosis, saying what was cut', async () => {
    // Another window than the other tests': the change is new whichever ran before.
    const propose = fixingWindow(30);
    const { agent, model } = await start(
      [
        readConfig,
        {
          name: 'propose the fix, at great length',
          json: c => {
            const d = propose(c);
            return {
              ...d,
              summary: `The window is 0. ${'y'.repeat(120_000)}`,
              proposedChange: { ...d.proposedChange, rationale: `Restore it. ${'x'.repeat(120_000)}` },
            };
          },
        },
      ],
      'autonomous',
    );
    const [report] = await agent.runOnce();
    model.assertDone();
    expect(report!.acted).toMatchObject({ passed: true, pr: { repo: REPO } });
    // Created, or updated when an earlier test left the incident's PR open.
    const pulls = github.writes().filter(w => /\/pulls(\/\d+)?$/.test(w.path));
    const body = (pulls.at(-1)!.body as { body: string }).body;
    expect(body.length).toBeLessThanOrEqual(65_536);
    expect(body).toContain('Restore it. xxx');
    expect(body).toMatch(/x… \(cut from 120012 characters\)/);
    expect(body).toContain(
      "Parts of the diagnosis were cut to fit a PR body; the whole of it is in the investigation's transcript",
    );
    // What follows the cut parts is there, whole.
    expect(body).toContain('made by the devops-mcp headless loop.');
  }, 120_000);

  it('gives a failing run back to the model, and in propose mode records the passing revision without a PR', async () => {
    const { agent, env, id, model } = await start(
      [
        { ...readConfig, expect: { tools: { include: ['run_sandbox_test'], exclude: ['open_pr'] } } },
        { name: 'propose a bad fix', json: fixingWindow(201) },
        {
          name: 'revise after the failing run',
          expect: { user: ['The sandbox run of your proposed change failed'], toolResults: false },
          json: fixingWindow(30),
        },
      ],
      'propose',
    );
    const [report] = await agent.runOnce();
    model.assertDone();
    expect(report!.acted).toMatchObject({
      tested: true,
      passed: true,
      runs: 2,
      stopped: 'tested; a PR needs autonomous mode',
    });
    expect(report!.acted!.pr).toBeUndefined();
    expect(github.writes()).toEqual([]);
    const events = await timeline(env.ctx, id);
    expect(events.filter(e => e.kind === 'action').map(e => e.summary)).toEqual([
      expect.stringMatching(new RegExp(`^sandbox run of "test" on ${REPO} failed`)),
      `sandbox run of "test" on ${REPO} passed`,
    ]);
    expect(events.find(e => e.kind === 'note' && e.summary.startsWith('Tested change'))?.summary).toMatch(
      /passed the sandbox \(update src\/config\.mjs\); no PR in propose mode/,
    );
  }, 120_000);

  it('writes nothing when no revision passes, even in autonomous mode', async () => {
    const { agent, model } = await start(
      [
        readConfig,
        { name: 'propose a bad fix', json: fixingWindow(0) },
        { name: 'revise badly', expect: { toolResults: false }, json: fixingWindow(500) },
      ],
      'autonomous',
    );
    const [report] = await agent.runOnce();
    model.assertDone();
    expect(report!.acted).toMatchObject({
      tested: true,
      passed: false,
      runs: 2,
      stopped: 'the sandbox run failed after 1 revision(s)',
    });
    expect(github.writes()).toEqual([]);
  }, 120_000);
});

describe('act: only on a supported diagnosis', () => {
  it('tests nothing when the diagnosis cites a call that never happened, and says why on the timeline', async () => {
    const propose = fixingWindow(20);
    const { agent, env, id, model } = await start(
      [
        readConfig,
        {
          name: 'propose the fix on made-up evidence',
          json: c => ({ ...propose(c), evidence: [{ call: 'call_never_made', shows: 'the window is 0' }] }),
        },
      ],
      'autonomous',
    );
    const [report] = await agent.runOnce();
    model.assertDone();
    expect(report!.acted).toEqual({
      tested: false,
      passed: false,
      runs: 0,
      stopped:
        'not tested: the diagnosis is not supported by its evidence (uncited_call:call_never_made, no_evidence)',
    });
    expect(github.writes()).toEqual([]);
    const events = await timeline(env.ctx, id);
    expect(events.filter(e => e.kind === 'action')).toEqual([]);
    expect(events.find(e => e.kind === 'note' && e.summary.startsWith('Proposed change'))?.summary).toBe(
      `Proposed change for ${REPO} not tested: the diagnosis is not supported by its evidence (uncited_call:call_never_made, no_evidence).`,
    );
  });

  it('tests nothing when the confidence is below agent.minConfidenceToAct', async () => {
    const propose = fixingWindow(20);
    const { agent, env, id, model } = await start(
      [readConfig, { name: 'propose the fix, unsure', json: c => ({ ...propose(c), confidence: 0.4 }) }],
      'autonomous',
    );
    const [report] = await agent.runOnce();
    model.assertDone();
    expect(report!.acted).toMatchObject({ tested: false, runs: 0 });
    expect(github.writes()).toEqual([]);
    expect(
      (await timeline(env.ctx, id)).find(e => e.kind === 'note' && e.summary.startsWith('Proposed change'))
        ?.summary,
    ).toBe(
      `Proposed change for ${REPO} not tested: the diagnosis's confidence 0.4 is below agent.minConfidenceToAct (0.5).`,
    );
  });
});

describe('act: an error while acting', () => {
  it('ends the investigation, keeping its diagnosis, and takes the incident up again at most three times', async () => {
    const { agent, env, id, model } = await start(
      [
        readConfig,
        {
          name: 'propose a bad fix',
          expect: {
            check: () => {
              // The revision request, and the first request of each retry, are refused (a context too long, say).
              model.fail({ status: 400, count: 3 });
              return undefined;
            },
          },
          json: fixingWindow(201),
        },
      ],
      'propose',
    );
    const [first] = await agent.runOnce();
    expect(first!.skipped).toMatch(/^failed: 400 /);
    const store = await env.ctx.store();
    expect(store.agent.investigations(id)).toEqual([
      expect.objectContaining({ endedAt: expect.any(Number), budgetHit: 'error' }),
    ]);
    expect(store.agent.latestDiagnosis(id)?.diagnosis).toMatchObject({
      summary: 'MOVING_AVERAGE_WINDOW is 0, so every prediction is NaN.',
    });
    expect((await timeline(env.ctx, id)).map(e => e.kind)).toContain('diagnosis');
    // Taken up again, and failing again, until the third error ending: then left alone.
    expect((await agent.runOnce()).map(r => r.skipped)).toEqual([expect.stringMatching(/^failed: 400 /)]);
    expect((await agent.runOnce()).map(r => r.skipped)).toEqual([expect.stringMatching(/^failed: 400 /)]);
    expect(await agent.runOnce()).toEqual([]);
    model.assertDone();
    expect(store.agent.investigations(id).map(i => i.budgetHit)).toEqual(['error', 'error', 'error']);
    expect(model.requests.map(r => r.status)).toEqual([200, 200, 400, 400, 400]);
  }, 120_000);
});

describe('act: cooldown', () => {
  it('does not act again on an incident group the loop acted on within the cooldown', async () => {
    const lines: string[] = [];
    const { agent, env, id, model } = await loops.start(
      [readConfig, { name: 'propose the fix', json: fixingWindow(20) }],
      {
        mode: 'autonomous',
        env: { DEVOPS_MCP_CONFIG: configFile, GITHUB_TOKEN: github.token, GITHUB_API_URL: github.url },
        narrate: line => lines.push(line),
      },
    );
    const store = await env.ctx.store();
    // An earlier action on the same group (service=market-predictor) holds the cooldown.
    const group = store.incidents.get(id)!.group_key;
    expect(store.agent.take(`agent_cooldown:${group}`, 1, 3600, env.ctx.now())).toEqual({ ok: true });
    const [report] = await agent.runOnce();
    model.assertDone();
    expect(report!.acted).toMatchObject({ tested: false, runs: 0 });
    expect(report!.acted!.stopped).toMatch(/^cooldown: the loop acted on .+ recently \(again in \d+ s\)$/);
    expect(github.writes()).toEqual([]);
    // The operator is told why nothing was tested, and not that something was.
    expect(lines.filter(line => /sandbox|cooldown/.test(line))).toEqual([
      expect.stringMatching(new RegExp(`^incident ${id}: cooldown: the loop acted on `)),
    ]);
    expect((await timeline(env.ctx, id)).filter(e => e.kind === 'action')).toEqual([]);
  });
});

describe('act: what the model does itself', () => {
  it('puts a sandbox run the model made on the timeline too', async () => {
    const { agent, env, id, model } = await start(
      [
        readConfig,
        {
          name: 'test a hypothesis in the sandbox',
          toolCalls: [
            {
              name: 'run_sandbox_test',
              arguments: c => {
                const file = JSON.parse(c.lastResult('read_repo')) as { sha: string; content: string };
                return {
                  repo: REPO,
                  command: 'test',
                  changes: [
                    {
                      path: CONFIG_FILE,
                      action: 'update',
                      content: file.content.replace(
                        'MOVING_AVERAGE_WINDOW = 0;',
                        'MOVING_AVERAGE_WINDOW = 20;',
                      ),
                      sha: file.sha,
                    },
                  ],
                };
              },
            },
          ],
        },
        {
          name: 'conclude without a change',
          expect: { toolResults: { contains: '"passed":true' } },
          json: c => ({
            summary: 'A window of 20 passes the tests.',
            rootCause: 'MOVING_AVERAGE_WINDOW = 0',
            confidence: 0.8,
            evidence: c.toolResults.map(r => ({ call: r.id, shows: r.name })),
            proposedChange: null,
            nextSteps: ['set the window to 20'],
          }),
        },
      ],
      'propose',
    );
    const [report] = await agent.runOnce();
    model.assertDone();
    expect(report!.acted).toBeUndefined();
    const actions = (await timeline(env.ctx, id)).filter(e => e.kind === 'action').map(e => e.summary);
    expect(actions).toEqual([`sandbox run of "test" on ${REPO} passed`]);
    expect(github.writes()).toEqual([]);
  }, 120_000);

  it('holds the PRs the model opens itself to the loop’s PR budget and group cooldown', async () => {
    const { agent, env, id, model } = await start(
      [
        // Refused by the tool: the slots the loop took for it go back.
        { name: 'a PR the tool refuses', toolCalls: [pr('ci', '.github/workflows/ci.yml')] },
        {
          name: 'two PRs at once',
          expect: { toolResults: { error: true } },
          toolCalls: [pr('notes-a', 'docs/a.md'), pr('notes-b', 'docs/b.md')],
        },
        conclude,
        // Another incident, in another group: no cooldown, but the hour's one PR is spent.
        {
          name: 'a PR for the other incident',
          expect: { toolResults: false },
          toolCalls: [pr('notes-c', 'docs/c.md')],
        },
        conclude,
      ],
      'autonomous',
      modelPrsFile,
    );
    const other = await openIncident(env.ctx, '127.0.0.1:9', 'PricingErrors', 'pricing');
    const [report, otherReport] = await agent.runOnce();
    model.assertDone();
    expect(github.writes().filter(w => w.method === 'POST' && w.path.endsWith('/pulls'))).toHaveLength(1);
    expect(report!.refused.map(r => r.code).sort()).toEqual(['COOLDOWN', 'PROTECTED_PATH']);
    expect(otherReport!.refused.map(r => r.code)).toEqual(['BUDGET']);
    expect((await timeline(env.ctx, id)).filter(e => e.kind === 'action').map(e => e.summary)).toEqual([
      expect.stringMatching(new RegExp(`^pull request ${REPO}#\\d+ created: `)),
    ]);
    const note = (await timeline(env.ctx, other)).find(e => e.summary.startsWith('Refused attempts'));
    expect(note?.summary).toMatch(
      /open_pr .* → BUDGET: error: the loop's budget of 1 PR\(s\) per hour is spent \(next in \d+ s\)\. Nothing was done\./,
    );
  });

  it('learns that a person closed a PR the model opened on a branch of its own choosing', async () => {
    const { agent, env, id, model } = await start(
      [{ name: 'a PR', toolCalls: [pr('notes-o', 'docs/o.md')] }, conclude],
      'autonomous',
      modelPrsFile,
    );
    await agent.runOnce();
    model.assertDone();
    const store = await env.ctx.store();
    const [opened] = store.agent.outcomes(id);
    expect(opened).toMatchObject({ repo: REPO, outcome: 'pending', branch: 'devops-mcp/notes-o' });
    github.closePull(REPO, opened!.prNumber);
    expect(await checkOutcomes(env.ctx)).toEqual([
      { incidentId: id, repo: REPO, prNumber: opened!.prNumber, outcome: 'pr_closed_unmerged' },
    ]);
  });

  it('lets a PR the model started finish when the loop is told to stop, and records it', async () => {
    const stop = new AbortController();
    const { agent, env, id } = await loops.start(
      [
        {
          name: 'a PR, and meanwhile SIGTERM',
          expect: { toolResults: false },
          toolCalls: [pr('notes-s', 'docs/s.md')],
        },
      ],
      {
        mode: 'autonomous',
        stop: stop.signal,
        env: { DEVOPS_MCP_CONFIG: modelPrsFile, GITHUB_TOKEN: github.token, GITHUB_API_URL: github.url },
      },
    );
    // The signal comes once open_pr has begun writing to GitHub.
    const watch = setInterval(() => {
      if (github.writes().length > 0) {
        stop.abort();
        clearInterval(watch);
      }
    }, 2);
    const [report] = await agent.runOnce();
    clearInterval(watch);
    expect(stop.signal.aborted).toBe(true);
    expect(report).toMatchObject({ budgetHit: 'stopped', refused: [] });
    // When the investigation has ended, the PR is made, and on the incident's timeline as an action.
    expect(github.writes().filter(w => w.method === 'POST' && w.path.endsWith('/pulls'))).toHaveLength(1);
    expect((await timeline(env.ctx, id)).filter(e => e.kind === 'action').map(e => e.summary)).toEqual([
      expect.stringMatching(new RegExp(`^pull request ${REPO}#\\d+ created: `)),
    ]);
  });

  it('keeps the PR slot spent when open_pr failed after writing: the branch may be there, a PR too', async () => {
    const { agent, env, model } = await start(
      [
        { name: 'a PR cut short', expect: { toolResults: false }, toolCalls: [pr('notes-x', 'docs/x.md')] },
        conclude,
        {
          name: 'a PR for the other incident',
          expect: { toolResults: false },
          toolCalls: [pr('notes-y', 'docs/y.md')],
        },
        conclude,
      ],
      'autonomous',
      modelPrsFile,
    );
    const other = await openIncident(env.ctx, '127.0.0.1:9', 'PricingErrors', 'pricing');
    // The branch is pushed, then GitHub refuses the PR itself: open_pr fails after writing.
    github.rateLimit({ kind: 'secondary', match: { method: 'POST', path: /\/pulls$/ }, count: 1 });
    const [report, otherReport] = await agent.runOnce();
    model.assertDone();
    expect(report!.refused.map(r => r.code)).toEqual(['RATE_LIMITED']);
    // The hour's one PR counts as spent: the other incident's PR is the loop's to refuse.
    expect(otherReport!.refused.map(r => r.code)).toEqual(['BUDGET']);
    const note = (await timeline(env.ctx, other)).find(e => e.summary.startsWith('Refused attempts'));
    expect(note?.summary).toMatch(/BUDGET: error: the loop's budget of 1 PR\(s\) per hour is spent/);
  });
});

describe('act: told to stop, or out of time', () => {
  /** Calls `then` once the sandbox run has begun: it fetches the repository's source from GitHub first. */
  const onceSandboxRuns = (then: () => void): (() => void) => {
    const watch = setInterval(() => {
      if (github.requests.some(r => r.path.includes('/tarball'))) {
        clearInterval(watch);
        then();
      }
    }, 2);
    return () => {
      clearInterval(watch);
    };
  };
  const script: Scenario = [readConfig, { name: 'diagnose', json: fixingWindow(20) }];
  const env = () => ({
    DEVOPS_MCP_CONFIG: configFile,
    GITHUB_TOKEN: github.token,
    GITHUB_API_URL: github.url,
  });
  const cooldownFree = async (ctx: Loop['env']['ctx'], id: number) => {
    const store = await ctx.store();
    const group = store.incidents.get(id)!.group_key;
    return store.agent.take(`agent_cooldown:${group}`, 1, 3600, ctx.now()).ok;
  };

  it('lets a sandbox run under way finish when told to stop, then opens no PR and leaves the incident for the next run', async () => {
    const stop = new AbortController();
    const {
      agent,
      env: context,
      id,
    } = await loops.start(script, {
      mode: 'autonomous',
      stop: stop.signal,
      env: env(),
    });
    const unwatch = onceSandboxRuns(() => {
      stop.abort();
    });
    const [report] = await agent.runOnce();
    unwatch();
    expect(stop.signal.aborted).toBe(true);
    expect(report).toMatchObject({
      budgetHit: 'stopped',
      deferred: true,
      acted: { tested: true, passed: true, runs: 1, stopped: 'the loop was told to stop' },
    });
    expect(github.writes()).toEqual([]);
    // The run that was under way is recorded; the PR that was not begun is said not to be.
    const events = await timeline(context.ctx, id);
    expect(events.filter(e => e.kind === 'action').map(e => e.summary)).toEqual([
      `sandbox run of "test" on ${REPO} passed`,
    ]);
    expect(events.map(e => e.summary)).toContain(
      `Tested change for ${REPO} not opened as a PR: the loop was told to stop.`,
    );
    // Nothing was published: the group's cooldown went back, so the next run may act on the incident.
    expect(await cooldownFree(context.ctx, id)).toBe(true);
  }, 180_000);

  it('opens no PR once the wall clock budget is spent, and ends the investigation on it', async () => {
    let ahead = 0;
    const {
      agent,
      env: context,
      id,
    } = await loops.start(script, {
      mode: 'autonomous',
      env: env(),
      now: () => Date.now() / 1000 + ahead,
    });
    // The sandbox run takes longer than agent.maxSeconds (300 s by default) allows.
    const unwatch = onceSandboxRuns(() => (ahead = 301));
    const [report] = await agent.runOnce();
    unwatch();
    expect(report).toMatchObject({
      budgetHit: 'wall_clock',
      acted: { tested: true, passed: true, runs: 1, stopped: 'wall clock budget of 300 s reached' },
    });
    expect(github.writes()).toEqual([]);
    expect((await timeline(context.ctx, id)).map(e => e.summary)).toContain(
      `Tested change for ${REPO} not opened as a PR: wall clock budget of 300 s reached.`,
    );
    expect((await context.ctx.store()).agent.investigations(id)[0]).toMatchObject({
      budgetHit: 'wall_clock',
    });
  }, 180_000);
});
