import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { treeSha } from '../../../src/lib/git-tree.ts';
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
});
