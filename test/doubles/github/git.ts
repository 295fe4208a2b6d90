// The git plumbing behind the double: every repository is a real bare repository, written and read with
// the git CLI, so SHAs, trees and archives are exactly what git (and so GitHub) would produce.

import { spawn } from 'node:child_process';

export interface TreeEntry {
  mode: string;
  type: 'blob' | 'tree' | 'commit';
  sha: string;
  /** Blobs only. */
  size?: number;
  /** Name within its tree, or full path when listed recursively. */
  path: string;
}

export interface Person {
  name: string;
  email: string;
  /** ISO 8601. */
  date: string;
}

export interface CommitObject {
  sha: string;
  tree: string;
  parents: string[];
  author: Person;
  committer: Person;
  message: string;
  /** The raw gpgsig header when the commit is signed. */
  signature: string | null;
}

export class GitFailure extends Error {
  readonly code: number | null;
  readonly stderr: string;

  constructor(args: string[], code: number | null, stderr: string) {
    super(`git ${args.join(' ')} exited with ${code}: ${stderr.trim()}`);
    this.code = code;
    this.stderr = stderr;
  }
}

export interface Git {
  readonly dir: string;
  /** Runs git in the bare repository; rejects with GitFailure on a non-zero exit. */
  run(args: string[], opts?: { input?: Buffer | string; env?: Record<string, string> }): Promise<Buffer>;
  /** Like run, but answers the exit code instead of rejecting (for yes/no commands). */
  test(args: string[]): Promise<boolean>;
  writeBlob(content: Buffer): Promise<string>;
  writeTree(entries: TreeEntry[]): Promise<string>;
  writeCommit(c: {
    tree: string;
    parents: string[];
    message: string;
    author: Person;
    committer: Person;
  }): Promise<string>;
  /** The object's type, or null when it does not exist. */
  typeOf(sha: string): Promise<'blob' | 'tree' | 'commit' | 'tag' | null>;
  readBlob(sha: string): Promise<Buffer>;
  readTree(sha: string, recursive?: boolean): Promise<TreeEntry[]>;
  readCommit(sha: string): Promise<CommitObject>;
  /** Resolves a ref, branch, tag or (abbreviated) sha to a commit sha, or null. */
  resolveCommit(rev: string): Promise<string | null>;
  /** The object id a revision names (a ref, sha, or tree:path), or null. */
  revParse(rev: string): Promise<string | null>;
  /** Sets ref to sha if it still points at `expected` (null: must not exist); false when it moved. */
  compareAndSwap(ref: string, sha: string, expected: string | null): Promise<boolean>;
  deleteRef(ref: string): Promise<void>;
  listRefs(prefix: string): Promise<Array<{ ref: string; sha: string; type: string }>>;
  isAncestor(ancestor: string, descendant: string): Promise<boolean>;
  validRefName(ref: string): Promise<boolean>;
}

const HEX40 = /^[0-9a-f]{40}$/;

/** A deterministic environment, so nothing from the user's git config leaks into the double. */
function baseEnv(home: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    LC_ALL: 'C',
    TZ: 'UTC',
  };
}

function exec(
  dir: string,
  env: NodeJS.ProcessEnv,
  args: string[],
  input?: Buffer | string,
): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd: dir, env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', code => {
      resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.on('error', () => undefined); // git may exit before reading all input
    child.stdin.end(input ?? '');
  });
}

/** Git's "name <email> <epoch> <tz>" ident line as a Person. */
function parseIdent(line: string): Person {
  const match = /^(.*) <(.*)> (\d+) ([+-]\d{4})$/.exec(line);
  if (!match) return { name: line, email: '', date: new Date(0).toISOString() };
  const [, name = '', email = '', epoch = '0'] = match;
  return { name, email, date: isoSeconds(new Date(Number(epoch) * 1000)) };
}

/** GitHub writes timestamps without milliseconds: 2011-04-14T16:00:49Z. */
export function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function identEnv(prefix: 'AUTHOR' | 'COMMITTER', p: Person): Record<string, string> {
  return {
    [`GIT_${prefix}_NAME`]: p.name,
    [`GIT_${prefix}_EMAIL`]: p.email,
    [`GIT_${prefix}_DATE`]: p.date,
  };
}

