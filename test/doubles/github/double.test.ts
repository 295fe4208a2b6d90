// The double's behaviour as GitHub's: commits land in the bare repository exactly, refs and pulls refuse
// what GitHub refuses with its messages, workflow files need the workflow scope, archives and rate limits
// look like GitHub's, and every request is recorded.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { throttling } from '@octokit/plugin-throttling';
import { Octokit } from '@octokit/rest';
import tar from 'tar-stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGithubDouble, type GithubDouble } from './index.ts';

const quiet = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
let github: GithubDouble;
let octokit: Octokit;
let seeded: { fullName: string; headSha: string };
const repo = { owner: 'acme', repo: 'market-predictor' };
const BINARY = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff, 0xfe, 0x0a, 0x00]);

const client = (token: string) => new Octokit({ auth: token, baseUrl: github.url, log: quiet });

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

/** Git's own blob id for content, computed here, independent of the double. */
const blobSha = (content: Buffer) =>
  createHash('sha1')
    .update(Buffer.concat([Buffer.from(`blob ${content.length}\0`), content]))
    .digest('hex');

/** A commit on top of the default branch's head, made through the API as a tool would. */
async function commitOnMain(
  o: Octokit,
  tree: Array<{ path: string; mode: '100644'; type: 'blob'; content?: string; sha?: string | null }>,
  message = 'Change',
): Promise<string> {
  const base = await o.git.getCommit({ ...repo, commit_sha: seeded.headSha });
  const created = await o.git.createTree({ ...repo, base_tree: base.data.tree.sha, tree });
  const commit = await o.git.createCommit({
    ...repo,
    message,
    tree: created.data.sha,
    parents: [seeded.headSha],
  });
  return commit.data.sha;
}

async function untar(archive: ArrayBuffer): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const extract = tar.extract();
  Readable.from(Buffer.from(archive)).pipe(createGunzip()).pipe(extract);
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    files.set(`${entry.header.type}:${entry.header.name}`, Buffer.concat(chunks).toString('utf8'));
  }
  return files;
}

beforeAll(async () => {
  github = await startGithubDouble();
  seeded = await github.addRepo({
    owner: 'acme',
    name: 'market-predictor',
    files: {
      'README.md': '# predictor\n',
      'src/app.py': 'print(1)\n',
      'src/model/train.py': 'fit()\n',
      'src/model/old.py': 'old()\n',
      '.github/workflows/ci.yml': 'on: push\n',
    },
    branches: { develop: {} },
    collaborators: ['Octocat'],
  });
  octokit = client(github.token);
});

beforeEach(() => {
  github.reset();
});

afterAll(async () => {
  await github.close();
});

