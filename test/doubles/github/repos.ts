// GET /repos/{owner}/{repo} and GET /repos/{owner}/{repo}/branches/{branch}.

import { GithubError } from './errors.ts';
import { gitCommitJson } from './gitdata.ts';
import { json, type RepoRequest, type Route } from './route.ts';
import { repository } from './shapes.ts';
import type { Repo, Urls } from './state.ts';
import { EMPTY_TREE } from './trees.ts';

const BRANCH_DOCS = 'https://docs.github.com/rest/branches/branches#get-a-branch';
const COMMITS_DOCS = 'https://docs.github.com/rest/commits/commits#list-commits';
const COMMIT_DOCS = 'https://docs.github.com/rest/commits/commits#get-a-commit';

/** The commit object of the commits API (as nested in a branch), built from the git commit. */
async function commitJson(urls: Urls, repo: Repo, sha: string): Promise<Record<string, unknown>> {
  const git = gitCommitJson(urls, repo, await repo.git.readCommit(sha));
  const api = `${urls.api}/repos/${repo.fullName}`;
  return {
    sha,
    node_id: git.node_id,
    commit: {
      author: git.author,
      committer: git.committer,
      message: git.message,
      tree: git.tree,
      url: git.url,
      comment_count: 0,
      verification: git.verification,
    },
    url: `${api}/commits/${sha}`,
    html_url: git.html_url,
    comments_url: `${api}/commits/${sha}/comments`,
    // GitHub links authors to accounts by email; the double's commits belong to no account.
    author: null,
    committer: null,
    parents: (git.parents as Array<{ sha: string; html_url: string }>).map(p => ({
      sha: p.sha,
      url: `${api}/commits/${p.sha}`,
      html_url: p.html_url,
    })),
  };
}

const getRepo: Route<RepoRequest> = {
  method: 'GET',
  path: /^$/,
  run: ({ repo, state }) => json(repository(state.urls, repo, true)),
};

const getBranch: Route<RepoRequest> = {
  method: 'GET',
  path: /^\/branches\/(.+)$/,
  async run({ repo, params, state }) {
    const name = params[0] ?? '';
    const sha = await repo.git.revParse(`refs/heads/${name}`);
    const api = `${state.urls.api}/repos/${repo.fullName}`;
    // A renamed branch's old name: 301 to the new one (the OpenAPI description's moved_permanently for this
    // operation), which clients that follow redirects read as if it had been asked for.
    const renamed = sha ? undefined : repo.renamedBranches.get(name);
    if (renamed !== undefined) {
      const location = `${api}/branches/${renamed}`;
      return json({ message: 'Moved Permanently', url: location, documentation_url: BRANCH_DOCS }, 301, {
        location,
      });
    }
    // GitHub's message for an unknown branch (from memory of the live API; test fakes of GitHub, e.g. for
    // PyGithub, assume the same text; not found in a recording).
    if (!sha) throw new GithubError(404, 'Branch not found', { documentationUrl: BRANCH_DOCS });
    const isProtected = repo.protectedBranches.has(name);
    const protectionUrl = `${api}/branches/${name}/protection`;
    return json({
      name,
      commit: await commitJson(state.urls, repo, sha),
      _links: { self: `${api}/branches/${name}`, html: `${state.urls.web}/${repo.fullName}/tree/${name}` },
      protected: isProtected,
      protection: {
        enabled: isProtected,
        required_status_checks: { enforcement_level: 'off', contexts: [], checks: [] },
      },
      protection_url: protectionUrl,
    });
  },
};

const listBranches: Route<RepoRequest> = {
  method: 'GET',
  path: /^\/branches$/,
  async run({ repo, query, state }) {
    const api = `${state.urls.api}/repos/${repo.fullName}`;
    const refs = await repo.git.listRefs('refs/heads/');
    const onlyProtected = query.get('protected');
    return json(
      refs
        .map(r => ({ name: r.ref.slice('refs/heads/'.length), sha: r.sha }))
        .filter(
          b => onlyProtected === null || (onlyProtected === 'true') === repo.protectedBranches.has(b.name),
        )
        .map(b => ({
          name: b.name,
          commit: { sha: b.sha, url: `${api}/commits/${b.sha}` },
          protected: repo.protectedBranches.has(b.name),
        })),
    );
  },
};