export async function initBareRepo(dir: string, home: string, defaultBranch: string): Promise<Git> {
  const env = baseEnv(home);
  const init = await exec('/', env, ['init', '--bare', '--quiet', `--initial-branch=${defaultBranch}`, dir]);
  if (init.code !== 0) throw new GitFailure(['init', dir], init.code, init.stderr);

  async function run(
    args: string[],
    opts: { input?: Buffer | string; env?: Record<string, string> } = {},
  ): Promise<Buffer> {
    const result = await exec(dir, { ...env, ...opts.env }, args, opts.input);
    if (result.code !== 0) throw new GitFailure(args, result.code, result.stderr);
    return result.stdout;
  }
  const text = async (args: string[]): Promise<string> => (await run(args)).toString('utf8');

  const git: Git = {
    dir,
    run,
    async test(args) {
      return (await exec(dir, env, args)).code === 0;
    },
    async writeBlob(content) {
      return (await run(['hash-object', '-w', '-t', 'blob', '--stdin'], { input: content }))
        .toString('utf8')
        .trim();
    },
    async writeTree(entries) {
      // -z: names may hold any byte but NUL; mktree sorts the entries the way git requires.
      const input = entries.map(e => `${e.mode} ${e.type} ${e.sha}\t${e.path}\0`).join('');
      return (await run(['mktree', '-z'], { input })).toString('utf8').trim();
    },
    async writeCommit(c) {
      const args = ['commit-tree', c.tree, ...c.parents.flatMap(p => ['-p', p])];
      const out = await run(args, {
        input: c.message,
        env: { ...identEnv('AUTHOR', c.author), ...identEnv('COMMITTER', c.committer) },
      });
      return out.toString('utf8').trim();
    },
    async typeOf(sha) {
      if (!/^[0-9a-f]{4,40}$/.test(sha)) return null;
      const result = await exec(dir, env, ['cat-file', '-t', sha]);
      if (result.code !== 0) return null;
      return result.stdout.toString('utf8').trim() as 'blob' | 'tree' | 'commit' | 'tag';
    },
    readBlob: sha => run(['cat-file', 'blob', sha]),
    async readTree(sha, recursive = false) {
      const args = ['ls-tree', '-z', '-l', ...(recursive ? ['-r', '-t'] : []), sha];
      const out = await text(args);
      return out
        .split('\0')
        .filter(Boolean)
        .map(line => {
          const tab = line.indexOf('\t');
          const [mode = '', type = '', object = '', size = '-'] = line.slice(0, tab).split(/ +/);
          const entry: TreeEntry = {
            mode,
            type: type as TreeEntry['type'],
            sha: object,
            path: line.slice(tab + 1),
          };
          if (type === 'blob') entry.size = Number(size);
          return entry;
        });
    },
    async readCommit(sha) {
      const raw = await text(['cat-file', 'commit', sha]);
      const split = raw.indexOf('\n\n');
      const headers = (split < 0 ? raw : raw.slice(0, split)).split('\n');
      const message = split < 0 ? '' : raw.slice(split + 2);
      const commit: CommitObject = {
        sha,
        tree: '',
        parents: [],
        author: parseIdent(''),
        committer: parseIdent(''),
        message,
        signature: null,
      };
      for (let i = 0; i < headers.length; i++) {
        const line = headers[i] ?? '';
        const space = line.indexOf(' ');
        const key = line.slice(0, space);
        const value = line.slice(space + 1);
        if (key === 'tree') commit.tree = value;
        else if (key === 'parent') commit.parents.push(value);
        else if (key === 'author') commit.author = parseIdent(value);
        else if (key === 'committer') commit.committer = parseIdent(value);
        else if (key === 'gpgsig') {
          const lines = [value];
          while (headers[i + 1]?.startsWith(' ')) lines.push((headers[++i] ?? '').slice(1));
          commit.signature = lines.join('\n');
        }
      }
      return commit;
    },
    async resolveCommit(rev) {
      if (rev.startsWith('-') || rev.includes('..')) return null;
      const result = await exec(dir, env, ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`]);
      if (result.code !== 0) return null;
      return result.stdout.toString('utf8').trim();
    },
    async revParse(rev) {
      if (rev.startsWith('-')) return null;
      const result = await exec(dir, env, ['rev-parse', '--verify', '--quiet', rev]);
      if (result.code !== 0) return null;
      const sha = result.stdout.toString('utf8').trim();
      return HEX40.test(sha) ? sha : null;
    },
    async compareAndSwap(ref, sha, expected) {
      // update-ref's <oldvalue> makes the check and the write one atomic step, as a ref transaction.
      const result = await exec(dir, env, ['update-ref', ref, sha, expected ?? '0'.repeat(40)]);
      return result.code === 0;
    },
    async deleteRef(ref) {
      await run(['update-ref', '-d', ref]);
    },
    async listRefs(prefix) {
      const out = await text(['for-each-ref', '--format=%(refname) %(objectname) %(objecttype)', prefix]);
      return out
        .split('\n')
        .filter(Boolean)
        .map(line => {
          const [ref = '', sha = '', type = ''] = line.split(' ');
          return { ref, sha, type };
        });
    },
    async isAncestor(ancestor, descendant) {
      return (await exec(dir, env, ['merge-base', '--is-ancestor', ancestor, descendant])).code === 0;
    },
    async validRefName(ref) {
      return (await exec(dir, env, ['check-ref-format', ref])).code === 0;
    },
  };
  return git;
}
