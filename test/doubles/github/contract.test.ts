// Holds every answer of the double to the response schema GitHub's OpenAPI description gives that
// operation and status (@octokit/openapi 23.0.2, api.github.com.json), driving it with Octokit as the
// tools do, so the double cannot drift from what clients are written against.
import { Octokit } from '@octokit/rest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGithubDouble, type GithubDouble } from './index.ts';
import { loadContract, type Contract } from './openapi.ts';

let github: GithubDouble;
let octokit: Octokit;
let contract: Contract;
let head: string;
const repo = { owner: 'acme', repo: 'market-predictor' };
// Octokit logs every 4xx; these tests provoke them on purpose.
const quiet = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** The error response Octokit rejected with (status and parsed body). */
async function failure(call: Promise<unknown>): Promise<{ status: number; data: any; headers: any }> {
  try {
    await call;
  } catch (error: any) {
    if (error?.response)
      return { status: error.status, data: error.response.data, headers: error.response.headers };
    throw error;
  }
  throw new Error('the call succeeded');
}

function conforms(method: string, path: string, response: { status: number; data: unknown }): void {
  expect(
    contract.violations(method, path, response.status, response.data),
    `${method} ${path} ${response.status}`,
  ).toEqual([]);
}

beforeAll(async () => {
  contract = loadContract();
  github = await startGithubDouble();
  ({ headSha: head } = await github.addRepo({
    owner: 'acme',
    name: 'market-predictor',
    files: { 'README.md': '# predictor\n', 'src/app.py': 'print(1)\n', 'src/model/train.py': 'fit()\n' },
    branches: { develop: {} },
    private: true,
    collaborators: ['octocat'],
  }));
  octokit = new Octokit({ auth: github.token, baseUrl: github.url, log: quiet });
});

afterAll(async () => {
  await github.close();
});

