// Pull requests (list, create, get, update, a human's close or merge), with GitHub's validation errors.
// Heads are branches of the same repository: the double has no forks.

import { notFound, unprocessable, unsupported, validationFailed } from './errors.ts';
import { isoSeconds } from './git.ts';
import { bodyObject, json, optionalBoolean, optionalString, type RepoRequest, type Route } from './route.ts';
import { labelJson, ownerUser, repository, reviewerUser, tokenUser } from './shapes.ts';
import { nodeId, type Pull, type Repo, type State } from './state.ts';

const DOCS = {
  list: 'https://docs.github.com/rest/pulls/pulls#list-pull-requests',
  create: 'https://docs.github.com/rest/pulls/pulls#create-a-pull-request',
  get: 'https://docs.github.com/rest/pulls/pulls#get-a-pull-request',
  update: 'https://docs.github.com/rest/pulls/pulls#update-a-pull-request',
};

/** Refreshes an open pull request's tips from its branches (GitHub follows pushes to both). */
async function refresh(repo: Repo, pull: Pull): Promise<void> {
  if (pull.state !== 'open') return;
  pull.headSha = (await repo.git.revParse(`refs/heads/${pull.head}`)) ?? pull.headSha;
  pull.baseSha = (await repo.git.revParse(`refs/heads/${pull.base}`)) ?? pull.baseSha;
}

async function diffStats(repo: Repo, pull: Pull): Promise<Record<string, number>> {
  const range = `${pull.baseSha}...${pull.headSha}`;
  const commits = Number(
    (await repo.git.run(['rev-list', '--count', `${pull.baseSha}..${pull.headSha}`])).toString().trim(),
  );
  const numstat = (await repo.git.run(['diff', '--numstat', range]))
    .toString('utf8')
    .split('\n')
    .filter(Boolean);
  let additions = 0;
  let deletions = 0;
  for (const line of numstat) {
    const [added = '0', deleted = '0'] = line.split('\t');
    additions += Number(added) || 0; // "-" for binary files
    deletions += Number(deleted) || 0;
  }
  return { commits, additions, deletions, changed_files: numstat.length };
}

/**
 * GitHub computes mergeability in the background: the answer to the create is null/"unknown", later reads
 * say whether base and head merge cleanly (a closed pull request stays "unknown" unless merged).
 */
async function mergeability(repo: Repo, pull: Pull, fresh: boolean): Promise<Record<string, unknown>> {
  if (fresh || pull.state === 'closed')
    return { mergeable: null, rebaseable: null, mergeable_state: 'unknown' };
  const clean = await repo.git.test(['merge-tree', '--write-tree', pull.baseSha, pull.headSha]);
  return { mergeable: clean, rebaseable: clean, mergeable_state: clean ? 'clean' : 'dirty' };
}

