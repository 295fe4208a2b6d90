// GET /repos/{o}/{r}/contents/{path} and /tarball/{ref}, and the codeload-like host the tarball redirect
// points at (GitHub: codeload.github.com for archives, raw.githubusercontent.com for download_url).

import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { GithubError, notFound, unsupported } from './errors.ts';
import type { TreeEntry } from './git.ts';
import { base64Lines } from './gitdata.ts';
import { json, type Reply, type RepoRequest, type Route } from './route.ts';
import { repoKey, type Repo, type State } from './state.ts';

const DOCS = 'https://docs.github.com/rest/repos/contents#get-repository-content';
const TARBALL_DOCS = 'https://docs.github.com/rest/repos/contents#download-a-repository-archive-tar';

/**
 * The commit a ?ref= names (default branch when absent); GitHub's 404 message for an unknown ref
 * ("No commit found for the ref master": googleapis/repo-automation-bots#4725, packit/packit#767).
 */
async function commitFor(repo: Repo, ref: string | null): Promise<{ ref: string; sha: string }> {
  const name = ref ?? repo.defaultBranch;
  const sha = await repo.git.resolveCommit(name);
  if (!sha) throw new GithubError(404, `No commit found for the ref ${name}`, { documentationUrl: DOCS });
  return { ref: name, sha };
}

const encodePath = (path: string): string => path.split('/').map(encodeURIComponent).join('/');

function typeOf(e: TreeEntry): 'file' | 'dir' | 'symlink' | 'submodule' {
  if (e.type === 'tree') return 'dir';
  if (e.type === 'commit') return 'submodule';
  return e.mode === '120000' ? 'symlink' : 'file';
}

function entryJson(
  state: State,
  repo: Repo,
  ref: string,
  e: TreeEntry,
  path: string,
  listing: boolean,
): Record<string, unknown> {
  const api = `${state.urls.api}/repos/${repo.fullName}`;
  const type = typeOf(e);
  const url = `${api}/contents/${encodePath(path)}?ref=${encodeURIComponent(ref)}`;
  const gitUrl = type === 'submodule' ? null : `${api}/git/${e.type === 'tree' ? 'trees' : 'blobs'}/${e.sha}`;
  const htmlUrl =
    type === 'submodule'
      ? null
      : `${state.urls.web}/${repo.fullName}/${type === 'dir' ? 'tree' : 'blob'}/${ref}/${path}`;
  const downloadUrl =
    type === 'file' || type === 'symlink'
      ? `${state.urls.codeload}/${repo.fullName}/raw/${ref}/${encodePath(path)}`
      : null;
  return {
    // The docs: "When listing the contents of a directory, submodules have their "type" specified as
    // "file" ... for backwards compatibility".
    type: listing && type === 'submodule' ? 'file' : type,
    size: e.size ?? 0,
    name: path.split('/').pop() ?? path,
    path,
    sha: e.sha,
    url,
    git_url: gitUrl,
    html_url: htmlUrl,
    download_url: downloadUrl,
    _links: { self: url, git: gitUrl, html: htmlUrl },
  };
}

/** The entry at `path` in commit `sha`, as ls-tree names it (no link on the way is followed), or null. */
async function entryAt(repo: Repo, sha: string, path: string): Promise<TreeEntry | null> {
  const out = await repo.git.run(['ls-tree', '-z', '-l', sha, '--', path]);
  const line = out.toString('utf8').split('\0')[0] ?? '';
  const tab = line.indexOf('\t');
  if (tab < 0 || line.slice(tab + 1) !== path) return null;
  const [mode = '', type = '', object = '', size = '-'] = line.slice(0, tab).split(/ +/);
  const entry: TreeEntry = { mode, type: type as TreeEntry['type'], sha: object, path };
  if (type === 'blob') entry.size = Number(size);
  return entry;
}

/**
 * The normal file a symbolic link at `path` names, or null. The docs: "If the content is a symlink and the
 * symlink's target is a normal file in the repository, then the API responds with the content of the file.
 * Otherwise, the API responds with an object describing the symlink itself." The target is read relative to the
 * link's directory and must stay inside the repository; a link on its way is not followed (hub4j/github-api#875:
 * a target through a linked directory answers the link).
 */
async function linkedFile(repo: Repo, sha: string, path: string, target: string): Promise<TreeEntry | null> {
  if (target.startsWith('/')) return null;
  const parts = path.split('/').slice(0, -1);
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) return null;
      parts.pop();
    } else parts.push(part);
  }
  if (parts.length === 0) return null;
  const entry = await entryAt(repo, sha, parts.join('/'));
  return entry?.type === 'blob' && (entry.mode === '100644' || entry.mode === '100755') ? entry : null;
}

// The docs: "This API has an upper limit of 1,000 files for a directory."
const MAX_LISTED = 1000;

