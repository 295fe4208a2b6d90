// open_pr: one atomic, allow-listed, idempotent pull request. Every policy check runs before the first write; the
// git objects are made first, the branch ref last (pointing at the finished commit), then the PR. Never a force.

import { z } from 'zod';
import pkg from '../../package.json' with { type: 'json' };
import {
  GithubHttpError,
  type BranchInfo,
  type GithubClient,
  type NewTreeEntry,
  type PullInfo,
  type RepoRef,
} from '../clients/github.ts';
import { secretSourcesOf, type Config, type PrPolicy, type RepoPolicy } from '../config.ts';
import { invalidArgument, notConfigured, quoted, ToolError } from '../lib/errors.ts';
import { resolveLink, treeSha, type Leaf } from '../lib/git-tree.ts';
import { secretIn, type Redactor } from '../lib/redact.ts';
import { headBranch } from '../policy/branches.ts';
import { refuseWhilePaused } from '../policy/pause.ts';
import {
  changeSchema,
  checkChanges,
  contentOf,
  directoriesOf,
  gitBlobSha,
  hashChanges,
  type Change,
} from '../policy/changes.ts';
import { isProtectedBy, isWorkflowPath, protectedPathsIn } from '../policy/paths.ts';
import { checkRepoAllowed, requireRepoPolicy, splitRepo } from '../policy/repos.ts';
import {
  cleanBody,
  cleanTitle,
  disarmClosingKeywords,
  MAX_PROVENANCE,
  provenanceBlock,
  withProvenance,
} from '../policy/text.ts';
import { defineTool, type ToolContext } from './define.ts';

/** Marks the commits open_pr makes: a branch whose tip lacks it was changed by someone else and is left alone. */
const TRAILER = 'Generated-by: devops-mcp';

const input = z.strictObject({
  repo: z.string().min(1).max(141),
  base: z.string().min(1).max(255).optional(),
  branch: z.string().min(1).max(120).describe('slug, e.g. fix-x'),
  title: z.string().min(1).max(1000),
  body: z.string().max(100_000).optional(),
  changes: z.array(changeSchema).max(100),
  labels: z.array(z.string().min(1).max(50)).max(10).optional(),
  draft: z.boolean().optional(),
  receipt: z.string().max(4096).optional(),
});

const output = z.object({
  status: z.enum(['created', 'existing', 'updated']),
  number: z.number().int(),
  url: z.string(),
  branch: z.string(),
  base: z.string(),
  commit_sha: z.string(),
  draft: z.boolean(),
  files_changed: z.number().int(),
  note: z.string().optional(),
});
type Output = z.output<typeof output>;

export const openPr = defineTool({
  name: 'open_pr',
  title: 'Open a PR',
  description:
    'Open a draft PR on an allow-listed repo, branch `devops-mcp/<branch>`, with `changes` on `base` (default branch). Needs the run_sandbox_test receipt of these changes; update needs the blob sha (read_repo). Repeat calls return the same PR.',
  input,
  output,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },

  async run(input, ctx) {
    const audit = (action: string, fields: Record<string, unknown> = {}) => {
      ctx.logger.info(
        { audit: true, tool: 'open_pr', repo: input.repo, action, ...fields },
        `open_pr ${action}`,
      );
    };
    const trail = { wrote: false };
    try {
      return await openPullRequest(input, ctx, audit, trail);
    } catch (error) {
      // A refusal wrote nothing; a failure after the first write is recorded as such.
      const code = error instanceof ToolError ? error.code : 'INTERNAL_ERROR';
      const reason = error instanceof ToolError ? error.message : 'unexpected error';
      audit(trail.wrote ? 'failed' : 'refused', { code, reason });
      throw error;
    }
  },
});

type Input = z.output<typeof input>;
type Audit = (action: string, fields?: Record<string, unknown>) => void;

