// Sandbox benchmark (not part of `npm test`): run_sandbox_test on the market predictor's tests, from call to
// result, against `docker run --rm` of the same image and command from a shell, in one run.
//   node bench/sandbox.ts        (needs the Docker engine and scripts/build-sandbox-image.sh's image)

import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connect } from '../test/support/mcp.ts';

const exec = promisify(execFile);
const RUNS = 5;
const IMAGE = 'devops-mcp-sandbox:node24';
const predictor = join(import.meta.dirname, '..', 'examples', 'market-predictor');
const median = (values: number[]) => values.toSorted((a, b) => a - b)[values.length >> 1] ?? Number.NaN;

const cpus = availableParallelism();
// config.ts's default sandbox limits, with only the CPUs changed for the like-for-like row.
const DEFAULT_LIMITS = { memoryMb: 512, cpus: 1, pids: 256, timeoutSeconds: 300, outputKb: 16, tmpfsMb: 256 };

const dir = await mkdtemp(join(tmpdir(), 'devops-mcp-bench-'));

/** An in-process server whose sandbox runs get `cpusPerRun` CPUs (the other limits at their defaults). */
async function serverWith(cpusPerRun: number | undefined) {
  const file = join(dir, `config-${cpusPerRun ?? 'default'}.json`);
  await writeFile(
    file,
    JSON.stringify({
      allowedRepos: ['acme/market-predictor'],
      repos: {
        'acme/market-predictor': {
          source: { path: predictor },
          commands: { test: 'node --test' },
        },
      },
      ...(cpusPerRun === undefined ? {} : { sandbox: { limits: { ...DEFAULT_LIMITS, cpus: cpusPerRun } } }),
    }),
  );
  return connect({ DEVOPS_MCP_CONFIG: file, LOG_LEVEL: 'warn' });
}

// Same resources as the reference (every CPU), and the default limits (1 CPU): the first row is the tool's
// own overhead, the second what an operator gets out of the box.
const same = await serverWith(cpus);
const byDefault = await serverWith(undefined);
const times = { same: [] as number[], byDefault: [] as number[], shell: [] as number[] };

async function sandbox(mcp: Awaited<ReturnType<typeof connect>>, run: number): Promise<number> {
  const started = performance.now();
  const result = await mcp.call('run_sandbox_test', {
    repo: 'acme/market-predictor',
    command: 'test',
    changes: [{ path: 'BENCH.md', action: 'create', content: `run ${run}\n` }],
  });
  if ((result.structuredContent as { passed?: boolean } | undefined)?.passed !== true)
    throw new Error('the sandbox run failed');
  return performance.now() - started;
}

async function shell(): Promise<number> {
  const started = performance.now();
  // The reference: the same image and command, the source bind-mounted read-only, no isolation flags.
  await exec('docker', [
    'run',
    '--rm',
    '--network',
    'none',
    '-v',
    `${predictor}:/work:ro`,
    '-w',
    '/work',
    IMAGE,
    'node',
    '--test',
  ]);
  return performance.now() - started;
}

try {
  for (let i = 0; i < RUNS; i++) {
    // The order rotates, so that none of the three always runs on a machine warmed (or loaded) by another.
    const order = [
      async () => times.same.push(await sandbox(same, i)),
      async () => times.byDefault.push(await sandbox(byDefault, i)),
      async () => times.shell.push(await shell()),
    ];
    for (let k = 0; k < order.length; k++) await order[(i + k) % order.length]?.();
  }
} finally {
  await same.close();
  await byDefault.close();
  await rm(dir, { recursive: true, force: true });
}
const reference = median(times.shell);
const row = (label: string, values: number[]) =>
  `| ${label} | ${(median(values) / 1000).toFixed(2)} s | ${(reference / 1000).toFixed(2)} s | ${(median(values) / reference).toFixed(2)}× |\n`;
process.stdout.write(
  `| market predictor tests, call to result (median of ${RUNS}) | devops-mcp | docker run --rm | ratio (target ≤ 1.0×) |\n| --- | --- | --- | --- |\n` +
    row(`same CPUs as the reference (${cpus}), every other limit on`, times.same) +
    row('default limits (1 CPU)', times.byDefault),
);
