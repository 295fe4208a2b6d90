// The GitHub client's retry and rate-limit behaviour against a bare HTTP server that fails on purpose, and its
// error text, which never carries the token.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createGithubClient } from '../../../src/clients/github.ts';

const TOKEN = 'ghp_clientTestToken0123456789';
let server: Server;
let url: string;
let hits: Array<{ method: string; url: string }> = [];
let answer: (
  method: string,
  url: string,
) => { status: number; headers?: Record<string, string>; body?: unknown };

beforeAll(async () => {
  server = createServer((req, res) => {
    hits.push({ method: req.method ?? '', url: req.url ?? '' });
    req.resume();
    req.on('end', () => {
      const reply = answer(req.method ?? '', req.url ?? '');
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(JSON.stringify(reply.body ?? {}));
    });
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise(resolve => server.close(resolve));
});

beforeEach(() => {
  hits = [];
});

const client = () =>
  createGithubClient({ token: TOKEN, apiUrl: url, timeoutMs: 5000, writeSpacingMs: 0, retryBaseMs: 1 });
const repo = { owner: 'acme', repo: 'app' };

describe('the GitHub client', () => {
  it('retries a read that hit a 5xx', async () => {
    let n = 0;
    answer = () =>
      ++n < 3
        ? { status: 502, body: { message: 'Bad Gateway' } }
        : { status: 200, body: { sha: 'a', tree: { sha: 't' }, parents: [], message: 'm' } };
    const commit = await client().getCommit(repo, 'a'.repeat(40));
    expect(commit?.treeSha).toBe('t');
    expect(hits.filter(h => h.method === 'GET')).toHaveLength(3);
  });

  it('never retries a write; a lost ref create is probed with a read instead', async () => {
    answer = method =>
      method === 'POST'
        ? { status: 502, body: { message: 'Bad Gateway' } }
        : { status: 404, body: { message: 'Not Found' } };
    await expect(client().createCommit(repo, 'm', 't'.repeat(40), [])).rejects.toThrow(/HTTP 502/);
    expect(hits.filter(h => h.method === 'POST')).toHaveLength(1);
    hits = [];
    const sha = 'c'.repeat(40);
    answer = method =>
      method === 'POST'
        ? { status: 504, body: { message: 'Gateway Timeout' } }
        : { status: 200, body: { ref: 'refs/heads/x', object: { sha, type: 'commit' } } };
    expect(await client().createRef(repo, 'x', sha)).toBe('created');
    expect(hits.map(h => h.method)).toEqual(['POST', 'GET']);
  });

  it("keeps each call's retry count and deadline to itself: a write does not stop later reads from retrying, and an old deadline does not abort a new call", async () => {
    const gh = createGithubClient({
      token: TOKEN,
      apiUrl: url,
      timeoutMs: 300,
      writeSpacingMs: 0,
      retryBaseMs: 1,
    });
    answer = () => ({ status: 502, body: { message: 'Bad Gateway' } });
    await expect(gh.createBlob(repo, Buffer.from('x'))).rejects.toThrow(/HTTP 502/);
    let n = 0;
    answer = () =>
      ++n < 2
        ? { status: 502, body: {} }
        : { status: 200, body: { sha: 'a', tree: { sha: 't' }, parents: [], message: 'm' } };
    expect((await gh.getCommit(repo, 'a'.repeat(40)))?.treeSha).toBe('t');
    // Past the first call's deadline, a new call has its own.
    await new Promise(resolve => setTimeout(resolve, 400));
    answer = () => ({ status: 200, body: { sha: 'b', tree: { sha: 'u' }, parents: [], message: 'm' } });
    expect((await gh.getCommit(repo, 'b'.repeat(40)))?.treeSha).toBe('u');
  });

  it('reports a long rate limit with the wait instead of sleeping through it', async () => {
    answer = () => ({
      status: 403,
      headers: { 'retry-after': '90' },
      body: {
        message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
      },
    });
    await expect(client().getRepo(repo)).rejects.toMatchObject({
      code: 'RATE_LIMITED',
      message: expect.stringMatching(/retry after 90 s/),
    });
    expect(hits).toHaveLength(1);
  });

  it("follows the tarball's redirect to the archive host without the token", async () => {
    const seen: Array<string | undefined> = [];
    const archiveHost = createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(200, { 'content-type': 'application/x-gzip' });
      res.end(Buffer.from('gzip bytes'));
    });
    await new Promise<void>(resolve => archiveHost.listen(0, '127.0.0.1', resolve));
    const archiveUrl = `http://localhost:${(archiveHost.address() as AddressInfo).port}/acme/app/tar.gz/abc`;
    answer = () => ({ status: 302, headers: { location: archiveUrl } });
    try {
      const stream = await client().tarball(repo, 'a'.repeat(40), 1000);
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      expect(Buffer.concat(chunks).toString()).toBe('gzip bytes');
      expect(seen).toEqual([undefined]);
      expect(hits).toHaveLength(1);
    } finally {
      await new Promise(resolve => archiveHost.close(resolve));
    }
  });

  it('keeps the token out of error texts', async () => {
    answer = () => ({ status: 401, body: { message: 'Bad credentials' } });
    const error: any = await client()
      .getRepo(repo)
      .catch((e: unknown) => e);
    expect(error.message).toMatch(/rejected the token/);
    expect(`${error.message} ${error.hint} ${JSON.stringify(error)}`).not.toContain(TOKEN);
  });
});

