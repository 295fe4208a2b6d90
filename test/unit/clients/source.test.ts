// Tar archives are untrusted input: what extractTar keeps, skips and refuses; and a local work tree: its limits,
// the files git ignores (never sent), and when it may be called its HEAD commit.
import tar from 'tar-stream';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
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
    expect([...tree.symlinks]).toEqual([['lib', '/etc']]);
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

describe('readLocalSource of a git checkout', () => {
  /** A checkout with one commit; ignored files beside it, each ignored another way. */
  function checkout(): { root: string; git: (...args: string[]) => string; head: string } {
    const root = mkdtempSync(join(tmpdir(), 'devops-mcp-checkout-'));
    const git = (...args: string[]) =>
      execFileSync('git', ['-C', root, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args], {
        encoding: 'utf8',
      }).trim();
    git('init', '-q');
    mkdirSync(join(root, 'src'));
    mkdirSync(join(root, 'dist'));
    writeFileSync(join(root, '.gitignore'), '.env\n*.log\n');
    writeFileSync(join(root, 'src', 'a.mjs'), 'export const a = 1;\n');
    writeFileSync(join(root, 'run.sh'), '#!/bin/sh\n');
    chmodSync(join(root, 'run.sh'), 0o755);
    symlinkSync('src/a.mjs', join(root, 'main.mjs'));
    // Ignored, yet tracked: what HEAD holds is sent whatever .gitignore says.
    writeFileSync(join(root, 'kept.log'), 'tracked\n');
    git('add', '.');
    git('add', '-f', 'kept.log');
    git('commit', '-qm', 'init');
    writeFileSync(join(root, '.env'), 'DATABASE_PASSWORD=hunter2\n');
    writeFileSync(join(root, 'debug.log'), 'noise\n');
    writeFileSync(join(root, '.git', 'info', 'exclude'), 'id_ed25519\n');
    writeFileSync(join(root, 'id_ed25519'), 'PRIVATE KEY\n');
    // The user's global excludes file, named in the checkout's own config here.
    writeFileSync(join(root, '.git', 'global-ignore'), 'dist/\n');
    git('config', 'core.excludesFile', join(root, '.git', 'global-ignore'));
    writeFileSync(join(root, 'dist', 'bundle.js'), 'built\n');
    return { root, git, head: git('rev-parse', 'HEAD') };
  }
  const big = { maxFiles: 100, maxBytes: 1024 * 1024 };

  it('sends what git tracks or would track, never what it ignores, and names HEAD when that is all', async () => {
    const { root, head } = checkout();
    try {
      const tree = await readLocalSource(root, big);
      expect([...tree.files.keys()].sort()).toEqual(['.gitignore', 'kept.log', 'run.sh', 'src/a.mjs']);
      expect([...tree.symlinks]).toEqual([['main.mjs', 'src/a.mjs']]);
      expect([...(tree.executables ?? [])]).toEqual(['run.sh']);
      expect(tree.baseCommit).toBe(head);
      expect(tree.localChanges).toBeUndefined();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('names the content, not HEAD, for any difference from HEAD, including those git status does not show', async () => {
    const { root, git, head } = checkout();
    const differs = async (why: string) => {
      const tree = await readLocalSource(root, big);
      expect(tree.baseCommit, why).toMatch(/^tree:sha256:[0-9a-f]{64}$/);
      expect(tree.localChanges, why).toBe(true);
      return tree;
    };
    try {
      git('config', 'status.showUntrackedFiles', 'no');
      writeFileSync(join(root, 'new.mjs'), 'x\n');
      expect(git('status', '--porcelain')).toBe('');
      expect((await differs('an untracked file status hides')).files.has('new.mjs')).toBe(true);
      unlinkSync(join(root, 'new.mjs'));
      expect((await readLocalSource(root, big)).baseCommit).toBe(head);

      git('update-index', '--assume-unchanged', 'src/a.mjs');
      writeFileSync(join(root, 'src', 'a.mjs'), 'export const a = 2;\n');
      expect(git('status', '--porcelain')).toBe('');
      expect((await differs('an edit of an assume-unchanged file')).files.get('src/a.mjs')?.toString()).toBe(
        'export const a = 2;\n',
      );
      git('update-index', '--no-assume-unchanged', 'src/a.mjs');
      git('checkout', '--', 'src/a.mjs');

      git('update-index', '--skip-worktree', 'kept.log');
      unlinkSync(join(root, 'kept.log'));
      expect(git('status', '--porcelain')).toBe('');
      expect((await differs('a skip-worktree file missing from the disk')).files.has('kept.log')).toBe(false);
      git('update-index', '--no-skip-worktree', 'kept.log');
      git('checkout', '--', 'kept.log');

      chmodSync(join(root, 'run.sh'), 0o644);
      await differs('a lost executable bit');
      chmodSync(join(root, 'run.sh'), 0o755);
      unlinkSync(join(root, 'main.mjs'));
      symlinkSync('run.sh', join(root, 'main.mjs'));
      await differs('a link pointed elsewhere');
      unlinkSync(join(root, 'main.mjs'));
      symlinkSync('src/a.mjs', join(root, 'main.mjs'));
      expect((await readLocalSource(root, big)).baseCommit).toBe(head);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('names HEAD for a clean checkout whatever git converts on the way out: line endings, ident, file modes, names', async () => {
    const { root, git, head } = checkout();
    try {
      // Gradle's generated attributes: .bat files checked out with CRLF, stored with LF.
      writeFileSync(join(root, '.gitattributes'), '*.bat text eol=crlf\n*.c ident\n');
      writeFileSync(join(root, 'gradlew.bat'), '@echo off\nexit 0\n');
      writeFileSync(join(root, 'x.c'), '/* $Id$ */\n');
      // Names an open_pr change could not carry (not NFC, a backslash) are files of the checkout all the same.
      writeFileSync(join(root, 'cafe\u0301.txt'), 'nfd\n');
      writeFileSync(join(root, 'a\\b.txt'), 'backslash\n');
      git('add', '.');
      git('commit', '-qm', 'more');
      for (const path of ['gradlew.bat', 'x.c']) unlinkSync(join(root, path));
      git('checkout', '--', 'gradlew.bat', 'x.c');
      expect(readFileSync(join(root, 'gradlew.bat'), 'utf8')).toBe('@echo off\r\nexit 0\r\n');
      expect(git('status', '--porcelain')).toBe('');
      const committed = git('rev-parse', 'HEAD');
      expect(committed).not.toBe(head);
      const tree = await readLocalSource(root, big);
      expect(tree.baseCommit).toBe(committed);
      expect([...tree.files.keys()]).toEqual(expect.arrayContaining(['cafe\u0301.txt', 'a\\b.txt']));
      // The executable bit, where the checkout says it does not count.
      git('config', 'core.fileMode', 'false');
      chmodSync(join(root, 'run.sh'), 0o644);
      expect((await readLocalSource(root, big)).baseCommit).toBe(committed);
      // An edit is still an edit, converted or not.
      writeFileSync(join(root, 'gradlew.bat'), '@echo off\r\nexit 1\r\n');
      expect((await readLocalSource(root, big)).localChanges).toBe(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('reads a ref as the commit holds it: export-ignore and export-subst do not apply, links and modes kept', async () => {
    const { root, git } = checkout();
    try {
      mkdirSync(join(root, 'tests'));
      writeFileSync(join(root, 'tests', 'a.test.mjs'), 'test\n');
      writeFileSync(join(root, 'version.txt'), '$Format:%H$\n');
      writeFileSync(join(root, '.gitattributes'), 'tests/ export-ignore\nversion.txt export-subst\n');
      git('add', '.');
      git('commit', '-qm', 'tests');
      const sha = git('rev-parse', 'HEAD');
      // The work tree moves on; the ref still reads the commit.
      writeFileSync(join(root, 'src', 'a.mjs'), 'export const a = 3;\n');
      const tree = await readLocalSource(root, big, 'HEAD');
      expect(tree.baseCommit).toBe(sha);
      expect(tree.files.get('tests/a.test.mjs')?.toString()).toBe('test\n');
      expect(tree.files.get('version.txt')?.toString()).toBe('$Format:%H$\n');
      expect(tree.files.get('src/a.mjs')?.toString()).toBe('export const a = 1;\n');
      expect([...tree.symlinks]).toEqual([['main.mjs', 'src/a.mjs']]);
      expect([...(tree.executables ?? [])]).toEqual(['run.sh']);
      expect(tree.files.has('.env')).toBe(false);
      await expect(readLocalSource(root, { maxFiles: 100, maxBytes: 10 }, 'HEAD')).rejects.toMatchObject({
        code: 'TOO_LARGE',
      });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("reads a ref of a subdirectory's source as that directory's tree in the commit, laid out as its work tree", async () => {
    const { root, git, head } = checkout();
    try {
      mkdirSync(join(root, 'src', 'lib'));
      writeFileSync(join(root, 'src', 'lib', 'b.mjs'), 'export const b = 2;\n');
      symlinkSync('lib/b.mjs', join(root, 'src', 'b.mjs'));
      git('add', '.');
      git('commit', '-qm', 'lib');
      const sha = git('rev-parse', 'HEAD');
      const work = await readLocalSource(join(root, 'src'), big);
      const commit = await readLocalSource(join(root, 'src'), big, 'HEAD');
      expect(commit.baseCommit).toBe(sha);
      expect(work.baseCommit).toBe(sha);
      expect([...commit.files.keys()].sort()).toEqual(['a.mjs', 'lib/b.mjs']);
      expect([...commit.files.keys()].sort()).toEqual([...work.files.keys()].sort());
      expect([...commit.symlinks]).toEqual([['b.mjs', 'lib/b.mjs']]);
      expect([...work.symlinks]).toEqual([['b.mjs', 'lib/b.mjs']]);
      // An older commit holds the directory as it was then.
      const old = await readLocalSource(join(root, 'src'), big, head);
      expect([...old.files.keys()]).toEqual(['a.mjs']);
      // A commit without the directory is refused, not read as an empty tree.
      git('checkout', '-q', '--orphan', 'bare');
      git('rm', '-rqf', '.');
      writeFileSync(join(root, 'other.txt'), 'x\n');
      git('add', 'other.txt');
      git('commit', '-qm', 'no src');
      mkdirSync(join(root, 'src'), { recursive: true });
      await expect(readLocalSource(join(root, 'src'), big, 'bare')).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: expect.stringMatching(/has no directory src, where the repository's source is/),
      });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('reads a ref of a subdirectory whose name begins and ends with a space', async () => {
    const { root, git } = checkout();
    try {
      mkdirSync(join(root, ' svc '));
      writeFileSync(join(root, ' svc ', 'c.mjs'), 'export const c = 3;\n');
      git('add', '.');
      git('commit', '-qm', 'svc');
      const commit = await readLocalSource(join(root, ' svc '), big, 'HEAD');
      expect([...commit.files.keys()]).toEqual(['c.mjs']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('refuses a checkout git cannot read rather than walk it as a plain directory, ignored files and all', async () => {
    const root = mkdtempSync(join(tmpdir(), 'devops-mcp-broken-'));
    try {
      writeFileSync(join(root, '.git'), 'gitdir: /nonexistent/worktree\n');
      writeFileSync(join(root, '.env'), 'DATABASE_PASSWORD=hunter2\n');
      await expect(readLocalSource(root, big)).rejects.toMatchObject({
        code: 'NOT_CONFIGURED',
        message: `git cannot read the checkout at ${root}.`,
      });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('reads a subdirectory of a checkout as its own tree, and never through a linked directory', async () => {
    const { root, head } = checkout();
    const outside = mkdtempSync(join(tmpdir(), 'devops-mcp-outside-'));
    try {
      const sub = await readLocalSource(join(root, 'src'), big);
      expect([...sub.files.keys()]).toEqual(['a.mjs']);
      expect(sub.baseCommit).toBe(head);
      // src/ replaced by a link to a directory outside, holding a file of the name the index lists.
      writeFileSync(join(outside, 'a.mjs'), 'secret\n');
      rmSync(join(root, 'src'), { recursive: true });
      symlinkSync(outside, join(root, 'src'));
      const tree = await readLocalSource(root, big);
      expect(tree.files.has('src/a.mjs')).toBe(false);
      expect([...tree.symlinks.keys()].sort()).toEqual(['main.mjs', 'src']);
      expect(tree.localChanges).toBe(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
      rmSync(outside, { recursive: true, force: true });
    }
  });
});