/** pull-request-simple (list) or, with `full`, pull-request (get, create, update); `fresh` for the create. */
export async function pullJson(
  state: State,
  repo: Repo,
  pull: Pull,
  full: boolean,
  fresh = false,
): Promise<Record<string, unknown>> {
  await refresh(repo, pull);
  const { urls } = state;
  const api = `${urls.api}/repos/${repo.fullName}`;
  const url = `${api}/pulls/${pull.number}`;
  const html = `${urls.web}/${repo.fullName}/pull/${pull.number}`;
  const issue = `${api}/issues/${pull.number}`;
  const side = (ref: string, sha: string) => ({
    label: `${repo.owner}:${ref}`,
    ref,
    sha,
    user: ownerUser(urls, repo),
    repo: repository(urls, repo),
  });
  const labels = pull.labels.flatMap(name => {
    const label = repo.labels.get(name.toLowerCase());
    return label ? [labelJson(urls, repo, label)] : [];
  });
  const out: Record<string, unknown> = {
    url,
    id: pull.id,
    node_id: nodeId('PullRequest', pull.id),
    html_url: html,
    diff_url: `${html}.diff`,
    patch_url: `${html}.patch`,
    issue_url: issue,
    number: pull.number,
    state: pull.state,
    locked: false,
    title: pull.title,
    user: tokenUser(urls),
    body: pull.body,
    created_at: pull.createdAt,
    updated_at: pull.updatedAt,
    closed_at: pull.closedAt,
    merged_at: pull.mergedAt,
    merge_commit_sha: pull.mergeCommitSha,
    assignee: null,
    assignees: [],
    requested_reviewers: pull.reviewers.map(login => reviewerUser(urls, repo, login)),
    requested_teams: [],
    labels,
    milestone: null,
    draft: pull.draft,
    commits_url: `${url}/commits`,
    review_comments_url: `${url}/comments`,
    review_comment_url: `${api}/pulls/comments{/number}`,
    comments_url: `${issue}/comments`,
    statuses_url: `${api}/statuses/${pull.headSha}`,
    head: side(pull.head, pull.headSha),
    base: side(pull.base, pull.baseSha),
    _links: {
      self: { href: url },
      html: { href: html },
      issue: { href: issue },
      comments: { href: `${issue}/comments` },
      review_comments: { href: `${url}/comments` },
      review_comment: { href: `${api}/pulls/comments{/number}` },
      commits: { href: `${url}/commits` },
      statuses: { href: `${api}/statuses/${pull.headSha}` },
    },
    author_association: 'MEMBER',
    auto_merge: null,
    active_lock_reason: null,
  };
  if (!full) return out;
  return {
    ...out,
    merged: pull.mergedAt !== null,
    ...(await mergeability(repo, pull, fresh)),
    merged_by: pull.mergedAt !== null ? tokenUser(urls) : null,
    comments: 0,
    review_comments: 0,
    maintainer_can_modify: pull.maintainerCanModify,
    ...(await diffStats(repo, pull)),
  };
}

/**
 * GitHub's limit on a pull request's body, counted in characters (code points), answered as renovatebot/renovate#2032
 * and potproject/code-agent#3 show it: 422 Validation Failed, resource Issue, code custom.
 */
function checkBodyLength(body: string | null | undefined, documentationUrl: string): void {
  if (body == null || Array.from(body).length <= 65_536) return;
  throw validationFailed(
    [
      {
        resource: 'Issue',
        code: 'custom',
        field: 'body',
        message: 'body is too long (maximum is 65536 characters)',
      },
    ],
    documentationUrl,
  );
}

export function findPull(repo: Repo, number: string | undefined, docs: string): Pull {
  const pull = repo.pulls.find(p => String(p.number) === number);
  if (!pull) throw notFound(docs);
  return pull;
}

const listPulls: Route<RepoRequest> = {
  method: 'GET',
  path: /^\/pulls$/,
  async run({ repo, query, state }) {
    const stateFilter = query.get('state') ?? 'open';
    if (!['open', 'closed', 'all'].includes(stateFilter)) {
      throw validationFailed([{ resource: 'Search', field: 'state', code: 'invalid' }], DOCS.list);
    }
    // head must be "owner:branch"; a bare branch name is silently ignored by GitHub and every pull is
    // listed (argoproj-labs/gitops-promoter#1417, GitHub Community discussion #24354).
    const head = query.get('head');
    const [headOwner, headRef] = head?.includes(':')
      ? [head.slice(0, head.indexOf(':')), head.slice(head.indexOf(':') + 1)]
      : [null, null];
    const base = query.get('base');
    const selected = repo.pulls
      .filter(p => stateFilter === 'all' || p.state === stateFilter)
      .filter(
        p =>
          headOwner === null || (headOwner.toLowerCase() === repo.owner.toLowerCase() && p.head === headRef),
      )
      .filter(p => base === null || p.base === base)
      // GitHub's default order: newest first.
      .sort((a, b) => b.number - a.number);
    const perPage = Math.min(Math.max(Number(query.get('per_page') ?? 30) || 30, 1), 100);
    const page = Math.max(Number(query.get('page') ?? 1) || 1, 1);
    const slice = selected.slice((page - 1) * perPage, page * perPage);
    const headers: Record<string, string> = {};
    if (selected.length > page * perPage) {
      const next = new URL(`${state.urls.api}/repositories/${repo.id}/pulls`);
      for (const [k, v] of query) next.searchParams.set(k, v);
      next.searchParams.set('page', String(page + 1));
      headers.link = `<${next.href}>; rel="next"`;
    }
    const out = [];
    for (const p of slice) out.push(await pullJson(state, repo, p, false));
    return json(out, 200, headers);
  },
};