async function openPullRequest(
  input: Input,
  ctx: ToolContext,
  audit: Audit,
  trail: { wrote: boolean },
): Promise<Output> {
  const { config } = ctx;
  // 0. The kill switch, before anything else.
  await refuseWhilePaused(ctx, 'open_pr');
  // 1. Policy that needs no call: nothing is asked of GitHub about a repository that is not allowed.
  const { name: policyName, policy } = requireRepoPolicy(config, input.repo, 'changed');
  const pr = policy.pr;
  const github = ctx.github;
  if (!github) throw notConfigured('GitHub', 'GITHUB_TOKEN');
  const changes = input.changes;
  checkLocally(input, pr);
  refuseSecrets(input, ctx.redact, config);
  const head = headBranch(input.branch, pr.branchPrefix);
  const title = cleanTitle(input.title, ctx.redact);
  if (title === '') throw invalidArgument('title is empty once invisible characters are removed.');
  const draft = input.draft ?? true;
  if (pr.requireReceipt && input.receipt === undefined) {
    throw new ToolError(
      'RECEIPT_REQUIRED',
      `${policyName} accepts a change only with a passing run_sandbox_test receipt.`,
      'Run run_sandbox_test with exactly these changes (no ref, or ref = the base branch) and pass its receipt.',
    );
  }

  // 2. What GitHub says, read only: the canonical name, the base tip and its tree, the head branch and its PRs.
  const repo = splitRepo(policyName);
  const info = await github.getRepo(repo);
  if (!info) {
    throw invalidArgument(`GitHub has no repository ${input.repo}, or the token cannot see it.`);
  }
  // A renamed or transferred repository answers under its new name: that name must be allowed too.
  checkRepoAllowed(info.fullName, config.allowedRepos, 'changed');
  if (info.fullName.toLowerCase() !== policyName.toLowerCase()) {
    throw new ToolError(
      'REPO_NOT_ALLOWED',
      `GitHub names ${input.repo} ${info.fullName} (renamed or moved); its policy is for ${policyName}.`,
      'Ask the operator to update the allow-list and policy.',
    );
  }
  if (info.archived) throw invalidArgument(`${info.fullName} is archived; it takes no pull requests.`);
  const base = input.base ?? info.defaultBranch;
  const bases = pr.baseBranches.length > 0 ? pr.baseBranches : [info.defaultBranch];
  if (!bases.includes(base)) {
    throw new ToolError(
      'BRANCH_NOT_ALLOWED',
      `The base branch ${base} is not allowed for ${policyName}.`,
      `Allowed bases: ${bases.join(', ')}.`,
    );
  }
  if (head === base || head === info.defaultBranch) {
    throw new ToolError('BRANCH_NOT_ALLOWED', `The head branch ${head} is the base or default branch.`);
  }
  const baseBranch = await github.getBranch(repo, base);
  if (!baseBranch) throw invalidArgument(`${info.fullName} has no branch ${base}.`);
  const baseTip = baseBranch.commitSha;
  const receipt = input.receipt
    ? verifyReceipt(ctx, input.receipt, { repo: policyName, baseTip, changes, policy, base })
    : undefined;

  const baseCommit = await github.getCommit(repo, baseTip);
  if (!baseCommit)
    throw new ToolError('BACKEND_ERROR', `GitHub has no commit ${baseTip} although ${base} points at it.`);
  const baseTree = await github.getTree(repo, baseCommit.treeSha);
  if (baseTree.truncated) {
    throw new ToolError(
      'TOO_LARGE',
      `${info.fullName}'s tree is too large for GitHub to list; open_pr cannot check it.`,
    );
  }
  const leaves = new Map<string, Leaf>();
  const dirs = new Set<string>();
  for (const entry of baseTree.entries) {
    if (entry.type === 'tree') dirs.add(entry.path);
    else leaves.set(entry.path, { mode: entry.mode, sha: entry.sha });
  }
  const plan = planAgainstBase(changes, leaves, dirs);
  await refuseProtectedThroughLinks(changes, leaves, pr, async sha =>
    (await github.getBlob(repo, sha)).toString('utf8'),
  );
  const desiredTree = treeSha(plan.leaves);

  const branch = await github.getBranch(repo, head);
  if (branch?.protected) {
    throw new ToolError('BRANCH_NOT_ALLOWED', `${head} is a protected branch.`, 'Use another branch slug.');
  }
  if (changes.some(change => isWorkflowPath(change.path))) {
    // Classic tokens name their scopes; fine-grained and App tokens do not, and the tree write tells instead. An
    // App installation token may not even read GET /user (403): that, too, leaves the answer to the write.
    const scopes = await github.tokenScopes().then(
      found => found.scopes,
      (error: unknown) => {
        if (error instanceof ToolError && (error as { status?: unknown }).status === 403) return undefined;
        throw error;
      },
    );
    if (scopes !== undefined && !scopes.includes('workflow')) throw workflowScopeMissing();
  }
  const pulls = await github.listPulls(repo, `${repo.owner}:${head}`, 'all');
  const open = pulls.find(p => p.state === 'open');
  const closed = pulls.find(p => p.state === 'closed');
  if (!open && closed) {
    throw new ToolError(
      'PR_EXISTS',
      `PR #${closed.number} for ${head} was ${closed.merged ? 'merged' : 'closed'} (${closed.url}); open_pr does not reopen it.`,
      'If the change is still wanted, use another branch slug.',
    );
  }
  if (open && open.baseRef !== base) {
    throw new ToolError(
      'PR_EXISTS',
      `PR #${open.number} for ${head} targets ${open.baseRef}, not ${base} (${open.url}).`,
      'Use another branch slug or the same base.',
    );
  }

  const files = {
    created: changes.filter(c => c.action === 'create').map(c => c.path),
    updated: changes.filter(c => c.action === 'update').map(c => c.path),
    deleted: changes.filter(c => c.action === 'delete').map(c => c.path),
  };
  // Bounded here, before any write: GitHub refuses a longer body only at the PR, after the branch is made.
  const provenance = provenanceBlock({ version: pkg.version, receipt, ...files }, MAX_PROVENANCE);
  const body = withProvenance(provenance, cleanBody(input.body ?? '', ctx.redact));
  const result = (status: Output['status'], pull: PullInfo, sha: string, note?: string): Output => ({
    status,
    number: pull.number,
    url: pull.url,
    branch: head,
    base,
    commit_sha: sha,
    draft: pull.draft,
    files_changed: changes.length,
    ...(note === undefined ? {} : { note }),
  });

  // GitHub's label names ignore case.
  const lacking = (pull: PullInfo): string[] => {
    const has = new Set(pull.labels.map(label => label.toLowerCase()));
    return (input.labels ?? []).filter(label => !has.has(label.toLowerCase()));
  };
  /** Adds the requested labels the PR lacks; a refusal becomes the result's note, the PR being open either way. */
  const addLabels = async (pull: PullInfo): Promise<{ added: boolean; note?: string }> => {
    const missing = lacking(pull);
    if (missing.length === 0) return { added: false };
    try {
      await github.addLabels(repo, pull.number, missing);
      audit('labels', { number: pull.number, labels: missing });
      return { added: true };
    } catch (error) {
      const why = error instanceof ToolError ? error.message : 'GitHub refused';
      return { added: false, note: `The PR is open but its labels were not added: ${why}.` };
    }
  };

  // 3. Already there? The branch holds exactly this content: nothing to write but labels it lacks.
  const tip = branch ? await ownTip(github, repo, branch, head) : undefined;
  if (tip && tip.treeSha === desiredTree && open) {
    audit('existing', { branch: head, number: open.number, commit: tip.sha });
    // A label is a write: a pause set while this call was reading stops it.
    if (lacking(open).length > 0) await refuseWhilePaused(ctx, 'open_pr');
    const labels = await addLabels(open);
    return result(
      'existing',
      open,
      tip.sha,
      labels.note ??
        (labels.added
          ? 'This PR already holds exactly these changes; only the labels it lacked were added.'
          : 'This PR already holds exactly these changes; nothing was written.'),
    );
  }

  // 4. Writes, paced by the hourly quota; the git objects first, the ref last. A pause set while this call was
  // reading still stops it here, before the first write.
  await refuseWhilePaused(ctx, 'open_pr');
  const slot = await ctx.prQuota.take(policyName, pr.maxPrsPerHour, ctx.now());
  if ('retryAfterSeconds' in slot) {
    throw new ToolError(
      'RATE_LIMITED',
      `${policyName} already had ${pr.maxPrsPerHour} pull requests opened or updated in the last hour; retry after ${slot.retryAfterSeconds} s.`,
      `Wait ${slot.retryAfterSeconds} seconds, or bundle the fixes into one PR.`,
    );
  }
  // A write GitHub refused outright (4xx) did not happen; one that failed otherwise (5xx, a timeout, a lost
  // connection) may have. The slot is kept once a write happened or may have, and given back otherwise.
  const write = async <T>(attempt: () => Promise<T>): Promise<T> => {
    try {
      const out = await attempt();
      trail.wrote = true;
      return out;
    } catch (error) {
      if (!(error instanceof GithubHttpError && error.status >= 400 && error.status < 500))
        trail.wrote = true;
      throw error;
    }
  };
  try {
    let commitSha: string;
    let status: Output['status'];
    if (tip && tip.treeSha === desiredTree) {
      commitSha = tip.sha; // the branch is ours and right, but its PR is missing (an earlier call stopped)
      status = 'created';
    } else {
      const parents = tip
        ? [tip.sha, ...((await reaches(github, repo, tip.sha, baseTip)) ? [] : [baseTip])]
        : [baseTip];
      const tree = await writeTree(github, repo, baseCommit.treeSha, plan.entries, changes, audit, write);
      if (tree !== desiredTree) {
        // Only blobs and a tree exist so far: no commit, ref or PR points at them, so stopping here leaves nothing
        // anyone sees (GitHub collects unreferenced objects). A commit of a tree other than the checked one would
        // put unchecked content on the branch, and its receipt would not be for it.
        ctx.logger.error({ tree, desiredTree }, 'GitHub made another tree than computed');
        throw new ToolError(
          'BACKEND_ERROR',
          `GitHub built tree ${tree} for these changes, not ${desiredTree} as checked; nothing was committed.`,
          'Read the files again with read_repo and retry; if it happens again, report it to the operator.',
        );
      }
      const message = commitMessage(title, files, receipt, baseTip);
      commitSha = await write(() => github.createCommit(repo, message, tree, parents));
      audit('commit', { commit: commitSha, parents, tree });
      if (branch) {
        const moved = await write(() => github.updateRef(repo, head, commitSha));
        if (moved === 'not-fast-forward') throw notFastForward(head);
        audit('ref-updated', { branch: head, commit: commitSha });
        status = open ? 'updated' : 'created';
      } else {
        const made = await write(() => github.createRef(repo, head, commitSha));
        if (made === 'exists') {
          // "Reference already exists": another call made the branch meanwhile. The same content from
          // devops-mcp is as good as ours; anything else is not overwritten.
          const current = await github.getRef(repo, head);
          const theirs = current === undefined ? undefined : await github.getCommit(repo, current);
          if (current !== commitSha) {
            if (!theirs?.message.includes(TRAILER) || theirs.treeSha !== desiredTree)
              throw notFastForward(head);
            commitSha = theirs.sha;
          }
        }
        audit('ref-created', { branch: head, commit: commitSha });
        status = 'created';
      }
    }
    if (open) {
      await write(() => github.updatePull(repo, open.number, { title, body }));
      audit('pr-updated', { number: open.number, commit: commitSha });
      const labels = await addLabels(open);
      return result(status, { ...open, headSha: commitSha }, commitSha, labels.note);
    }
    const made = await write(() =>
      github.createPull(repo, { title, body, head, base, draft: pr.draftOnly || draft }),
    );
    let pull: PullInfo;
    if (made === 'exists') {
      // Lost a race, or the answer to our own create was lost: the open PR for the head is the one.
      const again = (await github.listPulls(repo, `${repo.owner}:${head}`, 'open'))[0];
      if (!again)
        throw new ToolError('BACKEND_ERROR', `GitHub did not create the PR for ${head}, and none is open.`);
      pull = again;
      status = 'existing';
    } else {
      pull = made;
    }
    audit(status === 'existing' ? 'pr-existing' : 'pr-created', {
      number: pull.number,
      branch: head,
      commit: commitSha,
      draft: pull.draft,
    });
    return result(status, pull, commitSha, (await addLabels(pull)).note);
  } catch (error) {
    if (!trail.wrote) slot.release();
    if (error instanceof ToolError && error.code === 'BACKEND_ERROR' && isWorkflow404(error, changes)) {
      throw workflowScopeMissing();
    }
    throw error;
  }
}

