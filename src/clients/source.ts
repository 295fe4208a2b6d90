// Reads a repository's source for the sandbox: a local checkout's work tree (the files git does not ignore), a git
// ref of it (its tree read object by object, never a checkout), or GitHub's tarball of a commit. Files (without
// .git), symbolic links (with their targets, never followed) and the base commit.

import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { createGunzip } from 'node:zlib';
import { ToolError } from '../lib/errors.ts';
import type { Leaf } from '../lib/git-tree.ts';
import { checkPath, directoriesOf, gitBlobSha, plainRef } from '../policy/changes.ts';
import type { GithubClient, RepoRef } from './github.ts';

const run = promisify(execFile);
const SKIP = new Set(['.git', 'node_modules']);
/**
 * Fixed on git's command line, so that no setting of the user's or of the checkout can change what it lists: no
 * fsmonitor (a program git would run, answering from its own state), no untracked cache, no index refresh written.
 */
const GIT_FIXED = ['-c', 'core.fsmonitor=false', '-c', 'core.untrackedCache=false', '--no-optional-locks'];
/** Enough for the names of far more files than the sandbox takes; past it the listing itself is too large. */
const MAX_LISTING_BYTES = 64 * 1024 * 1024;

export interface SourceTree {
  baseCommit: string;
  /** Relative POSIX path → content; symbolic links are kept as links, never followed. */
  files: Map<string, Buffer>;
  /** Relative POSIX path of a symbolic link → its target, as the link holds it. */
  symlinks: Map<string, string>;
  /** Files with an executable bit. */
  executables?: Set<string>;
  /** A local checkout's work tree that is not exactly its HEAD commit: `baseCommit` names the content instead. */
  localChanges?: boolean;
}

export interface SourceLimits {
  maxFiles: number;
  maxBytes: number;
}

const tooLarge = (root: string) =>
  new ToolError('TOO_LARGE', `The repository source at ${root} is larger than the sandbox takes.`);

/**
 * A local source: a commit of the checkout (`ref`), its work tree, or a directory that is no checkout at all. A work
 * tree is what git tracks or would track: files it ignores (.env, keys, build output) never leave the machine.
 */
export async function readLocalSource(root: string, limits: SourceLimits, ref?: string): Promise<SourceTree> {
  if (ref !== undefined) return readLocalRef(root, limits, ref);
  try {
    await lstat(root);
  } catch {
    throw new ToolError(
      'NOT_CONFIGURED',
      `The repository source path ${root} does not exist.`,
      'Fix source.path in the repository policy.',
    );
  }
  if (await inCheckout(root)) return readWorkTree(root, limits);
  const files = new Map<string, Buffer>();
  const symlinks = new Map<string, string>();
  let bytes = 0;
  async function walk(dir: string, prefix: string): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (SKIP.has(entry.name)) continue;
      const path = prefix ? `${prefix}/${entry.name}` : entry.name;
      const full = join(dir, entry.name);
      if (entry.isSymbolicLink()) symlinks.set(path, await readlink(full));
      else if (entry.isDirectory()) await walk(full, path);
      else if (entry.isFile()) {
        const content = await readWithin(root, full, limits, { files: files.size, bytes });
        bytes += content.length;
        files.set(path, content);
      }
    }
  }
  await walk(root, '');
  return { baseCommit: contentName(files, symlinks), files, symlinks };
}

/**
 * The file's content, if it fits the limits beside the files and bytes read so far: the size is checked before a
 * byte is read, and the read stops past the limit should the file grow.
 */
async function readWithin(
  root: string,
  full: string,
  limits: SourceLimits,
  sofar: { files: number; bytes: number },
): Promise<Buffer> {
  const { size } = await lstat(full);
  if (sofar.files >= limits.maxFiles || sofar.bytes + size > limits.maxBytes) throw tooLarge(root);
  const content = await readAtMost(full, limits.maxBytes - sofar.bytes);
  if (sofar.bytes + content.length > limits.maxBytes) throw tooLarge(root);
  return content;
}