const createPull: Route<RepoRequest> = {
  method: 'POST',
  path: /^\/pulls$/,
  write: true,
  accepted: '',
  async run({ repo, body, state }) {
    const b = bodyObject(body);
    const missing = ['head', 'base'].filter(k => typeof b[k] !== 'string' || b[k] === '');
    if (missing.length > 0 || (b.title === undefined && b.issue === undefined)) {
      throw validationFailed(
        [...missing, ...(b.title === undefined ? ['title'] : [])].map(field => ({
          resource: 'PullRequest',
          code: 'missing_field',
          field,
        })),
        DOCS.create,
      );
    }
    if (b.issue !== undefined) throw unsupported('creating a pull request from an issue');
    const title = optionalString(b, 'title') ?? '';
    checkBodyLength(optionalString(b, 'body'), DOCS.create);
    const headSpec = b.head as string;
    const baseName = b.base as string;
    const colon = headSpec.indexOf(':');
    const headOwner = colon < 0 ? repo.owner : headSpec.slice(0, colon);
    const headName = colon < 0 ? headSpec : headSpec.slice(colon + 1);
    const baseSha = await repo.git.revParse(`refs/heads/${baseName}`);
    const headSha =
      headOwner.toLowerCase() === repo.owner.toLowerCase()
        ? await repo.git.revParse(`refs/heads/${headName}`)
        : null;
    const invalid = [
      ...(headSha ? [] : [{ resource: 'PullRequest', field: 'head', code: 'invalid' }]),
      ...(baseSha ? [] : [{ resource: 'PullRequest', field: 'base', code: 'invalid' }]),
    ];
    if (!headSha || !baseSha) throw validationFailed(invalid, DOCS.create);
    // gm3dmo/the-power#175: one open pull request per head and base.
    const existing = repo.pulls.find(p => p.state === 'open' && p.head === headName && p.base === baseName);
    if (existing) {
      throw validationFailed(
        [
          {
            resource: 'PullRequest',
            code: 'custom',
            message: `A pull request already exists for ${repo.owner}:${headName}.`,
          },
        ],
        DOCS.create,
      );
    }
    // cyberark/dev-flow#42: nothing on head that base lacks.
    if (await repo.git.isAncestor(headSha, baseSha)) {
      throw validationFailed(
        [
          {
            resource: 'PullRequest',
            code: 'custom',
            message: `No commits between ${baseName} and ${headName}`,
          },
        ],
        DOCS.create,
      );
    }
    const now = isoSeconds(new Date());
    const pull: Pull = {
      id: state.nextId(),
      number: repo.nextNumber++,
      title,
      body: optionalString(b, 'body') ?? null,
      state: 'open',
      draft: optionalBoolean(b, 'draft') ?? false,
      head: headName,
      base: baseName,
      headSha,
      baseSha,
      maintainerCanModify: optionalBoolean(b, 'maintainer_can_modify') ?? true,
      createdAt: now,
      updatedAt: now,
      closedAt: null,
      mergedAt: null,
      mergeCommitSha: null,
      labels: [],
      reviewers: [],
    };
    repo.pulls.push(pull);
    const out = await pullJson(state, repo, pull, true, true);
    return json(out, 201, { location: out.url as string });
  },
};

