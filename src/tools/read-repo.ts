// read_repo: what an agent that fixes code needs to see first, from an allow-listed repository on GitHub: a file
// (its text and the blob sha that open_pr's update needs) or a directory's entries. Read-only, capped.

import { z } from 'zod';
import { invalidArgument, notConfigured } from '../lib/errors.ts';
import { fitList } from '../lib/shape.ts';
import { checkPath, plainRef } from '../policy/changes.ts';
import { checkRepoAllowed, splitRepo } from '../policy/repos.ts';
import { defineTool } from './define.ts';

// Room left in the result for everything but the file text or the entries.
const OVERHEAD = 600;

export const readRepo = defineTool({
  name: 'read_repo',
  title: 'Read a repository',
  description:
    "A file's text, size and blob sha (for open_pr's update), or a directory's entries, of an allow-listed repo at `ref` (default branch). When `truncated`, see `note`.",
  input: z.strictObject({
    repo: z.string().min(1).max(141),
    path: z.string().max(1024).optional(),
    ref: z.string().min(1).max(255).optional(),
  }),
  output: z.object({
    ref: z.string(),
    path: z.string(),
    type: z.enum(['file', 'dir', 'symlink', 'submodule']),
    sha: z.string().optional(),
    size: z.number().optional(),
    content: z.string().optional(),
    entries: z
      .array(z.object({ name: z.string(), type: z.string(), size: z.number(), sha: z.string() }))
      .optional(),
    truncated: z.boolean(),
    note: z.string().optional(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },

  async run(input, ctx) {
    checkRepoAllowed(input.repo, ctx.config.allowedRepos, 'read');
    const path =
      input.path === undefined || input.path === '' || input.path === '/' ? '' : checkPath(input.path);
    if (input.ref !== undefined && !plainRef(input.ref)) {
      throw invalidArgument(`ref ${JSON.stringify(input.ref)} is not a branch, tag or commit sha.`);
    }
    const github = ctx.github;
    if (!github) throw notConfigured('GitHub', 'GITHUB_TOKEN');
    const repo = splitRepo(input.repo);
    const info = await github.getRepo(repo);
    if (!info) throw invalidArgument(`GitHub has no repository ${input.repo}, or the token cannot see it.`);
    checkRepoAllowed(info.fullName, ctx.config.allowedRepos, 'read');
    const ref = input.ref ?? info.defaultBranch;
    const content = await github.getContent(splitRepo(info.fullName), path, ref);
    if (!content) {
      throw invalidArgument(
        `${info.fullName} has no ${path === '' ? 'root' : `"${path}"`} at ${ref}.`,
        'List the parent directory to see what exists.',
      );
    }
    const budget = Math.max(256, ctx.config.output.maxBytes - OVERHEAD);
    const base = { ref, path };
    switch (content.type) {
      case 'dir': {
        // The budget already leaves room for the rest of the result; the list's own brackets are the reserve.
        const kept = fitList(content.entries, budget, 2);
        const dropped = content.entries.length - kept.length;
        // GitHub's contents API lists at most 1,000 entries of a directory: there may be more than it said.
        const capped = content.entries.length >= 1000;
        const notes = [
          ...(dropped > 0
            ? [
                `${dropped} of ${capped ? 'at least ' : ''}${content.entries.length} entries left out; read a subdirectory to see less at once.`,
              ]
            : []),
          ...(capped && dropped === 0 ? ['GitHub lists at most 1,000 entries of a directory.'] : []),
        ];
        return {
          ...base,
          type: 'dir' as const,
          entries: kept,
          truncated: dropped > 0 || capped,
          ...(notes.length > 0 ? { note: notes.join(' ') } : {}),
        };
      }
      case 'symlink':
        return {
          ...base,
          type: 'symlink' as const,
          sha: content.sha,
          size: content.size,
          content: content.target,
          truncated: false,
          note: 'A symbolic link: content is its target.',
        };
      case 'submodule':
        return {
          ...base,
          type: 'submodule' as const,
          sha: content.sha,
          size: content.size,
          truncated: false,
        };
      case 'file': {
        const bytes =
          content.content ??
          (content.size <= 4 * 1024 * 1024
            ? await github.getBlob(splitRepo(info.fullName), content.sha)
            : undefined);
        const file = { ...base, type: 'file' as const, sha: content.sha, size: content.size };
        // GitHub answers a symbolic link to a file with that file: its content and sha are the target's, and an
        // update of the link itself is refused by open_pr.
        const linked =
          content.path === path
            ? ''
            : `"${path}" is a symbolic link to "${content.path}": this is that file; change it there. `;
        if (bytes === undefined) {
          return {
            ...file,
            truncated: true,
            note: `${linked}The file is ${content.size} bytes; too large to show.`,
          };
        }
        if (isBinary(bytes)) {
          return { ...file, truncated: false, note: `${linked}A binary file: its content is not shown.` };
        }
        // Scrubbed before it is cut: a configured secret cut in two would go out as its first part, unscrubbed.
        const text = ctx.redact(bytes.toString('utf8'));
        const shown = cutUtf8(text, budget);
        const cut = shown.length < text.length;
        const note = `${linked}${cut ? `Showing the first ${Buffer.byteLength(shown)} of ${bytes.length} bytes; the sha is of the whole file.` : ''}`;
        return {
          ...file,
          content: shown,
          truncated: cut,
          ...(note === '' ? {} : { note: note.trim() }),
        };
      }
    }
  },
});

function isBinary(bytes: Buffer): boolean {
  if (bytes.subarray(0, 8000).includes(0)) return true;
  return !Buffer.from(bytes.toString('utf8'), 'utf8').equals(bytes);
}

/** The text cut to at most `maxBytes` of UTF-8 (JSON escaping counted), never inside a character. */
function cutUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(JSON.stringify(text)) <= maxBytes) return text;
  let low = 0;
  let high = text.length;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (Buffer.byteLength(JSON.stringify(text.slice(0, mid))) <= maxBytes) low = mid;
    else high = mid - 1;
  }
  // Do not split a surrogate pair.
  const code = text.charCodeAt(low - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? low - 1 : low);
}
