// Git object ids computed locally: the tree a set of files makes, so that a branch can be compared with the exact
// content it should hold without writing anything.

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