const getPull: Route<RepoRequest> = {
  method: 'GET',
  path: /^\/pulls\/(\d+)$/,
  async run({ repo, params, state }) {
    return json(await pullJson(state, repo, findPull(repo, params[0], DOCS.get), true));
  },
};

const updatePull: Route<RepoRequest> = {
  method: 'PATCH',
  path: /^\/pulls\/(\d+)$/,
  write: true,
  async run({ repo, params, body, state }) {
    const pull = findPull(repo, params[0], DOCS.update);
    const b = bodyObject(body);
    const title = optionalString(b, 'title');
    const text = b.body === null ? null : optionalString(b, 'body');
    checkBodyLength(text, DOCS.update);
    const next = optionalString(b, 'state');
    const base = optionalString(b, 'base');
    if (next !== undefined && next !== 'open' && next !== 'closed') {
      throw validationFailed([{ resource: 'PullRequest', field: 'state', code: 'invalid' }], DOCS.update);
    }
    if (base !== undefined && !(await repo.git.revParse(`refs/heads/${base}`))) {
      throw validationFailed([{ resource: 'PullRequest', field: 'base', code: 'invalid' }], DOCS.update);
    }
    if (next === 'open' && pull.state === 'closed') {
      if (pull.mergedAt) throw unprocessable('Cannot reopen a merged pull request', DOCS.update);
      if (!(await repo.git.revParse(`refs/heads/${pull.head}`))) {
        throw validationFailed(
          [
            {
              resource: 'PullRequest',
              code: 'custom',
              message: 'state cannot be changed. The head branch was deleted.',
            },
          ],
          DOCS.update,
        );
      }
    }
    await refresh(repo, pull);
    const now = isoSeconds(new Date());
    if (title !== undefined) pull.title = title;
    if (text !== undefined) pull.body = text;
    if (base !== undefined) pull.base = base;
    if (next === 'closed' && pull.state === 'open') {
      pull.state = 'closed';
      pull.closedAt = now;
    } else if (next === 'open' && pull.state === 'closed') {
      pull.state = 'open';
      pull.closedAt = null;
    }
    pull.updatedAt = now;
    return json(await pullJson(state, repo, pull, true));
  },
};

export const pullRoutes: Array<Route<RepoRequest>> = [listPulls, createPull, getPull, updatePull];

/** A human closes or merges: merging writes a real merge commit onto base (or fast-forwards it). */
export async function closeByHuman(repo: Repo, pull: Pull, merged: boolean): Promise<void> {
  await refresh(repo, pull);
  const now = isoSeconds(new Date());
  if (merged) {
    const baseRef = `refs/heads/${pull.base}`;
    let mergeSha = pull.headSha;
    if (!(await repo.git.isAncestor(pull.baseSha, pull.headSha))) {
      const out = await repo.git
        .run(['merge-tree', '--write-tree', pull.baseSha, pull.headSha])
        .catch(() => null);
      const tree = out?.toString('utf8').split('\n')[0];
      if (!tree) throw new Error(`pull #${pull.number} of ${repo.fullName} does not merge cleanly`);
      const who = { name: 'A Human', email: 'human@example.com', date: now };
      mergeSha = await repo.git.writeCommit({
        tree,
        parents: [pull.baseSha, pull.headSha],
        message: `Merge pull request #${pull.number} from ${repo.owner}/${pull.head}\n\n${pull.title}`,
        author: who,
        committer: who,
      });
    }
    if (!(await repo.git.compareAndSwap(baseRef, mergeSha, pull.baseSha))) {
      throw new Error(`${baseRef} of ${repo.fullName} moved while merging`);
    }
    pull.baseSha = mergeSha;
    pull.mergedAt = now;
    pull.mergeCommitSha = mergeSha;
  }
  pull.state = 'closed';
  pull.closedAt = now;
  pull.updatedAt = now;
}