/** The file's first `max` + 1 bytes at most: enough to tell that it holds more than `max`. */
async function readAtMost(path: string, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of createReadStream(path, { end: max })) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A name for content that is no commit: the files' and links' paths and contents. */
function contentName(files: ReadonlyMap<string, Buffer>, links: ReadonlyMap<string, string>): string {
  const digest = (content: Buffer | string) => createHash('sha256').update(content).digest('hex');
  const entries = [
    ...[...files].map(([path, content]) => [path, digest(content)] as const),
    // Marked: a link is never taken for a file holding its target.
    ...[...links].map(([path, target]) => [path, `link:${digest(target)}`] as const),
  ];
  const hash = createHash('sha256');
  for (const [path, entry] of entries.sort(([a], [b]) => (a < b ? -1 : 1)))
    hash.update(`${path}\0`).update(entry);
  return `tree:sha256:${hash.digest('hex')}`;
}

async function git(root: string, args: readonly string[]): Promise<string> {
  const { stdout } = await run('git', ['-C', root, ...GIT_FIXED, ...args], {
    timeout: 30_000,
    maxBuffer: MAX_LISTING_BYTES,
  });
  return stdout;
}

/**
 * Whether `root` is inside a git work tree. A checkout git cannot read (another user's, a broken .git) is refused,
 * never walked as a plain directory: that would send what git ignores.
 */
async function inCheckout(root: string): Promise<boolean> {
  try {
    if ((await git(root, ['rev-parse', '--is-inside-work-tree'])).trim() === 'true') return true;
  } catch {
    if (!(await underGit(root))) return false;
  }
  throw new ToolError(
    'NOT_CONFIGURED',
    `git cannot read the checkout at ${root}.`,
    "Check that `git status` works there for the user devops-mcp runs as (another user's checkout needs safe.directory).",
  );
}

/** Whether `dir` or a directory above it holds a .git: a checkout, whether or not git can read it. */
async function underGit(dir: string): Promise<boolean> {
  for (let at = resolve(dir); ; at = dirname(at)) {
    const found = await lstat(join(at, '.git')).then(
      () => true,
      () => false,
    );
    if (found) return true;
    if (dirname(at) === at) return false;
  }
}

/**
 * A checkout's work tree: the files git lists — tracked, and untracked ones it does not ignore (.gitignore,
 * .git/info/exclude, core.excludesFile) — as they are on disk, never through a linked directory. The base commit is
 * HEAD only when what was read is exactly HEAD's tree (every file, mode and link): git's own view of what changed
 * (status) misses files marked assume-unchanged or skip-worktree, and a setting can hide untracked ones from it.
 */
async function readWorkTree(root: string, limits: SourceLimits): Promise<SourceTree> {
  let listing: string;
  try {
    listing = await git(root, ['ls-files', '-z', '--cached', '--others', '--exclude-standard']);
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') throw tooLarge(root);
    throw new ToolError('BACKEND_ERROR', `git could not list the files of the checkout at ${root}.`);
  }
  const files = new Map<string, Buffer>();
  const symlinks = new Map<string, string>();
  const executables = new Set<string>();
  /** What was read, as git would record it. */
  const leaves = new Map<string, Leaf>();
  const directories = new Map<string, boolean>();
  let bytes = 0;
  // An unmerged file is listed once per stage.
  for (const path of new Set(listing.split('\0'))) {
    if (path === '' || !cleanPath(path) || !(await realDirectories(root, path, directories))) continue;
    const full = join(root, path);
    const stats = await lstat(full).catch(() => undefined);
    if (stats?.isSymbolicLink()) {
      const target = await readlink(full, { encoding: 'buffer' });
      symlinks.set(path, target.toString('utf8'));
      leaves.set(path, { mode: '120000', sha: gitBlobSha(target) });
    } else if (stats?.isFile()) {
      const content = await readWithin(root, full, limits, { files: files.size, bytes });
      bytes += content.length;
      files.set(path, content);
      // Git records a file as executable by its owner's bit.
      const executable = (stats.mode & 0o100) !== 0;
      if (executable) executables.add(path);
      leaves.set(path, { mode: executable ? '100755' : '100644', sha: gitBlobSha(content) });
    }
    // Gone from the disk (a deletion not yet committed), or a directory: a submodule or a nested repository, whose
    // files are not this tree's (git archive and GitHub's tarball leave them out too).
  }
  const head = await headTree(root);
  if (head && (await isHead(root, leaves, head.leaves)))
    return { baseCommit: head.commit, files, symlinks, executables };
  return { baseCommit: contentName(files, symlinks), files, symlinks, executables, localChanges: true };
}

