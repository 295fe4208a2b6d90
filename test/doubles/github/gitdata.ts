// The Git database API's blobs, trees and commits, over the repository's bare git repository.
// Statuses and messages are GitHub's; where a message comes from a report rather than the docs, the
// comment says which.

import { GithubError, notFound, unprocessable, unsupported } from './errors.ts';
import { isoSeconds, type CommitObject, type Person, type TreeEntry } from './git.ts';
import { bodyObject, json, optionalString, requireString, type RepoRequest, type Route } from './route.ts';
import { hasScope, nodeId, USER, USER_EMAIL, type Repo, type Urls } from './state.ts';
import { buildTree, pathSha, type Change } from './trees.ts';

const DOCS = {
  blob: 'https://docs.github.com/rest/git/blobs#create-a-blob',
  getBlob: 'https://docs.github.com/rest/git/blobs#get-a-blob',
  tree: 'https://docs.github.com/rest/git/trees#create-a-tree',
  getTree: 'https://docs.github.com/rest/git/trees#get-a-tree',
  commit: 'https://docs.github.com/rest/git/commits#create-a-commit',
  getCommit: 'https://docs.github.com/rest/git/commits#get-a-commit-object',
};

const HEX40 = /^[0-9a-f]{40}$/;
const MODES: Record<string, TreeEntry['type']> = {
  '100644': 'blob',
  '100755': 'blob',
  '120000': 'blob',
  '040000': 'tree',
  '160000': 'commit',
};

const api = (urls: Urls, repo: Repo): string => `${urls.api}/repos/${repo.fullName}`;

/** GitHub's base64 (Ruby's encode64): lines of 60 characters, each ending in a newline. */
export function base64Lines(content: Buffer): string {
  const flat = content.toString('base64');
  return flat.replace(/.{1,60}/g, line => `${line}\n`);
}

export function gitCommitJson(urls: Urls, repo: Repo, c: CommitObject): Record<string, unknown> {
  return {
    sha: c.sha,
    node_id: nodeId('Commit', `${repo.id}:${c.sha}`),
    url: `${api(urls, repo)}/git/commits/${c.sha}`,
    html_url: `${urls.web}/${repo.fullName}/commit/${c.sha}`,
    author: c.author,
    committer: c.committer,
    tree: { sha: c.tree, url: `${api(urls, repo)}/git/trees/${c.tree}` },
    message: c.message.replace(/\n$/, ''),
    parents: c.parents.map(sha => ({
      sha,
      url: `${api(urls, repo)}/git/commits/${sha}`,
      html_url: `${urls.web}/${repo.fullName}/commit/${sha}`,
    })),
    // The double never verifies signatures: a signed commit is reported as GitHub does for an unknown key.
    verification: {
      verified: false,
      reason: c.signature ? 'unknown_key' : 'unsigned',
      signature: c.signature,
      payload: null,
      verified_at: null,
    },
  };
}

function treeEntryJson(urls: Urls, repo: Repo, e: TreeEntry): Record<string, unknown> {
  const out: Record<string, unknown> = { path: e.path, mode: e.mode, type: e.type, sha: e.sha };
  if (e.size !== undefined) out.size = e.size;
  // Submodule entries name a commit of another repository: GitHub gives them no url.
  if (e.type !== 'commit') out.url = `${api(urls, repo)}/git/${e.type}s/${e.sha}`;
  return out;
}

async function treeJson(
  urls: Urls,
  repo: Repo,
  sha: string,
  recursive: boolean,
): Promise<Record<string, unknown>> {
  const entries = await repo.git.readTree(sha, recursive);
  return {
    sha,
    url: `${api(urls, repo)}/git/trees/${sha}`,
    tree: entries.map(e => treeEntryJson(urls, repo, e)),
    truncated: false,
  };
}

function person(value: unknown, field: string): Person | undefined {
  if (value === undefined || value === null) return undefined;
  const p = bodyObject(value);
  const name = p.name;
  const email = p.email;
  if (typeof name !== 'string' || typeof email !== 'string') {
    throw unprocessable(`Invalid request.\n\n"name", "email" weren't supplied for '${field}'.`, DOCS.commit);
  }
  const when = typeof p.date === 'string' ? new Date(p.date) : new Date();
  if (Number.isNaN(when.getTime())) {
    throw unprocessable(
      `Invalid request.\n\n${JSON.stringify(p.date)} is not a valid date-time for '${field}.date'.`,
      DOCS.commit,
    );
  }
  return { name, email, date: isoSeconds(when) };
}

