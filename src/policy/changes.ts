// A change set (files to create, update or delete) and the checks every change passes before anything runs.

import { createHash } from 'node:crypto';
import { z } from 'zod';
import { invalidArgument, ToolError } from '../lib/errors.ts';

export const changeSchema = z.strictObject({
  // Relative POSIX paths (checkPath says so when one is not); no description: the schema is sent every turn.
  path: z.string().min(1).max(1024),
  action: z.enum(['create', 'update', 'delete']),
  content: z
    .string()
    .max(2 * 1024 * 1024)
    .optional(),
  /** utf8 when absent. */
  encoding: z.enum(['utf8', 'base64']).optional(),
  // Checked by a refinement, not a pattern: the published schema stays short (it is sent on every turn).
  sha: z
    .string()
    .refine(value => /^[0-9a-f]{40}$/i.test(value), 'must be a 40-hex blob sha')
    .optional(),
});
export type Change = z.output<typeof changeSchema>;

export interface ChangeLimits {
  maxFiles: number;
  maxFileBytes: number;
  maxTotalBytes: number;
}

/** The change's path if it stays inside the work tree; throws PATH_INVALID otherwise. */
export function checkPath(path: string): string {
  const bad = (why: string) =>
    new ToolError(
      'PATH_INVALID',
      `Path "${path}" ${why}.`,
      'Use a relative POSIX path inside the repository, like src/config.mjs.',
    );
  if (path !== path.normalize('NFC')) throw bad('is not NFC-normalised');
  if (
    Array.from({ length: path.length }, (_, i) => path.charCodeAt(i)).some(
      code => code < 0x20 || code === 0x7f,
    )
  ) {
    throw bad('contains control characters');
  }
  if (path.includes('\\')) throw bad('uses backslashes');
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path)) throw bad('is absolute');
  const parts = path.split('/');
  if (parts.some(part => part === '' || part === '.' || part === '..'))
    throw bad('has an empty, "." or ".." segment');
  if (parts.some(isDotGit)) throw bad('is inside .git');
  return path;
}

// What HFS+ ignores in a name (git's next_hfs_char): `.g\u200cit` is `.git` on a Mac.
const HFS_IGNORED = /[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]/gu;

/**
 * Whether a path segment names the .git directory on some checkout, by git's own verify_path rules, which refuse
 * such a path on checkout (core.protectNTFS, on by default everywhere; core.protectHFS, on by default on macOS):
 * on NTFS trailing dots and spaces are dropped, `:` starts a stream name and `git~1` is the 8.3 short name
 * (is_ntfs_dotgit); HFS+ ignores some invisible code points and folds case (is_hfs_dotgit). A merged PR with such
 * a path would break every checkout of the branch.
 */
function isDotGit(segment: string): boolean {
  if (/^(?:\.git|git~1)[. ]*(?::|$)/i.test(segment)) return true;
  return segment.replace(HFS_IGNORED, '').toLowerCase() === '.git';
}

/** Standard base64 (RFC 4648 §4), padded or not, as GitHub's API and `base64 -w0` write it. */
function isBase64(text: string): boolean {
  return (
    text.length % 4 !== 1 &&
    /^[A-Za-z0-9+/]*={0,2}$/.test(text) &&
    (!text.includes('=') || text.length % 4 === 0)
  );
}

export function contentOf(change: Change): Buffer {
  if (change.content === undefined) return Buffer.alloc(0);
  return change.encoding === 'base64'
    ? Buffer.from(change.content, 'base64')
    : Buffer.from(change.content, 'utf8');
}

/**
 * Checks the set as a whole: paths, duplicates, a path that is another's directory, case collisions (of whole paths
 * and of every directory on the way), content presence, and size caps.
 */
