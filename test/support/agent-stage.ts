// The headless loop's stage, shared by the end-to-end test, the demo and the benchmark: the market predictor with its
// harmful configuration value, a real Prometheus with an alerting rule on it (when installed), the Loki and GitHub
// doubles, and the scripted model's investigation of the incident.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Mode } from '../../src/agent/modes.ts';
import { startGithubDouble, type GithubDouble } from '../doubles/github/index.ts';
import { startLokiDouble, type LokiDouble } from '../doubles/loki/index.ts';
import type { Conversation, Scenario } from '../doubles/openai/index.ts';
import { viaDiagnosisTool } from './agent.ts';
import { startPredictor, type Predictor } from './predictor.ts';
import { startPrometheus, type PrometheusServer } from './prometheus.ts';
import { filesOf } from './files.ts';

export const PREDICTOR = join(import.meta.dirname, '..', '..', 'examples', 'market-predictor');
export const CONFIG_FILE = 'src/config.mjs';
export const REPO = 'acme/market-predictor';
export const SHIPPED = readFileSync(join(PREDICTOR, CONFIG_FILE), 'utf8');
export const withWindow = (n: number): string =>
  SHIPPED.replace(/MOVING_AVERAGE_WINDOW = \d+;/, `MOVING_AVERAGE_WINDOW = ${n};`);
/** Sandbox limits that fit the predictor's test run on a CI machine. */
/** The model's first step in the scripted investigations: read the predictor's configuration file. */
export const readConfig: Scenario[number] = {
  name: 'read the config',
  toolCalls: [{ name: 'read_repo', arguments: { repo: REPO, path: CONFIG_FILE } }],
};

/** The diagnosis that sets the window to `window`, resting on the read of the configuration file (readConfig). */
export function fixingWindow(window: number) {
  return (c: Conversation) => {
    const read = c.toolResults.find(r => r.name === 'read_repo')!;
    const file = JSON.parse(read.content) as { sha: string; content: string };
    return {
      summary: 'MOVING_AVERAGE_WINDOW is 0, so every prediction is NaN.',
      rootCause: 'src/config.mjs sets MOVING_AVERAGE_WINDOW = 0',
      confidence: 0.9,
      evidence: [{ call: read.id, shows: 'MOVING_AVERAGE_WINDOW = 0 in src/config.mjs' }],
      proposedChange: {
        repo: REPO,
        files: [
          {
            path: CONFIG_FILE,
            action: 'update',
            content: file.content.replace(
              /MOVING_AVERAGE_WINDOW = \d+;/,
              `MOVING_AVERAGE_WINDOW = ${window};`,
            ),
            sha: file.sha,
          },
        ],
        rationale: `Restore a window of ${window} prices.`,
      },
      nextSteps: ['watch /predict errors fall to zero'],
    };
  };
}

export const SANDBOX_LIMITS = {
  memoryMb: 512,
  cpus: 1,
  pids: 256,
  timeoutSeconds: 120,
  outputKb: 16,
  tmpfsMb: 128,
};

/** Settings that let devops-mcp test and open PRs on the predictor's repository, read from the GitHub double. */
export function predictorRepoSettings(policy: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    allowedRepos: [REPO],
    github: { writeSpacingMs: 0 },
    repos: { [REPO]: { source: { github: {} }, commands: { test: 'node --test' }, ...policy } },
  };
}

export const ALERT_RULES = `groups:
  - name: market-predictor
    rules:
      - alert: PredictorErrors
        expr: sum by (instance) (increase(prediction_errors_total[3s])) > 0
        for: 1s
        labels: { service: market-predictor, severity: critical }
        annotations: { summary: "predictions are failing" }
`;