/** The caps, protected paths, labels and draft policy: all before any call. */
function checkLocally(input: Input, pr: PrPolicy): void {
  const { changes } = input;
  checkChanges(changes, {
    maxFiles: pr.maxFiles,
    maxFileBytes: pr.maxFileBytes,
    maxTotalBytes: pr.maxTotalBytes,
  });
  const deletions = changes.filter(c => c.action === 'delete').length;
  if (deletions > pr.maxDeletions) {
    throw new ToolError(
      'TOO_LARGE',
      `${deletions} deletions; this repository's policy allows at most ${pr.maxDeletions} in one PR.`,
      'Delete fewer files, or ask a person to.',
    );
  }
  const refused = protectedPathsIn(
    changes.map(c => c.path),
    pr.protectedPaths,
    pr.allowPaths,
  );
  if (refused.length > 0) {
    throw new ToolError(
      'PROTECTED_PATH',
      `Protected path(s): ${refused.join(', ')}. CI, ownership, agent instructions, manifests and lockfiles change only by a person.`,
      'Leave these files out of the change; the operator can lift a path with pr.allowPaths.',
    );
  }
  for (const change of changes) {
    if (change.action === 'update' && change.sha === undefined) {
      throw invalidArgument(
        `update of "${change.path}" needs sha, the blob sha of the file at base.`,
        'read_repo returns it; an update without it could overwrite a change you have not seen.',
      );
    }
  }
  const unknown = (input.labels ?? []).filter(label => !pr.labels.includes(label));
  if (unknown.length > 0) {
    throw invalidArgument(
      `Label(s) not allowed here: ${unknown.join(', ')}.`,
      pr.labels.length > 0
        ? `Allowed: ${pr.labels.join(', ')}.`
        : 'This repository allows no labels; leave labels out.',
    );
  }
  if (input.draft === false && pr.draftOnly) {
    throw invalidArgument(
      'This repository takes only draft PRs from devops-mcp; draft: false is not allowed.',
      'Leave draft out; a person marks the PR ready for review.',
    );
  }
}