describe('the GitHub double', () => {
  it('lands a commit made of blobs, a tree and a commit exactly as sent: adds, updates, deletes and binary', async () => {
    const blob = await octokit.git.createBlob({
      ...repo,
      content: BINARY.toString('base64'),
      encoding: 'base64',
    });
    expect(blob.status).toBe(201);
    expect(blob.data.sha).toBe(blobSha(BINARY));
    const sha = await commitOnMain(octokit, [
      { path: 'src/app.py', mode: '100644', type: 'blob', content: 'print(2)\n' },
      { path: 'docs/guide/intro.md', mode: '100644', type: 'blob', content: 'hello\n' },
      { path: 'assets/logo.png', mode: '100644', type: 'blob', sha: blob.data.sha },
      { path: 'src/model/old.py', mode: '100644', type: 'blob', sha: null },
    ]);
    const ref = await octokit.git.createRef({ ...repo, ref: 'refs/heads/devops-mcp/e2e', sha });
    expect(ref.data).toMatchObject({ ref: 'refs/heads/devops-mcp/e2e', object: { sha, type: 'commit' } });

    const changes = await github.git(seeded.fullName, 'diff', '--name-status', 'main', 'devops-mcp/e2e');
    expect(changes.trim().split('\n').sort()).toEqual(
      ['A\tassets/logo.png', 'A\tdocs/guide/intro.md', 'D\tsrc/model/old.py', 'M\tsrc/app.py'].sort(),
    );
    expect(await github.git(seeded.fullName, 'show', 'devops-mcp/e2e:src/app.py')).toBe('print(2)\n');
    expect((await github.git(seeded.fullName, 'rev-parse', 'devops-mcp/e2e:assets/logo.png')).trim()).toBe(
      blobSha(BINARY),
    );
    expect((await github.git(seeded.fullName, 'rev-parse', 'devops-mcp/e2e^')).trim()).toBe(seeded.headSha);
    expect(await github.git(seeded.fullName, 'log', '-1', '--format=%s', 'devops-mcp/e2e')).toBe('Change\n');

    const pull = await octokit.pulls.create({
      ...repo,
      title: 'Fix it',
      head: 'devops-mcp/e2e',
      base: 'main',
      body: 'Why',
      draft: true,
    });
    expect(pull.status).toBe(201);
    expect(pull.data).toMatchObject({
      number: 1,
      state: 'open',
      draft: true,
      merged: false,
      title: 'Fix it',
      body: 'Why',
      head: { ref: 'devops-mcp/e2e', sha, label: 'acme:devops-mcp/e2e' },
      base: { ref: 'main', sha: seeded.headSha },
      commits: 1,
      changed_files: 4,
    });
    expect([pull.data.mergeable, pull.data.mergeable_state]).toEqual([null, 'unknown']);
    expect((await octokit.pulls.get({ ...repo, pull_number: 1 })).data).toMatchObject({
      mergeable: true,
      mergeable_state: 'clean',
    });
    expect(pull.data.html_url).toBe(`${github.url}/acme/market-predictor/pull/1`);
    expect(pull.headers.location).toBe(pull.data.url);
  });

  it('reads back a blob, a commit and a recursive tree the way they were written', async () => {
    await octokit.git.createBlob({ ...repo, content: BINARY.toString('base64'), encoding: 'base64' });
    const blob = await octokit.git.getBlob({ ...repo, file_sha: blobSha(BINARY) });
    expect(Buffer.from(blob.data.content, 'base64')).toEqual(BINARY);
    expect(blob.data).toMatchObject({ encoding: 'base64', size: BINARY.length });
    const commit = await octokit.git.getCommit({ ...repo, commit_sha: seeded.headSha });
    expect(commit.data).toMatchObject({ sha: seeded.headSha, message: 'Initial commit', parents: [] });
    const tree = await octokit.git.getTree({ ...repo, tree_sha: commit.data.tree.sha, recursive: '1' });
    expect(
      tree.data.tree
        .filter(e => e.type === 'blob')
        .map(e => e.path)
        .sort(),
    ).toEqual([
      '.github/workflows/ci.yml',
      'README.md',
      'src/app.py',
      'src/model/old.py',
      'src/model/train.py',
    ]);
  });

  it('writes a commit with the author and committer sent, and the token user when none is', async () => {
    const base = await octokit.git.getCommit({ ...repo, commit_sha: seeded.headSha });
    const author = { name: 'Ada', email: 'ada@example.com', date: '2026-03-04T05:06:07Z' };
    const { data } = await octokit.git.createCommit({
      ...repo,
      message: 'By Ada',
      tree: base.data.tree.sha,
      parents: [seeded.headSha],
      author,
    });
    expect(data.author).toEqual(author);
    expect(data.committer).toEqual(author);
    expect(data.verification).toMatchObject({ verified: false, reason: 'unsigned' });
    expect(await github.git(seeded.fullName, 'log', '-1', '--format=%an <%ae> %aI|%s', data.sha)).toBe(
      'Ada <ada@example.com> 2026-03-04T05:06:07+00:00|By Ada\n',
    );
    const { data: plain } = await octokit.git.createCommit({
      ...repo,
      message: 'Plain',
      tree: base.data.tree.sha,
      parents: [seeded.headSha],
    });
    expect(plain.author).toMatchObject({
      name: 'devops-mcp bot',
      email: '1001+devops-mcp-bot@users.noreply.github.com',
    });
    const bad = await failure(
      octokit.git.createCommit({
        ...repo,
        message: 'x',
        tree: base.data.tree.sha,
        parents: ['c'.repeat(40)],
      }),
    );
    expect([bad.status, bad.data.message]).toEqual([
      422,
      'Parent SHA does not exist or is not a commit object',
    ]);
    const short = await failure(
      octokit.git.createCommit({ ...repo, message: 'x', tree: base.data.tree.sha, parents: ['abc'] }),
    );
    expect(short.data.message).toBe(
      "Each SHA in the 'parents' parameter must be exactly 40 characters and contain only [0-9a-f].",
    );
  });

  it('refuses tree entries GitHub refuses: a missing path to delete, both sha and content, an unknown sha', async () => {
    const base = await octokit.git.getCommit({ ...repo, commit_sha: seeded.headSha });
    const tree = (entry: any) =>
      octokit.git.createTree({ ...repo, base_tree: base.data.tree.sha, tree: [entry] });
    const gone = await failure(tree({ path: 'src/nope.py', mode: '100644', type: 'blob', sha: null }));
    expect([gone.status, gone.data.message]).toEqual([422, 'GitRPC::BadObjectState']);
    const both = await failure(
      tree({ path: 'a.txt', mode: '100644', type: 'blob', sha: blobSha(BINARY), content: 'x' }),
    );
    expect([both.status, both.data.message]).toEqual([
      422,
      'Must supply either tree.sha or tree.content. Request will be rejected if both are present.',
    ]);
    const unknown = await failure(tree({ path: 'a.txt', mode: '100644', type: 'blob', sha: 'e'.repeat(40) }));
    expect([unknown.status, unknown.data.message]).toEqual([
      422,
      `tree.sha ${'e'.repeat(40)} is not a valid blob`,
    ]);
    const commitAsBase = await failure(
      octokit.git.createTree({
        ...repo,
        base_tree: seeded.headSha,
        tree: [{ path: 'a.txt', mode: '100644', type: 'blob', content: 'a' }],
      }),
    );
    expect([commitAsBase.status, commitAsBase.data.message]).toEqual([
      422,
      'base_tree is not a valid tree oid',
    ]);
  });

  it('answers "Reference already exists", "Object does not exist" and an invalid name when creating a ref', async () => {
    const exists = await failure(
      octokit.git.createRef({ ...repo, ref: 'refs/heads/develop', sha: seeded.headSha }),
    );
    expect([exists.status, exists.data.message]).toEqual([422, 'Reference already exists']);
    expect(exists.data.documentation_url).toBe('https://docs.github.com/rest/git/refs#create-a-reference');
    const unknown = await failure(
      octokit.git.createRef({ ...repo, ref: 'refs/heads/x', sha: 'd'.repeat(40) }),
    );
    expect([unknown.status, unknown.data.message]).toEqual([422, 'Object does not exist']);
    const invalid = await failure(
      octokit.git.createRef({ ...repo, ref: 'refs/heads/a..b', sha: seeded.headSha }),
    );
    expect([invalid.status, invalid.data.message]).toEqual([422, 'refs/heads/a..b is not a valid ref name.']);
    const short = await failure(octokit.git.createRef({ ...repo, ref: 'heads/x', sha: seeded.headSha }));
    expect(short.status).toBe(422);
  });

  it('refuses a ref update that is not a fast forward unless forced, after someone else pushed', async () => {
    const ours = await commitOnMain(octokit, [
      { path: 'ours.txt', mode: '100644', type: 'blob', content: 'ours\n' },
    ]);
    await octokit.git.createRef({ ...repo, ref: 'refs/heads/devops-mcp/race', sha: seeded.headSha });
    const theirs = await github.pushCommit(seeded.fullName, 'devops-mcp/race', {
      'theirs.txt': 'theirs\n',
      'README.md': null,
    });
    expect(await github.git(seeded.fullName, 'ls-tree', '--name-only', 'devops-mcp/race')).not.toContain(
      'README.md',
    );
    const refused = await failure(
      octokit.git.updateRef({ ...repo, ref: 'heads/devops-mcp/race', sha: ours, force: false }),
    );
    expect([refused.status, refused.data.message]).toEqual([422, 'Update is not a fast forward']);
    expect((await github.git(seeded.fullName, 'rev-parse', 'devops-mcp/race')).trim()).toBe(theirs);
    const forced = await octokit.git.updateRef({
      ...repo,
      ref: 'heads/devops-mcp/race',
      sha: ours,
      force: true,
    });
    expect(forced.data.object.sha).toBe(ours);
    const missing = await failure(octokit.git.updateRef({ ...repo, ref: 'heads/nope', sha: ours }));
    expect([missing.status, missing.data.message]).toEqual([422, 'Reference does not exist']);
    await octokit.git.deleteRef({ ...repo, ref: 'heads/devops-mcp/race' });
    expect(await failure(octokit.git.getRef({ ...repo, ref: 'heads/devops-mcp/race' }))).toMatchObject({
      status: 404,
    });
  });

  it('keeps the protected default branch from direct ref updates and deletion', async () => {
    const next = await commitOnMain(octokit, [
      { path: 'x.txt', mode: '100644', type: 'blob', content: 'x\n' },
    ]);
    const update = await failure(octokit.git.updateRef({ ...repo, ref: 'heads/main', sha: next }));
    expect([update.status, update.data.message]).toEqual([
      422,
      'Changes must be made through a pull request.',
    ]);
    expect((await failure(octokit.git.deleteRef({ ...repo, ref: 'heads/main' }))).status).toBe(422);
    expect((await octokit.repos.getBranch({ ...repo, branch: 'main' })).data.protected).toBe(true);
    expect((await octokit.repos.getBranch({ ...repo, branch: 'develop' })).data.protected).toBe(false);
    expect((await github.git(seeded.fullName, 'rev-parse', 'main')).trim()).toBe(seeded.headSha);
  });

  it("refuses a second open pull request for the same head, and one without commits, with GitHub's 422s", async () => {
    const sha = await commitOnMain(octokit, [
      { path: 'dup.txt', mode: '100644', type: 'blob', content: 'dup\n' },
    ]);
    await octokit.git.createRef({ ...repo, ref: 'refs/heads/devops-mcp/dup', sha });
    await octokit.pulls.create({ ...repo, title: 'One', head: 'devops-mcp/dup', base: 'main' });
    const again = await failure(
      octokit.pulls.create({ ...repo, title: 'Two', head: 'acme:devops-mcp/dup', base: 'main' }),
    );
    expect(again.status).toBe(422);
    expect(again.data).toMatchObject({
      message: 'Validation Failed',
      errors: [
        {
          resource: 'PullRequest',
          code: 'custom',
          message: 'A pull request already exists for acme:devops-mcp/dup.',
        },
      ],
    });
    const empty = await failure(
      octokit.pulls.create({ ...repo, title: 'Nothing', head: 'develop', base: 'main' }),
    );
    expect(empty.data.errors).toEqual([
      { resource: 'PullRequest', code: 'custom', message: 'No commits between main and develop' },
    ]);
    const noHead = await failure(
      octokit.pulls.create({ ...repo, title: 'Gone', head: 'no-such-branch', base: 'main' }),
    );
    expect(noHead.data.errors).toEqual([{ resource: 'PullRequest', field: 'head', code: 'invalid' }]);
  });

  it('lists pulls by state and by owner-qualified head, ignoring a bare head as GitHub does', async () => {
    const sha = await commitOnMain(octokit, [
      { path: 'list.txt', mode: '100644', type: 'blob', content: 'l\n' },
    ]);
    await octokit.git.createRef({ ...repo, ref: 'refs/heads/devops-mcp/list', sha });
    const { data: pull } = await octokit.pulls.create({
      ...repo,
      title: 'Listed',
      head: 'devops-mcp/list',
      base: 'main',
    });
    const heads = async (params: Record<string, string>) =>
      (await octokit.pulls.list({ ...repo, ...params })).data.map(p => p.head.ref);
    expect(await heads({ head: 'ACME:devops-mcp/list' })).toEqual(['devops-mcp/list']);
    expect(await heads({ head: 'other:devops-mcp/list' })).toEqual([]);
    expect((await heads({ head: 'devops-mcp/list' })).length).toBeGreaterThan(1);
    github.closePull(seeded.fullName, pull.number);
    expect(await heads({ head: 'acme:devops-mcp/list' })).toEqual([]);
    const closed = (await octokit.pulls.list({ ...repo, head: 'acme:devops-mcp/list', state: 'closed' }))
      .data;
    expect(closed.map(p => [p.number, p.state, p.merged_at])).toEqual([[pull.number, 'closed', null]]);
    expect(
      (await octokit.pulls.list({ ...repo, head: 'acme:devops-mcp/list', state: 'all' })).data,
    ).toHaveLength(1);
  });

  it('merges a pull request for a human: base moves to a commit holding the change, the pull reads merged', async () => {
    const sha = await commitOnMain(octokit, [
      { path: 'merged.txt', mode: '100644', type: 'blob', content: 'm\n' },
    ]);
    await octokit.git.createRef({ ...repo, ref: 'refs/heads/devops-mcp/merge', sha });
    const { data: pull } = await octokit.pulls.create({
      ...repo,
      title: 'Merge me',
      head: 'devops-mcp/merge',
      base: 'develop',
    });
    await github.pushCommit(seeded.fullName, 'develop', { 'develop.txt': 'd\n' });
    github.closePull(seeded.fullName, pull.number, { merged: true });
    expect(await github.git(seeded.fullName, 'show', 'develop:merged.txt')).toBe('m\n');
    const { data: merged } = await octokit.pulls.get({ ...repo, pull_number: pull.number });
    expect(merged).toMatchObject({ state: 'closed', merged: true });
    expect(merged.merge_commit_sha).toBe((await github.git(seeded.fullName, 'rev-parse', 'develop')).trim());
    expect(await github.git(seeded.fullName, 'show', 'develop:merged.txt')).toBe('m\n');
    expect(await github.git(seeded.fullName, 'show', 'develop:develop.txt')).toBe('d\n');
  });

  it('reports a pull request that conflicts with its base as not mergeable', async () => {
    const sha = await commitOnMain(octokit, [
      { path: 'conflict.txt', mode: '100644', type: 'blob', content: 'ours\n' },
    ]);
    await octokit.git.createRef({ ...repo, ref: 'refs/heads/devops-mcp/conflict', sha });
    const { data: pull } = await octokit.pulls.create({
      ...repo,
      title: 'C',
      head: 'devops-mcp/conflict',
      base: 'develop',
    });
    await github.pushCommit(seeded.fullName, 'develop', { 'conflict.txt': 'theirs\n' });
    const { data } = await octokit.pulls.get({ ...repo, pull_number: pull.number });
    expect([data.mergeable, data.mergeable_state, data.base.sha]).toEqual([
      false,
      'dirty',
      (await github.git(seeded.fullName, 'rev-parse', 'develop')).trim(),
    ]);
  });

  it('updates a pull request title, body and state, and adds labels', async () => {
    const sha = await commitOnMain(octokit, [
      { path: 'edit.txt', mode: '100644', type: 'blob', content: 'e\n' },
    ]);
    await octokit.git.createRef({ ...repo, ref: 'refs/heads/devops-mcp/edit', sha });
    const { data: pull } = await octokit.pulls.create({
      ...repo,
      title: 'Before',
      head: 'devops-mcp/edit',
      base: 'main',
    });
    const { data: edited } = await octokit.pulls.update({
      ...repo,
      pull_number: pull.number,
      title: 'After',
      body: 'New',
    });
    expect([edited.title, edited.body, edited.state]).toEqual(['After', 'New', 'open']);
    const { data: labels } = await octokit.issues.addLabels({
      ...repo,
      issue_number: pull.number,
      labels: ['automation'],
    });
    expect(labels.map(l => l.name)).toEqual(['automation']);
    await octokit.issues.addLabels({ ...repo, issue_number: pull.number, labels: ['agent', 'automation'] });
    const { data: all } = await octokit.issues.listLabelsOnIssue({ ...repo, issue_number: pull.number });
    expect(all.map(l => l.name)).toEqual(['automation', 'agent']);
    expect(
      (await octokit.pulls.update({ ...repo, pull_number: pull.number, state: 'closed' })).data.state,
    ).toBe('closed');
  });

  it('closes an open pull request when its head branch is deleted, and will not reopen it', async () => {
    const sha = await commitOnMain(octokit, [
      { path: 'gone.txt', mode: '100644', type: 'blob', content: 'g\n' },
    ]);
    await octokit.git.createRef({ ...repo, ref: 'refs/heads/devops-mcp/gone', sha });
    const { data: pull } = await octokit.pulls.create({
      ...repo,
      title: 'Gone',
      head: 'devops-mcp/gone',
      base: 'main',
    });
    await octokit.git.deleteRef({ ...repo, ref: 'heads/devops-mcp/gone' });
    const { data } = await octokit.pulls.get({ ...repo, pull_number: pull.number });
    expect([data.state, data.head.sha]).toEqual(['closed', sha]);
    const reopen = await failure(octokit.pulls.update({ ...repo, pull_number: pull.number, state: 'open' }));
    expect(reopen.status).toBe(422);
  });

  it("requests reviews from collaborators only, never from the author, with GitHub's 422s", async () => {
    const sha = await commitOnMain(octokit, [
      { path: 'review.txt', mode: '100644', type: 'blob', content: 'r\n' },
    ]);
    await octokit.git.createRef({ ...repo, ref: 'refs/heads/devops-mcp/review', sha });
    const { data: pull } = await octokit.pulls.create({
      ...repo,
      title: 'R',
      head: 'devops-mcp/review',
      base: 'main',
    });
    const author = await failure(
      octokit.pulls.requestReviewers({ ...repo, pull_number: pull.number, reviewers: ['devops-mcp-bot'] }),
    );
    expect([author.status, author.data.message]).toEqual([
      422,
      'Review cannot be requested from pull request author.',
    ]);
    const stranger = await failure(
      octokit.pulls.requestReviewers({ ...repo, pull_number: pull.number, reviewers: ['mallory'] }),
    );
    expect([stranger.status, stranger.data.message]).toEqual([
      422,
      'Reviews may only be requested from collaborators. One or more of the users or teams you specified is not a collaborator of the acme/market-predictor repository.',
    ]);
    const { data } = await octokit.pulls.requestReviewers({
      ...repo,
      pull_number: pull.number,
      reviewers: ['octocat'],
    });
    expect(data.requested_reviewers?.map(u => u.login)).toEqual(['Octocat']);
    expect(
      (await octokit.pulls.get({ ...repo, pull_number: pull.number })).data.requested_reviewers?.map(
        u => u.login,
      ),
    ).toEqual(['Octocat']);
  });

  it('answers 404 to a tree that changes .github/workflows/ for a token without the workflow scope, and lets one with it pass', async () => {
    const change = [
      {
        path: '.github/workflows/ci.yml',
        mode: '100644' as const,
        type: 'blob' as const,
        content: 'on: pull_request\n',
      },
    ];
    const refused = await failure(commitOnMain(octokit, change));
    expect([refused.status, refused.data.message]).toEqual([404, 'Not Found']);
    expect(refused.headers['x-accepted-oauth-scopes']).toBe('');
    const deleting = await failure(
      commitOnMain(octokit, [{ path: '.github/workflows/ci.yml', mode: '100644', type: 'blob', sha: null }]),
    );
    expect(deleting.status).toBe(404);
    // Other paths pass with the same token even though the base tree holds a workflow.
    await commitOnMain(octokit, [
      { path: '.github/CODEOWNERS', mode: '100644', type: 'blob', content: '* @acme\n' },
    ]);

    const scoped = client(github.addToken(['repo', 'workflow']));
    const sha = await commitOnMain(scoped, change);
    expect((await scoped.users.getAuthenticated()).headers['x-oauth-scopes']).toBe('repo, workflow');
    await scoped.git.createRef({ ...repo, ref: 'refs/heads/devops-mcp/ci', sha });
    expect(await github.git(seeded.fullName, 'show', 'devops-mcp/ci:.github/workflows/ci.yml')).toBe(
      'on: pull_request\n',
    );
  });

  it('serves contents as GitHub does: a file in base64 with its blob sha, a directory as entries, 404s', async () => {
    const { data: file } = (await octokit.repos.getContent({ ...repo, path: 'src/app.py' })) as { data: any };
    expect(file).toMatchObject({
      type: 'file',
      encoding: 'base64',
      path: 'src/app.py',
      name: 'app.py',
      size: 9,
    });
    expect(file.sha).toBe(blobSha(Buffer.from('print(1)\n')));
    expect(Buffer.from(file.content, 'base64').toString()).toBe('print(1)\n');
    const { data: dir } = (await octokit.repos.getContent({ ...repo, path: 'src' })) as { data: any[] };
    expect(dir.map(e => `${e.type} ${e.path}`)).toEqual(['file src/app.py', 'dir src/model']);
    const { data: root } = (await octokit.repos.getContent({ ...repo, path: '' })) as { data: any[] };
    expect(root.map(e => e.name)).toEqual(['.github', 'README.md', 'src']);
    const onOtherRef = await failure(
      octokit.repos.getContent({ ...repo, path: 'src/app.py', ref: 'no-such-ref' }),
    );
    expect(onOtherRef.status).toBe(404);
    const missing = await failure(octokit.repos.getContent({ ...repo, path: 'nope.md' }));
    expect([missing.status, missing.data.message]).toEqual([404, 'Not Found']);
    const badRef = await failure(
      octokit.repos.getContent({ ...repo, path: 'README.md', ref: 'no-such-ref' }),
    );
    expect([badRef.status, badRef.data.message]).toEqual([404, 'No commit found for the ref no-such-ref']);
    const raw = await fetch(file.download_url);
    expect(await raw.text()).toBe('print(1)\n');
  });

  it('refuses a file over 1 MB in JSON with 403 too_large, and custom media types loudly', async () => {
    await github.addRepo({
      owner: 'acme',
      name: 'big',
      files: { 'data.bin': Buffer.alloc(1024 * 1024 + 1, 7) },
    });
    const big = await failure(octokit.repos.getContent({ owner: 'acme', repo: 'big', path: 'data.bin' }));
    expect(big.status).toBe(403);
    expect(big.data.errors).toEqual([{ resource: 'Blob', field: 'data', code: 'too_large' }]);
    const sha = (await github.git('acme/big', 'rev-parse', 'main:data.bin')).trim();
    expect((await octokit.git.getBlob({ owner: 'acme', repo: 'big', file_sha: sha })).data.size).toBe(
      1024 * 1024 + 1,
    );
    const raw = await failure(
      octokit.repos.getContent({ ...repo, path: 'README.md', mediaType: { format: 'raw' } }),
    );
    expect([raw.status, raw.data.message]).toEqual([
      400,
      'not supported by the GitHub test double: contents in the media type application/vnd.github.v3.raw',
    ]);
  });

  it('redirects a tarball to its own archive host, serving one {owner}-{repo}-{sha7}/ folder', async () => {
    const response = await octokit.repos.downloadTarballArchive({ ...repo, ref: 'main' });
    expect(new URL(response.url).origin).not.toBe(github.url);
    const files = await untar(response.data as ArrayBuffer);
    const top = `acme-market-predictor-${seeded.headSha.slice(0, 7)}/`;
    expect([...files.keys()].filter(k => k.startsWith('file:')).sort()).toEqual(
      ['.github/workflows/ci.yml', 'README.md', 'src/app.py', 'src/model/old.py', 'src/model/train.py'].map(
        p => `file:${top}${p}`,
      ),
    );
    expect(files.get(`file:${top}src/app.py`)).toBe('print(1)\n');
    expect(
      [...files.keys()].every(
        k =>
          k.startsWith(`file:${top}`) ||
          k.startsWith(`directory:${top}`) ||
          k.startsWith('pax-global-header:'),
      ),
    ).toBe(true);

    await github.addRepo({ owner: 'acme', name: 'secret', files: { 'a.txt': 'a\n' }, private: true });
    const secret = await octokit.repos.downloadTarballArchive({ owner: 'acme', repo: 'secret', ref: 'main' });
    expect(secret.url).toMatch(/\?token=/);
    expect([...(await untar(secret.data as ArrayBuffer)).keys()]).toContain(
      `file:acme-secret-${(await github.git('acme/secret', 'rev-parse', 'main')).slice(0, 7)}/a.txt`,
    );
    const withoutToken = await fetch(secret.url.replace(/\?token=.*$/, ''));
    expect(withoutToken.status).toBe(404);
  });

  it('finds a repository whatever the case and answers with its canonical names; unknown ones are 404', async () => {
    const { data } = await octokit.repos.get({ owner: 'ACME', repo: 'Market-Predictor' });
    expect([data.full_name, data.name, data.owner.login, data.default_branch]).toEqual([
      'acme/market-predictor',
      'market-predictor',
      'acme',
      'main',
    ]);
    expect(data.permissions).toMatchObject({ push: true });
    const unknown = await failure(octokit.repos.get({ owner: 'acme', repo: 'nope' }));
    expect(unknown.data).toEqual({
      message: 'Not Found',
      documentation_url: 'https://docs.github.com/rest/repos/repos#get-a-repository',
      status: '404',
    });
    const branch = await octokit.repos.getBranch({ owner: 'Acme', repo: 'MARKET-predictor', branch: 'main' });
    expect(branch.data.commit.sha).toBe(seeded.headSha);
  });

  it('authenticates as GitHub does: token or Bearer, 401 otherwise, private repositories need the repo scope', async () => {
    const bearer = await fetch(`${github.url}/user`, {
      headers: { authorization: `Bearer ${github.token}` },
    });
    expect(bearer.status).toBe(200);
    expect(bearer.headers.get('x-oauth-scopes')).toBe('repo');
    expect(bearer.headers.get('x-ratelimit-limit')).toBe('5000');
    expect(((await bearer.json()) as any).login).toBe('devops-mcp-bot');
    const bad = await fetch(`${github.url}/user`, { headers: { authorization: 'token nope' } });
    expect([bad.status, ((await bad.json()) as any).message]).toEqual([401, 'Bad credentials']);
    const none = await fetch(`${github.url}/repos/acme/market-predictor`);
    expect(none.status).toBe(401);
    await github.addRepo({ owner: 'acme', name: 'hidden', files: { 'a.txt': 'a\n' }, private: true });
    const publicOnly = client(github.addToken(['public_repo']));
    expect((await failure(publicOnly.repos.get({ owner: 'acme', repo: 'hidden' }))).status).toBe(404);
    expect((await publicOnly.repos.get(repo)).data.full_name).toBe('acme/market-predictor');
  });

  it("answers injected primary and secondary rate limits with GitHub's status, headers and messages", async () => {
    github.rateLimit({ kind: 'primary', match: { path: /\/pulls$/ }, retryAfterSeconds: 120 });
    expect((await octokit.repos.get(repo)).status).toBe(200);
    const primary = await failure(octokit.pulls.list(repo));
    expect(primary.status).toBe(403);
    expect(primary.headers).toMatchObject({
      'x-ratelimit-remaining': '0',
      'x-ratelimit-limit': '5000',
      'x-ratelimit-used': '5000',
      'x-ratelimit-resource': 'core',
    });
    expect(Number(primary.headers['x-ratelimit-reset'])).toBeGreaterThan(Date.now() / 1000);
    expect(primary.data.message).toMatch(/^API rate limit exceeded for user ID \d+\./);
    expect((await octokit.pulls.list(repo)).status).toBe(200);

    github.rateLimit({
      kind: 'secondary',
      count: 2,
      match: { method: 'GET' },
      retryAfterSeconds: 30,
      status: 429,
    });
    for (let i = 0; i < 2; i++) {
      const secondary = await failure(octokit.repos.get(repo));
      expect([secondary.status, secondary.headers['retry-after']]).toEqual([429, '30']);
      expect(secondary.data.message).toBe(
        'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
      );
      expect(Number(secondary.headers['x-ratelimit-remaining'])).toBeGreaterThan(0);
    }
    expect((await octokit.repos.get(repo)).status).toBe(200);
    github.rateLimit({ kind: 'secondary', withoutRetryAfter: true });
    const bare = await failure(octokit.repos.get(repo));
    expect([bare.status, bare.headers['retry-after']]).toEqual([403, undefined]);
    expect(github.requests.map(r => r.status)).toEqual([200, 403, 200, 429, 429, 200, 403]);
  });

  it('shapes rate limits so that @octokit/plugin-throttling tells primary from secondary', async () => {
    const seen: string[] = [];
    const Throttled = Octokit.plugin(throttling);
    const throttled = new Throttled({
      auth: github.token,
      baseUrl: github.url,
      log: quiet,
      throttle: {
        onRateLimit: (retryAfter: number) => {
          seen.push(`primary ${retryAfter > 0 && retryAfter <= 61}`);
          return false;
        },
        onSecondaryRateLimit: (retryAfter: number) => {
          seen.push(`secondary ${retryAfter}`);
          return false;
        },
      },
    });
    github.rateLimit({ kind: 'primary', retryAfterSeconds: 60 });
    expect((await failure(throttled.repos.get(repo))).status).toBe(403);
    github.rateLimit({ kind: 'secondary', retryAfterSeconds: 7 });
    expect((await failure(throttled.repos.get(repo))).status).toBe(403);
    expect(seen).toEqual(['primary true', 'secondary 7']);
  });

  it('records every request in order, and only state-changing ones as writes', async () => {
    await octokit.repos.get(repo);
    const blob = await octokit.git.createBlob({ ...repo, content: 'recorded\n' });
    await failure(octokit.git.getRef({ ...repo, ref: 'heads/nope' }));
    expect(github.requests.map(r => [r.method, r.path, r.status])).toEqual([
      ['GET', '/repos/acme/market-predictor', 200],
      ['POST', '/repos/acme/market-predictor/git/blobs', 201],
      ['GET', '/repos/acme/market-predictor/git/ref/heads/nope', 404],
    ]);
    expect(github.writes()).toEqual([
      {
        method: 'POST',
        path: '/repos/acme/market-predictor/git/blobs',
        query: {},
        body: { content: 'recorded\n' },
        status: 201,
      },
    ]);
    expect(blob.data.sha).toBe(blobSha(Buffer.from('recorded\n')));
    await octokit.pulls.list({ ...repo, state: 'all', head: 'acme:x' });
    expect(github.requests.at(-1)?.query).toEqual({ state: 'all', head: 'acme:x' });
    github.reset();
    expect(github.requests).toEqual([]);
  });

  it('serves the same API under /api/v3, as GitHub Enterprise Server does', async () => {
    const ghes = new Octokit({ auth: github.token, baseUrl: `${github.url}/api/v3`, log: quiet });
    expect((await ghes.repos.get(repo)).data.full_name).toBe('acme/market-predictor');
    const { data } = await ghes.repos.listCommits({ ...repo, sha: 'main', per_page: 1 });
    expect(data.map(c => [c.sha, c.commit.tree.sha])).toEqual([
      [seeded.headSha, (await github.git(seeded.fullName, 'rev-parse', 'main^{tree}')).trim()],
    ]);
  });

  it('answers an unknown route or method with 404 Not Found', async () => {
    const unknown = await failure(octokit.request('GET /repos/{owner}/{repo}/hooks', repo));
    expect([unknown.status, unknown.data.message]).toEqual([404, 'Not Found']);
    const method = await failure(octokit.request('PUT /repos/{owner}/{repo}/git/blobs', repo));
    expect(method.status).toBe(404);
    expect((await failure(octokit.request('GET /nothing/here'))).status).toBe(404);
  });
});

