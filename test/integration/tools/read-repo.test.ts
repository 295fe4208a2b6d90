// read_repo through the MCP client against the GitHub double: files with their blob sha, directories, refusals.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gitBlobSha } from '../../../src/policy/changes.ts';
import { startGithubDouble, type GithubDouble } from '../../doubles/github/index.ts';
import { connect, textOf, type Connected } from '../../support/mcp.ts';

let double: GithubDouble;
let mcp: Connected;
const big = Array.from({ length: 2000 }, (_, i) => `line ${i} of a long file`).join('\n');

beforeAll(async () => {
  double = await startGithubDouble();
  await double.addRepo({
    owner: 'acme',
    name: 'app',
    files: {
      'README.md': '# app\n',
      'src/config.mjs': 'export const WINDOW = 5;\n',
      'src/big.txt': big,
      'assets/huge.csv': 'x,y\n'.repeat(300_000),
      'assets/logo.png': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0xff]),
      ...Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`many/file-${i}.txt`, `${i}\n`])),
      // More entries than GitHub's contents API lists of a directory (1,000), the large file past them.
      ...Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`wide/f-${i}.txt`, 'w\n'])),
      'wide/zz-huge.csv': 'x,y\n'.repeat(300_000),
    },
    symlinks: {
      'docs/config.mjs': '../src/config.mjs',
      lib: 'src',
      'docs/huge.csv': '../assets/huge.csv',
    },
    branches: { next: {} },
  });
  await double.addRepo({ owner: 'acme', name: 'old', files: { 'README.md': '# old\n' } });
  await double.renameRepo('acme/old', 'acme/elsewhere');
  await double.pushCommit('acme/app', 'next', { 'src/config.mjs': 'export const WINDOW = 9;\n' });
  mcp = await connect({
    DEVOPS_MCP_ALLOWED_REPOS: 'acme/app,acme/old',
    GITHUB_TOKEN: double.token,
    GITHUB_API_URL: double.url,
  });
});

afterAll(async () => {
  await mcp.close();
  await double.close();
});

const read = (args: Record<string, unknown>) => mcp.call('read_repo', { repo: 'acme/app', ...args });