/**
 * A configured secret (a token, a key, a URL password) in what would be committed, and so published: refused before
 * any call, naming the file and the setting the value comes from, never the value. A URL password can be a common
 * word (http://prometheus:prometheus@…): a refusal saying only "a secret" would leave the model to guess what in
 * prometheus.yml it is. Title and body are scrubbed instead (cleanTitle, cleanBody); a file cannot be, or it would
 * no longer be the change its receipt says was tested.
 */
function refuseSecrets(input: Input, redact: Redactor, config: Config): void {
  const holds = (text: string) => redact(text) !== text;
  // Only looked up on a refusal: what is refused is rare, and each look-up scans the text once per secret.
  const source = (text: string) => secretIn(text, secretSourcesOf(config))?.from ?? 'a configured secret';
  if (holds(input.branch)) {
    throw invalidArgument(
      `The branch slug holds ${source(input.branch)}; nothing was written.`,
      'Use a plain slug.',
    );
  }
  // A short password may spell a word the change needs: only the operator can change that.
  const unlessOperator = 'if the change needs that text, ask the operator to change the secret';
  for (const [index, change] of input.changes.entries()) {
    // Shown scrubbed, the path would read "[REDACTED].yml": it is named by its place in `changes` instead.
    if (holds(change.path)) {
      throw invalidArgument(
        `The path of changes[${index}] holds ${source(change.path)}; nothing was written.`,
        `Use another path or leave the file out; ${unlessOperator}.`,
      );
    }
    // Base64 content is looked at decoded too: that is what the file would hold.
    const content =
      change.action === 'delete' ? [] : [change.content ?? '', contentOf(change).toString('utf8')];
    const leak = content.find(holds);
    if (leak !== undefined) {
      throw invalidArgument(
        `The change to ${quoted(change.path)} holds ${source(leak)}; nothing was written.`,
        `Leave that value out of the file (read it from the environment or a secret store) or leave the file out; ${unlessOperator}.`,
      );
    }
  }
}