export function checkChanges(changes: readonly Change[], limits: ChangeLimits): void {
  if (changes.length === 0)
    throw invalidArgument('changes is empty.', 'Give at least one file to create, update or delete.');
  if (changes.length > limits.maxFiles) {
    throw new ToolError(
      'TOO_LARGE',
      `${changes.length} changed files; at most ${limits.maxFiles} are allowed.`,
      'Split the change.',
    );
  }
  // Folded (lower-cased) on both sides: on a case-insensitive checkout `lib/a` and `LIB/b` land in one directory,
  // and `new` beside `NEW/x` is a file and a directory of the same name.
  const seen = new Map<string, string>();
  const dirs = new Map<string, { dir: string; path: string }>();
  let total = 0;
  for (const change of changes) {
    checkPath(change.path);
    const folded = change.path.toLowerCase();
    const other = seen.get(folded);
    if (other !== undefined) {
      throw new ToolError(
        'PATH_INVALID',
        `"${change.path}" and "${other}" name the same file (case-insensitively).`,
        'List each file once.',
      );
    }
    const under = dirs.get(folded);
    if (under !== undefined) throw fileAndDirectory(change.path, under.path);
    seen.set(folded, change.path);
    for (const dir of directoriesOf(change.path)) {
      const file = seen.get(dir.toLowerCase());
      if (file !== undefined) throw fileAndDirectory(file, change.path);
      const spelled = dirs.get(dir.toLowerCase());
      if (spelled !== undefined && spelled.dir !== dir) {
        throw new ToolError(
          'PATH_INVALID',
          `The directories of "${change.path}" and "${spelled.path}" differ only by case ("${dir}", "${spelled.dir}").`,
          'Spell the directory the same way in every change.',
        );
      }
      dirs.set(dir.toLowerCase(), { dir, path: change.path });
    }
    if (change.action !== 'delete' && change.content === undefined) {
      throw invalidArgument(`${change.action} of "${change.path}" has no content.`);
    }
    // Node decodes base64 leniently (it skips what is not base64): plain text sent as base64 would become garbage
    // bytes in the sandbox and in the commit.
    if (change.encoding === 'base64' && change.content !== undefined && !isBase64(change.content)) {
      throw invalidArgument(
        `The content of "${change.path}" is not base64.`,
        'Send text as it is (encoding utf8, the default), or base64 of the bytes without line breaks.',
      );
    }
    const size = contentOf(change).length;
    if (size > limits.maxFileBytes) {
      throw new ToolError(
        'TOO_LARGE',
        `"${change.path}" is ${size} bytes; at most ${limits.maxFileBytes} per file.`,
      );
    }
    total += size;
  }
  if (total > limits.maxTotalBytes) {
    throw new ToolError(
      'TOO_LARGE',
      `The changes hold ${total} bytes; at most ${limits.maxTotalBytes} in all.`,
    );
  }
}

/** The directories a path goes through, outermost first: `a/b/c` → `a`, `a/b`. */
export function directoriesOf(path: string): string[] {
  const parts = path.split('/');
  return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join('/'));
}

function fileAndDirectory(file: string, inside: string): ToolError {
  return invalidArgument(
    `"${file}" is both a file and, for "${inside}", a directory in this change set.`,
    'Give each path as one or the other; replacing a file with a directory takes two PRs.',
  );
}

/** Whether `ref` can only be read as a ref name (no option-like "-", no whitespace or control characters). */
export function plainRef(ref: string): boolean {
  return (
    ref.length > 0 &&
    ref.length <= 255 &&
    !ref.startsWith('-') &&
    !Array.from(ref).some(char => {
      const code = char.codePointAt(0) ?? 0;
      return code <= 0x20 || code === 0x7f || /\s/u.test(char);
    })
  );
}

/** Git's id of a blob with this content (`git hash-object`), as GitHub reports it for files. */
export function gitBlobSha(content: Buffer): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}

/**
 * A digest of the exact change set, independent of the order the files were listed in.
 *
 * `sha` (the expected blob at base) is left out on purpose: a receipt also binds the base commit, which fixes every
 * blob at base, so the sha adds nothing to what was tested; and leaving it out lets run_sandbox_test be called
 * without it and open_pr with it for the same change. open_pr checks the sha against the base commit instead.
 */
export function hashChanges(changes: readonly Change[]): string {
  const hash = createHash('sha256');
  for (const change of changes.toSorted((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    hash.update(`${change.action}\0${change.path}\0`);
    hash.update(createHash('sha256').update(contentOf(change)).digest('hex'));
    hash.update('\0');
  }
  return `sha256:${hash.digest('hex')}`;
}