describe('the GitHub client against the GitHub double', () => {
  it("reads GitHub's answers as states: an existing ref or PR, a non-fast-forward, a workflow tree's 404 — also under GHES's /api/v3", async () => {
    const { startGithubDouble } = await import('../../doubles/github/index.ts');
    const double = await startGithubDouble();
    try {
      const { headSha } = await double.addRepo({ owner: 'acme', name: 'app', files: { 'a.txt': 'a\n' } });
      const gh = createGithubClient({
        token: double.token,
        apiUrl: `${double.url}/api/v3`,
        timeoutMs: 5000,
        writeSpacingMs: 0,
      });
      expect((await gh.getRepo(repo))?.fullName).toBe('acme/app');
      const base = await gh.getCommit(repo, headSha);
      const tree = await gh.createTree(repo, base!.treeSha, [
        { path: 'b.txt', mode: '100644', type: 'blob', content: 'b\n' },
      ]);
      const commit = await gh.createCommit(repo, 'b', tree, [headSha]);
      expect(await gh.createRef(repo, 'devops-mcp/x', commit)).toBe('created');
      expect(await gh.createRef(repo, 'devops-mcp/x', commit)).toBe('exists');
      const pull = { title: 't', body: 'b', head: 'devops-mcp/x', base: 'main', draft: true };
      expect(await gh.createPull(repo, pull)).toMatchObject({
        state: 'open',
        draft: true,
        headRef: 'devops-mcp/x',
      });
      expect(await gh.createPull(repo, pull)).toBe('exists');
      const sideways = await gh.createCommit(repo, 'c', tree, [headSha]);
      expect(await gh.updateRef(repo, 'devops-mcp/x', sideways)).toBe('not-fast-forward');
      expect(await gh.getRef(repo, 'devops-mcp/x')).toBe(commit);
      await expect(
        gh.createTree(repo, base!.treeSha, [
          { path: '.github/workflows/ci.yml', mode: '100644', type: 'blob', content: 'on: push\n' },
        ]),
      ).rejects.toMatchObject({ status: 404 });
      expect((await gh.tokenScopes()).scopes).toEqual(['repo']);
      expect(double.writes().every(w => (w.body as any)?.force !== true)).toBe(true);
    } finally {
      await double.close();
    }
  });
});
