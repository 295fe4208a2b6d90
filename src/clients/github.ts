// Typed client for the GitHub REST API (api.github.com or GitHub Enterprise's /api/v3) over Octokit with the retry
// and throttling plugins. It knows nothing of MCP, tools or policy. Octokit is imported on first use.
//
// Writes are never retried blindly: plugin-retry retries 5xx and network failures, and a POST that timed out may
// have succeeded, so every request that is not a GET or HEAD goes out once; the caller probes state instead.
// Rate limits are not slept through: a wait of more than a few seconds becomes RATE_LIMITED with the wait.

import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Octokit } from '@octokit/rest';
import { ToolError } from '../lib/errors.ts';

/** The longest rate-limit wait slept through (once) inside a call; anything longer is reported. */
const MAX_WAIT_SECONDS = 5;

export interface GithubClientOptions {
  token: string;
  /** https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server. */
  apiUrl: string;
  timeoutMs: number;
  /** Spacing between writes (GitHub asks for ≥ 1 s); requests that notify people get three times it. */
  writeSpacingMs?: number;
  /** Base of plugin-retry's backoff for reads, (n+1)² × this; tests shorten it. */
  retryBaseMs?: number;
  now?: () => number;
  log?: { debug: (msg: string) => void; warn: (msg: string) => void; error: (msg: string) => void };
  userAgent?: string;
}

export type RepoRef = {
  owner: string;
  repo: string;
};

export interface RepoInfo {
  fullName: string;
  defaultBranch: string;
  private: boolean;
  archived: boolean;
  canPush: boolean | undefined;
}

export interface BranchInfo {
  name: string;
  commitSha: string;
  protected: boolean;
}

export interface CommitInfo {
  sha: string;
  treeSha: string;
  parents: string[];
  message: string;
}

export interface TreeEntry {
  path: string;
  mode: string;
  type: 'blob' | 'tree' | 'commit';
  sha: string;
  size?: number;
}

export type NewTreeEntry =
  | { path: string; mode: string; type: 'blob'; content: string }
  | { path: string; mode: string; type: 'blob'; sha: string | null };

export interface PullInfo {
  number: number;
  url: string;
  state: 'open' | 'closed';
  merged: boolean;
  draft: boolean;
  headRef: string;
  headSha: string;
  baseRef: string;
  labels: string[];
}

export type ContentInfo =
  | { type: 'file'; path: string; sha: string; size: number; content: Buffer | undefined }
  | { type: 'dir'; path: string; entries: DirEntry[] }
  | { type: 'symlink'; path: string; sha: string; size: number; target: string }
  | { type: 'submodule'; path: string; sha: string; size: number };

export interface DirEntry {
  name: string;
  type: 'file' | 'dir' | 'symlink' | 'submodule';
  size: number;
  sha: string;
}

export interface GithubClient {
  readonly apiUrl: string;
  getRepo(repo: RepoRef): Promise<RepoInfo | undefined>;
  getBranch(repo: RepoRef, branch: string): Promise<BranchInfo | undefined>;
  getCommit(repo: RepoRef, sha: string): Promise<CommitInfo | undefined>;
  /** The commit a branch, tag or commit sha names, or undefined. */
  resolveRef(repo: RepoRef, ref: string): Promise<string | undefined>;
  getTree(repo: RepoRef, treeSha: string): Promise<{ entries: TreeEntry[]; truncated: boolean }>;
  getContent(repo: RepoRef, path: string, ref: string): Promise<ContentInfo | undefined>;
  /** The tree entry at `path` in the commit `ref` names (read tree by tree), or undefined. */
  treeEntry(repo: RepoRef, path: string, ref: string): Promise<TreeEntry | undefined>;
  getBlob(repo: RepoRef, sha: string): Promise<Buffer>;
  /** The gzip'd tarball of a commit, as a stream; it fails with TOO_LARGE past `maxBytes`. */
  tarball(repo: RepoRef, sha: string, maxBytes: number): Promise<Readable>;
  createBlob(repo: RepoRef, content: Buffer): Promise<string>;
  createTree(repo: RepoRef, baseTree: string, entries: readonly NewTreeEntry[]): Promise<string>;
  createCommit(repo: RepoRef, message: string, tree: string, parents: readonly string[]): Promise<string>;
  /** The commit sha a branch points at, or undefined (the ref API, not the branches API). */
  getRef(repo: RepoRef, branch: string): Promise<string | undefined>;
  createRef(repo: RepoRef, branch: string, sha: string): Promise<'created' | 'exists'>;
  /** A fast-forward only update; never forced. */
  updateRef(repo: RepoRef, branch: string, sha: string): Promise<'updated' | 'not-fast-forward'>;
  listPulls(repo: RepoRef, head: string, state: 'open' | 'all'): Promise<PullInfo[]>;
  createPull(
    repo: RepoRef,
    pull: { title: string; body: string; head: string; base: string; draft: boolean },
  ): Promise<PullInfo | 'exists'>;
  updatePull(repo: RepoRef, number: number, pull: { title: string; body: string }): Promise<void>;
  addLabels(repo: RepoRef, number: number, labels: readonly string[]): Promise<void>;
  /** The classic token's OAuth scopes (`x-oauth-scopes`), or undefined for fine-grained and App tokens. */
  tokenScopes(): Promise<{ login: string; scopes: string[] | undefined }>;
}

