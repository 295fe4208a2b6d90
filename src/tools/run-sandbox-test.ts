import { z } from 'zod';
import type { SandboxLimits } from '../clients/docker.ts';
import type { SandboxLimitsConfig as LimitsConfig } from '../config.ts';
import { readGithubSource, readLocalSource, type SourceTree } from '../clients/source.ts';
import type { RepoPolicy } from '../config.ts';
import { invalidArgument, notConfigured, ToolError } from '../lib/errors.ts';
import {
  changeSchema,
  checkChanges,
  contentOf,
  directoriesOf,
  gitBlobSha,
  hashChanges,
  plainRef,
} from '../policy/changes.ts';
import { refuseWhilePaused } from '../policy/pause.ts';
import { requireRepoPolicy, splitRepo } from '../policy/repos.ts';
import { defineTool, type ToolContext } from './define.ts';

const CHANGE_LIMITS = { maxFiles: 100, maxFileBytes: 1024 * 1024, maxTotalBytes: 4 * 1024 * 1024 };
const SOURCE_LIMITS = { maxFiles: 5000, maxBytes: 64 * 1024 * 1024 };

// The floors are the config schema's (sandbox.limits): below them a limit is not enforced as asked — a tiny cpus
// rounds to Docker's "no CPU limit" — or the container cannot start at all.
const limitsInput = z
  .strictObject({
    memoryMb: z.number().int().min(16, 'must be at least 16').optional(),
    cpus: z.number().min(0.1, 'must be at least 0.1').optional(),
    pids: z.number().int().min(8, 'must be at least 8').optional(),
    timeoutSeconds: z.number().int().min(1, 'must be at least 1').optional(),
  })
  .describe('lower limits only');

