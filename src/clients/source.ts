// Reads a repository's source from a local checkout: its files (without .git) and its base commit.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ToolError } from '../lib/errors.ts';

const run = promisify(execFile);
const SKIP = new Set(['.git', 'node_modules']);

export interface SourceTree {
  baseCommit: string;
  /** Relative POSIX path → content; symbolic links are kept as links, never followed. */
  files: Map<string, Buffer>;
  symlinks: Set<string>;
}

export async function readLocalSource(
  root: string,
  limits: { maxFiles: number; maxBytes: number },
): Promise<SourceTree> {
  const files = new Map<string, Buffer>();
  const symlinks = new Set<string>();
  let bytes = 0;
  async function walk(dir: string, prefix: string): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (SKIP.has(entry.name)) continue;
      const path = prefix ? `${prefix}/${entry.name}` : entry.name;
      const full = join(dir, entry.name);
      if (entry.isSymbolicLink()) symlinks.add(path);
      else if (entry.isDirectory()) await walk(full, path);
      else if (entry.isFile()) {
        const content = await readFile(full);
        bytes += content.length;
        if (files.size >= limits.maxFiles || bytes > limits.maxBytes) {
          throw new ToolError(
            'TOO_LARGE',
            `The repository source at ${root} is larger than the sandbox takes.`,
          );
        }
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
