// run_sandbox_test on the real Docker engine: the tree a receipt names is the tree the command ran on (links, a
// monorepo's service at a ref), and what cannot be laid out or run is refused before any container exists.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, textOf, type Connected } from '../../support/mcp.ts';
import { createdSince } from '../../support/containers.ts';

let mcp: Connected;
let dir: string;
let linkedHead: string;
let monoHead: string;

function commit(root: string): string {
  const git = (...args: string[]) =>
    execFileSync('git', ['-C', root, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args], {
      encoding: 'utf8',
    }).trim();
  git('init', '-q');
  git('add', '.');
  git('commit', '-qm', 'init');
  return git('rev-parse', 'HEAD');
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'devops-mcp-sandbox-source-'));
  // A checkout with a linked file, a directory and a script.
  const linked = join(dir, 'linked');
  mkdirSync(join(linked, 'sub'), { recursive: true });
  writeFileSync(join(linked, 'a.js'), "console.log('a');\n");
  writeFileSync(join(linked, 'sub', 'f.txt'), 'f\n');
  symlinkSync('a.js', join(linked, 'link.js'));
  linkedHead = commit(linked);
  // A monorepo whose policy names one service's directory.
  const mono = join(dir, 'mono');
  mkdirSync(join(mono, 'svc', 'test'), { recursive: true });
  mkdirSync(join(mono, 'other'));
  writeFileSync(join(mono, 'top.txt'), 'top\n');
  writeFileSync(join(mono, 'other', 'o.txt'), 'other\n');
  writeFileSync(join(mono, 'svc', 'test', 'a.test.js'), "require('node:test')('a', () => {});\n");
  writeFileSync(join(mono, 'svc', 'run.sh'), '#!/bin/sh\necho svc ran\n');
  chmodSync(join(mono, 'svc', 'run.sh'), 0o755);
  monoHead = commit(mono);
  const file = join(dir, 'config.json');
  writeFileSync(
    file,
    JSON.stringify({
      allowedRepos: ['acme/linked', 'acme/mono', 'acme/refused'],
      repos: {
        'acme/linked': { source: { path: linked }, commands: { show: 'readlink link.js && node link.js' } },
        'acme/mono': {
          source: { path: join(mono, 'svc') },
          commands: { ls: 'find . -type f | sort && ./run.sh' },
        },
        // Used only by calls that must be refused: no container may ever carry its label.
        'acme/refused': {
          source: { path: linked },
          commands: { show: 'true' },
          allowFreeformCommand: true,
        },
      },
      sandbox: {
        limits: { memoryMb: 256, cpus: 1, pids: 64, timeoutSeconds: 60, outputKb: 16, tmpfsMb: 32 },
      },
    }),
  );
  mcp = await connect({ DEVOPS_MCP_CONFIG: file });
});

afterAll(async () => {
  await mcp.close();
  rmSync(dir, { recursive: true, force: true });
});

const note = [{ path: 'NOTES.md', action: 'create', content: 'x\n' }];

describe('run_sandbox_test source trees', () => {
  it("runs on the source's symbolic links, which the base commit counts", async () => {
    const result = await mcp.call('run_sandbox_test', {
      repo: 'acme/linked',
      command: 'show',
      changes: note,
    });
    const out = result.structuredContent as any;
    expect(out?.passed, textOf(result)).toBe(true);
    expect(out.output_head).toBe('a.js\na\n');
    expect(out.base_commit).toBe(linkedHead);
  });

  it("with ref, runs on the service directory's tree of that commit, as without ref", async () => {
    const outputs = [];
    for (const ref of [undefined, 'HEAD']) {
      const result = await mcp.call('run_sandbox_test', {
        repo: 'acme/mono',
        command: 'ls',
        changes: note,
        ...(ref ? { ref } : {}),
      });
      const out = result.structuredContent as any;
      expect(out?.passed, textOf(result)).toBe(true);
      expect(out.base_commit).toBe(monoHead);
      outputs.push(out.output_head);
    }
    expect(outputs[0]).toBe('./NOTES.md\n./run.sh\n./test/a.test.js\nsvc ran\n');
    expect(outputs[1]).toBe(outputs[0]);
  });

  it('refuses a change that turns a file of the source into a directory or the reverse, before any container', async () => {
    const since = Math.floor(Date.now() / 1000);
    for (const [path, pattern] of [
      ['a.js/x', /^INVALID_ARGUMENT: "a.js\/x" goes through "a.js", which is a file in the source/],
      ['sub', /^INVALID_ARGUMENT: "sub" is a directory in the source/],
    ] as const) {
      const result = await mcp.call('run_sandbox_test', {
        repo: 'acme/refused',
        command: 'show',
        changes: [{ path, action: 'create', content: 'x' }],
      });
      expect(result.isError, path).toBe(true);
      expect(textOf(result), path).toMatch(pattern);
    }
    expect(await createdSince(since, 'devops-mcp.repo=acme/refused')).toBe(0);
  });

  it('refuses a command with control characters before any container', async () => {
    const since = Math.floor(Date.now() / 1000);
    for (const command of [
      'echo a\u0000b',
      'echo a\rb',
      'echo \u001b[2J',
      'echo a\u007fb',
      'echo \u009b2J',
    ]) {
      const result = await mcp.call('run_sandbox_test', { repo: 'acme/refused', command, changes: note });
      expect(result.isError, JSON.stringify(command)).toBe(true);
      expect(textOf(result), JSON.stringify(command)).toMatch(
        /^INVALID_ARGUMENT: The command contains control characters/,
      );
    }
    expect(await createdSince(since, 'devops-mcp.repo=acme/refused')).toBe(0);
  });
});
