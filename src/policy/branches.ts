// Head branch names for open_pr: always `<prefix><slug>`, and a valid git ref name by `git check-ref-format`.

import { ToolError } from '../lib/errors.ts';

const refused = (
  why: string,
  hint = 'Use a short slug of letters, digits, "-", "_", "." and "/", e.g. fix-latency.',
) => new ToolError('BRANCH_NOT_ALLOWED', why, hint);

/** Why `name` is not a valid branch name under git's rules (`git check-ref-format refs/heads/<name>`), or undefined. */
export function refNameProblem(name: string): string | undefined {
  if (name === '' || name === '@') return 'is empty or "@"';
  if (name.startsWith('-')) return 'starts with "-"';
  for (const char of name) {
    const code = char.codePointAt(0) ?? 0;
    if (code < 0x20 || code === 0x7f) return 'contains a control character';
    if (' ~^:?*[\\'.includes(char)) return `contains "${char}"`;
  }
  if (name.includes('..')) return 'contains ".."';
  if (name.includes('@{')) return 'contains "@{"';
  if (name.startsWith('/') || name.endsWith('/') || name.includes('//')) return 'has an empty path component';
  if (name.endsWith('.')) return 'ends with "."';
  for (const part of name.split('/')) {
    if (part.startsWith('.')) return `has a component starting with "." (${part})`;
    if (part.endsWith('.lock')) return `has a component ending in ".lock" (${part})`;
  }
  return undefined;
}

/**
 * The head branch for a caller's slug: `<prefix><slug>`. A slug that already starts with the prefix is taken as the
 * full name. Only ASCII letters, digits, "-", "_", "." and "/" are accepted, so no look-alike of another branch can
 * be made, and the result must be a valid ref name.
 */
export function headBranch(slug: string, prefix: string): string {
  const bare = slug.startsWith(prefix) ? slug.slice(prefix.length) : slug;
  if (!/^[A-Za-z0-9._/-]{1,100}$/.test(bare)) {
    throw refused(`The branch slug "${slug}" must be 1–100 ASCII letters, digits, "-", "_", "." or "/".`);
  }
  const name = `${prefix}${bare}`;
  const problem = refNameProblem(name);
  if (problem !== undefined) throw refused(`The branch name "${name}" ${problem}.`);
  return name;
}
