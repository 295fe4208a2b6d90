// What the headless loop's tests share: a context on a store in memory, the log lines it wrote, an incident
// opened from an alert as the watcher would, and the agent pointed at the OpenAI double.

import { Writable } from 'node:stream';
import { afterEach } from 'vitest';
import { openAgent, type AgentLoop, type AgentOptions } from '../../src/agent/loop.ts';
import { loadConfig } from '../../src/config.ts';
import { createContext, type Context } from '../../src/context.ts';
import { fingerprintOf } from '../../src/incidents/alerts.ts';
import { startOpenAiDouble, type OpenAiDouble, type Scenario } from '../doubles/openai/index.ts';
import { processOwner } from '../../src/lib/owner.ts';

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
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(chunk.toString());
      done();
    },
  });
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
  const close = <T extends { close(): Promise<unknown> }>(item: T): T => {
    opened.push(item);
    return item;
  };
  return {
    close,
    async start(script, { env = {}, instance = '127.0.0.1:9', now, ...options } = {}) {
      const model = close(await startOpenAiDouble(viaDiagnosisTool(script)));
      const context = await agentContext(env, model, now);
      close(context.ctx);
      const agent = close(
        await openAgent(context.ctx, { mode: 'observe', stop: new AbortController().signal, ...options }),
      );
      const id = await openIncident(context.ctx, instance);
      return { agent, env: context, model, id };
    },
  };
}
