// What the headless loop's tests share: a context on a store in memory, the log lines it wrote, an incident
// opened from an alert as the watcher would, and the agent pointed at the OpenAI double.

import { Writable } from 'node:stream';
import { hostname } from 'node:os';
import { loadConfig } from '../../src/config.ts';
import { createContext, type Context } from '../../src/context.ts';
import { fingerprintOf } from '../../src/incidents/alerts.ts';
import type { OpenAiDouble, Scenario } from '../doubles/openai/index.ts';

export interface AgentContext {
  ctx: Context;
  logs: string[];
}

export async function agentContext(
  env: Record<string, string | undefined>,
  model: OpenAiDouble,
): Promise<AgentContext> {
  const config = await loadConfig({
    env: { ...env, OPENAI_API_KEY: model.apiKey, OPENAI_BASE_URL: model.url, DEVOPS_MCP_DB: ':memory:' },
  });
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(chunk.toString());
      done();
    },
  });
  const ctx = createContext(config, { logDestination: destination, owner: `${hostname()}:${process.pid}` });
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