function verifyReceipt(
  ctx: ToolContext,
  token: string,
  at: { repo: string; baseTip: string; changes: readonly Change[]; policy: RepoPolicy; base: string },
) {
  try {
    return ctx.receipts.verify(token, {
      repo: at.repo,
      baseCommit: at.baseTip,
      changesHash: hashChanges(at.changes),
      // Only commands the policy names count: a free-form command could be anything, even `true`.
      command: Object.values(at.policy.commands),
    });
  } catch (error) {
    if (error instanceof ToolError && /another baseCommit/.test(error.message)) {
      throw new ToolError(
        'RECEIPT_MISMATCH',
        `The validation receipt was issued for another base commit: ${at.base} is now at ${at.baseTip}.`,
        `Run run_sandbox_test again on ${at.base} with the same changes and use its receipt.`,
      );
    }
    throw error;
  }
}

/**
 * A protected path that is a symbolic link at base reads whatever it links to: with `AGENTS.md -> docs/ai-guide.md`,
 * a change to docs/ai-guide.md changes AGENTS.md in every checkout. So a change to a link's target, or to a path
 * under it, is refused when the link itself, or the path the change has when reached through the link, is
 * protected. Only a link that could make one of the changes protected is read from GitHub (one blob per link, and
 * per link followed on the way), so a tree full of unrelated links costs nothing.
 */