/**
 * Whether the new tree changes anything under .github/workflows/ compared with the base tree.
 * GitHub answers POST /git/trees with a bare 404 "Not Found" (and an empty X-Accepted-OAuth-Scopes) when a
 * classic token without the `workflow` scope creates, updates or deletes a workflow file this way, while
 * blobs, commits and refs pass with the same token: GitHub Community discussion summarised at
 * devactivity.com "GitHub API's misleading 404"; gr2m/octokit-plugin-create-pull-request#104 ("the API
 * will always respond 404" for trees touching .github/workflows); octokit/rest.js#368 (gr2m: "The scope is
 * called workflow"); github/docs#4770 (GitHub declined to change it to 403). `git push` refuses the same
 * change with "refusing to allow ... to create or update workflow ... without `workflow` scope".
 */
// Compared on the resulting trees rather than on entry paths, so an entry replacing `.github` wholesale
// (a tree sha) is caught as well.
async function touchesWorkflows(repo: Repo, base: string | null, next: string): Promise<boolean> {
  const before = base ? await pathSha(repo.git, base, '.github/workflows') : null;
  const after = await pathSha(repo.git, next, '.github/workflows');
  return before !== after;
}

async function requireObject(
  repo: Repo,
  sha: string,
  type: string,
  message: string,
  docs: string,
): Promise<void> {
  if (!HEX40.test(sha) || (await repo.git.typeOf(sha)) !== type) throw unprocessable(message, docs);
}

const createBlob: Route<RepoRequest> = {
  method: 'POST',
  accepted: '',
  path: /^\/git\/blobs$/,
  write: true,
  async run({ repo, body, state }) {
    const b = bodyObject(body);
    const content = requireString(b, 'content', DOCS.blob);
    const encoding = optionalString(b, 'encoding') ?? 'utf-8';
    if (encoding !== 'utf-8' && encoding !== 'utf8' && encoding !== 'base64') {
      throw unprocessable(`encoding must be 'utf-8' or 'base64'`, DOCS.blob);
    }
    const bytes = encoding === 'base64' ? Buffer.from(content, 'base64') : Buffer.from(content, 'utf8');
    const sha = await repo.git.writeBlob(bytes);
    const url = `${api(state.urls, repo)}/git/blobs/${sha}`;
    return json({ sha, url }, 201, { location: url });
  },
};

const getBlob: Route<RepoRequest> = {
  method: 'GET',
  path: /^\/git\/blobs\/([^/]+)$/,
  async run({ repo, params, state }) {
    const sha = params[0] ?? '';
    if (!HEX40.test(sha) || (await repo.git.typeOf(sha)) !== 'blob') throw notFound(DOCS.getBlob);
    const content = await repo.git.readBlob(sha);
    return json({
      sha,
      node_id: nodeId('Blob', `${repo.id}:${sha}`),
      size: content.length,
      url: `${api(state.urls, repo)}/git/blobs/${sha}`,
      content: base64Lines(content),
      encoding: 'base64',
    });
  },
};

async function parseTreeEntry(repo: Repo, raw: unknown): Promise<Change> {
  const e = bodyObject(raw);
  const path = requireString(e, 'path', DOCS.tree);
  const mode = optionalString(e, 'mode') ?? '100644';
  const type = MODES[mode];
  if (!type)
    throw unprocessable(
      `Invalid request.\n\nFor 'properties/mode', "${mode}" is not one of the allowed values.`,
      DOCS.tree,
    );
  if (e.type !== undefined && e.type !== type) {
    throw unprocessable(
      `Invalid request.\n\nFor 'properties/type', ${JSON.stringify(e.type)} does not match mode ${mode}.`,
      DOCS.tree,
    );
  }
  const hasSha = 'sha' in e;
  const hasContent = e.content !== undefined && e.content !== null;
  // octokit/octokit.net#2836: neither or both of sha and content.
  if (hasSha === hasContent) {
    throw unprocessable(
      'Must supply either tree.sha or tree.content. Request will be rejected if both are present.',
      DOCS.tree,
    );
  }
  if (hasSha && e.sha === null) return { path, delete: true };
  if (hasContent) {
    if (typeof e.content !== 'string' || type !== 'blob')
      throw unprocessable('tree.content must be a string for a blob', DOCS.tree);
    return { path, mode, type, sha: await repo.git.writeBlob(Buffer.from(e.content, 'utf8')) };
  }
  const sha = typeof e.sha === 'string' ? e.sha : '';
  // A submodule entry names a commit in another repository, so it need not exist here.
  // "tree.sha 11d6… is not a valid blob" (BetaHuhn/repo-file-sync-action#349), "… is not a valid tree"
  // (creationix/tedit#43).
  if (type !== 'commit')
    await requireObject(repo, sha, type, `tree.sha ${sha} is not a valid ${type}`, DOCS.tree);
  else if (!HEX40.test(sha)) throw unprocessable(`tree.sha ${sha} is not a valid commit`, DOCS.tree);
  return { path, mode, type, sha };
}

