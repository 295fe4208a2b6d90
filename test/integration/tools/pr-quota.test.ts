// open_pr's hourly quota is counted in the store: two servers on one database file (two `serve`, or a server and the
// headless loop) share it, and a restart does not reset it.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGithubDouble, type GithubDouble } from '../../doubles/github/index.ts';
import { connect, textOf, type Connected } from '../../support/mcp.ts';

let double: GithubDouble;
let dir: string;
let env: Record<string, string>;
const servers: Connected[] = [];
let seq = 0;

const serve = async (): Promise<Connected> => {
  const server = await connect(env);
  servers.push(server);
  return server;
};
const openPr = (server: Connected) =>
  server.call('open_pr', {
    repo: 'acme/app',
    branch: `quota-${++seq}`,
    title: 'A fix',
    changes: [{ path: `docs/q${seq}.md`, action: 'create', content: 'q\n' }],
  });

beforeAll(async () => {
  double = await startGithubDouble();
  await double.addRepo({ owner: 'acme', name: 'app', files: { 'README.md': '# app\n' } });
  dir = await mkdtemp(join(tmpdir(), 'devops-mcp-pr-quota-'));
  const file = join(dir, 'config.json');
  await writeFile(
    file,
    JSON.stringify({
      allowedRepos: ['acme/app'],
      github: { writeSpacingMs: 0 },
      repos: {
        'acme/app': { source: { github: {} }, commands: {}, pr: { requireReceipt: false, maxPrsPerHour: 1 } },
      },
    }),
  );
  env = {
    DEVOPS_MCP_CONFIG: file,
    DEVOPS_MCP_DB: join(dir, 'store.db'),
    GITHUB_TOKEN: double.token,
    GITHUB_API_URL: double.url,
  };
});

afterAll(async () => {
  for (const server of servers) await server.close();
  await double.close();
  await rm(dir, { recursive: true, force: true });
});

describe("open_pr's hourly quota", () => {
  it('is shared by two servers on one store file and survives a restart', async () => {
    const a = await serve();
    const b = await serve();
    const first = await openPr(a);
    expect(first.isError, textOf(first)).toBeFalsy();

    double.reset();
    const second = await openPr(b);
    expect(textOf(second)).toMatch(
      /^RATE_LIMITED: acme\/app already had 1 pull requests opened or updated in the last hour; retry after \d+ s/,
    );
    expect(double.writes()).toEqual([]);

    await a.close();
    await b.close();
    servers.length = 0;
    const restarted = await serve();
    const third = await openPr(restarted);
    expect(textOf(third)).toMatch(/^RATE_LIMITED: acme\/app already had 1 pull requests/);
    expect(double.writes()).toEqual([]);
  });
});