async function refuseProtectedThroughLinks(
  changes: readonly Change[],
  base: ReadonlyMap<string, Leaf>,
  pr: PrPolicy,
  readLink: (sha: string) => Promise<string>,
): Promise<void> {
  const isProtected = isProtectedBy(pr.protectedPaths, pr.allowPaths);
  // Links that share a target (or lead through the same link) read its blob once.
  const targets = new Map<string, Promise<string>>();
  const read = (sha: string): Promise<string> => {
    let target = targets.get(sha);
    if (!target) targets.set(sha, (target = readLink(sha)));
    return target;
  };
  // `a/b/c` → `a/b/c`, `b/c`, `c`: what is left of a change's path past each directory a link might lead to.
  const tails = (path: string) => path.split('/').map((_, i, parts) => parts.slice(i).join('/'));
  const refused: string[] = [];
  const links = new Set<string>();
  for (const [link, leaf] of base) {
    if (leaf.mode !== '120000') continue;
    const suspects = changes.filter(
      change => isProtected(link) || tails(change.path).some(rest => isProtected(`${link}/${rest}`)),
    );
    if (suspects.length === 0) continue;
    const target = await resolveLink(link, base, read);
    if (target === undefined) continue;
    for (const { path } of suspects) {
      const seen = throughLink(link, target, path);
      if (seen === undefined || !(isProtected(link) || isProtected(seen))) continue;
      refused.push(`"${path}" is ${seen} (${link} links to ${target === '' ? 'the root' : target})`);
      links.add(link);
    }
  }
  if (refused.length > 0) {
    throw new ToolError(
      'PROTECTED_PATH',
      `Protected path(s) through a symbolic link at base: ${refused.join('; ')}. CI, ownership, agent instructions, manifests and lockfiles change only by a person.`,
      `Leave these files out of the change: through ${[...links].join(', ')} they are protected files; the operator can lift a path with pr.allowPaths.`,
    );
  }
}

