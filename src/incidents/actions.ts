// What was done about an incident, on its timeline: sandbox runs with their result and receipt, pull requests
// with their URL. The agent records them after run_sandbox_test and open_pr (the tools take no incident id).

import type { Context } from '../context.ts';
import type { Change } from '../store/incidents.ts';

export interface SandboxRunAction {
  repo: string;
  command: string;
  passed: boolean;
  exitCode?: number | undefined;
  durationMs?: number | undefined;
  /** The validation receipt of a passing run (a signed token, not a secret: it only proves a test passed). */
  receipt?: string | undefined;
  /** The audit row of the call, as evidence. */
  auditId?: number | undefined;
}

export interface PullRequestAction {
  repo: string;
  number: number;
  url: string;
  status: string;
  branch?: string | undefined;
  auditId?: number | undefined;
}

async function record(ctx: Context, id: number, summary: string, data: object): Promise<Change[]> {
  const store = await ctx.store();
  const changes = store.incidents.addEvent(id, { kind: 'action', summary, data }, ctx.now());
  ctx.changes.publish(changes);
  return changes;
}

export function recordSandboxRun(ctx: Context, id: number, run: SandboxRunAction): Promise<Change[]> {
  const verdict = run.passed
    ? 'passed'
    : `failed${run.exitCode === undefined ? '' : ` (exit ${run.exitCode})`}`;
  return record(ctx, id, `sandbox run of "${run.command}" on ${run.repo} ${verdict}`, {
    type: 'sandbox_run',
    ...run,
  });
}

export function recordPullRequest(ctx: Context, id: number, pr: PullRequestAction): Promise<Change[]> {
  return record(ctx, id, `pull request ${pr.repo}#${pr.number} ${pr.status}: ${pr.url}`, {
    type: 'pull_request',
    ...pr,
  });
}