/**
 * A path git lists that stays inside the tree: not absolute, no empty, "." or ".." segment, nothing in .git. Names a
 * change could not carry (not NFC, a backslash) are the checkout's files all the same, and go with it.
 */
function cleanPath(path: string): boolean {
  if (path.startsWith('/') || path.includes('\0')) return false;
  return !path
    .split('/')
    .some(part => part === '' || part === '.' || part === '..' || part.toLowerCase() === '.git');
}

/** Whether every directory on the way to `path` is one on disk, not a link that would lead out of the work tree. */
async function realDirectories(root: string, path: string, known: Map<string, boolean>): Promise<boolean> {
  for (const dir of directoriesOf(path)) {
    let real = known.get(dir);
    if (real === undefined) {
      real = await lstat(join(root, dir)).then(
        stats => stats.isDirectory(),
        () => false,
      );
      known.set(dir, real);
    }
    if (!real) return false;
  }
  return true;
}

/**
 * HEAD and its files, links and modes below `root` (submodules aside); undefined before the first commit, or when
 * git cannot list it (the work tree is then taken for one with local changes).
 */
async function headTree(root: string): Promise<{ commit: string; leaves: Map<string, Leaf> } | undefined> {
  let commit: string;
  try {
    commit = (await git(root, ['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'])).trim();
  } catch {
    return undefined;
  }
  let listing: string;
  try {
    // Run in `root`, ls-tree lists what lies below it, with paths relative to it.
    listing = await git(root, ['ls-tree', '-r', '-z', commit]);
  } catch {
    return undefined;
  }
  const leaves = new Map<string, Leaf>();
  for (const entry of listing.split('\0')) {
    const tab = entry.indexOf('\t');
    const [mode = '', , sha = ''] = entry.slice(0, tab).split(' ');
    if (tab > 0 && mode !== '160000') leaves.set(entry.slice(tab + 1), { mode, sha });
  }
  return { commit, leaves };
}

/**
 * Whether the files read are HEAD's as git sees them. Bytes and modes equal to HEAD's settle most; the others are
 * asked of git, which hashes a file as it would commit it — line endings converted (`eol=crlf`, which Gradle's
 * generated attributes set), `ident` collapsed, clean filters run (LFS) — and the executable bit does not count
 * where core.fileMode is false. Never `git status`: it trusts files marked assume-unchanged or skip-worktree.
 */
async function isHead(
  root: string,
  read: ReadonlyMap<string, Leaf>,
  head: ReadonlyMap<string, Leaf>,
): Promise<boolean> {
  if (read.size !== head.size) return false;
  let fileMode: boolean | undefined;
  const ask: string[] = [];
  for (const [path, leaf] of read) {
    const other = head.get(path);
    if (other === undefined) return false;
    if (other.mode !== leaf.mode) {
      const link = other.mode === '120000' || leaf.mode === '120000';
      fileMode ??=
        (await git(root, ['config', '--bool', 'core.fileMode']).catch(() => 'true')).trim() !== 'false';
      if (link || fileMode) return false;
    }
    if (other.sha === leaf.sha) continue;
    if (leaf.mode === '120000' || path.includes('\n')) return false;
    ask.push(path);
  }
  if (ask.length === 0) return true;
  const hashed = await gitWithInput(root, ['hash-object', '--stdin-paths'], `${ask.join('\n')}\n`).catch(
    () => undefined,
  );
  const shas = hashed?.toString('utf8').trim().split('\n') ?? [];
  return shas.length === ask.length && ask.every((path, i) => shas[i] === head.get(path)?.sha);
}

/** git with `input` on its standard input; what it wrote, as bytes (cat-file's are a file's). */
function gitWithInput(root: string, args: readonly string[], input: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', ['-C', root, ...GIT_FIXED, ...args], {
      stdio: ['pipe', 'pipe', 'ignore'],
      timeout: 60_000,
    });
    const out: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.once('error', reject);
    child.once('close', code => {
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new Error(`git ${args.join(' ')} exited with ${String(code)}`));
    });
    child.stdin.end(input);
  });
}