/**
 * `path` as reached through `link`, which leads to `target`, or undefined when the path is not the target or under
 * it. Compared ignoring case, as protected paths are, and as a case-insensitive checkout resolves the link.
 */
function throughLink(link: string, target: string, path: string): string | undefined {
  const folded = path.toLowerCase();
  const to = target.toLowerCase();
  if (folded === to) return link;
  if (to !== '' && !folded.startsWith(`${to}/`)) return undefined;
  const rest = to === '' ? folded : folded.slice(to.length + 1);
  // Shown as spelled, unless folding changed the length (a few letters fold to two).
  return `${link}/${folded.length === path.length ? path.slice(path.length - rest.length) : rest}`;
}

interface Plan {
  leaves: Map<string, Leaf>;
  entries: Array<{ change: Change; mode: string }>;
}

/** Checks each change against the base tree (links, existence, expected shas) and gives the tree it makes. */
function planAgainstBase(
  changes: readonly Change[],
  base: ReadonlyMap<string, Leaf>,
  dirs: ReadonlySet<string>,
): Plan {
  const leaves = new Map(base);
  const lower = new Map([...base.keys(), ...dirs].map(path => [path.toLowerCase(), path]));
  const entries: Plan['entries'] = [];
  let changesSomething = false;
  for (const change of changes) {
    for (const prefix of directoriesOf(change.path)) {
      const leaf = base.get(prefix);
      if (leaf) {
        throw new ToolError(
          'PATH_INVALID',
          `"${change.path}" goes through ${leaf.mode === '120000' ? 'a symbolic link' : leaf.mode === '160000' ? 'a submodule' : 'a file'} (${prefix}).`,
          'Change the file the link points to instead.',
        );
      }
      // Every directory on the way, not only the file: `SRC/b.mjs` beside `src/` is a second directory on a
      // case-sensitive checkout and the same one on a case-insensitive one. (checkChanges compared the changes
      // among themselves.)
      // A directory that exists at base as spelled is fine even if the base has another spelling of it too.
      const other = lower.get(prefix.toLowerCase());
      if (other !== undefined && other !== prefix && !dirs.has(prefix)) {
        throw new ToolError(
          'PATH_INVALID',
          `"${change.path}" goes through "${prefix}", which collides with "${other}" at base by case.`,
          'Use the existing name.',
        );
      }
    }
    const existing = base.get(change.path);
    if (existing?.mode === '120000' || existing?.mode === '160000' || dirs.has(change.path)) {
      throw new ToolError(
        'PATH_INVALID',
        `"${change.path}" is a symbolic link, submodule or directory at base.`,
      );
    }
    if (change.action === 'create') {
      if (existing) throw invalidArgument(`"${change.path}" already exists; use update with its sha.`);
      const other = lower.get(change.path.toLowerCase());
      if (other !== undefined) {
        throw new ToolError(
          'PATH_INVALID',
          `"${change.path}" collides with "${other}" by case.`,
          'Use the existing name.',
        );
      }
    } else if (!existing) {
      throw invalidArgument(`"${change.path}" does not exist at base; use create.`);
    } else if (change.action === 'update' && change.sha?.toLowerCase() !== existing.sha) {
      throw new ToolError(
        'STALE_SHA',
        `"${change.path}" is at blob ${existing.sha} on base, not ${change.sha ?? '(none)'}: it changed since you read it.`,
        'Read it again with read_repo, redo the change on the current content, and test it again.',
      );
    }
    if (change.action === 'delete') {
      leaves.delete(change.path);
      changesSomething = true;
      entries.push({ change, mode: existing?.mode ?? '100644' });
      continue;
    }
    const sha = gitBlobSha(contentOf(change));
    const mode = existing?.mode ?? '100644';
    if (sha !== existing?.sha) changesSomething = true;
    leaves.set(change.path, { mode, sha });
    entries.push({ change, mode });
  }
  if (!changesSomething) throw invalidArgument('The changes leave every file as it is at base.');
  return { leaves, entries };
}

