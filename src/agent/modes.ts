// Graduated autonomy: which tools the model is offered in each mode, and how a repository policy caps a mode.

import type { Config } from '../config.ts';
import { findRepoPolicy } from '../policy/repos.ts';

export const MODES = ['observe', 'propose', 'autonomous'] as const;
export type Mode = (typeof MODES)[number];

const rank = (mode: Mode) => MODES.indexOf(mode);

export function lowerOf(a: Mode, b: Mode): Mode {
  return rank(a) <= rank(b) ? a : b;
}

export function atLeast(mode: Mode, floor: Mode): boolean {
  return rank(mode) >= rank(floor);
}

/** The write tools each mode adds; everything else the model sees must be read-only (or annotate_incident). */
const WRITE_TOOLS: Record<string, Mode> = {
  annotate_incident: 'observe',
  run_sandbox_test: 'propose',
  open_pr: 'autonomous',
};

/**
 * Whether a tool is offered in a mode: read-only tools (their own `readOnlyHint`, declared once with the tool)
 * always, the write tools above from their mode on, any other write tool never.
 */
export function offered(tool: { name: string; readOnly: boolean }, mode: Mode): boolean {
  const from = WRITE_TOOLS[tool.name];
  if (from !== undefined) return atLeast(mode, from);
  return tool.readOnly;
}

/** A repository's cap (`repos[…].agent.maxMode`); a repository without a policy gets no further than observe. */
export function repoCap(config: Config, repo: string): Mode {
  return findRepoPolicy(config.repos, repo)?.policy.agent.maxMode ?? 'observe';
}

/**
 * The mode an investigation runs in: the command line's, lowered while the kill switch is on (observe only), and
 * no higher than the highest cap of the configured repositories (nothing to act on otherwise).
 */
export function effectiveMode(requested: Mode, config: Config, paused: boolean): Mode {
  if (paused) return 'observe';
  const caps = Object.keys(config.repos).map(repo => repoCap(config, repo));
  const highest = caps.reduce<Mode>((a, b) => (rank(a) >= rank(b) ? a : b), 'observe');
  return lowerOf(requested, highest);
}