/** Control characters a command may not hold: C0 but tab and newline, DEL, C1. */
// eslint-disable-next-line no-control-regex -- control characters are what it finds
const COMMAND_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
export const runSandboxTest = defineTool({
  name: 'run_sandbox_test',
  title: 'Sandbox test',
  description:
    "Run a test command named by an allow-listed repo's policy on its source at `ref` plus `changes`, in a locked-down container (no network, read-only root, resource limits). Returns pass/fail, exit code, output head and tail and, if passed, the receipt open_pr needs.",
  input: z.strictObject({
    repo: z.string().min(1).max(141),
    ref: z.string().min(1).max(255).optional(),
    changes: z.array(changeSchema).max(CHANGE_LIMITS.maxFiles),
    command: z.string().min(1).max(2000).describe('a policy command name, e.g. test'),
    limits: limitsInput.optional(),
  }),
  output: z.object({
    repo: z.string(),
    command: z.string(),
    base_commit: z.string(),
    changes_hash: z.string(),
    passed: z.boolean(),
    exit_code: z.number().int().nullable(),
    duration_ms: z.number(),
    timed_out: z.boolean(),
    oom_killed: z.boolean(),
    output_head: z.string(),
    output_tail: z.string(),
    output_omitted_bytes: z.number(),
    receipt: z.string().optional(),
    note: z.string().optional(),
  }),
  // Open world: the source may come from GitHub.
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },

  async run(input, ctx) {
    const { config } = ctx;
    // The kill switch first, then policy: nothing is read or started for a repository that is not allowed.
    await refuseWhilePaused(ctx, 'run_sandbox_test');
    const { name: policyName, policy } = requireRepoPolicy(config, input.repo, 'tested');
    // Own keys only: `toString` or `constructor` would otherwise find Object.prototype's members.
    const named = Object.hasOwn(policy.commands, input.command) ? policy.commands[input.command] : undefined;
    if (named === undefined && !policy.allowFreeformCommand) {
      throw invalidArgument(
        `"${input.command}" is not one of ${input.repo}'s commands.`,
        `Use one of: ${Object.keys(policy.commands).join(', ') || '(none configured)'}.`,
      );
    }
    const command = named ?? input.command;
    // The command travels in an environment variable, which cannot hold a NUL; the other control characters would
    // reach the shell unseen in any echo of the command (a receipt, the audit log), as would DEL and the C1 controls
    // (U+009B is a terminal's CSI).
    if (COMMAND_CONTROL.test(command)) {
      throw invalidArgument(
        'The command contains control characters (only tab and newline are allowed).',
        'Send the command as plain shell text.',
      );
    }
    checkChanges(input.changes, CHANGE_LIMITS);
    const image = policy.image ?? config.sandbox.images[0] ?? '';
    if (!config.sandbox.images.includes(image)) {
      throw new ToolError(
        'NOT_CONFIGURED',
        `The image ${image} is not on sandbox.images.`,
        'Name it in sandbox.images.',
      );
    }
    const limits = clampLimits(config.sandbox.limits, policy.limits, input.limits);

    const source = await readSource(policyName, policy, input.ref, ctx);
    const sourceDirs = new Set([...source.files.keys(), ...source.symlinks.keys()].flatMap(directoriesOf));
    for (const change of input.changes) {
      const prefixes = change.path.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));
      if (prefixes.some(prefix => source.symlinks.has(prefix))) {
        throw new ToolError(
          'PATH_INVALID',
          `"${change.path}" goes through a symbolic link.`,
          'Change the file the link points to instead.',
        );
      }
      // A file where the source has a directory, or the reverse: tar could not lay the tree out, and the command
      // would be blamed for it.
      const file = directoriesOf(change.path).find(dir => source.files.has(dir));
      if (change.action === 'create' && (file !== undefined || sourceDirs.has(change.path))) {
        throw invalidArgument(
          file === undefined
            ? `"${change.path}" is a directory in the source; it cannot also be a file.`
            : `"${change.path}" goes through "${file}", which is a file in the source.`,
          'Give each path as a file or a directory, as the source has it; replacing one with the other takes two PRs.',
        );
      }
      const exists = source.files.has(change.path);
      if (change.action === 'create' && exists)
        throw invalidArgument(`"${change.path}" already exists; use update.`);
      if (change.action !== 'create' && !exists)
        throw invalidArgument(`"${change.path}" does not exist; use create.`);
      const current = source.files.get(change.path);
      if (change.sha !== undefined && current && gitBlobSha(current) !== change.sha.toLowerCase()) {
        throw new ToolError(
          'STALE_SHA',
          `"${change.path}" is at blob ${gitBlobSha(current)} in the source, not ${change.sha}.`,
          'Read it again with read_repo and redo the change.',
        );
      }
    }
    const files = new Map(source.files);
    for (const change of input.changes) {
      if (change.action === 'delete') files.delete(change.path);
      else files.set(change.path, contentOf(change));
    }

    const changesHash = hashChanges(input.changes);
    await ctx.progress(0, limits.timeoutMs / 1000, 'starting the sandbox');
    const result = await ctx.docker.run({
      // A pause set while the source was read, or while the run waited minutes in Docker's queue, still stops it
      // before its container exists: the docker client calls this once the run has its slot.
      beforeStart: () => refuseWhilePaused(ctx, 'run_sandbox_test'),
      image,
      command,
      files: [...files].map(([path, content]) => ({
        path,
        content,
        ...(source.executables?.has(path) ? { mode: 0o755 } : {}),
      })),
      // The source's links, as they are (no change goes through one): the tree tested is the one the base names.
      links: [...source.symlinks].map(([path, target]) => ({ path, target })),
      limits,
      labels: { 'devops-mcp.repo': policyName },
      signal: ctx.signal,
      onProgress: elapsed =>
        void ctx.progress(Math.round(elapsed / 1000), limits.timeoutMs / 1000, 'running'),
    });
    if (result.cancelled)
      throw new ToolError('CANCELLED', 'The run was cancelled; its container was removed.');
    const passed = result.exitCode === 0;
    const base = {
      repo: policyName,
      command,
      base_commit: source.baseCommit,
      changes_hash: changesHash,
      passed,
      exit_code: result.exitCode,
      duration_ms: result.durationMs,
      timed_out: result.timedOut,
      oom_killed: result.oomKilled,
      output_head: result.output.head,
      output_tail: result.output.tail,
      output_omitted_bytes: result.output.omittedBytes,
    };
    // A receipt for such a base is still issued (it says what was tested), but no branch tip can match it.
    const local = source.localChanges
      ? 'The local checkout is not exactly its HEAD commit (local changes): base_commit names the content tested, and open_pr takes no receipt for it; pass ref to test a commit.'
      : undefined;
    if (passed) {
      // The receipt names the repository as its policy does, which is how open_pr looks it up too.
      const receipt = ctx.receipts.issue({
        repo: policyName,
        baseCommit: source.baseCommit,
        changesHash,
        command,
      });
      return { ...base, receipt, ...(local === undefined ? {} : { note: local }) };
    }
    const why = result.timedOut
      ? `timed out after ${limits.timeoutMs / 1000} s`
      : result.oomKilled
        ? `was killed at the ${Math.round(limits.memoryBytes / 1048576)} MiB memory limit`
        : `exited with ${result.exitCode ?? '?'}`;
    return {
      ...base,
      note: [
        `The command ${why}; no receipt. The failing part is usually at the end of output_tail.`,
        ...(local === undefined ? [] : [local]),
      ].join(' '),
    };
  },
});

