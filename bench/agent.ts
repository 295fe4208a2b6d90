// Headless loop benchmark (not part of `npm test`): from the alert firing in Prometheus to the draft PR existing,
// with the scripted model, in one run — the watcher, one investigation through the MCP tools, the sandbox run of
// the fix on the real Docker engine, open_pr against the GitHub double. Prints the tokens and tool calls too.
//   node bench/agent.ts     (needs Prometheus, the Docker engine and the sandbox image)

import { Writable } from 'node:stream';
import { openAgent } from '../src/agent/loop.ts';
import { loadConfig } from '../src/config.ts';
import { createContext } from '../src/context.ts';
import { createWatcher } from '../src/incidents/watcher.ts';
import { startOpenAiDouble } from '../test/doubles/openai/index.ts';
import { investigation, startStage } from '../test/support/agent-stage.ts';

const TARGET_SECONDS = 15;
const POLL_SECONDS = 0.1;

const stage = await startStage({ pollSeconds: POLL_SECONDS });
const model = await startOpenAiDouble(investigation('autonomous'));
const config = await loadConfig({
  env: { ...stage.env, OPENAI_API_KEY: model.apiKey, OPENAI_BASE_URL: model.url, DEVOPS_MCP_DB: ':memory:' },
});
const quiet = new Writable({
  write(_chunk, _encoding, done) {
    done();
  },
});
const ctx = createContext(config, { logDestination: quiet });
const store = await ctx.store();
const stop = new AbortController();
const watcher = createWatcher(ctx, { intervalMs: POLL_SECONDS * 1000 });
const agent = await openAgent(ctx, { mode: 'autonomous', stop: stop.signal });
const prometheusUrl = stage.prometheus?.url ?? '';

async function firing(): Promise<boolean> {
  const response = await fetch(`${prometheusUrl}/api/v1/alerts`);
  const body = (await response.json()) as {
    data: { alerts: Array<{ labels: { alertname: string }; state: string }> };
  };
  return body.data.alerts.some(a => a.labels.alertname === 'PredictorErrors' && a.state === 'firing');
}

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));
const prOpened = () => stage.github.writes().some(w => w.method === 'POST' && w.path.endsWith('/pulls'));

try {
  watcher.start();
  const loop = agent.run();
  while (!(await firing())) await sleep(20);
  const firedAt = performance.now();
  let incidentAt: number | undefined;
  while (!prOpened()) {
    if (incidentAt === undefined && store.incidents.active().length > 0) incidentAt = performance.now();
    if (performance.now() - firedAt > 120_000) throw new Error('no PR within 120 s');
    await sleep(20);
  }
  const prAt = performance.now();
  stop.abort();
  await loop;
  const [incident] = store.incidents.active();
  const [inv] = incident ? store.agent.investigations(incident.id) : [];
  const seconds = (ms: number) => (ms / 1000).toFixed(2);
  const total = (prAt - firedAt) / 1000;
  process.stdout.write(
    [
      'alert firing in Prometheus → draft PR in the GitHub double (scripted model, real Prometheus, Docker sandbox)',
      `  firing → incident        ${seconds((incidentAt ?? prAt) - firedAt)} s   (watcher poll ${POLL_SECONDS} s)`,
      `  incident → draft PR      ${seconds(prAt - (incidentAt ?? firedAt))} s   (investigation, sandbox run, open_pr)`,
      `  total                    ${total.toFixed(2)} s   target ≤ ${TARGET_SECONDS} s: ${total <= TARGET_SECONDS ? 'met' : 'NOT met'}`,
      `  per investigation        ${inv?.modelCalls ?? 0} model calls, ${inv?.toolCalls ?? 0} tool calls, ${inv?.tokens ?? 0} tokens`,
      '',
    ].join('\n'),
  );
} finally {
  stop.abort();
  await watcher.stop();
  await agent.close();
  await ctx.close();
  await model.close();
  await stage.close();
}
