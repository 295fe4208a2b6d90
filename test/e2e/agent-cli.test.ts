// `devops-mcp agent` as a user runs it, from the built bin: the kill switch in the store file, a `--once` pass
// over the open incidents with the scripted model, a process killed mid-way, and the command line's refusals.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { createContext } from '../../src/context.ts';
import { startGithubDouble } from '../doubles/github/index.ts';
import { startOpenAiDouble } from '../doubles/openai/index.ts';
import { openIncident, viaDiagnosisTool } from '../support/agent.ts';
import {
  CONFIG_FILE,
  fixingWindow,
  PREDICTOR,
  predictorRepoSettings,
  readConfig,
  SANDBOX_LIMITS,
  withWindow,
} from '../support/agent-stage.ts';
import { filesOf } from '../support/files.ts';
import { cleanEnv, run, start } from '../support/bin.ts';
import { waitFor } from '../support/wait.ts';

let dir: string;
let db: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'devops-mcp-agent-cli-'));
  db = join(dir, 'devops-mcp.db');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function withStoreAt<T>(
  file: string,
  fn: (ctx: ReturnType<typeof createContext>) => Promise<T>,
): Promise<T> {
  const ctx = createContext(await loadConfig({ env: { DEVOPS_MCP_DB: file, LOG_LEVEL: 'silent' } }));
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}

const withStore = <T>(fn: (ctx: ReturnType<typeof createContext>) => Promise<T>): Promise<T> =>
  withStoreAt(db, fn);