/**
 * The source the command runs on. A local checkout: its work tree (no ref) or a commit of it (`ref`, via git
 * archive). GitHub: the tarball of the commit `ref` names (default branch), whose sha is the base commit, so the
 * receipt matches what open_pr sees as the base tip.
 */
async function readSource(
  name: string,
  policy: RepoPolicy,
  ref: string | undefined,
  ctx: ToolContext,
): Promise<SourceTree> {
  if ('path' in policy.source) return readLocalSource(policy.source.path, SOURCE_LIMITS, ref);
  const github = ctx.github;
  if (!github) throw notConfigured('GitHub (the source of this repository)', 'GITHUB_TOKEN');
  if (ref !== undefined && !plainRef(ref)) {
    throw invalidArgument(`ref ${JSON.stringify(ref)} is not a branch, tag or commit sha.`);
  }
  const repo = splitRepo(name);
  const info = await github.getRepo(repo);
  if (!info) throw invalidArgument(`GitHub has no repository ${name}, or the token cannot see it.`);
  if (info.fullName.toLowerCase() !== name.toLowerCase()) {
    throw new ToolError('REPO_NOT_ALLOWED', `GitHub names ${name} ${info.fullName} (renamed or moved).`);
  }
  const at = ref ?? info.defaultBranch;
  const sha = await github.resolveRef(repo, at);
  if (sha === undefined) {
    throw invalidArgument(
      `ref ${JSON.stringify(at)} names no branch, tag or commit of ${name}.`,
      'Leave ref out for the default branch.',
    );
  }
  return readGithubSource(github, repo, sha, SOURCE_LIMITS);
}

/** The configured limits, lowered by the repository's policy and then by the caller — never raised. */
function clampLimits(
  configured: LimitsConfig,
  repo: Partial<LimitsConfig> | undefined,
  requested: z.output<typeof limitsInput> | undefined,
): SandboxLimits {
  const pick = (key: 'memoryMb' | 'cpus' | 'pids' | 'timeoutSeconds'): number =>
    Math.min(configured[key], repo?.[key] ?? configured[key], requested?.[key] ?? configured[key]);
  return {
    memoryBytes: pick('memoryMb') * 1024 * 1024,
    cpus: pick('cpus'),
    pids: pick('pids'),
    timeoutMs: pick('timeoutSeconds') * 1000,
    outputBytes: Math.min(configured.outputKb, repo?.outputKb ?? configured.outputKb) * 1024,
    tmpfsBytes: Math.min(configured.tmpfsMb, repo?.tmpfsMb ?? configured.tmpfsMb) * 1024 * 1024,
  };
}