/** GitHub answered with an HTTP error; `status` and GitHub's own message are kept for the caller's decisions. */
export class GithubHttpError extends ToolError {
  readonly status: number;
  readonly githubMessage: string;
  constructor(code: string, message: string, status: number, githubMessage: string, hint?: string) {
    super(code, message, hint);
    this.status = status;
    this.githubMessage = githubMessage;
  }
}

interface RequestErrorLike {
  status: number;
  message: string;
  name?: string;
  response?: { headers: Record<string, string | undefined>; data?: unknown };
}

function isRequestError(error: unknown): error is RequestErrorLike {
  return (
    typeof error === 'object' && error !== null && typeof (error as { status?: unknown }).status === 'number'
  );
}

/** GitHub's own words from an error body: `message` and the messages of `errors[]`, never the request. */
function githubWords(data: unknown): string {
  if (typeof data !== 'object' || data === null) return typeof data === 'string' ? data.slice(0, 300) : '';
  const { message, errors } = data as { message?: unknown; errors?: unknown };
  const parts = [typeof message === 'string' ? message : ''];
  if (Array.isArray(errors)) {
    for (const item of errors) {
      if (typeof item === 'string') parts.push(item);
      else if (typeof item === 'object' && item !== null) {
        const m = (item as { message?: unknown; code?: unknown }).message;
        if (typeof m === 'string') parts.push(m);
      }
    }
  }
  return parts.filter(Boolean).join('; ').slice(0, 500);
}

/** Seconds until a rate limit lifts, from GitHub's headers. */
export function rateLimitWait(headers: Record<string, string | undefined>, nowSeconds: number): number {
  const retryAfter = Number(headers['retry-after']);
  if (Number.isFinite(retryAfter) && retryAfter > 0) return Math.ceil(retryAfter);
  if (headers['x-ratelimit-remaining'] === '0') {
    const reset = Number(headers['x-ratelimit-reset']);
    if (Number.isFinite(reset)) return Math.max(1, Math.ceil(reset - nowSeconds) + 1);
  }
  // GitHub's advice for a secondary limit without retry-after: at least a minute.
  return 60;
}

/** Maps a failure of one GitHub call to a ToolError with a code and a hint; the token never appears in it. */
export function githubError(error: unknown, what: string, nowSeconds: number): ToolError {
  if (error instanceof ToolError) return error;
  if (!isRequestError(error)) {
    return new ToolError('BACKEND_ERROR', `GitHub ${what} failed: ${String(error).slice(0, 200)}`);
  }
  const headers = error.response?.headers ?? {};
  const words = githubWords(error.response?.data) || error.message.slice(0, 300);
  const status = error.status;
  if (
    error.name === 'AbortError' ||
    error.name === 'TimeoutError' ||
    /aborted|timeout/i.test(error.message)
  ) {
    if (!error.response) {
      return new ToolError('BACKEND_TIMEOUT', `GitHub did not answer ${what} in time.`, 'Try again later.');
    }
  }
  if (!error.response && status === 500) {
    return new ToolError(
      'BACKEND_UNREACHABLE',
      `GitHub could not be reached for ${what}: ${error.message.slice(0, 200)}`,
      'Check GITHUB_API_URL and the network.',
    );
  }
  const limited =
    status === 429 ||
    (status === 403 && (headers['x-ratelimit-remaining'] === '0' || /rate limit/i.test(words)));
  if (limited) {
    const wait = rateLimitWait(headers, nowSeconds);
    return new GithubHttpError(
      'RATE_LIMITED',
      `GitHub's rate limit stopped ${what}; retry after ${wait} s.`,
      status,
      words,
      `Wait ${wait} seconds before calling again.`,
    );
  }
  if (status === 401) {
    return new GithubHttpError(
      'BACKEND_ERROR',
      `GitHub rejected the token (HTTP 401) on ${what}.`,
      status,
      words,
      'Ask the operator to check GITHUB_TOKEN.',
    );
  }
  if (status === 403) {
    return new GithubHttpError(
      'BACKEND_ERROR',
      `GitHub refused ${what} (HTTP 403): ${words}`,
      status,
      words,
      'The token lacks a permission this needs (contents and pull requests: write).',
    );
  }
  if (status >= 500) {
    return new GithubHttpError(
      'BACKEND_ERROR',
      `GitHub failed ${what} (HTTP ${status}): ${words}`,
      status,
      words,
      'GitHub had a problem; try again later.',
    );
  }
  return new GithubHttpError(
    'BACKEND_ERROR',
    `GitHub answered ${what} with HTTP ${status}: ${words}`,
    status,
    words,
  );
}

