// What the headless loop's tests share: a context on a store in memory, the log lines it wrote, an incident
// opened from an alert as the watcher would, and the agent pointed at the OpenAI double.

import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach } from 'vitest';
import { openAgent, type AgentLoop, type AgentOptions } from '../../src/agent/loop.ts';
import { loadConfig } from '../../src/config.ts';
import { createContext, type Context } from '../../src/context.ts';
import { fingerprintOf } from '../../src/incidents/alerts.ts';
import { startOpenAiDouble, type OpenAiDouble, type Scenario } from '../doubles/openai/index.ts';
import { processOwner } from '../../src/lib/owner.ts';
import { logSink } from './logs.ts';

export interface AgentContext {
  ctx: Context;
  logs: string[];
}

/** A context on a store in memory, its model the double (unless `env` names another key or URL). */
export async function agentContext(
  env: Record<string, string | undefined>,
  model: OpenAiDouble,
  now?: () => number,
): Promise<AgentContext> {
  const config = await loadConfig({
    env: { OPENAI_API_KEY: model.apiKey, OPENAI_BASE_URL: model.url, ...env, DEVOPS_MCP_DB: ':memory:' },
  });
  const { destination, lines: logs } = logSink();
  const ctx = createContext(config, {
    logDestination: destination,
    owner: processOwner(),
    ...(now ? { now } : {}),
  });
  return { ctx, logs };
}

/** Opens an incident from one firing alert of the predictor, as the watcher would; returns its id. */
export async function openIncident(
  ctx: Context,
  instance: string,
  alertname = 'PredictorErrors',
  service = 'market-predictor',
): Promise<number> {
  const store = await ctx.store();
  const labels = { alertname, service, instance, severity: 'warning' };
  const [change] = store.incidents.apply(
    [
      {
        fingerprint: fingerprintOf(labels),
        labels,
        annotations: { summary: 'predictions are failing' },
        state: 'firing',
        startsAt: ctx.now() - 60,
        source: 'prometheus',
      },
    ],
    ctx.now(),
  );
  if (!change) throw new Error('no incident opened');
  return change.id;
}

/** The timeline events of an incident, oldest first. */
export async function timeline(ctx: Context, id: number) {
  const store = await ctx.store();
  return store.incidents.events(id, 500);
}

/**
 * The loop asks for its diagnosis as a call of the `diagnosis` tool (LangChain's tool strategy): a step written as a
 * structured answer (`json`) is played as that call.
 */
export function viaDiagnosisTool(script: Scenario): Scenario {
  return script.map(step => {
    if (!('json' in step)) return step;
    const { json, ...rest } = step;
    return { ...rest, toolCalls: [{ name: 'diagnosis', arguments: json }] };
  });
}

export interface Loop {
  agent: AgentLoop;
  env: AgentContext;
  model: OpenAiDouble;
  /** The incident opened for the loop to find. */
  id: number;
}

export interface LoopOptions extends Partial<AgentOptions> {
  /** The process environment of the context (the model's URL and key are added). */
  env?: Record<string, string | undefined>;
  /** `agent.*` settings, written to a config file of the test's own (DEVOPS_MCP_CONFIG). */
  agent?: Record<string, unknown>;
  /** The `instance` label of the incident's alert; a port nothing listens on by default. */
  instance?: string;
  /** The context's clock (unix seconds); the real one by default. */
  now?: () => number;
}

/**
 * A test file's loops, each closed when its test ends (the loop, then its context, then the model): `start` plays
 * the script on a new OpenAI double (structured answers as diagnosis calls), builds a context on it, opens the loop
 * (observe mode unless told) and an incident. `close` hands anything else a test opens to the same clean-up.
 */
export function loopsClosedAfterEach(): {
  start(script: Scenario, options?: LoopOptions): Promise<Loop>;
  close<T extends { close(): Promise<unknown> }>(opened: T): T;
} {
  const opened: Array<{ close(): Promise<unknown> }> = [];
  afterEach(async () => {
    for (const item of opened.splice(0).reverse()) await item.close();
  });
  let dir: string | undefined;
  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });
  const configFile = async (settings: Record<string, unknown>): Promise<string> => {
    dir ??= await mkdtemp(join(tmpdir(), 'devops-mcp-loop-'));
    const file = join(dir, `config-${randomUUID()}.json`);
    await writeFile(file, JSON.stringify({ agent: settings }));
    return file;
  };
  const close = <T extends { close(): Promise<unknown> }>(item: T): T => {
    opened.push(item);
    return item;
  };
  return {
    close,
    async start(script, { env = {}, agent: settings, instance = '127.0.0.1:9', now, ...options } = {}) {
      const model = close(await startOpenAiDouble(viaDiagnosisTool(script)));
      const withConfig = settings ? { DEVOPS_MCP_CONFIG: await configFile(settings), ...env } : env;
      const context = await agentContext(withConfig, model, now);
      close(context.ctx);
      const agent = close(
        await openAgent(context.ctx, { mode: 'observe', stop: new AbortController().signal, ...options }),
      );
      const id = await openIncident(context.ctx, instance);
      return { agent, env: context, model, id };
    },
  };
}

/** A model's first step: it reads the incident (id 1, the first of a fresh store). */
export const getIncident = (id = 1): Scenario[number] => ({
  name: 'read the incident',
  toolCalls: [{ name: 'get_incident', arguments: { id } }],
});

/** A model's diagnosis resting on its get_incident call. */
export const diagnoseFromIncident: Scenario[number] = {
  name: 'diagnose',
  json: c => ({
    summary: 'PredictorErrors fires.',
    rootCause: 'predictions fail',
    confidence: 0.6,
    evidence: [{ call: c.toolResults.find(r => r.name === 'get_incident')!.id, shows: 'the alert fires' }],
    proposedChange: null,
    nextSteps: [],
  }),
};
