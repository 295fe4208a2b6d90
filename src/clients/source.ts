// Reads a repository's source for the sandbox: a local checkout's work tree, a git ref of it (`git archive`, never a
// checkout), or GitHub's tarball of a commit. Files (without .git), symbolic links (kept as names, never followed)
// and the base commit.

import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { createGunzip } from 'node:zlib';
import { ToolError } from '../lib/errors.ts';
import { checkPath, plainRef } from '../policy/changes.ts';
import type { GithubClient, RepoRef } from './github.ts';

const run = promisify(execFile);
const SKIP = new Set(['.git', 'node_modules']);

export interface SourceTree {
  baseCommit: string;
  /** Relative POSIX path → content; symbolic links are kept as links, never followed. */
  files: Map<string, Buffer>;
  symlinks: Set<string>;
  /** Files with an executable bit (from a tar archive). */
  executables?: Set<string>;
}

export interface SourceLimits {
  maxFiles: number;
  maxBytes: number;
}

export async function readLocalSource(root: string, limits: SourceLimits, ref?: string): Promise<SourceTree> {
  if (ref !== undefined) return readLocalRef(root, limits, ref);
  const files = new Map<string, Buffer>();
  const symlinks = new Set<string>();
  const tooLarge = () =>
    new ToolError('TOO_LARGE', `The repository source at ${root} is larger than the sandbox takes.`);
  let bytes = 0;
  async function walk(dir: string, prefix: string): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (SKIP.has(entry.name)) continue;
      const path = prefix ? `${prefix}/${entry.name}` : entry.name;
      const full = join(dir, entry.name);
      if (entry.isSymbolicLink()) symlinks.add(path);
      else if (entry.isDirectory()) await walk(full, path);
      else if (entry.isFile()) {
        // The size is checked before a byte is read, and the read stops past the limit should the file grow.
        const { size } = await lstat(full);
        if (files.size >= limits.maxFiles || bytes + size > limits.maxBytes) throw tooLarge();
        const content = await readAtMost(full, limits.maxBytes - bytes);
        bytes += content.length;
        if (bytes > limits.maxBytes) throw tooLarge();
        files.set(path, content);
      }
    }
  }
  try {
    await lstat(root);
  } catch {
    throw new ToolError(
      'NOT_CONFIGURED',
      `The repository source path ${root} does not exist.`,
      'Fix source.path in the repository policy.',
    );
  }
  await walk(root, '');
  return { baseCommit: await baseCommit(root, files), files, symlinks };
}

/** The file's first `max` + 1 bytes at most: enough to tell that it holds more than `max`. */
async function readAtMost(path: string, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of createReadStream(path, { end: max })) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function baseCommit(root: string, files: Map<string, Buffer>): Promise<string> {
  try {
    const { stdout } = await run('git', ['-C', root, 'rev-parse', 'HEAD'], { timeout: 5000 });
    const dirty = (
      await run('git', ['-C', root, 'status', '--porcelain', '--', '.'], { timeout: 5000 })
    ).stdout.trim();
    // A checkout with local edits is not its HEAD: name the exact content instead.
    if (dirty === '') return stdout.trim();
  } catch {
    // not a git checkout
  }
  const hash = createHash('sha256');
  for (const [path, content] of [...files].sort(([a], [b]) => (a < b ? -1 : 1))) {
    hash.update(`${path}\0`).update(createHash('sha256').update(content).digest('hex'));
  }
  return `tree:sha256:${hash.digest('hex')}`;
}

/** A commit of a local checkout, read with `git archive` (the work tree is never touched). */
async function readLocalRef(root: string, limits: SourceLimits, ref: string): Promise<SourceTree> {
  if (!plainRef(ref)) {
    throw new ToolError('INVALID_ARGUMENT', `ref ${JSON.stringify(ref)} is not a valid git ref.`);
  }
  let sha: string;
  try {
    const { stdout } = await run(
      'git',
      ['-C', root, 'rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`],
      { timeout: 5000 },
    );
    sha = stdout.trim();
  } catch {
    throw new ToolError(
      'INVALID_ARGUMENT',
      `ref ${JSON.stringify(ref)} names no commit in the repository's local checkout.`,
      'Give a branch, tag or commit sha of the checkout, or leave ref out to test its work tree.',
    );
  }
  const child = spawn('git', ['-C', root, 'archive', '--format=tar', sha], {
    stdio: ['ignore', 'pipe', 'ignore'],
    timeout: 60_000,
  });
  const exited = new Promise<number | null>(resolve => child.on('close', resolve));
  try {
    const tree = await extractTar(child.stdout, limits, false);
    if ((await exited) !== 0) throw new ToolError('BACKEND_ERROR', `git archive of ${sha} failed.`);
    return { baseCommit: sha, ...tree };
  } finally {
    child.kill();
  }
}

/** GitHub's tarball of commit `sha`: its top folder ({owner}-{repo}-{sha7}/) is stripped, and the limits hold. */
export async function readGithubSource(
  github: GithubClient,
  repo: RepoRef,
  sha: string,
  limits: SourceLimits,
): Promise<SourceTree> {
  // A gzip'd archive is smaller than what it holds: the compressed read is capped at the same bytes.
  const archive = await github.tarball(repo, sha, limits.maxBytes);
  const gunzip = createGunzip();
  archive.on('error', error => gunzip.destroy(error));
  const tree = await extractTar(archive.pipe(gunzip), limits, true);
  return { baseCommit: sha, ...tree };
}

/**
 * Files and symbolic links of a tar stream. Tar paths are not trusted: an entry whose path is absolute, has "..",
 * goes into .git or is otherwise not a clean relative path is skipped, as are hard links and devices; symbolic
 * links are recorded, never followed or written. Past the limits the read stops with TOO_LARGE.
 */
export async function extractTar(
  stream: Readable,
  limits: SourceLimits,
  stripTop: boolean,
): Promise<Omit<SourceTree, 'baseCommit'>> {
  const { extract } = (await import('tar-stream')).default;
  const files = new Map<string, Buffer>();
  const symlinks = new Set<string>();
  const executables = new Set<string>();
  const tooLarge = () =>
    new ToolError('TOO_LARGE', 'The repository source is larger than the sandbox takes.');
  let bytes = 0;
  const entries = extract();
  stream.on('error', error => {
    entries.destroy(error);
  });
  stream.pipe(entries);
  for await (const entry of entries) {
    const { header } = entry;
    let name = header.name.replace(/\/+$/, '');
    if (stripTop) name = name.slice(name.indexOf('/') + 1 || name.length);
    let clean = name !== '';
    try {
      if (clean) checkPath(name);
    } catch {
      clean = false;
    }
    if (clean && header.type === 'symlink') symlinks.add(name);
    if (!clean || header.type !== 'file') {
      entry.resume();
      continue;
    }
    if (files.size >= limits.maxFiles || bytes + header.size > limits.maxBytes) {
      entries.destroy();
      throw tooLarge();
    }
    const chunks: Buffer[] = [];
    for await (const chunk of entry) {
      bytes += (chunk as Buffer).length;
      if (bytes > limits.maxBytes) {
        entries.destroy();
        throw tooLarge();
      }
      chunks.push(chunk as Buffer);
    }
    files.set(name, Buffer.concat(chunks));
    if ((header.mode & 0o111) !== 0) executables.add(name);
  }
  return { files, symlinks, executables };
}