type Paced = {
  key(id?: string): {
    schedule(options: unknown, fn: (...args: unknown[]) => unknown, ...args: unknown[]): Promise<unknown>;
  };
};

/** A stand-in for a Bottleneck group that keeps `spacingMs` between the starts of its jobs (0: none). */
function pacer(spacingMs: number): Paced {
  let next = 0;
  let chain: Promise<unknown> = Promise.resolve();
  const limiter = {
    schedule(_options: unknown, fn: (...args: unknown[]) => unknown, ...args: unknown[]): Promise<unknown> {
      const run = chain.then(async () => {
        const wait = next - Date.now();
        if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait));
        next = Date.now() + spacingMs;
      });
      chain = run.catch(() => undefined);
      return run.then(() => fn(...args));
    },
  };
  return { key: () => limiter };
}

const SAFE_METHODS = new Set(['GET', 'HEAD']);

/**
 * The path a symbolic link at `path` names, read as GitHub does: relative to the link's directory and inside the
 * repository, or undefined.
 */
function linkTarget(path: string, target: string): string | undefined {
  if (target.startsWith('/')) return undefined;
  const parts = path.split('/').slice(0, -1);
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue;
    if (part !== '..') parts.push(part);
    else if (parts.pop() === undefined) return undefined;
  }
  return parts.length === 0 ? undefined : parts.join('/');
}

