// Learning from what was done: after a PR, the loop keeps watching the signal that opened the incident (its alerts,
// through the incident's status) and the PR itself on GitHub, and records the outcome, which similar incidents
// carry into later investigations.

import type { Context } from '../context.ts';
import type { Outcome, OutcomeRecord } from '../store/agent.ts';
import { findRepoPolicy } from '../policy/repos.ts';

export interface OutcomeChange {
  incidentId: number;
  repo: string;
  prNumber: number;
  outcome: Outcome;
}

/** How far back incidents with a pending outcome are looked for. */
const LOOKBACK_SECONDS = 30 * 86_400;
/**
 * How often GitHub is asked whether a person closed a pending PR. The loop passes every agent.pollSeconds, and a
 * day's worth of pending PRs asked about on every pass would spend a token's 5,000 requests an hour.
 */
const GITHUB_EVERY_SECONDS = 300;

/** Checks every pending outcome once; returns the ones that changed. */
export async function checkOutcomes(ctx: Context): Promise<OutcomeChange[]> {
  const store = await ctx.store();
  const now = ctx.now();
  const window = ctx.config.agent.outcomeWindowSeconds;
  const changed: OutcomeChange[] = [];
  const incidents = store.incidents.list({ status: 'all', since: now - LOOKBACK_SECONDS, limit: 1000 });
  for (const incident of incidents) {
    for (const pr of store.agent.outcomes(incident.id)) {
      if (pr.outcome !== 'pending') continue;
      const settled =
        incident.status === 'resolved' && (incident.resolved_at ?? 0) >= pr.at
          ? 'resolved_after_change'
          : now - pr.at >= window
            ? 'not_resolved'
            : undefined;
      // GitHub is asked when its answer would settle the outcome otherwise (a person's close comes first), and at
      // most every GITHUB_EVERY_SECONDS while nothing else has happened.
      const due = settled !== undefined || now - (pr.checkedAt ?? 0) >= GITHUB_EVERY_SECONDS;
      let closed = false;
      if (due) {
        closed = await prClosedUnmerged(ctx, incident.id, pr);
        store.agent.markOutcomeChecked(incident.id, pr.repo, pr.prNumber, now);
      }
      const outcome = closed ? 'pr_closed_unmerged' : settled;
      if (outcome === undefined) continue;
      store.agent.recordOutcome({
        incidentId: incident.id,
        repo: pr.repo,
        prNumber: pr.prNumber,
        prUrl: pr.prUrl,
        outcome,
        now,
      });
      changed.push({ incidentId: incident.id, repo: pr.repo, prNumber: pr.prNumber, outcome });
    }
  }
  return changed;
}

/**
 * Whether a person closed the PR without merging it (GitHub read; unknown counts as no). GitHub lists a repository's
 * PRs by head branch: the one recorded with the outcome, else (rows from before it was) the loop's own.
 */
async function prClosedUnmerged(ctx: Context, incidentId: number, pr: OutcomeRecord): Promise<boolean> {
  if (!ctx.github) return false;
  const { repo: fullName, prNumber: number } = pr;
  const [owner = '', repo = ''] = fullName.split('/');
  const prefix = findRepoPolicy(ctx.config.repos, fullName)?.policy.pr.branchPrefix ?? 'devops-mcp/';
  try {
    const pulls = await ctx.github.listPulls(
      { owner, repo },
      `${owner}:${pr.branch ?? `${prefix}incident-${incidentId}`}`,
      'all',
    );
    const pull = pulls.find(p => p.number === number);
    return pull !== undefined && pull.state === 'closed' && !pull.merged;
  } catch (error) {
    ctx.logger.warn(
      { err: error, repo: fullName, number },
      'could not read the pull request; outcome left pending',
    );
    return false;
  }
}
