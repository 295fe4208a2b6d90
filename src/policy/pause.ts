// The kill switch, enforced in the tools that act: while `devops-mcp agent pause` holds, run_sandbox_test and
// open_pr refuse every caller (the loop, Claude Desktop, an IDE) before anything is read, started or written.

import type { Context } from '../context.ts';
import { ToolError } from '../lib/errors.ts';
import { toRfc3339 } from '../lib/time.ts';

export async function refuseWhilePaused(ctx: Pick<Context, 'store'>, tool: string): Promise<void> {
  const state = (await ctx.store()).agent.paused();
  if (!state.paused) return;
  const who = state.by === undefined ? '' : ` by ${state.by}`;
  const when = state.at === undefined ? '' : ` at ${toRfc3339(state.at)}`;
  const why = state.reason === undefined ? '' : ` (${state.reason})`;
  throw new ToolError(
    'PAUSED',
    `devops-mcp was paused${who}${when}${why}: ${tool} refuses every caller until it is resumed.`,
    'Read-only tools keep working. An operator resumes with `devops-mcp agent resume`.',
  );
}