export function createGithubClient(options: GithubClientOptions): GithubClient {
  const now = options.now ?? (() => Date.now() / 1000);
  const apiUrl = options.apiUrl.replace(/\/+$/, '');
  let octokit: Promise<Octokit> | undefined;
  const client = () => (octokit ??= build(options, apiUrl));

  async function call<T>(what: string, fn: (o: Octokit) => Promise<T>): Promise<T> {
    const o = await client();
    try {
      return await fn(o);
    } catch (error) {
      throw githubError(error, what, now());
    }
  }
  /** undefined on 404 (and on 409 "Git Repository is empty", which has no refs), other errors mapped. */
  async function lookup<T>(what: string, fn: (o: Octokit) => Promise<T>): Promise<T | undefined> {
    const o = await client();
    try {
      return await fn(o);
    } catch (error) {
      if (isRequestError(error) && (error.status === 404 || error.status === 409)) return undefined;
      throw githubError(error, what, now());
    }
  }
  const is422 = (error: unknown, pattern: RegExp): boolean =>
    isRequestError(error) &&
    error.status === 422 &&
    pattern.test(githubWords(error.response?.data) || error.message);

  return {
    apiUrl,
    getRepo: repo =>
      lookup(`GET /repos/${repo.owner}/${repo.repo}`, async o => {
        const { data } = await o.rest.repos.get(repo);
        return {
          fullName: data.full_name,
          defaultBranch: data.default_branch,
          private: data.private,
          archived: data.archived,
          canPush: data.permissions?.push,
        };
      }),
    getBranch: (repo, branch) =>
      lookup(`GET branch ${branch}`, async o => {
        const { data } = await o.rest.repos.getBranch({ ...repo, branch });
        // GitHub answers a renamed branch's old name with a 301 to the new one, which fetch follows: the old name is
        // no branch any more, and the new one is not what the caller named (a base or head swapped unseen).
        if (data.name !== branch) return undefined;
        return { name: data.name, commitSha: data.commit.sha, protected: data.protected };
      }),
    getCommit: (repo, sha) =>
      lookup(`GET commit ${sha}`, async o => {
        const { data } = await o.rest.git.getCommit({ ...repo, commit_sha: sha });
        return {
          sha: data.sha,
          treeSha: data.tree.sha,
          parents: data.parents.map(p => p.sha),
          message: data.message,
        };
      }),
    async resolveRef(repo, ref) {
      if (/^[0-9a-f]{40}$/i.test(ref)) return (await this.getCommit(repo, ref.toLowerCase()))?.sha;
      const branch = await this.getBranch(repo, ref);
      if (branch) return branch.commitSha;
      return lookup(`GET tag ${ref}`, async o => {
        const { data } = await o.rest.git.getRef({ ...repo, ref: `tags/${ref}` });
        if (data.object.type === 'commit') return data.object.sha;
        // An annotated tag: its object is the commit.
        const tag = await o.rest.git.getTag({ ...repo, tag_sha: data.object.sha });
        return tag.data.object.type === 'commit' ? tag.data.object.sha : undefined;
      });
    },
    getTree: (repo, treeSha) =>
      call(`GET tree ${treeSha}`, async o => {
        const { data } = await o.rest.git.getTree({ ...repo, tree_sha: treeSha, recursive: 'true' });
        return {
          truncated: data.truncated,
          entries: data.tree.map(e => ({
            path: e.path,
            mode: e.mode,
            type: e.type as TreeEntry['type'],
            sha: e.sha,
            ...(e.size === undefined ? {} : { size: e.size }),
          })),
        };
      }),
    getContent(repo, path, ref) {
      return lookup(`GET contents of ${path || '/'}`, async o => {
        let data;
        try {
          ({ data } = await o.rest.repos.getContent({ ...repo, path, ref }));
        } catch (error) {
          // Over 1 MB the contents API answers 403 too_large in its default format; the trees on the way still
          // name the file's sha and size, and the caller reads the blob if it wants it. (Not the parent directory's
          // listing: the contents API lists at most 1,000 entries of a directory.)
          if (!(
            isRequestError(error) &&
            error.status === 403 &&
            /too_large/.test(JSON.stringify(error.response?.data))
          ))
            throw error;
          const entry = await this.treeEntry(repo, path, ref);
          if (entry?.type !== 'blob') throw error;
          if (entry.mode !== '120000') {
            return { type: 'file' as const, path, sha: entry.sha, size: entry.size ?? 0, content: undefined };
          }
          // A symbolic link whose target is over 1 MB: GitHub answers a link to a file with that file, so the link's
          // own blob (its target's name) must not pass for the file's content.
          const target = (await this.getBlob(repo, entry.sha)).toString('utf8');
          const linked = linkTarget(path, target);
          const file = linked === undefined ? undefined : await this.treeEntry(repo, linked, ref);
          if (linked !== undefined && file?.type === 'blob' && file.mode !== '120000') {
            return {
              type: 'file' as const,
              path: linked,
              sha: file.sha,
              size: file.size ?? 0,
              content: undefined,
            };
          }
          return { type: 'symlink' as const, path, sha: entry.sha, size: entry.size ?? 0, target };
        }
        if (Array.isArray(data)) {
          return {
            type: 'dir' as const,
            path,
            entries: data.map(e => ({
              name: e.name,
              type: e.type === 'file' || e.type === 'dir' || e.type === 'symlink' ? e.type : 'submodule',
              size: e.size,
              sha: e.sha,
            })),
          };
        }
        if (data.type === 'file') {
          const encoded = 'content' in data && typeof data.content === 'string' ? data.content : '';
          const encoding = 'encoding' in data ? data.encoding : 'base64';
          // Files over 1 MB come without content ("none"); the caller reads the blob if it wants it.
          const content = encoding === 'base64' ? Buffer.from(encoded, 'base64') : undefined;
          return { type: 'file' as const, path: data.path, sha: data.sha, size: data.size, content };
        }
        if (data.type === 'symlink') {
          const target = 'target' in data && typeof data.target === 'string' ? data.target : '';
          return { type: 'symlink' as const, path: data.path, sha: data.sha, size: data.size, target };
        }
        return { type: 'submodule' as const, path: data.path, sha: data.sha, size: data.size };
      });
    },
    async treeEntry(repo, path, ref) {
      const commit = await this.resolveRef(repo, ref);
      const treeSha = commit === undefined ? undefined : (await this.getCommit(repo, commit))?.treeSha;
      if (treeSha === undefined) return undefined;
      // One tree per directory on the way, not the recursive tree, which GitHub truncates in a large repository.
      let tree = treeSha;
      const parts = path.split('/');
      for (const [i, name] of parts.entries()) {
        const { data } = await call(`GET tree ${tree}`, o => o.rest.git.getTree({ ...repo, tree_sha: tree }));
        const entry = data.tree.find(e => e.path === name);
        if (!entry?.sha) return undefined;
        if (i === parts.length - 1) {
          return {
            path,
            mode: entry.mode,
            type: entry.type as TreeEntry['type'],
            sha: entry.sha,
            ...(entry.size === undefined ? {} : { size: entry.size }),
          };
        }
        if (entry.type !== 'tree') return undefined;
        tree = entry.sha;
      }
      return undefined;
    },
    getBlob: (repo, sha) =>
      call(`GET blob ${sha}`, async o => {
        const { data } = await o.rest.git.getBlob({ ...repo, file_sha: sha });
        return Buffer.from(data.content, data.encoding === 'base64' ? 'base64' : 'utf8');
      }),
    tarball: (repo, sha, maxBytes) =>
      call(`GET tarball at ${sha}`, async o => {
        // fetch follows the redirect to the archive host and, the origin being another, drops the token.
        const response = await o.request('GET /repos/{owner}/{repo}/tarball/{ref}', {
          ...repo,
          ref: sha,
          request: { parseSuccessResponseBody: false },
        });
        const body = response.data as WebReadableStream<Uint8Array> | null | undefined;
        if (!body) throw new ToolError('BACKEND_ERROR', 'GitHub sent an empty tarball.');
        return capped(Readable.fromWeb(body), maxBytes);
      }),
    createBlob: (repo, content) =>
      call('POST git/blobs', async o => {
        const { data } = await o.rest.git.createBlob({
          ...repo,
          content: content.toString('base64'),
          encoding: 'base64',
        });
        return data.sha;
      }),
    createTree: (repo, baseTree, entries) =>
      call('POST git/trees', async o => {
        const { data } = await o.rest.git.createTree({
          ...repo,
          base_tree: baseTree,
          tree: entries.map(e => ({ ...e, mode: e.mode as '100644' })),
        });
        return data.sha;
      }),
    createCommit: (repo, message, tree, parents) =>
      call('POST git/commits', async o => {
        const { data } = await o.rest.git.createCommit({ ...repo, message, tree, parents: [...parents] });
        return data.sha;
      }),
    getRef: (repo, branch) =>
      lookup(`GET ref heads/${branch}`, async o => {
        const { data } = await o.rest.git.getRef({ ...repo, ref: `heads/${branch}` });
        return data.object.sha;
      }),
    async createRef(repo, branch, sha) {
      const o = await client();
      try {
        await o.rest.git.createRef({ ...repo, ref: `refs/heads/${branch}`, sha });
        return 'created';
      } catch (error) {
        if (is422(error, /reference already exists/i)) return 'exists';
        // The create may have happened even though its answer was lost: look before reporting a failure.
        if (!isRequestError(error) || error.status >= 500) {
          const current = await this.getRef(repo, branch).catch(() => undefined);
          if (current === sha) return 'created';
          if (current !== undefined) return 'exists';
        }
        throw githubError(error, 'POST git/refs', now());
      }
    },
    async updateRef(repo, branch, sha) {
      const o = await client();
      try {
        await o.rest.git.updateRef({ ...repo, ref: `heads/${branch}`, sha, force: false });
        return 'updated';
      } catch (error) {
        if (is422(error, /not a fast.forward/i)) return 'not-fast-forward';
        if (!isRequestError(error) || error.status >= 500) {
          const current = await this.getRef(repo, branch).catch(() => undefined);
          if (current === sha) return 'updated';
        }
        throw githubError(error, 'PATCH git/refs', now());
      }
    },
    listPulls: (repo, head, state) =>
      call(`GET pulls for ${head}`, async o => {
        const { data } = await o.rest.pulls.list({ ...repo, head, state, per_page: 20 });
        return data.map(p => ({
          number: p.number,
          url: p.html_url,
          state: p.state as PullInfo['state'],
          merged: p.merged_at !== null,
          draft: p.draft ?? false,
          headRef: p.head.ref,
          headSha: p.head.sha,
          baseRef: p.base.ref,
          labels: p.labels.map(label => label.name),
        }));
      }),
    async createPull(repo, pull) {
      const o = await client();
      try {
        const { data: p } = await o.rest.pulls.create({ ...repo, ...pull });
        return {
          number: p.number,
          url: p.html_url,
          state: p.state,
          merged: p.merged,
          draft: p.draft ?? false,
          headRef: p.head.ref,
          headSha: p.head.sha,
          baseRef: p.base.ref,
          labels: p.labels.map(label => label.name),
        };
      } catch (error) {
        if (is422(error, /pull request already exists/i)) return 'exists';
        // The PR may exist although the answer was lost: the caller lists open PRs for the head next.
        if (!isRequestError(error) || error.status >= 500) return 'exists';
        throw githubError(error, 'POST pulls', now());
      }
    },
    updatePull: (repo, number, pull) =>
      call(`PATCH pulls/${number}`, async o => {
        await o.rest.pulls.update({ ...repo, pull_number: number, ...pull });
      }),
    addLabels: (repo, number, labels) =>
      call('POST issues/labels', async o => {
        await o.rest.issues.addLabels({ ...repo, issue_number: number, labels: [...labels] });
      }),
    tokenScopes: () =>
      call('GET /user', async o => {
        const response = await o.rest.users.getAuthenticated();
        const header = response.headers['x-oauth-scopes'];
        return {
          login: response.data.login,
          scopes:
            header === undefined
              ? undefined
              : header
                  .split(',')
                  .map(s => s.trim())
                  .filter(Boolean),
        };
      }),
  };
}