const createTree: Route<RepoRequest> = {
  method: 'POST',
  accepted: '',
  path: /^\/git\/trees$/,
  write: true,
  async run({ repo, body, token, state }) {
    const b = bodyObject(body);
    if (!Array.isArray(b.tree)) throw unprocessable(`Invalid request.\n\n"tree" wasn't supplied.`, DOCS.tree);
    const base = optionalString(b, 'base_tree') ?? null;
    if (base !== null) {
      // github3.py#522, PyGithub#1732. A commit sha is refused too: GitHub stopped resolving a commit
      // to its tree here in 2014 (github-tools/github#125), and the docs ask for a tree.
      if (!HEX40.test(base) || (await repo.git.typeOf(base)) !== 'tree') {
        throw unprocessable('base_tree is not a valid tree oid', DOCS.tree);
      }
    }
    const changes: Change[] = [];
    for (const entry of b.tree) changes.push(await parseTreeEntry(repo, entry));
    const sha = await buildTree(repo.git, base, changes);
    if (!hasScope(token, 'workflow') && (await touchesWorkflows(repo, base, sha))) {
      throw new GithubError(404, 'Not Found', {
        documentationUrl: DOCS.tree,
        headers: { 'x-accepted-oauth-scopes': '' },
      });
    }
    const out = await treeJson(state.urls, repo, sha, false);
    return json(out, 201, { location: out.url as string });
  },
};

const getTree: Route<RepoRequest> = {
  method: 'GET',
  path: /^\/git\/trees\/(.+)$/,
  async run({ repo, params, query, state }) {
    // tree_sha may also be a branch or tag name, as on GitHub.
    const rev = params[0] ?? '';
    const sha = rev.startsWith('-') ? null : await repo.git.revParse(`${rev}^{tree}`);
    if (!sha) throw notFound(DOCS.getTree);
    // GitHub treats any value of `recursive` as true ("Setting this parameter to any value returns...").
    return json(await treeJson(state.urls, repo, sha, query.has('recursive')));
  },
};

const createCommit: Route<RepoRequest> = {
  method: 'POST',
  path: /^\/git\/commits$/,
  write: true,
  // As recorded in gr2m/octokit-plugin-create-pull-request test/fixtures (X-Accepted-OAuth-Scopes: "").
  accepted: '',
  async run({ repo, body, state }) {
    const b = bodyObject(body);
    const message = requireString(b, 'message', DOCS.commit);
    const tree = requireString(b, 'tree', DOCS.commit);
    // Dependabot retries on exactly this message (dependabot-core github.rb create_commit; also
    // osunyorg/admin#4384).
    await requireObject(repo, tree, 'tree', 'Tree SHA does not exist', DOCS.commit);
    const parents = b.parents === undefined ? [] : b.parents;
    if (!Array.isArray(parents) || parents.some(p => typeof p !== 'string')) {
      throw unprocessable(
        `Invalid request.\n\nFor 'properties/parents', ${JSON.stringify(parents)} is not an array of strings.`,
        DOCS.commit,
      );
    }
    for (const p of parents as string[]) {
      // Simply-Static/simply-static#335 quotes this one for a malformed parent.
      if (!HEX40.test(p)) {
        throw unprocessable(
          "Each SHA in the 'parents' parameter must be exactly 40 characters and contain only [0-9a-f].",
          DOCS.commit,
        );
      }
      // A well-formed parent that is not a commit here: message from memory of the live API (unverified).
      await requireObject(
        repo,
        p,
        'commit',
        'Parent SHA does not exist or is not a commit object',
        DOCS.commit,
      );
    }
    const author = person(b.author, 'author') ?? {
      name: USER.name,
      email: USER_EMAIL,
      date: isoSeconds(new Date()),
    };
    const committer = person(b.committer, 'committer') ?? author;
    if (b.signature !== undefined) {
      throw unsupported('commit signature');
    }
    const sha = await repo.git.writeCommit({
      tree,
      parents: parents as string[],
      message,
      author,
      committer,
    });
    const out = gitCommitJson(state.urls, repo, await repo.git.readCommit(sha));
    return json(out, 201, { location: out.url as string });
  },
};

const getCommit: Route<RepoRequest> = {
  method: 'GET',
  path: /^\/git\/commits\/([^/]+)$/,
  async run({ repo, params, state }) {
    const sha = params[0] ?? '';
    if (!HEX40.test(sha) || (await repo.git.typeOf(sha)) !== 'commit') throw notFound(DOCS.getCommit);
    return json(gitCommitJson(state.urls, repo, await repo.git.readCommit(sha)));
  },
};

export const gitDataRoutes: Array<Route<RepoRequest>> = [
  createBlob,
  getBlob,
  createTree,
  getTree,
  createCommit,
  getCommit,
];
