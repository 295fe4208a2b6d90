// The headless loop's demo, on one machine: the market predictor with its harmful configuration value, a real
// Prometheus (when installed) whose alerting rule fires on it, the Loki and GitHub doubles, and a scripted model
// standing in for the LLM. It narrates each step and leaves the pull request's branch in a local git repository.
//   npm run demo            (needs the Docker engine and the sandbox image: bash scripts/build-sandbox-image.sh)

import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { openAgent } from '../src/agent/loop.ts';
import { loadConfig } from '../src/config.ts';
import { createContext } from '../src/context.ts';
import { fingerprintOf } from '../src/incidents/alerts.ts';
import { createWatcher } from '../src/incidents/watcher.ts';
import { formatAuditRows } from '../src/store/format.ts';
import { startOpenAiDouble } from '../test/doubles/openai/index.ts';
import { hasPrometheus, investigation, startStage } from '../test/support/agent-stage.ts';

const bold = (text: string) => (process.stdout.isTTY ? `\u001b[1m${text}\u001b[0m` : text);
const say = (text: string) => process.stdout.write(`${text}\n`);
const step = (n: number, text: string) => say(`\n${bold(`${n}. ${text}`)}`);
const until = async (check: () => boolean, timeoutMs: number, what: string) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise(resolve => setTimeout(resolve, 100));
  }
};

const withPrometheus = hasPrometheus();
step(1, 'The stage');
const stage = await startStage({ prometheus: withPrometheus });
say(`   market predictor  ${stage.predictor.url}  (MOVING_AVERAGE_WINDOW = 0: every prediction is NaN)`);
say(
  withPrometheus
    ? `   Prometheus        ${stage.prometheus?.url ?? ''}  (real; alerting rule PredictorErrors)`
    : '   Prometheus        not installed: the alert arrives as Alertmanager would send it',
);
say(`   Loki (double)     ${stage.loki.url}  (the predictor ships its logs there)`);
say(`   GitHub (double)   ${stage.github.url}  acme/market-predictor, a real git repository`);
const model = await startOpenAiDouble(investigation('autonomous', { withMetrics: withPrometheus }));
say(`   LLM (scripted)    ${model.url}  (an OpenAI-compatible double playing a good investigator)`);

const logs: string[] = [];
const config = await loadConfig({
  env: { ...stage.env, OPENAI_API_KEY: model.apiKey, OPENAI_BASE_URL: model.url, DEVOPS_MCP_DB: ':memory:' },
});
const ctx = createContext(config, {
  logDestination: new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(chunk.toString());
      done();
    },
  }),
});
const store = await ctx.store();
const watcher = withPrometheus ? createWatcher(ctx, { intervalMs: 250 }) : undefined;
const agent = await openAgent(ctx, {
  mode: 'autonomous',
  stop: new AbortController().signal,
  narrate: line => say(`   agent: ${line}`),
});

try {
  step(2, 'Monitor: the alert fires and becomes an incident');
  const started = Date.now();
  if (watcher) watcher.start();
  else {
    const labels = { alertname: 'PredictorErrors', service: 'market-predictor', severity: 'critical' };
    store.incidents.apply(
      [
        {
          fingerprint: fingerprintOf(labels),
          labels,
          annotations: { summary: 'predictions are failing' },
          state: 'firing',
          startsAt: ctx.now(),
          source: 'alertmanager',
        },
      ],
      ctx.now(),
    );
  }
  await until(() => store.incidents.active().length > 0, 60_000, 'the incident');
  const [incident] = store.incidents.active();
  if (!incident) throw new Error('no incident');
  say(`   incident ${incident.id}: ${incident.title} (${((Date.now() - started) / 1000).toFixed(1)} s)`);

  step(3, 'Analyze, then act: one investigation through the MCP tools, the fix tested, the draft PR');
  const [report] = await agent.runOnce();
  const d = report?.diagnosis;
  if (d) {
    say(
      `   diagnosis (confidence ${d.confidence}${d.flags.length > 0 ? `, flags ${d.flags.join(', ')}` : ''}):`,
    );
    say(`     ${d.summary}`);
    say(`     root cause: ${d.rootCause}`);
    for (const c of d.cited) say(`     evidence ${c.call} ${c.tool}: ${c.shows}`);
  }
  const pr = report?.acted?.pr;
  if (!pr) throw new Error(`no PR was opened: ${report?.acted?.stopped ?? report?.skipped ?? 'unknown'}`);
  const checkout = mkdtempSync(join(tmpdir(), 'devops-mcp-demo-pr-'));
  execFileSync('git', ['clone', '--quiet', '--branch', pr.branch, stage.gitDir, checkout]);
  say(`   the PR's branch, in a local git repository: cd ${checkout} && git log -p -1`);
  say(
    execFileSync('git', ['-C', checkout, 'show', '--stat', '--format=   %s', 'HEAD'], {
      encoding: 'utf8',
    }).trimEnd(),
  );

  step(4, 'Learn: the fix reaches the service, the incident resolves, the outcome is recorded');
  await stage.deployFix();
  say('   market predictor restarted with MOVING_AVERAGE_WINDOW = 20 (the merged fix, deployed)');
  if (!withPrometheus) {
    const labels = { alertname: 'PredictorErrors', service: 'market-predictor', severity: 'critical' };
    store.incidents.apply(
      [
        {
          fingerprint: fingerprintOf(labels),
          labels,
          annotations: {},
          state: 'resolved',
          startsAt: ctx.now(),
          endsAt: ctx.now(),
          source: 'alertmanager',
        },
      ],
      ctx.now(),
    );
    await new Promise(resolve => setTimeout(resolve, 1100));
    store.incidents.sweep(ctx.now());
  }
  await until(
    () => store.incidents.get(incident.id)?.status === 'resolved',
    60_000,
    'the incident to resolve',
  );
  await agent.runOnce();
  const [outcome] = store.agent.outcomes(incident.id);
  say(`   outcome of ${pr.repo}#${pr.number}: ${outcome?.outcome ?? 'none'}`);
  const [investigation_] = store.agent.investigations(incident.id);
  if (investigation_) {
    say(
      `\n${investigation_.modelCalls} model calls, ${investigation_.toolCalls} tool calls, ${investigation_.tokens} tokens.`,
    );
  }
  // The demo's store is in memory: `devops-mcp audit tail` would read another store, so the demo prints its own.
  await ctx.audit.flush();
  say('Every tool call audited, as `devops-mcp audit tail` prints the log:');
  say(formatAuditRows(store.audit.tail(100)).trimEnd().replace(/^/gm, '   '));
} finally {
  await watcher?.stop();
  await agent.close();
  await ctx.close();
  await model.close();
  await stage.close();
}