async function build(options: GithubClientOptions, apiUrl: string): Promise<Octokit> {
  const [{ Octokit: Base }, { retry }, { throttling }] = await Promise.all([
    import('@octokit/rest'),
    import('@octokit/plugin-retry'),
    import('@octokit/plugin-throttling'),
  ]);
  const Client = Base.plugin(retry, throttling);
  const log = options.log ?? { debug: () => undefined, warn: () => undefined, error: () => undefined };
  const octokitLog = { debug: log.debug, info: log.debug, warn: log.warn, error: log.error };
  const spacing = options.writeSpacingMs ?? 1000;
  const onLimit = (retryAfter: number, _options: unknown, _octokit: unknown, retryCount: number) =>
    retryAfter <= MAX_WAIT_SECONDS && retryCount === 0;
  const octokit = new Client({
    auth: options.token,
    baseUrl: apiUrl,
    userAgent: options.userAgent ?? 'devops-mcp',
    log: octokitLog,
    request: { log: octokitLog },
    retry: { retryAfterBaseValue: options.retryBaseMs ?? 1000, retries: 2 },
    throttle: {
      // Each client paces its own writes instead of sharing the plugin's process-wide groups.
      id: `devops-mcp-${Math.random().toString(36).slice(2)}`,
      ...(spacing === 1000
        ? {}
        : {
            write: pacer(spacing) as never,
            notifications: pacer(spacing * 3) as never,
          }),
      onRateLimit: onLimit,
      onSecondaryRateLimit: onLimit,
    },
  });
  octokit.hook.before('request', endpoint => {
    // A fresh object: without per-call request options, Octokit hands every call the same defaults object, and a
    // signal or retry count set on it would stick to all later calls.
    const request: Record<string, unknown> = { ...endpoint.request };
    // Only reads are retried: a write that failed may have happened, and only a probe can tell.
    if (!SAFE_METHODS.has(endpoint.method)) request.retries = 0;
    request.signal ??= AbortSignal.timeout(options.timeoutMs);
    endpoint.request = request;
  });
  return octokit;
}

/** Passes a stream through, failing it with TOO_LARGE once more than `maxBytes` went by. */
function capped(source: Readable, maxBytes: number): Readable {
  let seen = 0;
  const out = new Readable({ read: () => source.resume() });
  source.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > maxBytes) {
      source.destroy();
      out.destroy(new ToolError('TOO_LARGE', `The repository archive is larger than ${maxBytes} bytes.`));
      return;
    }
    if (!out.push(chunk)) source.pause();
  });
  source.on('end', () => out.push(null));
  source.on('error', error => out.destroy(error));
  return out;
}
