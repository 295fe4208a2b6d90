// The Git database API's references: get, list by prefix, create, update (fast-forward unless forced) and
// delete, over the refs of the repository's bare git repository.

import { notFound, unprocessable } from './errors.ts';
import { isoSeconds } from './git.ts';
import { json, optionalBoolean, requireString, bodyObject, type RepoRequest, type Route } from './route.ts';
import { nodeId, type Repo, type Urls } from './state.ts';

const DOCS = {
  getRef: 'https://docs.github.com/rest/git/refs#get-a-reference',
  createRef: 'https://docs.github.com/rest/git/refs#create-a-reference',
  updateRef: 'https://docs.github.com/rest/git/refs#update-a-reference',
  deleteRef: 'https://docs.github.com/rest/git/refs#delete-a-reference',
};

const HEX40 = /^[0-9a-f]{40}$/;
const api = (urls: Urls, repo: Repo): string => `${urls.api}/repos/${repo.fullName}`;

export function refJson(
  urls: Urls,
  repo: Repo,
  ref: string,
  sha: string,
  type = 'commit',
): Record<string, unknown> {
  return {
    ref,
    node_id: nodeId('Ref', `${repo.id}:${ref}`),
    url: `${api(urls, repo)}/git/${ref}`,
    object: { sha, type, url: `${api(urls, repo)}/git/${type === 'tag' ? 'tags' : `${type}s`}/${sha}` },
  };
}

const getRef: Route<RepoRequest> = {
  method: 'GET',
  path: /^\/git\/ref\/(.+)$/,
  async run({ repo, params, state }) {
    const ref = `refs/${params[0] ?? ''}`;
    const [found] = (await repo.git.listRefs(ref)).filter(r => r.ref === ref);
    if (!found) throw notFound(DOCS.getRef);
    return json(refJson(state.urls, repo, found.ref, found.sha, found.type));
  },
};

const matchingRefs: Route<RepoRequest> = {
  method: 'GET',
  path: /^\/git\/matching-refs\/(.*)$/,
  async run({ repo, params, state }) {
    const prefix = `refs/${params[0] ?? ''}`;
    const refs = (await repo.git.listRefs('refs/')).filter(r => r.ref.startsWith(prefix));
    return json(refs.map(r => refJson(state.urls, repo, r.ref, r.sha, r.type)));
  },
};

/** The branch a full ref names, when it is a branch. */
const branchOf = (ref: string): string | null =>
  ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : null;

function refuseProtected(repo: Repo, ref: string, docs: string): void {
  const branch = branchOf(ref);
  // The double's protection is "require a pull request before merging": GitHub refuses a direct ref update
  // with this message (googleapis/repo-automation-bots#5551, code-suggester's updateRef; `git push` shows
  // the same text under "GH006: Protected branch update failed").
  if (branch !== null && repo.protectedBranches.has(branch)) {
    throw unprocessable('Changes must be made through a pull request.', docs);
  }
}

const createRef: Route<RepoRequest> = {
  method: 'POST',
  path: /^\/git\/refs$/,
  write: true,
  async run({ repo, body, state }) {
    const b = bodyObject(body);
    const ref = requireString(b, 'ref', DOCS.createRef);
    const sha = requireString(b, 'sha', DOCS.createRef);
    // Messages reported in octokit/octokit.rb#675.
    if (!ref.startsWith('refs/') || ref.split('/').length < 3) {
      throw unprocessable(
        'Reference name must contain at least three slash-separated components.',
        DOCS.createRef,
      );
    }
    if (!(await repo.git.validRefName(ref)))
      throw unprocessable(`${ref} is not a valid ref name.`, DOCS.createRef);
    // octokit/octokit.js#562: an unknown sha.
    const type = HEX40.test(sha) ? await repo.git.typeOf(sha) : null;
    if (!type) throw unprocessable('Object does not exist', DOCS.createRef);
    if (await repo.git.revParse(ref)) throw unprocessable('Reference already exists', DOCS.createRef);
    // A D/F conflict (refs/heads/a with refs/heads/a/b) fails in git; GitHub says only this
    // (microsoft/vscode-remote-repositories-github#122).
    if (!(await repo.git.compareAndSwap(ref, sha, null)))
      throw unprocessable('Reference update failed', DOCS.createRef);
    const out = refJson(state.urls, repo, ref, sha, type);
    return json(out, 201, { location: out.url as string });
  },
};

const updateRef: Route<RepoRequest> = {
  method: 'PATCH',
  path: /^\/git\/refs\/(.+)$/,
  write: true,
  async run({ repo, body, params, state }) {
    const ref = `refs/${params[0] ?? ''}`;
    const b = bodyObject(body);
    const sha = requireString(b, 'sha', DOCS.updateRef);
    const force = optionalBoolean(b, 'force') ?? false;
    const current = await repo.git.revParse(ref);
    // github/rest-api-description#2746: "refs/heads/x" in the path (refs/refs/...) gives this too.
    if (!current || !(await repo.git.listRefs(ref)).some(r => r.ref === ref)) {
      throw unprocessable('Reference does not exist', DOCS.updateRef);
    }
    const type = HEX40.test(sha) ? await repo.git.typeOf(sha) : null;
    if (!type) throw unprocessable('Object does not exist', DOCS.updateRef);
    refuseProtected(repo, ref, DOCS.updateRef);
    // prose/prose#148, rust-lang/homu#75.
    if (!force && !(type === 'commit' && (await repo.git.isAncestor(current, sha)))) {
      throw unprocessable('Update is not a fast forward', DOCS.updateRef);
    }
    if (!(await repo.git.compareAndSwap(ref, sha, current)))
      throw unprocessable('Reference update failed', DOCS.updateRef);
    return json(refJson(state.urls, repo, ref, sha, type));
  },
};

const deleteRef: Route<RepoRequest> = {
  method: 'DELETE',
  path: /^\/git\/refs\/(.+)$/,
  write: true,
  async run({ repo, params }) {
    const ref = `refs/${params[0] ?? ''}`;
    if (!(await repo.git.listRefs(ref)).some(r => r.ref === ref)) {
      throw unprocessable('Reference does not exist', DOCS.deleteRef);
    }
    refuseProtected(repo, ref, DOCS.deleteRef);
    await repo.git.deleteRef(ref);
    // GitHub closes the open pull requests whose head or base branch is deleted.
    const branch = branchOf(ref);
    const now = isoSeconds(new Date());
    for (const pull of repo.pulls) {
      if (pull.state === 'open' && (pull.head === branch || pull.base === branch)) {
        pull.state = 'closed';
        pull.closedAt = now;
        pull.updatedAt = now;
      }
    }
    return { status: 204 };
  },
};

export const refRoutes: Array<Route<RepoRequest>> = [getRef, matchingRefs, createRef, updateRef, deleteRef];