async function contents({ repo, params, query, state, accept }: RepoRequest): Promise<Reply> {
  // The raw, html and object media types answer other bodies; the double serves only the default JSON.
  if (/application\/vnd\.github(?:\.v3)?\.(?:raw|html|object)/.test(accept)) {
    throw unsupported(`contents in the media type ${accept}`);
  }
  let path = (params[0] ?? '').replace(/^\/+|\/+$/g, '');
  const { ref, sha } = await commitFor(repo, query.get('ref'));
  let entry: TreeEntry;
  if (path === '') {
    entry = { mode: '040000', type: 'tree', sha: (await repo.git.readCommit(sha)).tree, path: '' };
  } else {
    const found = await entryAt(repo, sha, path);
    if (!found) throw notFound(DOCS);
    entry = found;
  }
  if (entry.type === 'tree') {
    const children = (await repo.git.readTree(entry.sha)).slice(0, MAX_LISTED);
    return json(children.map(c => entryJson(state, repo, ref, c, path ? `${path}/${c.path}` : c.path, true)));
  }
  let target: string | null = null;
  if (entry.mode === '120000') {
    target = (await repo.git.readBlob(entry.sha)).toString('utf8');
    const file = await linkedFile(repo, sha, path, target);
    if (file) {
      // Answered as the file itself, under its own path, name and sha.
      entry = file;
      path = file.path;
      target = null;
    }
  }
  const base = entryJson(state, repo, ref, entry, path, false);
  if (entry.type === 'commit') {
    return json({ ...base, submodule_git_url: null });
  }
  // 403 too_large for a file over 1 MB in the default JSON format (JasonEtco/todo#43, tinacms/tinacms#1308,
  // octokit/core.js#414; the docs: "Between 1-100 MB: Only the raw or object custom media types").
  if ((entry.size ?? 0) > 1024 * 1024) {
    throw new GithubError(
      403,
      'This API returns blobs up to 1 MB in size. The requested blob is too large to fetch via the API, but you can use the Git Data API to request blobs up to 100 MB in size.',
      { documentationUrl: DOCS, errors: [{ resource: 'Blob', field: 'data', code: 'too_large' }] },
    );
  }
  if (target !== null) return json({ ...base, target });
  const content = await repo.git.readBlob(entry.sha);
  return json({ ...base, content: base64Lines(content), encoding: 'base64' });
}

const getContents: Route<RepoRequest> = { method: 'GET', path: /^\/contents(?:\/(.*))?$/, run: contents };

const tarball: Route<RepoRequest> = {
  method: 'GET',
  path: /^\/tarball(?:\/(.+))?$/,
  async run({ repo, params, state }) {
    const name = params[0] || repo.defaultBranch;
    if (!(await repo.git.resolveCommit(name))) throw notFound(TARBALL_DOCS);
    // Private repositories' archive links carry a short-lived token, as codeload's do: the redirect goes
    // to another host, so the client's Authorization header is not sent along.
    let search = '';
    if (repo.private) {
      const token = `GHSAT${randomBytes(12).toString('hex')}`;
      state.archiveTokens.add(token);
      search = `?token=${token}`;
    }
    const location = `${state.urls.codeload}/${repo.fullName}/legacy.tar.gz/${name.split('/').map(encodeURIComponent).join('/')}${search}`;
    return { status: 302, headers: { location }, raw: Buffer.alloc(0) };
  },
};

export const contentRoutes: Array<Route<RepoRequest>> = [getContents, tarball];

/** The codeload-like host: archives and raw files. Answers plain-text 404s, as codeload does. */
export async function codeload(state: State, method: string, url: URL): Promise<Reply> {
  const notHere: Reply = {
    status: 404,
    raw: Buffer.from('404: Not Found'),
    headers: { 'content-type': 'text/plain; charset=utf-8' },
  };
  if (method !== 'GET' && method !== 'HEAD') return notHere;
  const match = /^\/([^/]+)\/([^/]+)\/(legacy\.tar\.gz|raw)\/(.+)$/.exec(url.pathname);
  if (!match) return notHere;
  const [, owner = '', name = '', kind, rest = ''] = match;
  const repo = state.repos.get(repoKey(decodeURIComponent(owner), decodeURIComponent(name)));
  if (!repo) return notHere;
  if (repo.private) {
    const token = url.searchParams.get('token') ?? '';
    if (!state.archiveTokens.has(token)) return notHere;
  }
  const decoded = rest.split('/').map(decodeURIComponent).join('/');
  if (kind === 'raw') {
    // download_url: ref then path; refs with slashes are resolved by trying the longest ref first.
    const parts = decoded.split('/');
    for (let i = parts.length - 1; i >= 1; i--) {
      const sha = await repo.git.resolveCommit(parts.slice(0, i).join('/'));
      if (!sha) continue;
      const blob = await repo.git.revParse(`${sha}:${parts.slice(i).join('/')}`);
      if (!blob || (await repo.git.typeOf(blob)) !== 'blob') return notHere;
      return {
        status: 200,
        raw: await repo.git.readBlob(blob),
        headers: { 'content-type': 'text/plain; charset=utf-8' },
      };
    }
    return notHere;
  }
  const sha = await repo.git.resolveCommit(decoded);
  if (!sha) return notHere;
  // GitHub's archive: one top-level folder {owner}-{repo}-{sha7}/, a pax header with the commit id
  // (git archive writes the same pax_global_header).
  const top = `${repo.owner}-${repo.name}-${sha.slice(0, 7)}`;
  const tar = await repo.git.run(['archive', '--format=tar', `--prefix=${top}/`, sha]);
  return {
    status: 200,
    raw: gzipSync(tar),
    headers: {
      'content-type': 'application/x-gzip',
      'content-disposition': `attachment; filename=${top}.tar.gz`,
    },
  };
}
