// What the double remembers: repositories (each over a bare git repository), their pull requests and
// labels, tokens with their scopes and rate-limit budget, and the URLs objects are named by.

import type { Git } from './git.ts';

/** The user every token of the double belongs to (GitHub tokens always act as someone). */
export const USER = { login: 'devops-mcp-bot', id: 1001, name: 'devops-mcp bot' } as const;
export const USER_EMAIL = `${USER.id}+${USER.login}@users.noreply.github.com`;

export interface Urls {
  /** The API base, e.g. http://127.0.0.1:1234 (GitHub: https://api.github.com). */
  api: string;
  /** The web base for html_url (GitHub: https://github.com); the double names itself. */
  web: string;
  /** The archive and raw-file host (GitHub: codeload.github.com / raw.githubusercontent.com). */
  codeload: string;
}

export interface Label {
  id: number;
  name: string;
  color: string;
  description: string | null;
}

export interface Pull {
  id: number;
  number: number;
  title: string;
  body: string | null;
  state: 'open' | 'closed';
  draft: boolean;
  /** Branch names in this repository (the double has no forks). */
  head: string;
  base: string;
  /** Last known tips, kept for when a branch is gone. */
  headSha: string;
  baseSha: string;
  maintainerCanModify: boolean;
  createdAt: string;
  updatedAt: string;
  closedAt: string | null;
  mergedAt: string | null;
  mergeCommitSha: string | null;
  labels: string[];
  /** Logins whose review is requested. */
  reviewers: string[];
}

export interface Repo {
  id: number;
  owner: string;
  name: string;
  fullName: string;
  ownerId: number;
  private: boolean;
  defaultBranch: string;
  /** Logins with write access besides USER (who may be asked for reviews). */
  collaborators: Set<string>;
  /** Branch names refused for direct ref updates (as "changes must be made through a pull request"). */
  protectedBranches: Set<string>;
  /** A renamed branch's old name → its new name: GET branches/{old} answers 301 to the new one. */
  renamedBranches: Map<string, string>;
  git: Git;
  createdAt: string;
  pulls: Pull[];
  /** Issue numbers and pull numbers share one sequence, as on GitHub. */
  nextNumber: number;
  labels: Map<string, Label>;
  /** Serialises requests to one repository so ref checks and updates do not interleave. */
  lock: Promise<unknown>;
}

export interface Token {
  value: string;
  scopes: string[];
  used: number;
}

export interface State {
  urls: Urls;
  repos: Map<string, Repo>;
  /** A renamed or transferred repository's old owner/name key → the repository: answered with a redirect. */
  redirects: Map<string, Repo>;
  tokens: Map<string, Token>;
  /** Epoch seconds at which the hour's rate-limit window resets. */
  resetAt: number;
  nextId(): number;
  /** Short-lived ?token= values for private archive downloads, as codeload's. */
  archiveTokens: Set<string>;
}

export const repoKey = (owner: string, name: string): string => `${owner}/${name}`.toLowerCase();

export const hasScope = (token: Token, scope: string): boolean =>
  token.scopes.includes(scope) ||
  // GitHub's scope hierarchy: repo includes public_repo and repo:status.
  (scope === 'public_repo' && token.scopes.includes('repo'));

export const canRead = (token: Token, repo: Repo): boolean => !repo.private || hasScope(token, 'repo');
export const canWrite = (token: Token, repo: Repo): boolean =>
  repo.private ? hasScope(token, 'repo') : hasScope(token, 'public_repo');

/** A node_id in the shape GitHub's (base64 of a type-tagged id); opaque to clients either way. */
export const nodeId = (type: string, id: number | string): string =>
  Buffer.from(`${type}:${id}`).toString('base64').replace(/=+$/, '');

/** Runs fn after every earlier request to this repository has finished. */
export function withLock<T>(repo: Repo, fn: () => Promise<T>): Promise<T> {
  const run = repo.lock.then(fn, fn);
  repo.lock = run.catch(() => undefined);
  return run;
}