describe("the GitHub double against GitHub's OpenAPI description", () => {
  it('answers the user and rate-limit endpoints in their documented shapes', async () => {
    conforms('get', '/user', await octokit.users.getAuthenticated());
    conforms('get', '/rate_limit', await octokit.rateLimit.get());
    conforms('get', '/', await octokit.meta.root());
    const anonymous = new Octokit({ baseUrl: github.url, log: quiet });
    conforms('get', '/user', await failure(anonymous.users.getAuthenticated()));
    const stranger = new Octokit({ auth: 'ghp_unknown', baseUrl: github.url, log: quiet });
    const bad = await failure(stranger.users.getAuthenticated());
    expect(bad.status).toBe(401);
    conforms('get', '/user', bad);
  });

  it('answers a repository, a branch and their 404s in their documented shapes', async () => {
    conforms('get', '/repos/{owner}/{repo}', await octokit.repos.get(repo));
    conforms(
      'get',
      '/repos/{owner}/{repo}',
      await failure(octokit.repos.get({ owner: 'acme', repo: 'nope' })),
    );
    conforms(
      'get',
      '/repos/{owner}/{repo}/branches/{branch}',
      await octokit.repos.getBranch({ ...repo, branch: 'main' }),
    );
    conforms(
      'get',
      '/repos/{owner}/{repo}/branches/{branch}',
      await octokit.repos.getBranch({ ...repo, branch: 'develop' }),
    );
    conforms(
      'get',
      '/repos/{owner}/{repo}/branches/{branch}',
      await failure(octokit.repos.getBranch({ ...repo, branch: 'nope' })),
    );
  });

  it('answers branch and commit listings and a single commit in their documented shapes', async () => {
    conforms('get', '/repos/{owner}/{repo}/branches', await octokit.repos.listBranches(repo));
    conforms(
      'get',
      '/repos/{owner}/{repo}/commits',
      await octokit.repos.listCommits({ ...repo, sha: 'main', per_page: 1 }),
    );
    conforms(
      'get',
      '/repos/{owner}/{repo}/commits/{ref}',
      await octokit.repos.getCommit({ ...repo, ref: head }),
    );
    conforms(
      'get',
      '/repos/{owner}/{repo}/commits/{ref}',
      await failure(octokit.repos.getCommit({ ...repo, ref: 'no-such-ref' })),
    );
  });

  it('answers blobs, trees and commits, created and read, in their documented shapes', async () => {
    const blob = await octokit.git.createBlob({
      ...repo,
      content: Buffer.from([0, 159, 146, 150]).toString('base64'),
      encoding: 'base64',
    });
    conforms('post', '/repos/{owner}/{repo}/git/blobs', blob);
    conforms(
      'get',
      '/repos/{owner}/{repo}/git/blobs/{file_sha}',
      await octokit.git.getBlob({ ...repo, file_sha: blob.data.sha }),
    );
    const base = await octokit.git.getCommit({ ...repo, commit_sha: head });
    conforms('get', '/repos/{owner}/{repo}/git/commits/{commit_sha}', base);
    conforms(
      'get',
      '/repos/{owner}/{repo}/git/commits/{commit_sha}',
      await failure(octokit.git.getCommit({ ...repo, commit_sha: 'f'.repeat(40) })),
    );
    const tree = await octokit.git.createTree({
      ...repo,
      base_tree: base.data.tree.sha,
      tree: [
        { path: 'src/app.py', mode: '100644', type: 'blob', content: 'print(2)\n' },
        { path: 'assets/logo.bin', mode: '100644', type: 'blob', sha: blob.data.sha },
        { path: 'src/model/train.py', mode: '100644', type: 'blob', sha: null },
      ],
    });
    conforms('post', '/repos/{owner}/{repo}/git/trees', tree);
    conforms(
      'get',
      '/repos/{owner}/{repo}/git/trees/{tree_sha}',
      await octokit.git.getTree({ ...repo, tree_sha: tree.data.sha, recursive: '1' }),
    );
    const missing = await failure(
      octokit.git.createTree({
        ...repo,
        base_tree: base.data.tree.sha,
        tree: [{ path: 'nope.txt', mode: '100644', type: 'blob', sha: null }],
      }),
    );
    expect(missing.status).toBe(422);
    conforms('post', '/repos/{owner}/{repo}/git/trees', missing);
    const workflow = await failure(
      octokit.git.createTree({
        ...repo,
        base_tree: base.data.tree.sha,
        tree: [{ path: '.github/workflows/ci.yml', mode: '100644', type: 'blob', content: 'on: push\n' }],
      }),
    );
    expect(workflow.status).toBe(404);
    conforms('post', '/repos/{owner}/{repo}/git/trees', workflow);
    const commit = await octokit.git.createCommit({
      ...repo,
      message: 'Change',
      tree: tree.data.sha,
      parents: [head],
    });
    conforms('post', '/repos/{owner}/{repo}/git/commits', commit);
    const badTree = await failure(
      octokit.git.createCommit({ ...repo, message: 'x', tree: 'a'.repeat(40), parents: [head] }),
    );
    expect(badTree.status).toBe(422);
    conforms('post', '/repos/{owner}/{repo}/git/commits', badTree);
  });

  it('answers references, created, updated, listed and deleted, in their documented shapes', async () => {
    conforms(
      'get',
      '/repos/{owner}/{repo}/git/ref/{ref}',
      await octokit.git.getRef({ ...repo, ref: 'heads/main' }),
    );
    conforms(
      'get',
      '/repos/{owner}/{repo}/git/ref/{ref}',
      await failure(octokit.git.getRef({ ...repo, ref: 'heads/nope' })),
    );
    conforms(
      'get',
      '/repos/{owner}/{repo}/git/matching-refs/{ref}',
      await octokit.git.listMatchingRefs({ ...repo, ref: 'heads/' }),
    );
    const created = await octokit.git.createRef({ ...repo, ref: 'refs/heads/contract/refs', sha: head });
    expect(created.status).toBe(201);
    conforms('post', '/repos/{owner}/{repo}/git/refs', created);
    const exists = await failure(
      octokit.git.createRef({ ...repo, ref: 'refs/heads/contract/refs', sha: head }),
    );
    conforms('post', '/repos/{owner}/{repo}/git/refs', exists);
    const base = await octokit.git.getCommit({ ...repo, commit_sha: head });
    const next = await octokit.git.createCommit({
      ...repo,
      message: 'Next',
      tree: base.data.tree.sha,
      parents: [head],
    });
    conforms(
      'patch',
      '/repos/{owner}/{repo}/git/refs/{ref}',
      await octokit.git.updateRef({ ...repo, ref: 'heads/contract/refs', sha: next.data.sha }),
    );
    const behind = await failure(
      octokit.git.updateRef({ ...repo, ref: 'heads/contract/refs', sha: head, force: false }),
    );
    expect(behind.status).toBe(422);
    conforms('patch', '/repos/{owner}/{repo}/git/refs/{ref}', behind);
    const deleted = await octokit.git.deleteRef({ ...repo, ref: 'heads/contract/refs' });
    expect(deleted.status).toBe(204);
  });

  it('answers file and directory contents and their 404 in their documented shapes', async () => {
    conforms(
      'get',
      '/repos/{owner}/{repo}/contents/{path}',
      await octokit.repos.getContent({ ...repo, path: 'src/app.py' }),
    );
    conforms(
      'get',
      '/repos/{owner}/{repo}/contents/{path}',
      await octokit.repos.getContent({ ...repo, path: 'src' }),
    );
    conforms(
      'get',
      '/repos/{owner}/{repo}/contents/{path}',
      await octokit.repos.getContent({ ...repo, path: '' }),
    );
    conforms(
      'get',
      '/repos/{owner}/{repo}/contents/{path}',
      await failure(octokit.repos.getContent({ ...repo, path: 'nope.md', ref: 'main' })),
    );
  });

  it('redirects a tarball request as documented (302, no body schema)', async () => {
    const response = await fetch(`${github.url}/repos/acme/market-predictor/tarball/main`, {
      headers: { authorization: `token ${github.token}` },
      redirect: 'manual',
    });
    expect(response.status).toBe(302);
    expect(Object.keys(contract.responses('get', '/repos/{owner}/{repo}/tarball/{ref}'))).toEqual(['302']);
    expect(response.headers.get('location')).toMatch(
      /^http:\/\/127\.0\.0\.1:\d+\/acme\/market-predictor\/legacy\.tar\.gz\/main\?token=/,
    );
  });

  it('answers pull requests, listed, created, read and updated, and their 422s in their documented shapes', async () => {
    const base = await octokit.git.getCommit({ ...repo, commit_sha: head });
    const tree = await octokit.git.createTree({
      ...repo,
      base_tree: base.data.tree.sha,
      tree: [{ path: 'CHANGELOG.md', mode: '100644', type: 'blob', content: 'fixed\n' }],
    });
    const commit = await octokit.git.createCommit({
      ...repo,
      message: 'Fix',
      tree: tree.data.sha,
      parents: [head],
    });
    await octokit.git.createRef({ ...repo, ref: 'refs/heads/contract/pull', sha: commit.data.sha });
    const created = await octokit.pulls.create({
      ...repo,
      title: 'Fix',
      head: 'contract/pull',
      base: 'main',
      body: 'Why',
      draft: true,
    });
    conforms('post', '/repos/{owner}/{repo}/pulls', created);
    conforms(
      'post',
      '/repos/{owner}/{repo}/pulls',
      await failure(octokit.pulls.create({ ...repo, title: 'Again', head: 'contract/pull', base: 'main' })),
    );
    conforms(
      'post',
      '/repos/{owner}/{repo}/pulls',
      await failure(octokit.pulls.create({ ...repo, title: 'Same', head: 'develop', base: 'main' })),
    );
    conforms(
      'get',
      '/repos/{owner}/{repo}/pulls',
      await octokit.pulls.list({ ...repo, head: 'acme:contract/pull', state: 'all' }),
    );
    const number = created.data.number;
    conforms(
      'get',
      '/repos/{owner}/{repo}/pulls/{pull_number}',
      await octokit.pulls.get({ ...repo, pull_number: number }),
    );
    conforms(
      'post',
      '/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers',
      await octokit.pulls.requestReviewers({
        ...repo,
        pull_number: created.data.number,
        reviewers: ['octocat'],
      }),
    );
    conforms(
      'get',
      '/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers',
      await octokit.pulls.listRequestedReviewers({ ...repo, pull_number: created.data.number }),
    );
    conforms(
      'patch',
      '/repos/{owner}/{repo}/pulls/{pull_number}',
      await octokit.pulls.update({ ...repo, pull_number: number, title: 'Fix it', state: 'closed' }),
    );
    conforms(
      'post',
      '/repos/{owner}/{repo}/issues/{issue_number}/labels',
      await octokit.issues.addLabels({ ...repo, issue_number: number, labels: ['automation', 'agent'] }),
    );
    conforms(
      'get',
      '/repos/{owner}/{repo}/issues/{issue_number}/labels',
      await octokit.issues.listLabelsOnIssue({ ...repo, issue_number: number }),
    );
    conforms(
      'post',
      '/repos/{owner}/{repo}/issues/{issue_number}/labels',
      await failure(octokit.issues.addLabels({ ...repo, issue_number: 999, labels: ['x'] })),
    );
  });

  it('answers an unknown route with a basic-error 404', async () => {
    const response = await failure(octokit.request('GET /repos/{owner}/{repo}/no-such-thing', repo));
    expect(response.status).toBe(404);
    expect(contract.schemaViolations('basic-error', response.data)).toEqual([]);
    expect(response.data.message).toBe('Not Found');
  });

  it('answers renames, a linked file and a body over the limit in their documented shapes', async () => {
    const { headSha } = await github.addRepo({
      owner: 'acme',
      name: 'renamed',
      files: { 'a.txt': 'a\n' },
      symlinks: { 'link.txt': 'a.txt' },
      branches: { old: { protected: false } },
    });
    await github.renameBranch('acme/renamed', 'old', 'new');
    await github.renameRepo('acme/renamed', 'acme/now');
    const manual = async (path: string, method = 'GET') => {
      const response = await fetch(`${github.url}${path}`, {
        method,
        headers: { authorization: `token ${github.token}` },
        redirect: 'manual',
        ...(method === 'GET' ? {} : { body: '{}' }),
      });
      return { status: response.status, data: await response.json() };
    };
    conforms('get', '/repos/{owner}/{repo}', await manual('/repos/acme/renamed'));
    conforms('patch', '/repos/{owner}/{repo}', await manual('/repos/acme/renamed', 'PATCH'));
    conforms('get', '/repos/{owner}/{repo}/branches/{branch}', await manual('/repos/acme/now/branches/old'));
    conforms(
      'get',
      '/repos/{owner}/{repo}/contents/{path}',
      await octokit.repos.getContent({ owner: 'acme', repo: 'now', path: 'link.txt' }),
    );
    await octokit.git.createRef({ owner: 'acme', repo: 'now', ref: 'refs/heads/x', sha: headSha });
    const tooLong = await failure(
      octokit.pulls.create({
        owner: 'acme',
        repo: 'now',
        title: 't',
        head: 'x',
        base: 'main',
        body: 'b'.repeat(70_000),
      }),
    );
    expect(tooLong.status).toBe(422);
    conforms('post', '/repos/{owner}/{repo}/pulls', tooLong);
  });

  it('would notice a drift: a missing field, a wrong type and a bad format are violations', async () => {
    const { data } = await octokit.repos.get(repo);
    const withoutName: Record<string, unknown> = { ...data };
    delete withoutName.full_name;
    expect(contract.violations('get', '/repos/{owner}/{repo}', 200, withoutName).join('\n')).toMatch(
      /must have required property 'full_name'/,
    );
    // A nested $ref (owner is a simple-user) is followed too.
    const owner: Record<string, unknown> = { ...data.owner };
    delete owner.login;
    expect(contract.violations('get', '/repos/{owner}/{repo}', 200, { ...data, owner }).join('\n')).toMatch(
      /\/owner must have required property 'login'/,
    );
    expect(
      contract.violations('get', '/repos/{owner}/{repo}', 200, { ...data, private: 'yes' }).join('\n'),
    ).toMatch(/\/private must be boolean/);
    expect(
      contract
        .violations('get', '/repos/{owner}/{repo}', 200, { ...data, created_at: 'yesterday' })
        .join('\n'),
    ).toMatch(/\/created_at must match format "date-time"/);
  });
});