/** A commit of a local checkout, read from its objects (the work tree is never touched). */
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
  return { baseCommit: sha, ...(await readCommitTree(root, sha, limits)) };
}

/**
 * A commit's files read object by object (ls-tree, then cat-file), not through `git archive`: an archive leaves out
 * what the commit's .gitattributes marks export-ignore (a PHP package's tests, often) and rewrites export-subst
 * files, and a receipt must name the tree that was tested. Sizes are checked from the listing before any is read.
 * When `root` is a directory inside the checkout (one service of a monorepo), the tree is that directory's in the
 * commit, laid out from it as its work tree is.
 */
async function readCommitTree(
  root: string,
  sha: string,
  limits: SourceLimits,
): Promise<Omit<SourceTree, 'baseCommit'>> {
  const files = new Map<string, Buffer>();
  const symlinks = new Map<string, string>();
  const executables = new Set<string>();
  const blobs: Array<{ path: string; sha: string }> = [];
  const links: Array<{ path: string; sha: string }> = [];
  let bytes = 0;
  // Only the newline goes: a directory's name may begin or end with a space.
  const prefix = (await git(root, ['rev-parse', '--show-prefix'])).replace(/\n$/, '');
  let listing: string;
  try {
    listing = await git(root, ['ls-tree', '-r', '-z', '-l', '--full-tree', `${sha}:${prefix}`]);
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') throw tooLarge(root);
    if (prefix === '') throw new ToolError('BACKEND_ERROR', `git could not list commit ${sha} at ${root}.`);
    throw new ToolError(
      'INVALID_ARGUMENT',
      `Commit ${sha} has no directory ${prefix.replace(/\/$/, '')}, where the repository's source is.`,
      'Give a ref of a commit that holds it, or leave ref out to test the work tree.',
    );
  }
  for (const entry of listing.split('\0')) {
    const tab = entry.indexOf('\t');
    if (tab < 0) continue;
    const [mode = '', type = '', object = '', size = ''] = entry.slice(0, tab).split(/\s+/);
    const path = entry.slice(tab + 1);
    if (type !== 'blob' || !cleanPath(path)) continue;
    if (mode === '120000') {
      links.push({ path, sha: object });
      continue;
    }
    bytes += Number(size);
    if (blobs.length >= limits.maxFiles || bytes > limits.maxBytes) throw tooLarge(root);
    blobs.push({ path, sha: object });
    if (mode === '100755') executables.add(path);
  }
  const contents = await catBlobs(
    root,
    [...blobs, ...links].map(blob => blob.sha),
  );
  blobs.forEach((blob, i) => files.set(blob.path, contents[i] ?? Buffer.alloc(0)));
  links.forEach((link, i) =>
    symlinks.set(link.path, (contents[blobs.length + i] ?? Buffer.alloc(0)).toString('utf8')),
  );
  return { files, symlinks, executables };
}

/** The blobs' contents, in order, from one `git cat-file --batch`. */
async function catBlobs(root: string, shas: readonly string[]): Promise<Buffer[]> {
  const all = await gitWithInput(root, ['cat-file', '--batch'], shas.map(sha => `${sha}\n`).join('')).catch(
    () => {
      throw new ToolError('BACKEND_ERROR', `git could not read the commit's files at ${root}.`);
    },
  );
  // Each object: "<sha> blob <size>\n", its bytes, "\n".
  const contents: Buffer[] = [];
  let at = 0;
  for (let i = 0; i < shas.length; i++) {
    const end = all.indexOf(0x0a, at);
    const size = Number(all.subarray(at, end).toString('latin1').split(' ')[2]);
    contents.push(all.subarray(end + 1, end + 1 + size));
    at = end + 1 + size + 1;
  }
  return contents;
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
 * links are recorded with their targets, never followed or written. Past the limits the read stops with TOO_LARGE.
 */
export async function extractTar(
  stream: Readable,
  limits: SourceLimits,
  stripTop: boolean,
): Promise<Omit<SourceTree, 'baseCommit'>> {
  const { extract } = (await import('tar-stream')).default;
  const files = new Map<string, Buffer>();
  const symlinks = new Map<string, string>();
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
    if (clean && header.type === 'symlink') symlinks.set(name, header.linkname);
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