describe('read_repo', () => {
  it('reads a file with its size and the blob sha an update needs', async () => {
    const result = await read({ path: 'src/config.mjs' });
    expect(result.isError, textOf(result)).toBeFalsy();
    const content = 'export const WINDOW = 5;\n';
    expect(result.structuredContent).toEqual({
      ref: 'main',
      path: 'src/config.mjs',
      type: 'file',
      sha: gitBlobSha(Buffer.from(content)),
      size: content.length,
      content,
      truncated: false,
    });
  });

  it("reads a file over GitHub's 1 MB contents limit through its blob", async () => {
    const result = await read({ path: 'assets/huge.csv' });
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(result.structuredContent).toMatchObject({
      type: 'file',
      sha: gitBlobSha(Buffer.from('x,y\n'.repeat(300_000))),
      size: 1_200_000,
      truncated: true,
    });
    expect((result.structuredContent as { content: string }).content).toMatch(/^x,y\nx,y\n/);
  });

  it('reads at a ref', async () => {
    const result = await read({ path: 'src/config.mjs', ref: 'next' });
    expect(result.structuredContent).toMatchObject({ ref: 'next', content: 'export const WINDOW = 9;\n' });
  });

  it('lists a directory with names, types, sizes and shas', async () => {
    const result = await read({});
    const out = result.structuredContent as any;
    expect(out.type).toBe('dir');
    expect(out.entries.map((e: any) => `${e.type}:${e.name}`).sort()).toEqual([
      'dir:assets',
      'dir:docs',
      'dir:many',
      'dir:src',
      'dir:wide',
      'file:README.md',
      'symlink:lib',
    ]);
    expect(out.entries.find((e: any) => e.name === 'README.md')).toMatchObject({
      size: 6,
      sha: expect.stringMatching(/^[0-9a-f]{40}$/),
    });
  });

  it('caps a long file and a long directory, saying so, within the output budget', async () => {
    const file = await read({ path: 'src/big.txt' });
    const out = file.structuredContent as any;
    expect(out.truncated).toBe(true);
    expect(big.startsWith(out.content)).toBe(true);
    expect(out.sha).toBe(gitBlobSha(Buffer.from(big)));
    expect(out.note).toMatch(/^Showing the first \d+ of \d+ bytes/);
    expect(Buffer.byteLength(textOf(file))).toBeLessThanOrEqual(8192);
    const dir = await read({ path: 'many' });
    expect((dir.structuredContent as any).note).toMatch(/entries left out/);
    expect(Buffer.byteLength(textOf(dir))).toBeLessThanOrEqual(8192);
  });

  it("reads a file over 1 MB in a directory longer than GitHub's 1,000-entry listing", async () => {
    const result = await read({ path: 'wide/zz-huge.csv' });
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(result.structuredContent).toMatchObject({
      type: 'file',
      sha: gitBlobSha(Buffer.from('x,y\n'.repeat(300_000))),
      size: 1_200_000,
    });
    const dir = await read({ path: 'wide' });
    expect(dir.structuredContent).toMatchObject({ truncated: true });
    expect((dir.structuredContent as any).note).toMatch(/of at least 1000 entries left out/);
  });

  it('says when a path is a symbolic link GitHub answered with the file it links to', async () => {
    const result = await read({ path: 'docs/config.mjs' });
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(result.structuredContent).toMatchObject({
      path: 'docs/config.mjs',
      type: 'file',
      sha: gitBlobSha(Buffer.from('export const WINDOW = 5;\n')),
      content: 'export const WINDOW = 5;\n',
      note: '"docs/config.mjs" is a symbolic link to "src/config.mjs": this is that file; change it there.',
    });
    // A link to a directory is the link itself.
    expect((await read({ path: 'lib' })).structuredContent).toMatchObject({
      type: 'symlink',
      content: 'src',
    });
  });

  it('reads a symbolic link to a file over 1 MB as that file, never as its target string', async () => {
    const result = await read({ path: 'docs/huge.csv' });
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(result.structuredContent).toMatchObject({
      path: 'docs/huge.csv',
      type: 'file',
      sha: gitBlobSha(Buffer.from('x,y\n'.repeat(300_000))),
      size: 1_200_000,
      truncated: true,
      note: expect.stringMatching(
        /^"docs\/huge\.csv" is a symbolic link to "assets\/huge\.csv": this is that file/,
      ),
    });
    expect((result.structuredContent as { content: string }).content).toMatch(/^x,y\nx,y\n/);
  });

  it('refuses a repository GitHub answers under a name not on the allow-list', async () => {
    double.reset();
    expect(textOf(await read({ repo: 'acme/old' }))).toMatch(
      /^REPO_NOT_ALLOWED: acme\/elsewhere is not on the allow-list/,
    );
    expect(double.requests.map(r => `${r.status} ${r.path}`)).toEqual([
      '301 /repos/acme/old',
      expect.stringMatching(/^200 \/repositories\/\d+$/),
    ]);
  });

  it('notes a binary file instead of showing it', async () => {
    const result = await read({ path: 'assets/logo.png' });
    expect(result.structuredContent).toMatchObject({
      type: 'file',
      size: 7,
      note: 'A binary file: its content is not shown.',
    });
    expect((result.structuredContent as any).content).toBeUndefined();
  });

  it('refuses path escapes and repositories not on the allow-list, asking GitHub nothing', async () => {
    double.reset();
    for (const path of ['../secrets', '/etc/passwd', 'a/../../b', '.git/config']) {
      expect(textOf(await read({ path })), path).toMatch(/^PATH_INVALID/);
    }
    expect(textOf(await read({ repo: 'evil/app' }))).toMatch(/^REPO_NOT_ALLOWED/);
    expect(textOf(await read({ repo: 'аcme/app' }))).toMatch(
      /^REPO_NOT_ALLOWED: .*only looks like acme\/app/,
    );
    expect(double.requests).toEqual([]);
  });

  it('says clearly when a path does not exist', async () => {
    expect(textOf(await read({ path: 'nope.txt' }))).toMatch(
      /^INVALID_ARGUMENT: acme\/app has no "nope.txt" at main/,
    );
  });
});