export function hasPrometheus(): boolean {
  try {
    execFileSync('prometheus', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface Stage {
  predictor: Predictor;
  /** Absent when Prometheus is not installed (the demo only). */
  prometheus: PrometheusServer | undefined;
  loki: LokiDouble;
  github: GithubDouble;
  /** The bare git repository behind the GitHub double's acme/market-predictor. */
  gitDir: string;
  configFile: string;
  /** The environment of a devops-mcp process on this stage (the model's URL and key added by the caller). */
  env: Record<string, string>;
  /** Restarts the predictor on its port with the shipped window: the fix, deployed. */
  deployFix(): Promise<void>;
  close(): Promise<void>;
}

export async function startStage(opts: { prometheus?: boolean; pollSeconds?: number } = {}): Promise<Stage> {
  const github = await startGithubDouble();
  const { gitDir } = await github.addRepo({
    owner: 'acme',
    name: 'market-predictor',
    files: { ...filesOf(PREDICTOR), [CONFIG_FILE]: withWindow(0) },
  });
  const loki = await startLokiDouble();
  let predictor = await startPredictor({ window: 0, lokiUrl: loki.url });
  const prometheus =
    (opts.prometheus ?? true)
      ? await startPrometheus({
          targets: [new URL(predictor.url).host],
          scrapeInterval: '500ms',
          rules: ALERT_RULES,
        })
      : undefined;
  const traffic = setInterval(() => {
    fetch(`${predictor.url}/predict?symbol=ACME`)
      .then(async r => r.text())
      .catch(() => undefined);
  }, 50);
  const dir = await mkdtemp(join(tmpdir(), 'devops-mcp-stage-'));
  const configFile = join(dir, 'config.json');
  await writeFile(
    configFile,
    JSON.stringify({
      ...predictorRepoSettings(),
      sandbox: { limits: SANDBOX_LIMITS },
      incidents: { quietSeconds: 1, pollSeconds: opts.pollSeconds ?? 0.25 },
      agent: { pollSeconds: opts.pollSeconds ?? 0.25 },
    }),
  );
  const env: Record<string, string> = {
    DEVOPS_MCP_CONFIG: configFile,
    LOKI_URL: loki.url,
    PREDICTOR_URL: predictor.url,
    GITHUB_TOKEN: github.token,
    GITHUB_API_URL: github.url,
    ...(prometheus ? { PROMETHEUS_URL: prometheus.url } : {}),
  };
  return {
    get predictor() {
      return predictor;
    },
    prometheus,
    loki,
    github,
    gitDir,
    configFile,
    env,
    async deployFix() {
      const { port } = predictor;
      await predictor.close();
      predictor = await startPredictor({ port, window: 20, lokiUrl: loki.url });
    },
    async close() {
      clearInterval(traffic);
      await prometheus?.stop();
      await predictor.close();
      await loki.close();
      await github.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const ERRORS = 'sum by (code) (http_requests_total{route="/predict"})';

/**
 * What a good model does with the incident: metrics, logs, health, the offending file, then the diagnosis citing
 * each call and the fix. `withMetrics` false skips the Prometheus query (a stage without Prometheus).
 */
export function investigation(mode: Mode, opts: { withMetrics?: boolean } = {}): Scenario {
  const withMetrics = opts.withMetrics ?? true;
  const offered =
    mode === 'observe'
      ? { exclude: ['run_sandbox_test', 'open_pr'] }
      : mode === 'propose'
        ? { include: ['run_sandbox_test'], exclude: ['open_pr'] }
        : { include: ['run_sandbox_test', 'open_pr'] };
  const steps: Scenario = [
    ...(withMetrics
      ? [
          {
            name: 'metrics',
            expect: { tools: offered, user: ['PredictorErrors on service=market-predictor'] },
            toolCalls: [{ name: 'query_prometheus', arguments: { query: ERRORS } }],
          },
        ]
      : []),
    {
      name: 'logs',
      expect: withMetrics ? { toolResults: { contains: '"code":"500"' } } : { tools: offered },
      toolCalls: [
        { name: 'search_loki', arguments: { query: '{service="market-predictor", level="error"}' } },
      ],
    },
    {
      name: 'health',
      expect: { toolResults: { contains: 'prediction produced a non-finite value' } },
      toolCalls: [{ name: 'predictor_health', arguments: {} }],
    },
    {
      name: 'read the offending file',
      toolCalls: [{ name: 'read_repo', arguments: { repo: REPO, path: CONFIG_FILE } }],
    },
    {
      name: 'diagnose and propose the fix',
      expect: { toolResults: { contains: 'MOVING_AVERAGE_WINDOW = 0' } },
      json: (c: Conversation) => {
        const results = c.toolResults;
        const read = results.find(r => r.name === 'read_repo')!;
        const file = JSON.parse(read.content) as { sha: string; content: string };
        const shows: Record<string, string> = {
          query_prometheus: '/predict answers 500',
          search_loki: '"prediction produced a non-finite value" with window 0',
          predictor_health: 'the service reports itself healthy: its checks miss it',
          read_repo: 'MOVING_AVERAGE_WINDOW = 0',
        };
        return {
          summary: 'Every prediction fails: MOVING_AVERAGE_WINDOW is 0, so the moving average is NaN.',
          rootCause: 'src/config.mjs sets MOVING_AVERAGE_WINDOW = 0 (divides by zero)',
          confidence: 0.9,
          evidence: results.map(r => ({ call: r.id, shows: shows[r.name] ?? r.name })),
          proposedChange: {
            repo: REPO,
            files: [
              {
                path: CONFIG_FILE,
                action: 'update',
                content: file.content.replace('MOVING_AVERAGE_WINDOW = 0;', 'MOVING_AVERAGE_WINDOW = 20;'),
                sha: file.sha,
              },
            ],
            rationale: 'Restore the shipped window of 20 prices.',
          },
          nextSteps: ['deploy the fix', 'add a health check on prediction errors'],
        };
      },
    },
  ];
  return viaDiagnosisTool(steps);
}
