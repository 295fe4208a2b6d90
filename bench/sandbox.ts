// Sandbox benchmark (not part of `npm test`): run_sandbox_test on the market predictor's tests, from call to
// result, against `docker run --rm` of the same image and command from a shell, in one run.
//   node bench/sandbox.ts        (needs the Docker engine and scripts/build-sandbox-image.sh's image)

import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connect } from '../test/support/mcp.ts';

const exec = promisify(execFile);
const RUNS = 5;
const IMAGE = 'devops-mcp-sandbox:node24';
const predictor = join(import.meta.dirname, '..', 'examples', 'market-predictor');
const median = (values: number[]) => values.toSorted((a, b) => a - b)[values.length >> 1] ?? Number.NaN;

const dir = await mkdtemp(join(tmpdir(), 'devops-mcp-bench-'));
const file = join(dir, 'config.json');
await writeFile(
  file,
  JSON.stringify({
    allowedRepos: ['acme/market-predictor'],
    repos: { 'acme/market-predictor': { source: { path: predictor }, commands: { test: 'node --test' } } },
  }),
);
const mcp = await connect({ DEVOPS_MCP_CONFIG: file, LOG_LEVEL: 'warn' });
const ours: number[] = [];
const shell: number[] = [];
try {
  for (let i = 0; i < RUNS; i++) {
    let started = performance.now();
    const result = await mcp.call('run_sandbox_test', {
      repo: 'acme/market-predictor',
      command: 'test',
      changes: [{ path: 'BENCH.md', action: 'create', content: `run ${i}\n` }],
    });
    ours.push(performance.now() - started);
    if ((result.structuredContent as { passed?: boolean } | undefined)?.passed !== true)
      throw new Error('the sandbox run failed');
    started = performance.now();
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
    shell.push(performance.now() - started);
  }
} finally {
  await mcp.close();
  await rm(dir, { recursive: true, force: true });
}
const a = median(ours);
const b = median(shell);
process.stdout.write(
  `| measure | devops-mcp | docker run --rm | ratio (target ≤ 1.0×) |\n| --- | --- | --- | --- |\n| market predictor tests, call to result (median of ${RUNS}) | ${(a / 1000).toFixed(2)} s | ${(b / 1000).toFixed(2)} s | ${(a / b).toFixed(2)}× |\n`,
);
