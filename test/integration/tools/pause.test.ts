// The kill switch through the MCP client: while `devops-mcp agent pause` holds (set here by another connection to
// the same store file, as the command does), run_sandbox_test and open_pr refuse every caller with PAUSED before
// anything is read or started — no request reaches GitHub, no container is created — and read-only tools keep
// working. Resumed, both act again.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openStore, type Store } from '../../../src/store/index.ts';
import { startGithubDouble, type GithubDouble } from '../../doubles/github/index.ts';
import { connect, textOf, type Connected } from '../../support/mcp.ts';

const PREDICTOR = join(import.meta.dirname, '..', '..', '..', 'examples', 'market-predictor');
// A name of its own: the container label counted below is not shared with other suites running at the same time.
const SANDBOX_REPO = 'acme/pause-check';
const CHANGE = [{ path: 'docs/paused.md', action: 'create', content: 'x\n' }];

let double: GithubDouble;
let mcp: Connected;
let operator: Store;
let dir: string;
let seq = 0;

/** Containers Docker created for the sandbox repository between `since` and now (its event log). */
async function containersCreatedSince(since: number): Promise<number> {
  const { default: Docker } = await import('dockerode');
  const stream = await new Docker().getEvents({
    since,
    until: Math.ceil(Date.now() / 1000),
    filters: { type: ['container'], event: ['create'], label: [`devops-mcp.repo=${SANDBOX_REPO}`] },
  });
  let text = '';
  for await (const chunk of stream as AsyncIterable<Buffer>) text += chunk.toString();
  return text.split('\n').filter(line => line.trim() !== '').length;
}

const openPr = () =>
  mcp.call('open_pr', { repo: 'acme/app', branch: `pause-${++seq}`, title: 'A fix', changes: CHANGE });
const sandbox = () => mcp.call('run_sandbox_test', { repo: SANDBOX_REPO, command: 'check', changes: CHANGE });

beforeAll(async () => {
  double = await startGithubDouble();
  await double.addRepo({ owner: 'acme', name: 'app', files: { 'README.md': '# app\n' } });
  dir = await mkdtemp(join(tmpdir(), 'devops-mcp-pause-'));
  const file = join(dir, 'config.json');
  const db = join(dir, 'store.db');
  await writeFile(
    file,
    JSON.stringify({
      allowedRepos: ['acme/app', SANDBOX_REPO],
      github: { writeSpacingMs: 0 },
      store: { path: db },
      repos: {
        'acme/app': { source: { github: {} }, commands: {}, pr: { requireReceipt: false } },
        [SANDBOX_REPO]: { source: { path: PREDICTOR }, commands: { check: 'test -f docs/paused.md' } },
      },
    }),
  );
  mcp = await connect({ DEVOPS_MCP_CONFIG: file, GITHUB_TOKEN: double.token, GITHUB_API_URL: double.url });
  operator = openStore({
    path: db,
    busyTimeoutMs: 5000,
    groupBy: ['service'],
    quietSeconds: 300,
    windowSeconds: 1800,
    timelineMax: 500,
  });
});

afterAll(async () => {
  operator.close();
  await mcp.close();
  await double.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the kill switch', () => {
  it('makes run_sandbox_test and open_pr refuse with PAUSED, touching nothing, while read-only tools work', async () => {
    operator.agent.setPaused(true, 'alice@ops', Date.UTC(2026, 11, 1, 17, 0, 0) / 1000, 'bad deploy');
    double.reset();
    const since = Math.floor(Date.now() / 1000);

    const pr = await openPr();
    expect(pr.isError).toBe(true);
    expect(textOf(pr)).toMatch(
      /^PAUSED: devops-mcp was paused by alice@ops at 2026-12-01T17:00:00(\.000)?Z \(bad deploy\): open_pr refuses every caller/,
    );
    expect(textOf(pr)).toContain('devops-mcp agent resume');
    const run = await sandbox();
    expect(run.isError).toBe(true);
    expect(textOf(run)).toMatch(
      /^PAUSED: devops-mcp was paused by alice@ops .*run_sandbox_test refuses every caller/,
    );

    // Nothing was asked of GitHub, let alone written, and no container exists or existed.
    expect(double.requests).toEqual([]);
    expect(await containersCreatedSince(since)).toBe(0);

    const read = await mcp.call('read_repo', { repo: 'acme/app', path: 'README.md' });
    expect(read.isError, textOf(read)).toBeFalsy();
    const list = await mcp.call('list_incidents', {});
    expect(list.isError, textOf(list)).toBeFalsy();
    expect(double.writes()).toEqual([]);
  });

  it('stops open_pr before its first write when the pause lands while it is reading', async () => {
    operator.agent.setPaused(false, 'alice@ops', Date.now() / 1000);
    double.reset();
    const github = mcp.ctx.github;
    if (!github) throw new Error('GitHub is configured');
    const listPulls = github.listPulls.bind(github);
    vi.spyOn(github, 'listPulls').mockImplementation((...args) => {
      operator.agent.setPaused(true, 'bob@ops', Date.now() / 1000, 'stop now');
      return listPulls(...args);
    });

    const pr = await openPr();
    expect(textOf(pr)).toMatch(/^PAUSED: devops-mcp was paused by bob@ops .*\(stop now\): open_pr refuses/);
    expect(double.requests.length).toBeGreaterThan(0);
    expect(double.writes()).toEqual([]);
  });

  it('stops run_sandbox_test before its container when the pause lands while it waits for the engine', async () => {
    operator.agent.setPaused(false, 'alice@ops', Date.now() / 1000);
    const since = Math.floor(Date.now() / 1000);
    // The tool has made its own checks when it hands the run to the docker client, which may queue it for minutes
    // behind other runs: the pause lands there.
    const docker = mcp.ctx.docker;
    const run = docker.run.bind(docker);
    vi.spyOn(docker, 'run').mockImplementation(spec => {
      operator.agent.setPaused(true, 'carol@ops', Date.now() / 1000, 'while queued');
      return run(spec);
    });

    const result = await sandbox();
    expect(textOf(result)).toMatch(
      /^PAUSED: devops-mcp was paused by carol@ops .*\(while queued\): run_sandbox_test/,
    );
    expect(await containersCreatedSince(since)).toBe(0);
  });

  it('lets both act again once resumed', async () => {
    operator.agent.setPaused(false, 'alice@ops', Date.now() / 1000);
    double.reset();
    const since = Math.floor(Date.now() / 1000);

    const pr = await openPr();
    expect(pr.isError, textOf(pr)).toBeFalsy();
    expect(pr.structuredContent).toMatchObject({ status: 'created', draft: true });
    expect(double.writes().length).toBeGreaterThan(0);

    const run = await sandbox();
    expect(run.isError, textOf(run)).toBeFalsy();
    expect(run.structuredContent).toMatchObject({ passed: true });
    expect(await containersCreatedSince(since)).toBe(1);
  });
});
