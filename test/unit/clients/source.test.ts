// Tar archives are untrusted input: what extractTar keeps, skips and refuses; and a local work tree's limits.
import tar from 'tar-stream';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { extractTar, readLocalSource } from '../../../src/clients/source.ts';

function archive(
  entries: Array<{
    name: string;
    type?: 'file' | 'symlink' | 'link' | 'directory';
    content?: string;
    linkname?: string;
    mode?: number;
  }>,
): Readable {
  const pack = tar.pack();
  for (const e of entries) {
    if (e.type === 'symlink' || e.type === 'link')
      pack.entry({ name: e.name, type: e.type, linkname: e.linkname ?? '' });
    else if (e.type === 'directory') pack.entry({ name: e.name, type: 'directory' });
    else pack.entry({ name: e.name, mode: e.mode ?? 0o644 }, e.content ?? '');
  }
  pack.finalize();
  return pack as unknown as Readable;
}

const limits = { maxFiles: 10, maxBytes: 1000 };

describe('extractTar', () => {
  it("strips GitHub's top folder and keeps clean files, links as names only, and executable bits", async () => {
    const tree = await extractTar(
      archive([
        { name: 'acme-app-abc1234/', type: 'directory' },
        { name: 'acme-app-abc1234/src/a.mjs', content: 'a' },
        { name: 'acme-app-abc1234/run.sh', content: '#!/bin/sh', mode: 0o755 },
        { name: 'acme-app-abc1234/lib', type: 'symlink', linkname: '/etc' },
      ]),
      limits,
      true,
    );
    expect([...tree.files.keys()].sort()).toEqual(['run.sh', 'src/a.mjs']);
    expect(tree.files.get('src/a.mjs')?.toString()).toBe('a');
    expect([...tree.symlinks]).toEqual(['lib']);
    expect([...(tree.executables ?? [])]).toEqual(['run.sh']);
  });

  it('skips absolute paths, "..", .git, hard links and other unclean names', async () => {
    const tree = await extractTar(
      archive([
        { name: 'top/../../escape.txt', content: 'x' },
        { name: 'top//etc/passwd', content: 'x' },
        { name: 'top/.git/config', content: 'x' },
        { name: 'top/hard', type: 'link', linkname: '/etc/shadow' },
        { name: 'top/a\\b', content: 'x' },
        { name: 'top/ok.txt', content: 'ok' },
      ]),
      limits,
      true,
    );
    expect([...tree.files.keys()]).toEqual(['ok.txt']);
    expect(tree.symlinks.size).toBe(0);
  });

  it('stops with TOO_LARGE past the file or byte limit', async () => {
    const many = Array.from({ length: 11 }, (_, i) => ({ name: `f${i}`, content: 'x' }));
    await expect(extractTar(archive(many), limits, false)).rejects.toMatchObject({ code: 'TOO_LARGE' });
    await expect(
      extractTar(archive([{ name: 'big', content: 'x'.repeat(1001) }]), limits, false),
    ).rejects.toMatchObject({
      code: 'TOO_LARGE',
    });
  });
});

describe('readLocalSource', () => {
  it('refuses a file past the byte limit from its size, without reading it', async () => {
    const root = mkdtempSync(join(tmpdir(), 'devops-mcp-source-'));
    try {
      writeFileSync(join(root, 'a.txt'), 'a');
      // Sparse: 3 GiB on paper, no blocks on disk. Reading it whole would fail past Node's 2 GiB buffer limit.
      writeFileSync(join(root, 'zz-dataset.bin'), '');
      truncateSync(join(root, 'zz-dataset.bin'), 3 * 1024 ** 3);
      await expect(readLocalSource(root, { maxFiles: 10, maxBytes: 1024 ** 3 })).rejects.toMatchObject({
        code: 'TOO_LARGE',
      });
      truncateSync(join(root, 'zz-dataset.bin'), 999);
      await expect(readLocalSource(root, limits)).resolves.toMatchObject({ files: expect.any(Map) });
      truncateSync(join(root, 'zz-dataset.bin'), 1000);
      await expect(readLocalSource(root, limits)).rejects.toMatchObject({ code: 'TOO_LARGE' });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