/**
 * GET /commits?sha=&path=&per_page=&page=: newest first, as `git log` lists them (gr2m's
 * create-pull-request reads the base with ?sha=<branch>&per_page=1).
 */
const listCommits: Route<RepoRequest> = {
  method: 'GET',
  path: /^\/commits$/,
  accepted: '',
  async run({ repo, query, state }) {
    const rev = query.get('sha') ?? repo.defaultBranch;
    const tip = await repo.git.resolveCommit(rev);
    // GitHub: an unknown sha or branch is a 404 here.
    if (!tip) throw new GithubError(404, 'Not Found', { documentationUrl: COMMITS_DOCS });
    const perPage = Math.min(Math.max(Number(query.get('per_page') ?? 30) || 30, 1), 100);
    const page = Math.max(Number(query.get('page') ?? 1) || 1, 1);
    const path = query.get('path');
    const args = ['rev-list', `--max-count=${perPage}`, `--skip=${(page - 1) * perPage}`, tip];
    if (path) args.push('--', path);
    const shas = (await repo.git.run(args)).toString('utf8').split('\n').filter(Boolean);
    const out = [];
    for (const sha of shas) out.push(await commitJson(state.urls, repo, sha));
    return json(out);
  },
};

const getCommit: Route<RepoRequest> = {
  method: 'GET',
  path: /^\/commits\/(.+)$/,
  accepted: '',
  async run({ repo, params, state }) {
    const ref = params[0] ?? '';
    const sha = await repo.git.resolveCommit(ref);
    // GitHub's message for a ref it cannot resolve (e.g. gh api repos/o/r/commits/nope).
    if (!sha)
      throw new GithubError(422, `No commit found for SHA: ${ref}`, { documentationUrl: COMMIT_DOCS });
    const commit = await commitJson(state.urls, repo, sha);
    const parent = (await repo.git.readCommit(sha)).parents[0];
    const files = await changedFiles(state.urls, repo, parent ?? null, sha);
    return json({
      ...commit,
      stats: {
        additions: files.reduce((n, f) => n + f.additions, 0),
        deletions: files.reduce((n, f) => n + f.deletions, 0),
        total: files.reduce((n, f) => n + f.changes, 0),
      },
      files,
    });
  },
};

/** The files a commit changes, in the commits API's diff-entry shape (without patches). */
async function changedFiles(urls: Urls, repo: Repo, parent: string | null, sha: string) {
  const base = parent ?? EMPTY_TREE;
  const status = (await repo.git.run(['diff', '--no-renames', '--name-status', '-z', base, sha]))
    .toString('utf8')
    .split('\0');
  const numstat = (await repo.git.run(['diff', '--no-renames', '--numstat', '-z', base, sha]))
    .toString('utf8')
    .split('\0');
  const counts = new Map<string, [number, number]>();
  for (const entry of numstat.filter(Boolean)) {
    const [added = '0', deleted = '0', name = ''] = entry.split('\t');
    counts.set(name, [Number(added) || 0, Number(deleted) || 0]);
  }
  const files = [];
  for (let i = 0; i + 1 < status.length; i += 2) {
    const code = status[i] ?? '';
    const filename = status[i + 1] ?? '';
    const [additions, deletions] = counts.get(filename) ?? [0, 0];
    const blob = code === 'D' ? null : await repo.git.revParse(`${sha}:${filename}`);
    files.push({
      sha: blob,
      filename,
      status: code === 'A' ? 'added' : code === 'D' ? 'removed' : 'modified',
      additions,
      deletions,
      changes: additions + deletions,
      blob_url: `${urls.web}/${repo.fullName}/blob/${sha}/${filename}`,
      raw_url: `${urls.codeload}/${repo.fullName}/raw/${sha}/${filename}`,
      contents_url: `${urls.api}/repos/${repo.fullName}/contents/${filename}?ref=${sha}`,
    });
  }
  return files;
}

export const repoRoutes: Array<Route<RepoRequest>> = [
  getRepo,
  listBranches,
  getBranch,
  listCommits,
  getCommit,
];
