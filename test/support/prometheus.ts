// Starts a real Prometheus (Debian's package) on a free loopback port with a temporary configuration.

import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.ts';

const run = promisify(execFile);

export interface PrometheusServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export interface PrometheusOptions {
  /** host:port targets scraped as job "test". */
  targets?: string[];
  scrapeInterval?: string;
  /** OpenMetrics text (with `# EOF`) loaded as historical blocks with promtool before start. */
  backfill?: string;
  /** A rule file (YAML: `groups: …`), evaluated every `scrapeInterval`. */
  rules?: string;
  /** `global.external_labels`. */
  externalLabels?: Record<string, string>;
  /** host:port of Alertmanagers the firing alerts are sent to (API v2), and re-sent every `scrapeInterval`. */
  alertmanagers?: string[];
  binary?: string;
}

async function waitReady(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`prometheus exited with code ${child.exitCode}`);
    try {
      const response = await fetch(`${url}/-/ready`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise(resolve => setTimeout(resolve, 100));
  }
  throw new Error(`prometheus at ${url} was not ready within ${timeoutMs} ms`);
}

export async function startPrometheus(options: PrometheusOptions = {}): Promise<PrometheusServer> {
  const dir = await mkdtemp(join(tmpdir(), 'devops-mcp-prom-'));
  const data = join(dir, 'data');
  const interval = options.scrapeInterval ?? '1s';
  const targets = options.targets ?? [];
  const scrapeConfigs =
    targets.length > 0
      ? [
          'scrape_configs:',
          '  - job_name: test',
          '    static_configs:',
          `      - targets: [${targets.map(t => `'${t}'`).join(', ')}]`,
        ]
      : ['scrape_configs: []'];
  const ruleFiles: string[] = [];
  if (options.rules !== undefined) {
    await writeFile(join(dir, 'rules.yml'), options.rules);
    ruleFiles.push('rule_files:', `  - ${join(dir, 'rules.yml')}`);
  }
  const externalLabels = Object.entries(options.externalLabels ?? {});
  const alerting =
    options.alertmanagers === undefined
      ? []
      : [
          'alerting:',
          '  alertmanagers:',
          '    - api_version: v2',
          `      static_configs: [{ targets: [${options.alertmanagers.map(t => `'${t}'`).join(', ')}] }]`,
        ];
  const config = [
    'global:',
    `  scrape_interval: ${interval}`,
    `  evaluation_interval: ${interval}`,
    ...(externalLabels.length > 0
      ? [`  external_labels: { ${externalLabels.map(([k, v]) => `${k}: '${v}'`).join(', ')} }`]
      : []),
    ...ruleFiles,
    ...alerting,
    ...scrapeConfigs,
  ];
  await writeFile(join(dir, 'prometheus.yml'), `${config.join('\n')}\n`);
  if (options.backfill !== undefined) {
    const file = join(dir, 'backfill.om');
    await writeFile(file, options.backfill);
    await run('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', file, data]);
  }
  const stderr: string[] = [];
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const child = spawn(
      options.binary ?? 'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${data}`,
        `--storage.tsdb.retention.time=3650d`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
        // Prometheus finds the Alertmanagers ~5 s after its start, and drops what it sent before.
        ...(options.alertmanagers === undefined ? [] : [`--rules.alert.resend-delay=${interval}`]),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
    try {
      await waitReady(url, child, 30_000);
    } catch (error) {
      child.kill('SIGKILL');
      if (attempt < 2 && stderr.join('').includes('address already in use')) continue;
      await rm(dir, { recursive: true, force: true });
      throw new Error(`${(error as Error).message}\n${stderr.join('')}`, { cause: error });
    }
    return {
      url,
      port,
      async stop() {
        if (child.exitCode === null) {
          const exited = new Promise(resolve => child.once('exit', resolve));
          child.kill('SIGTERM');
          await exited;
        }
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
}
