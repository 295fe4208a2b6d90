// The whole loop on the real Docker engine: run_sandbox_test takes the market predictor from the GitHub double's
// tarball at a ref, its receipt lets open_pr open the PR, and a receipt for another change is refused. Also: a
// local source read at a git ref, and a bad ref refused before any container exists.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGithubDouble, type GithubDouble } from '../../doubles/github/index.ts';
import { connect, textOf, type Connected } from '../../support/mcp.ts';
import { filesOf } from '../../support/files.ts';

const PREDICTOR = join(import.meta.dirname, '..', '..', '..', 'examples', 'market-predictor');
const CONFIG_FILE = 'src/config.mjs';
const REPO = 'acme/market-predictor';

let double: GithubDouble;
let mcp: Connected;
let dir: string;
let headSha: string;
/** A git checkout of the predictor whose HEAD breaks it; `goodSha` is the commit before. */
let local: string;
let goodSha: string;
const config = readFileSync(join(PREDICTOR, CONFIG_FILE), 'utf8');
const broken = config.replace(/MOVING_AVERAGE_WINDOW = \d+;/, 'MOVING_AVERAGE_WINDOW = 0;');

beforeAll(async () => {
  double = await startGithubDouble();
  ({ headSha } = await double.addRepo({
    owner: 'acme',
    name: 'market-predictor',
    files: filesOf(PREDICTOR),
    branches: { broken: {} },
  }));
  await double.pushCommit(REPO, 'broken', { [CONFIG_FILE]: broken }, 'break the forecaster');
  dir = await mkdtemp(join(tmpdir(), 'devops-mcp-loop-'));
  local = join(dir, 'local');
  await cp(PREDICTOR, local, { recursive: true, filter: src => !src.includes('node_modules') });
  const git = (...args: string[]) =>
    execFileSync('git', ['-C', local, ...args], {
      encoding: 'utf8',
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 'test',
        GIT_AUTHOR_EMAIL: 'test@example.com',
        GIT_COMMITTER_NAME: 'test',
        GIT_COMMITTER_EMAIL: 'test@example.com',
      },
    }).trim();
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-qm', 'the predictor');
  goodSha = git('rev-parse', 'HEAD');
  await writeFile(join(local, CONFIG_FILE), broken);
  git('commit', '-qam', 'break the forecaster');
  const file = join(dir, 'config.json');
  await writeFile(
    file,
    JSON.stringify({
      allowedRepos: [REPO, 'acme/local'],
      github: { writeSpacingMs: 0 },
      repos: {
        [REPO]: { source: { github: {} }, commands: { test: 'node --test' } },
        'acme/local': { source: { path: local }, commands: { test: 'node --test' } },
      },
      sandbox: {
        limits: { memoryMb: 512, cpus: 1, pids: 256, timeoutSeconds: 120, outputKb: 16, tmpfsMb: 128 },
      },
    }),
  );
  mcp = await connect({ DEVOPS_MCP_CONFIG: file, GITHUB_TOKEN: double.token, GITHUB_API_URL: double.url });
});

afterAll(async () => {
  await mcp.close();
  await double.close();
  await rm(dir, { recursive: true, force: true });
});

describe('run_sandbox_test → open_pr', () => {
  it('tests the GitHub tarball of the default branch, and its receipt opens the PR', async () => {
    const sha = (await double.git(REPO, 'rev-parse', `main:${CONFIG_FILE}`)).trim();
    const fixed = config.replace(
      /MOVING_AVERAGE_WINDOW = (\d+);/,
      (_, n: string) => `MOVING_AVERAGE_WINDOW = ${n}; // tuned`,
    );
    expect(fixed).not.toBe(config);
    const changes = [{ path: CONFIG_FILE, action: 'update', content: fixed, sha }];
    const tested = await mcp.call('run_sandbox_test', { repo: REPO, command: 'test', changes });
    expect(tested.isError, textOf(tested)).toBeFalsy();
    const run = tested.structuredContent as any;
    expect(run).toMatchObject({ passed: true, base_commit: headSha });
    expect(`${run.output_head}${run.output_tail}`).toMatch(/ℹ fail 0/);

    // A receipt for another change set does not open this one.
    const other = [{ path: CONFIG_FILE, action: 'update', content: `${fixed}\n`, sha }];
    double.reset();
    const refused = await mcp.call('open_pr', {
      repo: REPO,
      branch: 'tune-window',
      title: 'Tune the window',
      changes: other,
      receipt: run.receipt,
    });
    expect(textOf(refused)).toMatch(/^RECEIPT_MISMATCH: .*another changesHash/);
    expect(double.writes()).toEqual([]);

    const opened = await mcp.call('open_pr', {
      repo: REPO,
      branch: 'tune-window',
      title: 'Tune the window',
      body: 'The forecaster window, commented.',
      changes,
      receipt: run.receipt,
    });
    expect(opened.isError, textOf(opened)).toBeFalsy();
    const pr = opened.structuredContent as any;
    expect(pr).toMatchObject({ status: 'created', branch: 'devops-mcp/tune-window', draft: true });
    expect(await double.git(REPO, 'show', `devops-mcp/tune-window:${CONFIG_FILE}`)).toBe(fixed);
  });

  it('honours ref: the tarball of another branch is what runs (and fails there)', async () => {
    const result = await mcp.call('run_sandbox_test', {
      repo: REPO,
      command: 'test',
      ref: 'broken',
      changes: [{ path: 'NOTES.md', action: 'create', content: 'x\n' }],
    });
    const out = result.structuredContent as any;
    expect(out.passed).toBe(false);
    expect(out.base_commit).toBe((await double.git(REPO, 'rev-parse', 'broken')).trim());
    expect(out.receipt).toBeUndefined();
  });

  it('refuses a ref that names nothing, before any container exists', async () => {
    const github = await mcp.call('run_sandbox_test', {
      repo: REPO,
      command: 'test',
      ref: 'no-such-branch',
      changes: [{ path: 'a', action: 'create', content: 'x' }],
    });
    expect(textOf(github)).toMatch(/^INVALID_ARGUMENT: ref "no-such-branch" names no branch, tag or commit/);
    const local = await mcp.call('run_sandbox_test', {
      repo: 'acme/local',
      command: 'test',
      ref: 'no-such-ref',
      changes: [{ path: 'a', action: 'create', content: 'x' }],
    });
    expect(textOf(local)).toMatch(/^INVALID_ARGUMENT: ref "no-such-ref" names no commit/);
    const option = await mcp.call('run_sandbox_test', {
      repo: 'acme/local',
      command: 'test',
      ref: '--output=/tmp/x',
      changes: [{ path: 'a', action: 'create', content: 'x' }],
    });
    expect(textOf(option)).toMatch(/^INVALID_ARGUMENT: ref "--output=\/tmp\/x" is not a valid git ref/);
  });

  it('reads a local checkout at a git ref with git archive, naming that commit as the base', async () => {
    // HEAD breaks the forecaster; the commit before does not: the run must test the ref, not the work tree.
    const result = await mcp.call('run_sandbox_test', {
      repo: 'acme/local',
      command: 'test',
      ref: goodSha,
      changes: [{ path: 'NOTES.md', action: 'create', content: 'x\n' }],
    });
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ passed: true, base_commit: goodSha });
  });
});
