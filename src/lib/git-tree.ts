// Git trees worked out locally: the id of the tree a set of files makes, so that a branch can be compared with the
// exact content it should hold without writing anything; and where a symbolic link in a tree leads.

import { createHash } from 'node:crypto';

export interface Leaf {
  /** 100644, 100755, 120000 (symlink) or 160000 (submodule). */
  mode: string;
  sha: string;
}

interface Dir {
  files: Map<string, Leaf>;
  dirs: Map<string, Dir>;
}

/** The id of the root tree holding exactly `leaves` (path → mode and blob id), as `git write-tree` computes it. */
export function treeSha(leaves: ReadonlyMap<string, Leaf>): string {
  const root: Dir = { files: new Map(), dirs: new Map() };
  for (const [path, leaf] of leaves) {
    const parts = path.split('/');
    const name = parts.pop() ?? path;
    let dir = root;
    for (const part of parts) {
      let next = dir.dirs.get(part);
      if (!next) dir.dirs.set(part, (next = { files: new Map(), dirs: new Map() }));
      dir = next;
    }
    dir.files.set(name, leaf);
  }
  return write(root);
}

function write(dir: Dir): string {
  const entries: Array<{ key: string; mode: string; name: string; sha: string }> = [];
  for (const [name, leaf] of dir.files) entries.push({ key: name, mode: leaf.mode, name, sha: leaf.sha });
  for (const [name, sub] of dir.dirs) entries.push({ key: `${name}/`, mode: '40000', name, sha: write(sub) });
  // Git orders entries by name bytes, a directory's name taken as if it ended in "/".
  entries.sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
  const body = Buffer.concat(
    entries.map(e => Buffer.concat([Buffer.from(`${e.mode} ${e.name}\0`), Buffer.from(e.sha, 'hex')])),
  );
  return createHash('sha1').update(`tree ${body.length}\0`).update(body).digest('hex');
}

/**
 * Where the symbolic link at `path` leads in the tree `leaves`, as a checkout resolves it: its target read relative
 * to the link's directory, "." and ".." applied, and every link met on the way (the target, or a directory of it)
 * followed in turn. The result is a path from the tree's root ("" for the root itself) that need not exist. undefined
 * when the link leads out of the tree (an absolute target, ".." past the root, through a file or a submodule) or
 * past `maxLinks` links (a loop).
 */
export async function resolveLink(
  path: string,
  leaves: ReadonlyMap<string, Leaf>,
  readLink: (sha: string) => Promise<string>,
  // Linux follows up to 40 (MAXSYMLINKS): a chain a checkout resolves is resolved here too.
  maxLinks = 40,
): Promise<string | undefined> {
  const done: string[] = [];
  let todo = path.split('/');
  let links = 0;
  for (let part = todo.shift(); part !== undefined; part = todo.shift()) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (done.pop() === undefined) return undefined;
      continue;
    }
    done.push(part);
    const leaf = leaves.get(done.join('/'));
    if (leaf?.mode === '120000') {
      if (++links > maxLinks) return undefined;
      const target = await readLink(leaf.sha);
      if (target.startsWith('/')) return undefined;
      done.pop();
      todo = [...target.split('/'), ...todo];
    } else if (leaf && todo.length > 0) return undefined;
  }
  return done.join('/');
}