describe('devops-mcp agent', () => {
  it('pause and resume set the kill switch in the store file', async () => {
    const paused = await run(
      ['agent', 'pause', '--reason', 'change freeze'],
      cleanEnv({ DEVOPS_MCP_DB: db }),
    );
    expect(paused.code, paused.stderr).toBe(0);
    expect(paused.stdout).toMatch(/^paused by \S+@\S+: run_sandbox_test and open_pr refuse every caller/);
    expect(await withStore(async ctx => (await ctx.store()).agent.paused())).toMatchObject({
      paused: true,
      reason: 'change freeze',
    });
    const resumed = await run(['agent', 'resume'], cleanEnv({ DEVOPS_MCP_DB: db }));
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(await withStore(async ctx => (await ctx.store()).agent.paused().paused)).toBe(false);
  });

  it('--once investigates the open incident through the tools and exits', async () => {
    const id = await withStore(ctx => openIncident(ctx, '127.0.0.1:9'));
    const model = await startOpenAiDouble(
      viaDiagnosisTool([
        {
          name: 'read the incident',
          expect: { tools: { include: ['get_incident'], exclude: ['run_sandbox_test', 'open_pr'] } },
          toolCalls: [{ name: 'get_incident', arguments: { id } }],
        },
        {
          name: 'diagnose',
          expect: { toolResults: { contains: 'PredictorErrors' } },
          json: c => ({
            summary: 'PredictorErrors is firing.',
            rootCause: 'predictions are failing',
            confidence: 0.5,
            evidence: [{ call: c.toolResults[0]!.id, shows: 'the alert fires' }],
            proposedChange: null,
            nextSteps: [],
          }),
        },
      ]),
    );
    try {
      const result = await run(
        ['agent', '--once'],
        cleanEnv({
          DEVOPS_MCP_DB: db,
          OPENAI_API_KEY: model.apiKey,
          OPENAI_BASE_URL: model.url,
          LOG_LEVEL: 'warn',
        }),
      );
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain(`agent: incident ${id}: investigating in observe mode`);
      expect(result.stderr).toMatch(
        /agent: incident \d+: diagnosed — confidence 0\.5; 2 model calls, 1 tool calls, \d+ tokens/,
      );
      expect(result.stderr).not.toContain(model.apiKey);
      model.assertDone();
    } finally {
      await model.close();
    }
    const [investigation] = await withStore(async ctx => (await ctx.store()).agent.investigations(id));
    expect(investigation).toMatchObject({ mode: 'observe', modelCalls: 2, toolCalls: 1 });
  });

  it('runs until SIGTERM, then stops cleanly with exit code 0', async () => {
    const model = await startOpenAiDouble([]);
    try {
      const running = start(
        ['agent', '--mode', 'propose'],
        cleanEnv({ OPENAI_API_KEY: model.apiKey, OPENAI_BASE_URL: model.url, LOG_LEVEL: 'warn' }),
      );
      await waitFor(() => running.stderr().includes('agent: watching open incidents every'));
      // No repository has a policy, so there is nothing to propose to: the loop observes, and says why.
      expect(running.stderr()).toContain(
        'in observe mode (propose asked; capped by the repository policies or the kill switch); Ctrl-C stops',
      );
      expect(await running.kill('SIGTERM')).toBe(0);
      model.assertDone();
    } finally {
      await model.close();
    }
  });

  it('acts on the incident after a process killed while testing its fix: the cooldown it took goes back', async () => {
    const github = await startGithubDouble();
    const model = await startOpenAiDouble(
      viaDiagnosisTool([
        readConfig,
        { name: 'propose the fix', json: fixingWindow(20) },
        // The next run investigates again, from the start.
        { ...readConfig, expect: { toolResults: false } },
        { name: 'propose the fix again', json: fixingWindow(20) },
      ]),
    );
    try {
      await github.addRepo({
        owner: 'acme',
        name: 'market-predictor',
        files: { ...filesOf(PREDICTOR), [CONFIG_FILE]: withWindow(0) },
      });
      const store = join(dir, 'killed.db');
      const id = await withStoreAt(store, ctx => openIncident(ctx, '127.0.0.1:9'));
      const env = cleanEnv({
        DEVOPS_MCP_DB: store,
        DEVOPS_MCP_CONFIG: join(dir, 'killed.json'),
        GITHUB_TOKEN: github.token,
        GITHUB_API_URL: github.url,
        OPENAI_API_KEY: model.apiKey,
        OPENAI_BASE_URL: model.url,
        LOG_LEVEL: 'silent',
      });
      await writeFile(
        env.DEVOPS_MCP_CONFIG!,
        JSON.stringify({ ...predictorRepoSettings(), sandbox: { limits: SANDBOX_LIMITS } }),
      );
      const killed = start(['agent', '--once', '--mode', 'autonomous'], env);
      // Killed once its sandbox run has begun (it fetches the repository's source first).
      await waitFor(() => github.requests.some(r => r.path.includes('/tarball')), 60_000, 5);
      expect(killed.stderr()).toContain('testing the proposed change in the sandbox');
      await killed.kill('SIGKILL');

      const again = await run(['agent', '--once', '--mode', 'autonomous'], env);
      expect(again.code, again.stderr).toBe(0);
      model.assertDone();
      expect(again.stderr).toMatch(/agent: incident \d+: opened http/);
      expect(github.writes().filter(w => w.method === 'POST' && w.path.endsWith('/pulls'))).toHaveLength(1);
      expect(again.stderr).toMatch(
        /investigation \d+ closed, the process running it .* ended before it did \(before its PR: the cooldown it took goes back\)/,
      );
      const [abandoned, acted] = await withStoreAt(store, async ctx =>
        (await ctx.store()).agent.investigations(id),
      );
      // What the killed process spent is on its record.
      expect(abandoned).toMatchObject({ flags: ['abandoned'], modelCalls: 2, toolCalls: 1 });
      expect(abandoned!.tokens).toBeGreaterThan(0);
      expect(acted).toMatchObject({ flags: [], modelCalls: 2 });
    } finally {
      await model.close();
      await github.close();
    }
  }, 240_000);

  it('refuses a bad mode, a stray flag and a missing LLM with a message', async () => {
    const mode = await run(['agent', '--mode', 'yolo'], cleanEnv());
    expect(mode.code).toBe(2);
    expect(mode.stderr).toContain('--mode must be observe, propose or autonomous (got yolo)');
    const stray = await run(['serve', '--once'], cleanEnv());
    expect(stray.code).toBe(2);
    expect(stray.stderr).toContain('--mode, --once, --incident and --reason apply to `agent` only');
    const missing = await run(
      ['agent', '--incident', '99'],
      cleanEnv({ OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' }),
    );
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('agent: there is no incident 99');
    const llm = await run(['agent', '--once'], cleanEnv());
    expect(llm.code).toBe(1);
    expect(llm.stderr).toContain('OPENAI_API_KEY or OPENAI_BASE_URL: required by agent');
    const both = await run(['agent', '--once', '--incident', '1'], cleanEnv({ OPENAI_API_KEY: 'sk-x' }));
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--once and --incident exclude each other');
  });

  it('--once exits 3 when the LLM is down: nothing was investigated, the next run takes the incident up', async () => {
    const store = join(dir, 'down.db');
    const id = await (async () => {
      const ctx = createContext(await loadConfig({ env: { DEVOPS_MCP_DB: store, LOG_LEVEL: 'silent' } }));
      try {
        return await openIncident(ctx, '127.0.0.1:9');
      } finally {
        await ctx.close();
      }
    })();
    const env = cleanEnv({
      DEVOPS_MCP_DB: store,
      // Nothing listens there: every call is refused at once.
      OPENAI_BASE_URL: 'http://127.0.0.1:9/v1',
      DEVOPS_MCP_CONFIG: join(dir, 'down.json'),
      LOG_LEVEL: 'silent',
    });
    await writeFile(env.DEVOPS_MCP_CONFIG!, JSON.stringify({ agent: { llmRetries: 0 } }));
    const once = await run(['agent', '--once'], env);
    expect(once.code, once.stderr).toBe(3);
    expect(once.stderr).toContain(`agent: incident ${id}: ended (llm_unavailable)`);
    const again = await run(['agent', '--incident', String(id)], env);
    expect(again.code, again.stderr).toBe(3);
    // Quiet on the timeline after the first deferral, but a run of its own says what became of the incident.
    expect(again.stderr).toContain(`agent: incident ${id}: ended (llm_unavailable)`);
  });

  it('--once exits 3 when Prometheus cannot be read: what fires there may not have been taken in', async () => {
    const env = cleanEnv({
      DEVOPS_MCP_DB: join(dir, 'no-prometheus.db'),
      // Nothing listens on either: the alerts cannot be read, and there is no incident for the model.
      PROMETHEUS_URL: 'http://127.0.0.1:9',
      OPENAI_BASE_URL: 'http://127.0.0.1:9/v1',
      LOG_LEVEL: 'silent',
    });
    const once = await run(['agent', '--once'], env);
    expect(once.code, once.stderr).toBe(3);
    expect(once.stderr).toContain('agent: could not read the alerts from Prometheus');
  });
});
