// A stateful GitHub REST API double on free loopback ports, for suites that open pull requests: repos,
// branches, the git database (blobs, trees, commits, refs), contents, tarballs, pulls and labels, over a
// real bare git repository per repo. Shapes are held to GitHub's OpenAPI description by contract.test.ts;
// statuses and messages are GitHub's own (sources in the route modules' comments).
//
//   const github = await startGithubDouble();
//   const { headSha } = await github.addRepo({ owner: 'acme', name: 'app', files: { 'src/a.ts': '…' } });
//   const octokit = new Octokit({ auth: github.token, baseUrl: github.url });
//   … then assert on github.writes(), github.git('acme/app', 'show', 'devops-mcp/x:src/a.ts'), …
//   await github.close();
//
// Every token acts as the user USER (devops-mcp-bot), an admin of every repository; tokens differ only
// in their scopes. Requests to one repository are answered one at a time, in arrival order.

import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { contentRoutes, codeload } from './contents.ts';
import { badJson, GithubError, notFound } from './errors.ts';
import { initBareRepo, isoSeconds } from './git.ts';
import { gitDataRoutes } from './gitdata.ts';
import { labelRoutes } from './labels.ts';
import { closeByHuman, pullRoutes } from './pulls.ts';
import { createRateLimiter, faultError, rateHeaders, rateLimitReply, requestId } from './ratelimit.ts';
import { refRoutes } from './refs.ts';
import { repoRoutes } from './repos.ts';
import { reviewerRoutes } from './reviewers.ts';
import { json, type Reply, type RepoRequest, type Request, type Route } from './route.ts';
import { apiRoot, privateUser } from './shapes.ts';
import { canRead, canWrite, repoKey, withLock, type Repo, type State, type Token } from './state.ts';
import { buildTree, type Change } from './trees.ts';

export type { RateLimitFault } from './ratelimit.ts';
export { USER } from './state.ts';

export interface GithubRepoSeed {
  /** Canonical case, e.g. 'acme'. */
  owner: string;
  /** E.g. 'market-predictor'. */
  name: string;
  /** Default 'main'. */
  defaultBranch?: string;
  /** Content of the initial commit on the default branch. */
  files: Record<string, string | Buffer>;
  /** Symbolic links in the initial commit: path → target (mode 120000, the target as the blob). */
  symlinks?: Record<string, string>;
  /** Extra branches (pointing at the initial commit). The default branch is protected unless it is listed here with protected: false. */
  branches?: Record<string, { protected?: boolean }>;
  private?: boolean;
  /** Logins with write access besides the token's user, who may be asked for reviews. */
  collaborators?: string[];
}

export interface RecordedRequest {
  method: string;
  /** Decoded path, without the query (and without /api/v3 when the GHES prefix was used). */
  path: string;
  query: Record<string, string>;
  /** Parsed JSON body; undefined when the request had none. */
  body: unknown;
  status: number;
}

