import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveLink, treeSha, type Leaf } from '../../../src/lib/git-tree.ts';
import { gitBlobSha } from '../../../src/policy/changes.ts';

describe('local git ids', () => {
  it('compute the blob and tree ids git computes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'git-tree-'));
    try {
      const git = (...args: string[]) =>
        execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8' }).trim();
      git('init', '-q');
      mkdirSync(join(dir, 'a', 'b'), { recursive: true });
      writeFileSync(join(dir, 'a', 'b', 'c.txt'), 'hi\n');
      writeFileSync(join(dir, 'a.txt'), 'x\n');
      writeFileSync(join(dir, 'a-b'), Buffer.from([0, 1, 2, 255]));
      writeFileSync(join(dir, 'run.sh'), '#!/bin/sh\n');
      chmodSync(join(dir, 'run.sh'), 0o755);
      symlinkSync('a.txt', join(dir, 'link'));
      git('add', '-A');
      const leaves = new Map(
        git('ls-files', '-s')
          .split('\n')
          .map(line => {
            const [meta = '', path = ''] = line.split('\t');
            const [mode = '', sha = ''] = meta.split(' ');
            return [path, { mode, sha }] as const;
          }),
      );
      expect(leaves.get('a.txt')?.sha).toBe(gitBlobSha(Buffer.from('x\n')));
      expect(treeSha(leaves)).toBe(git('write-tree'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('resolve a symbolic link as a checkout does: relative, chained, through linked directories, bounded', async () => {
    // Each link's blob id is its target, for the test's reader.
    const links: Record<string, string> = {
      'AGENTS.md': 'docs/ai-guide.md',
      'docs/rules.md': '../AGENTS.md',
      cfg: 'config/',
      '.npmrc': './cfg/npmrc',
      '.github': '.',
      up: '../outside',
      abs: '/etc/passwd',
      'file-dir': 'README.md/x',
      'sub-dir': 'vendor/lib/x',
      loop: 'loop2',
      loop2: 'loop',
    };
    const leaves = new Map<string, Leaf>([
      ['README.md', { mode: '100644', sha: 'readme' }],
      ['docs/ai-guide.md', { mode: '100644', sha: 'guide' }],
      ['vendor/lib', { mode: '160000', sha: 'commit' }],
      ...Object.entries(links).map(([path, target]) => [path, { mode: '120000', sha: target }] as const),
    ]);
    const read: string[] = [];
    const readLink = async (sha: string) => {
      read.push(sha);
      return Promise.resolve(sha);
    };
    const resolve = (path: string) => resolveLink(path, leaves, readLink);
    expect(await resolve('AGENTS.md')).toBe('docs/ai-guide.md');
    expect(await resolve('docs/rules.md')).toBe('docs/ai-guide.md');
    expect(await resolve('.npmrc')).toBe('config/npmrc');
    expect(await resolve('.github')).toBe('');
    // Out of the tree: above its root, absolute, through a file or a submodule.
    for (const path of ['up', 'abs', 'file-dir', 'sub-dir'])
      expect(await resolve(path), path).toBeUndefined();
    read.length = 0;
    expect(await resolve('loop')).toBeUndefined();
    // As many as Linux follows (MAXSYMLINKS), then given up.
    expect(read).toHaveLength(40);
  });
});