describe('the GitHub double where tools depend on its details', () => {
  it('answers a symbolic link to a file with the file, and any other link with the link', async () => {
    await github.addRepo({
      owner: 'acme',
      name: 'links',
      files: { 'src/a.txt': 'a\n', 'README.md': '# links\n' },
      symlinks: {
        'docs/a.txt': '../src/a.txt',
        'src/same.txt': './a.txt',
        lib: 'src',
        'up.txt': '../outside.txt',
        'abs.txt': '/etc/passwd',
        'chain.txt': 'docs/a.txt',
        'through.txt': 'lib/a.txt',
      },
    });
    const get = async (path: string) =>
      ((await octokit.repos.getContent({ owner: 'acme', repo: 'links', path })) as { data: any }).data;
    for (const link of ['docs/a.txt', 'src/same.txt']) {
      const file = await get(link);
      expect(file).toMatchObject({
        type: 'file',
        path: 'src/a.txt',
        name: 'a.txt',
        sha: blobSha(Buffer.from('a\n')),
      });
      expect(Buffer.from(file.content, 'base64').toString()).toBe('a\n');
    }
    // A directory, a path outside the repository, and a target that is a link or lies through one.
    for (const [link, target] of [
      ['lib', 'src'],
      ['up.txt', '../outside.txt'],
      ['abs.txt', '/etc/passwd'],
      ['chain.txt', 'docs/a.txt'],
      ['through.txt', 'lib/a.txt'],
    ]) {
      expect(await get(link!), link).toMatchObject({ type: 'symlink', path: link, target });
    }
  });

  it('lists at most 1,000 entries of a directory, as GitHub does', async () => {
    await github.addRepo({
      owner: 'acme',
      name: 'wide',
      files: Object.fromEntries(
        Array.from({ length: 1005 }, (_, i) => [`d/f-${String(i).padStart(4, '0')}`, 'x\n']),
      ),
    });
    const { data } = (await octokit.repos.getContent({ owner: 'acme', repo: 'wide', path: 'd' })) as {
      data: any[];
    };
    expect(data).toHaveLength(1000);
    expect(data.at(-1).name).toBe('f-0999');
    // The trees API lists them all.
    const root = await octokit.git.getTree({ owner: 'acme', repo: 'wide', tree_sha: 'main' });
    const d = root.data.tree.find(e => e.path === 'd');
    const tree = await octokit.git.getTree({ owner: 'acme', repo: 'wide', tree_sha: d?.sha ?? '' });
    expect(tree.data.tree).toHaveLength(1005);
  });

  it("refuses a pull request body over 65,536 characters with GitHub's 422, on create and on update", async () => {
    const sha = await commitOnMain(octokit, [
      { path: 'long.txt', mode: '100644', type: 'blob', content: 'l\n' },
    ]);
    await octokit.git.createRef({ ...repo, ref: 'refs/heads/devops-mcp/long', sha });
    const tooLong = {
      message: 'Validation Failed',
      errors: [
        {
          resource: 'Issue',
          code: 'custom',
          field: 'body',
          message: 'body is too long (maximum is 65536 characters)',
        },
      ],
    };
    const create = await failure(
      octokit.pulls.create({
        ...repo,
        title: 't',
        head: 'devops-mcp/long',
        base: 'main',
        body: 'b'.repeat(65_537),
      }),
    );
    expect([create.status, create.data]).toEqual([422, expect.objectContaining(tooLong)]);
    // Counted in characters: 65,536 emoji are 131,072 UTF-16 units and still fit.
    const { data: pull } = await octokit.pulls.create({
      ...repo,
      title: 't',
      head: 'devops-mcp/long',
      base: 'main',
      body: '😀'.repeat(65_536),
    });
    const update = await failure(
      octokit.pulls.update({ ...repo, pull_number: pull.number, body: 'b'.repeat(70_000) }),
    );
    expect([update.status, update.data]).toEqual([422, expect.objectContaining(tooLong)]);
  });

  it('redirects a renamed repository as GitHub does: 301 for reads, 307 for writes, to /repositories/{id}', async () => {
    const { headSha } = await github.addRepo({ owner: 'acme', name: 'before', files: { 'a.txt': 'a\n' } });
    await github.renameRepo('acme/before', 'acme/after');
    const raw = await fetch(`${github.url}/repos/acme/before/contents/a.txt?ref=main`, {
      headers: { authorization: `token ${github.token}` },
      redirect: 'manual',
    });
    const { data: repository } = await octokit.repos.get({ owner: 'acme', repo: 'after' });
    const location = `${github.url}/repositories/${repository.id}/contents/a.txt?ref=main`;
    expect([raw.status, raw.headers.get('location')]).toEqual([301, location]);
    expect(await raw.json()).toMatchObject({ message: 'Moved Permanently', url: location });
    // A client that follows redirects reads the repository under its new name, and writes land in it.
    expect((await octokit.repos.get({ owner: 'acme', repo: 'before' })).data.full_name).toBe('acme/after');
    await octokit.git.createRef({ owner: 'acme', repo: 'before', ref: 'refs/heads/moved', sha: headSha });
    expect(github.requests.filter(r => r.method === 'POST').map(r => r.status)).toEqual([307, 201]);
    expect((await github.git('acme/after', 'rev-parse', 'moved')).trim()).toBe(headSha);
    // A repository made under the old name takes it back.
    await github.addRepo({ owner: 'acme', name: 'before', files: { 'b.txt': 'b\n' } });
    expect((await octokit.repos.get({ owner: 'acme', repo: 'before' })).data.full_name).toBe('acme/before');
  });

  it('redirects a renamed branch with 301 to the new one, which moves its pull requests along', async () => {
    const sha = await commitOnMain(octokit, [
      { path: 'rn.txt', mode: '100644', type: 'blob', content: 'r\n' },
    ]);
    await octokit.git.createRef({ ...repo, ref: 'refs/heads/devops-mcp/old-name', sha });
    const { data: pull } = await octokit.pulls.create({
      ...repo,
      title: 't',
      head: 'devops-mcp/old-name',
      base: 'main',
    });
    await github.renameBranch(seeded.fullName, 'devops-mcp/old-name', 'devops-mcp/new-name');
    const raw = await fetch(`${github.url}/repos/acme/market-predictor/branches/devops-mcp/old-name`, {
      headers: { authorization: `token ${github.token}` },
      redirect: 'manual',
    });
    expect([raw.status, raw.headers.get('location')]).toEqual([
      301,
      `${github.url}/repos/acme/market-predictor/branches/devops-mcp/new-name`,
    ]);
    const { data: branch } = await octokit.repos.getBranch({ ...repo, branch: 'devops-mcp/old-name' });
    expect([branch.name, branch.commit.sha]).toEqual(['devops-mcp/new-name', sha]);
    expect((await octokit.pulls.get({ ...repo, pull_number: pull.number })).data.head.ref).toBe(
      'devops-mcp/new-name',
    );
    await octokit.pulls.update({ ...repo, pull_number: pull.number, state: 'closed' });
  });
});