export interface GithubDouble {
  /** API base URL (what GITHUB_API_URL / Octokit baseUrl gets), API served at its root like api.github.com (and under /api/v3 like GHES). */
  url: string;
  /** A default classic token with scope 'repo' only (no 'workflow'). */
  token: string;
  /** Another accepted token with these scopes (e.g. ['repo','workflow']). */
  addToken(scopes: string[]): string;
  addRepo(seed: GithubRepoSeed): Promise<{ fullName: string; headSha: string; gitDir: string }>;
  /** Runs git in that repo's bare repository and returns stdout (for assertions, e.g. git('acme/app','show','devops-mcp/x:src/a.ts')); after any request or merge still under way there. */
  git(fullName: string, ...args: string[]): Promise<string>;
  /** A commit pushed by someone else onto a branch (null content deletes a path); returns the new sha. A missing branch is created from the default branch. */
  pushCommit(
    fullName: string,
    branch: string,
    files: Record<string, string | null>,
    message?: string,
  ): Promise<string>;
  /**
   * Renames or transfers a repository to `to` (owner/name), as a person does in its settings. Requests under the old
   * name are redirected as GitHub redirects them: 301 for GET and HEAD, 307 for other methods (the OpenAPI
   * description's temporary_redirect), to /repositories/{id} with the rest of the path. A repository added later
   * under the old name takes the name back.
   */
  renameRepo(fullName: string, to: string): Promise<void>;
  /**
   * Renames a branch, as a person does on GitHub: its protection, the default branch and open pull requests move
   * with it, and GET branches/{old} answers 301 to branches/{new}.
   */
  renameBranch(fullName: string, from: string, to: string): Promise<void>;
  /** A human closes (or merges) a pull request. A merge lands on the base branch before the repo's next request is answered. */
  closePull(fullName: string, number: number, opts?: { merged?: boolean }): void;
  /** Every request received by the API, in order (the codeload-like archive host is not recorded). */
  requests: RecordedRequest[];
  /** Only the requests that can change state (POST, PUT, PATCH, DELETE). */
  writes(): RecordedRequest[];
  /** The next `count` (default 1) requests matching `match` (default all) answer with a rate limit: 'primary' = 403 with x-ratelimit-limit/remaining: 0/reset/used/resource headers and GitHub's "API rate limit exceeded for …" body; 'secondary' = 403 (or 429) with retry-after and GitHub's secondary-rate-limit message. */
  rateLimit(opts: {
    kind: 'primary' | 'secondary';
    count?: number;
    match?: { method?: string; path?: RegExp };
    retryAfterSeconds?: number;
    /** 403 unless set (GitHub answers both). */
    status?: 403 | 429;
    /** A secondary limit without retry-after, as some of GitHub's are. */
    withoutRetryAfter?: boolean;
  }): void;
  /** Drops recorded requests and pending faults (not repos). */
  reset(): void;
  close(): Promise<void>;
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const EXPOSED =
  'ETag, Link, Location, Retry-After, X-GitHub-OTP, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Used, X-RateLimit-Resource, X-RateLimit-Reset, X-OAuth-Scopes, X-Accepted-OAuth-Scopes, X-Poll-Interval, X-GitHub-Media-Type, X-GitHub-SSO, X-GitHub-Request-Id, Deprecation, Sunset';
const REPO_DOCS = 'https://docs.github.com/rest/repos/repos#get-a-repository';
const REDIRECT_DOCS =
  'https://docs.github.com/rest/guides/best-practices-for-using-the-rest-api#follow-redirects';
const SEED_PERSON = { name: 'Seed', email: 'seed@example.com', date: '2026-01-01T00:00:00Z' };
const repoScopedRoutes: Array<Route<RepoRequest>> = [
  ...repoRoutes,
  ...gitDataRoutes,
  ...refRoutes,
  ...contentRoutes,
  ...pullRoutes,
  ...labelRoutes,
  ...reviewerRoutes,
];

function listen(server: Server, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function send(res: ServerResponse, reply: Reply, head: boolean): void {
  const headers: Record<string, string> = { ...reply.headers };
  let payload: Buffer | undefined = reply.raw;
  if (reply.json !== undefined) {
    headers['content-type'] = 'application/json; charset=utf-8';
    payload = Buffer.from(JSON.stringify(reply.json));
  }
  if (payload) headers['content-length'] = String(payload.length);
  res.writeHead(reply.status, headers);
  res.end(head ? undefined : payload);
}

const errorReply = (error: GithubError): Reply => ({
  status: error.status,
  json: error.body(),
  headers: error.headers,
});

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** A path parameter decoded; a malformed escape stays as sent (it then matches nothing). */
function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function match<R extends Request>(
  routes: Array<Route<R>>,
  method: string,
  path: string,
): { route: Route<R>; params: string[] } | null {
  const wanted = method === 'HEAD' ? 'GET' : method;
  for (const route of routes) {
    if (route.method !== wanted) continue;
    const m = route.path.exec(path);
    if (m)
      return {
        route,
        params: (m.slice(1) as Array<string | undefined>).map(p => safeDecode(p ?? '')),
      };
  }
  return null;
}

export async function startGithubDouble(opts: { host?: string } = {}): Promise<GithubDouble> {
  const host = opts.host ?? '127.0.0.1';
  const root = await mkdtemp(join(tmpdir(), 'github-double-'));
  const home = join(root, 'home');
  await mkdir(home);
  let ids = 1_000_000;
  const state: State = {
    urls: { api: '', web: '', codeload: '' },
    repos: new Map(),
    redirects: new Map(),
    tokens: new Map(),
    resetAt: Math.floor(Date.now() / 1000) + 3600,
    nextId: () => ++ids,
    archiveTokens: new Set(),
  };
  const limiter = createRateLimiter();
  const requests: RecordedRequest[] = [];
  const backgroundErrors: Error[] = [];

  function addToken(scopes: string[]): string {
    const value = `ghp_${randomBytes(18).toString('hex')}`;
    state.tokens.set(value, { value, scopes: [...scopes], used: 0 });
    return value;
  }

  function repoOf(fullName: string): Repo {
    const [owner = '', name = ''] = fullName.split('/');
    const repo = state.repos.get(repoKey(owner, name)) ?? state.redirects.get(repoKey(owner, name));
    if (!repo) throw new Error(`the GitHub double has no repository ${fullName}`);
    return repo;
  }

  async function route(
    method: string,
    path: string,
    query: URLSearchParams,
    body: unknown,
    accept: string,
    token: Token,
  ): Promise<{ reply: Reply; accepted: string }> {
    const base: Request = { method, params: [], query, body, accept, token, state };
    if (path === '/user') {
      if (method !== 'GET' && method !== 'HEAD') throw notFound();
      return {
        reply: json(privateUser(state.urls, isoSeconds(new Date(Date.UTC(2020, 0, 1))))),
        accepted: '',
      };
    }
    // The API root: what a client HEADs to read X-OAuth-Scopes (github-mcp-server's scope filtering).
    if (path === '/' && (method === 'GET' || method === 'HEAD')) {
      return { reply: json(apiRoot(state.urls)), accepted: '' };
    }
    if (path === '/rate_limit' && (method === 'GET' || method === 'HEAD')) {
      return { reply: rateLimitReply(state, token), accepted: '' };
    }
    // /repositories/{id}/…: what a renamed repository's redirect leads to (and the pulls list's Link header).
    const byId = /^\/repositories\/(\d+)(\/.*)?$/.exec(path);
    const scoped = byId ? null : /^\/repos\/([^/]+)\/([^/]+)(\/.*)?$/.exec(path);
    if (!byId && !scoped) throw notFound();
    const [, rawOwner = '', rawName = '', scopedRest = ''] = scoped ?? [];
    const rest = byId ? (byId[2] ?? '') : scopedRest;
    const key = repoKey(safeDecode(rawOwner), safeDecode(rawName));
    const repo = byId ? [...state.repos.values()].find(r => String(r.id) === byId[1]) : state.repos.get(key);
    const moved = byId || repo ? undefined : state.redirects.get(key);
    if (moved && canRead(token, moved)) return { reply: redirect(moved, rest, query, method), accepted: '' };
    // A repository the token may not see is indistinguishable from one that does not exist.
    if (!repo || !canRead(token, repo)) throw notFound(REPO_DOCS);
    const found = match(repoScopedRoutes, method, rest);
    if (!found) throw notFound();
    if (found.route.write && !canWrite(token, repo)) throw notFound();
    const reply = await withLock(repo, () =>
      Promise.resolve(found.route.run({ ...base, params: found.params, repo })),
    );
    return { reply, accepted: found.route.accepted ?? 'repo' };
  }

  /**
   * GitHub's answer under a renamed repository's old name: 301 "Moved Permanently" for GET and HEAD, 307
   * "Temporary Redirect" for the rest (so that a client repeats the method and body), to /repositories/{id} and the
   * rest of the path, with basic-error's `url` naming it.
   */
  function redirect(repo: Repo, rest: string, query: URLSearchParams, method: string): Reply {
    const search = query.size > 0 ? `?${query.toString()}` : '';
    const location = `${state.urls.api}/repositories/${repo.id}${rest}${search}`;
    const permanent = method === 'GET' || method === 'HEAD';
    return {
      status: permanent ? 301 : 307,
      json: {
        message: permanent ? 'Moved Permanently' : 'Temporary Redirect',
        url: location,
        documentation_url: REDIRECT_DOCS,
      },
      headers: { location },
    };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://github.double');
    const method = (req.method ?? 'GET').toUpperCase();
    const raw = await readBody(req);
    // GHES serves the same API under /api/v3.
    const rawPath = url.pathname.replace(/^\/api\/v3(?=\/|$)/, '') || '/';
    const decodedPath = safeDecode(rawPath);
    let body: unknown = undefined;
    let bodyError: GithubError | null = null;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        bodyError = badJson();
      }
    }
    // The headers api.github.com sends with every answer (octokit/fixtures recordings).
    const headers: Record<string, string> = {
      'access-control-allow-origin': '*',
      'access-control-expose-headers': EXPOSED,
      'x-github-media-type': 'github.v3; format=json',
      'x-github-api-version-selected': '2022-11-28',
      'x-github-request-id': requestId(),
    };
    let reply: Reply;
    const auth = /^(?:token|bearer)\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    const token = auth ? state.tokens.get(auth[1] ?? '') : undefined;
    if (!token) {
      // GitHub: "Bad credentials" for a token it does not know, "Requires authentication" for none.
      reply = errorReply(
        new GithubError(
          401,
          auth || req.headers.authorization ? 'Bad credentials' : 'Requires authentication',
          {
            documentationUrl: 'https://docs.github.com/rest',
          },
        ),
      );
      Object.assign(headers, {
        'x-ratelimit-limit': '60',
        'x-ratelimit-remaining': '59',
        'x-ratelimit-reset': String(state.resetAt),
        'x-ratelimit-used': '1',
        'x-ratelimit-resource': 'core',
      });
    } else {
      if (decodedPath !== '/rate_limit') token.used += 1;
      headers['x-oauth-scopes'] = token.scopes.join(', ');
      Object.assign(headers, rateHeaders(state, token));
      const fault = limiter.take(method, decodedPath);
      if (fault) {
        reply = errorReply(faultError(fault));
      } else if (bodyError) {
        reply = errorReply(bodyError);
      } else {
        try {
          const out = await route(method, rawPath, url.searchParams, body, req.headers.accept ?? '', token);
          headers['x-accepted-oauth-scopes'] = out.accepted;
          reply = out.reply;
        } catch (error) {
          reply =
            error instanceof GithubError
              ? errorReply(error)
              : {
                  status: 500,
                  json: { message: error instanceof Error ? (error.stack ?? error.message) : String(error) },
                };
        }
      }
    }
    if (method === 'GET' && reply.status === 200)
      headers['cache-control'] = 'private, max-age=60, s-maxage=60';
    reply = { ...reply, headers: { ...headers, ...reply.headers } };
    requests.push({
      method,
      path: decodedPath,
      query: Object.fromEntries(url.searchParams),
      body,
      status: reply.status,
    });
    send(res, reply, method === 'HEAD');
  }

