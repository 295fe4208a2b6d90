// The repository allow-list: `owner/repo` or `owner/*`, compared case-insensitively as GitHub does.
//
// GitHub names are ASCII (letters, digits, "-", "_", "."), so a name with anything else is refused outright: it can
// only be a look-alike. A name that would equal an allowed one once Unicode compatibility forms, confusable letters
// and case are folded is named as a look-alike in the refusal, so the caller learns why.

import type { Config, RepoPolicy } from '../config.ts';
import { ToolError } from '../lib/errors.ts';

const GITHUB_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}$/;

export function repoAllowed(repo: string, patterns: readonly string[]): boolean {
  if (!GITHUB_NAME.test(repo)) return false;
  const [owner, name] = repo.toLowerCase().split('/');
  if (!owner || !name || name === '.' || name === '..') return false;
  return patterns.some(pattern => {
    const [allowedOwner, allowedName] = pattern.toLowerCase().split('/');
    return allowedOwner === owner && (allowedName === '*' || allowedName === name);
  });
}

// Letters from other scripts that render like Latin ones (after NFKC, which already folds full-width and
// mathematical forms), from Unicode's confusables list: enough to recognise a spoofed owner or repository name.
const CONFUSABLES: Record<string, string> = {
  а: 'a',
  в: 'b',
  е: 'e',
  ё: 'e',
  к: 'k',
  м: 'm',
  н: 'h',
  о: 'o',
  р: 'p',
  с: 'c',
  т: 't',
  у: 'y',
  х: 'x',
  ѕ: 's',
  і: 'i',
  ї: 'i',
  ј: 'j',
  ԁ: 'd',
  ԛ: 'q',
  ԝ: 'w',
  һ: 'h',
  ӏ: 'l',
  ɡ: 'g',
  ɑ: 'a',
  ı: 'i',
  ȷ: 'j',
  α: 'a',
  β: 'b',
  ε: 'e',
  η: 'n',
  ι: 'i',
  κ: 'k',
  ν: 'v',
  ο: 'o',
  ρ: 'p',
  τ: 't',
  υ: 'u',
  χ: 'x',
  ω: 'w',
  '‐': '-',
  '‑': '-',
  '‒': '-',
  '–': '-',
  '—': '-',
  '−': '-',
  '․': '.',
  ꓸ: '.',
  '⁄': '/',
  '∕': '/',
  '／': '/',
};

/** A name folded for comparison: NFKC, invisible characters dropped, confusables mapped, lower case. */
export function foldName(name: string): string {
  const folded = name
    .normalize('NFKC')
    .replace(/\p{Cf}/gu, '')
    .toLowerCase();
  return Array.from(folded, char => CONFUSABLES[char] ?? char).join('');
}

/** Throws REPO_NOT_ALLOWED unless `repo` is allowed; names a look-alike of an allowed repository as one. */
export function checkRepoAllowed(repo: string, patterns: readonly string[], what = 'used'): void {
  if (repoAllowed(repo, patterns)) return;
  const folded = foldName(repo);
  const lookalike = !GITHUB_NAME.test(repo) && folded !== repo.toLowerCase() && repoAllowed(folded, patterns);
  throw new ToolError(
    'REPO_NOT_ALLOWED',
    lookalike
      ? `${JSON.stringify(repo)} is not on the allow-list: it only looks like ${folded} (it has non-ASCII look-alike characters).`
      : `${repo} is not on the allow-list.`,
    `Only repositories in DEVOPS_MCP_ALLOWED_REPOS can be ${what}; type the name in plain ASCII.`,
  );
}

/** Splits a checked `owner/repo`. */
export function splitRepo(repo: string): { owner: string; repo: string } {
  const [owner = '', name = ''] = repo.split('/');
  return { owner, repo: name };
}

/** A repository's policy, looked up without regard to case as GitHub names are; with the name it is kept under. */
export function findRepoPolicy(
  repos: Config['repos'],
  repo: string,
): { name: string; policy: RepoPolicy } | undefined {
  const key = repo.toLowerCase();
  const found = Object.entries(repos).find(([name]) => name.toLowerCase() === key);
  return found && { name: found[0], policy: found[1] };
}

/**
 * The allow-list, then the repository's policy: what every tool that acts on a repository checks first, before
 * anything is read or started. `what` says what the tool would do with it ("tested", "changed").
 */
export function requireRepoPolicy(
  config: Config,
  repo: string,
  what: string,
): { name: string; policy: RepoPolicy } {
  checkRepoAllowed(repo, config.allowedRepos, what);
  const found = findRepoPolicy(config.repos, repo);
  if (!found) {
    throw new ToolError(
      'NOT_CONFIGURED',
      `${repo} has no repository policy.`,
      'Add repos["owner/repo"] (source, commands, pr) to the config file.',
    );
  }
  return found;
}