async function writeTree(
  github: GithubClient,
  repo: RepoRef,
  baseTree: string,
  plan: Plan['entries'],
  changes: readonly Change[],
  audit: Audit,
  write: <T>(attempt: () => Promise<T>) => Promise<T>,
): Promise<string> {
  const entries: NewTreeEntry[] = [];
  for (const { change, mode } of plan) {
    if (change.action === 'delete') entries.push({ path: change.path, mode, type: 'blob', sha: null });
    else if (change.encoding === 'base64') {
      const sha = await write(() => github.createBlob(repo, contentOf(change)));
      audit('blob', { path: change.path, sha });
      entries.push({ path: change.path, mode, type: 'blob', sha });
    } else entries.push({ path: change.path, mode, type: 'blob', content: change.content ?? '' });
  }
  const tree = await write(() => github.createTree(repo, baseTree, entries));
  audit('tree', { tree, files: changes.length });
  return tree;
}

/** The branch's tip when devops-mcp made it; a tip made by anyone else is never touched. */
async function ownTip(github: GithubClient, repo: RepoRef, branch: BranchInfo, head: string) {
  const commit = await github.getCommit(repo, branch.commitSha);
  if (!commit?.message.includes(TRAILER)) {
    throw new ToolError(
      'BRANCH_NOT_ALLOWED',
      `${head} has commits devops-mcp did not make; it is left as it is.`,
      'Use another branch slug.',
    );
  }
  return commit;
}

/** Whether `target` is among the parents of `from` or of its first-parent ancestors made by devops-mcp. */
async function reaches(github: GithubClient, repo: RepoRef, from: string, target: string): Promise<boolean> {
  let sha: string | undefined = from;
  for (let step = 0; step < 8 && sha !== undefined; step++) {
    const commit = await github.getCommit(repo, sha);
    if (!commit) return false;
    if (commit.parents.includes(target)) return true;
    if (!commit.message.includes(TRAILER)) return false;
    sha = commit.parents[0];
  }
  return false;
}

function commitMessage(
  title: string,
  files: { created: string[]; updated: string[]; deleted: string[] },
  receipt: { command: string } | undefined,
  baseTip: string,
): string {
  // GitHub closes the issues a closing keyword in a merged commit's message names, and a path may spell one.
  const lines = [
    ...files.created.map(p => `create ${p}`),
    ...files.updated.map(p => `update ${p}`),
    ...files.deleted.map(p => `delete ${p}`),
  ].map(disarmClosingKeywords);
  return [
    title,
    '',
    ...lines,
    '',
    `${TRAILER} ${pkg.version} (open_pr)`,
    ...(receipt ? [`Validated-by: ${receipt.command} on ${baseTip}`] : []),
  ].join('\n');
}

function notFastForward(head: string): ToolError {
  return new ToolError(
    'NOT_FAST_FORWARD',
    `${head} moved while the PR was being made (someone else wrote to it); nothing was forced.`,
    'Call open_pr again: it returns the PR as it is, or updates it.',
  );
}

function workflowScopeMissing(): ToolError {
  return new ToolError(
    'WORKFLOW_SCOPE_MISSING',
    'The token may not write GitHub Actions workflows (.github/workflows/): it lacks the workflow scope.',
    'Leave workflow files out, or ask the operator for a token with the workflow scope (Workflows permission).',
  );
}

/** GitHub answers a tree touching .github/workflows/ without the workflow grant with a bare 404. */
function isWorkflow404(error: ToolError, changes: readonly Change[]): boolean {
  return (error as { status?: number }).status === 404 && changes.some(change => isWorkflowPath(change.path));
}