  const api = createServer((req, res) => {
    void handle(req, res);
  });
  const archives = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://codeload.double');
      const reply = await codeload(state, (req.method ?? 'GET').toUpperCase(), url).catch(
        (error: unknown): Reply => ({ status: 500, raw: Buffer.from(String(error)) }),
      );
      send(res, reply, req.method === 'HEAD');
    })();
  });
  const bracket = host.includes(':') ? `[${host}]` : host;
  const apiPort = await listen(api, host);
  const archivePort = await listen(archives, host);
  state.urls = {
    api: `http://${bracket}:${apiPort}`,
    web: `http://${bracket}:${apiPort}`,
    codeload: `http://${bracket}:${archivePort}`,
  };

  return {
    url: state.urls.api,
    token: addToken(['repo']),
    addToken,
    requests,
    writes: () => requests.filter(r => WRITE_METHODS.has(r.method)),
    async addRepo(seed) {
      const key = repoKey(seed.owner, seed.name);
      if (state.repos.has(key)) throw new Error(`the GitHub double already has ${seed.owner}/${seed.name}`);
      const defaultBranch = seed.defaultBranch ?? 'main';
      const gitDir = join(root, 'repos', seed.owner, `${seed.name}.git`);
      const git = await initBareRepo(gitDir, home, defaultBranch);
      const changes: Change[] = [];
      for (const [path, content] of Object.entries(seed.files)) {
        const sha = await git.writeBlob(typeof content === 'string' ? Buffer.from(content, 'utf8') : content);
        changes.push({ path, mode: '100644', type: 'blob', sha });
      }
      for (const [path, target] of Object.entries(seed.symlinks ?? {})) {
        changes.push({
          path,
          mode: '120000',
          type: 'blob',
          sha: await git.writeBlob(Buffer.from(target, 'utf8')),
        });
      }
      const tree = await buildTree(git, null, changes);
      // A fixed author and date: the same seed gives the same head sha on every run.
      const headSha = await git.writeCommit({
        tree,
        parents: [],
        message: 'Initial commit\n',
        author: SEED_PERSON,
        committer: SEED_PERSON,
      });
      const branches = seed.branches ?? {};
      const protectedBranches = new Set<string>();
      for (const branch of new Set([defaultBranch, ...Object.keys(branches)])) {
        await git.run(['update-ref', `refs/heads/${branch}`, headSha]);
        const wanted = branches[branch]?.protected ?? branch === defaultBranch;
        if (wanted) protectedBranches.add(branch);
      }
      const repo: Repo = {
        id: state.nextId(),
        owner: seed.owner,
        name: seed.name,
        fullName: `${seed.owner}/${seed.name}`,
        ownerId: state.nextId(),
        private: seed.private ?? false,
        defaultBranch,
        collaborators: new Set(seed.collaborators ?? []),
        protectedBranches,
        renamedBranches: new Map(),
        git,
        createdAt: SEED_PERSON.date,
        pulls: [],
        nextNumber: 1,
        labels: new Map(),
        lock: Promise.resolve(),
      };
      state.repos.set(key, repo);
      state.redirects.delete(key);
      return { fullName: repo.fullName, headSha, gitDir };
    },
    renameRepo(fullName, to) {
      const repo = repoOf(fullName);
      const [owner = '', name = ''] = to.split('/');
      const key = repoKey(owner, name);
      if (!owner || !name || state.repos.has(key))
        throw new Error(`the GitHub double cannot rename to ${to}`);
      return withLock(repo, () => {
        const old = repoKey(repo.owner, repo.name);
        state.repos.delete(old);
        state.redirects.set(old, repo);
        state.redirects.delete(key);
        Object.assign(repo, { owner, name, fullName: `${owner}/${name}` });
        state.repos.set(key, repo);
        return Promise.resolve();
      });
    },
    renameBranch(fullName, from, to) {
      const repo = repoOf(fullName);
      return withLock(repo, async () => {
        const sha = await repo.git.revParse(`refs/heads/${from}`);
        if (!sha) throw new Error(`${fullName} has no branch ${from}`);
        if (!(await repo.git.compareAndSwap(`refs/heads/${to}`, sha, null)))
          throw new Error(`${fullName} already has a branch ${to}`);
        await repo.git.deleteRef(`refs/heads/${from}`);
        if (repo.defaultBranch === from) {
          repo.defaultBranch = to;
          await repo.git.run(['symbolic-ref', 'HEAD', `refs/heads/${to}`]);
        }
        if (repo.protectedBranches.delete(from)) repo.protectedBranches.add(to);
        for (const pull of repo.pulls.filter(p => p.state === 'open')) {
          if (pull.base === from) pull.base = to;
          if (pull.head === from) pull.head = to;
        }
        repo.renamedBranches.delete(to);
        repo.renamedBranches.set(from, to);
      });
    },
    async git(fullName, ...args) {
      const repo = repoOf(fullName);
      // Behind the repository's lock, so it sees what closePull's merge wrote.
      return (await withLock(repo, () => repo.git.run(args))).toString('utf8');
    },
    pushCommit(fullName, branch, files, message = 'A commit pushed by someone else') {
      const repo = repoOf(fullName);
      return withLock(repo, async () => {
        const ref = `refs/heads/${branch}`;
        const tip =
          (await repo.git.revParse(ref)) ?? (await repo.git.revParse(`refs/heads/${repo.defaultBranch}`));
        if (!tip) throw new Error(`${fullName} has no branch ${branch} and no default branch`);
        const changes: Change[] = [];
        for (const [path, content] of Object.entries(files)) {
          changes.push(
            content === null
              ? { path, delete: true }
              : {
                  path,
                  mode: '100644',
                  type: 'blob',
                  sha: await repo.git.writeBlob(Buffer.from(content, 'utf8')),
                },
          );
        }
        const tree = await buildTree(repo.git, (await repo.git.readCommit(tip)).tree, changes);
        const who = { name: 'Someone Else', email: 'someone@example.com', date: isoSeconds(new Date()) };
        const sha = await repo.git.writeCommit({
          tree,
          parents: [tip],
          message,
          author: who,
          committer: who,
        });
        const expected = await repo.git.revParse(ref);
        if (!(await repo.git.compareAndSwap(ref, sha, expected)))
          throw new Error(`${ref} moved during pushCommit`);
        return sha;
      });
    },
    closePull(fullName, number, closeOpts = {}) {
      const repo = repoOf(fullName);
      const pull = repo.pulls.find(p => p.number === number);
      if (!pull) throw new Error(`${fullName} has no pull request #${number}`);
      if (pull.state !== 'open') throw new Error(`${fullName}#${number} is not open`);
      // The git side of a merge is asynchronous; queued on the repository's lock, it lands before the
      // repository answers its next request.
      void withLock(repo, () => closeByHuman(repo, pull, closeOpts.merged ?? false)).catch(
        (error: unknown) => {
          backgroundErrors.push(error instanceof Error ? error : new Error(String(error)));
        },
      );
    },
    rateLimit(fault) {
      limiter.add(fault);
    },
    reset() {
      requests.length = 0;
      limiter.clear();
    },
    async close() {
      await Promise.all(
        [api, archives].map(
          server =>
            new Promise<void>(resolve => {
              server.close(() => {
                resolve();
              });
              server.closeAllConnections();
            }),
        ),
      );
      await rm(root, { recursive: true, force: true });
      const [first] = backgroundErrors;
      if (first) throw first;
    },
  };
}
