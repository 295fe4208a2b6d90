// Builds a new tree from a base tree and a list of path changes, the way POST /git/trees does: nested
// paths create or descend into directories, a null sha deletes, emptied directories disappear.

import { unprocessable } from './errors.ts';
import type { Git, TreeEntry } from './git.ts';

export type Change =
  { path: string; delete: true } | { path: string; mode: string; type: TreeEntry['type']; sha: string };

interface Leaf {
  mode: string;
  type: TreeEntry['type'];
  sha: string;
}

interface Dir {
  /** The tree this directory starts from, or null when new. */
  base: string | null;
  /** Loaded on first descent; null until then. */
  entries: Map<string, Leaf | Dir> | null;
  dirty: boolean;
}

const DOCS = 'https://docs.github.com/rest/git/trees#create-a-tree';
const isDir = (e: Leaf | Dir): e is Dir => 'entries' in e;

async function load(git: Git, dir: Dir): Promise<Map<string, Leaf | Dir>> {
  if (dir.entries) return dir.entries;
  const entries = new Map<string, Leaf | Dir>();
  if (dir.base) {
    for (const e of await git.readTree(dir.base)) {
      entries.set(
        e.path,
        e.type === 'tree'
          ? { base: e.sha, entries: null, dirty: false }
          : { mode: e.mode, type: e.type, sha: e.sha },
      );
    }
  }
  dir.entries = entries;
  return entries;
}

async function write(git: Git, dir: Dir): Promise<string | null> {
  if (!dir.dirty && dir.base) return dir.base;
  const out: TreeEntry[] = [];
  for (const [name, entry] of await load(git, dir)) {
    if (isDir(entry)) {
      const sha = await write(git, entry);
      if (sha) out.push({ mode: '040000', type: 'tree', sha, path: name });
    } else {
      out.push({ ...entry, path: name });
    }
  }
  // Git has no empty directories: one emptied by deletions leaves its parent (the root excepted).
  if (out.length === 0) return null;
  return git.writeTree(out);
}

export const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';

/** Applies changes in order to baseTree (null: start empty) and writes the result; returns its sha. */
export async function buildTree(git: Git, baseTree: string | null, changes: Change[]): Promise<string> {
  const root: Dir = { base: baseTree, entries: null, dirty: true };
  for (const change of changes) {
    const parts = change.path.split('/');
    if (parts.some(p => p === '' || p === '.' || p === '..' || p === '.git')) {
      throw unprocessable(`tree.path contains a malformed path component`, DOCS);
    }
    const name = parts.pop() ?? '';
    let dir = root;
    for (const part of parts) {
      const entries = await load(git, dir);
      dir.dirty = true;
      const next = entries.get(part);
      if (next && isDir(next)) {
        dir = next;
      } else if ('delete' in change) {
        // GitHub answers a deletion of a path absent from base_tree with this 422
        // (mckaywrigley/buildware-ai#29; docs: "Returns an error if you try to delete a file that does not exist").
        throw unprocessable('GitRPC::BadObjectState', DOCS);
      } else {
        const created: Dir = { base: null, entries: new Map(), dirty: true };
        entries.set(part, created);
        dir = created;
      }
    }
    const entries = await load(git, dir);
    dir.dirty = true;
    if ('delete' in change) {
      if (!entries.delete(name)) throw unprocessable('GitRPC::BadObjectState', DOCS);
    } else if (change.type === 'tree') {
      entries.set(name, { base: change.sha, entries: null, dirty: false });
    } else {
      entries.set(name, { mode: change.mode, type: change.type, sha: change.sha });
    }
  }
  return (await write(git, root)) ?? (await git.writeTree([]));
}

/** The sha of the tree or blob at path inside tree, or null. */
export async function pathSha(git: Git, tree: string, path: string): Promise<string | null> {
  return git.revParse(`${tree}:${path}`);
}
