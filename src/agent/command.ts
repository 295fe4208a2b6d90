// `devops-mcp agent`: the watcher records incidents (monitor), the loop investigates and acts on them; and
// `agent pause|resume`, the kill switch in the store. cli.ts parses the command line and owns the process.

import type { Context } from '../context.ts';
import { escapeControls } from '../lib/terminal.ts';
import type { Report } from './loop.ts';
import { MODES, effectiveMode, type Mode } from './modes.ts';

export interface AgentCommand {
  mode: Mode;
  once: boolean;
  incident?: number | undefined;
  stop: AbortSignal;
  narrate: (line: string) => void;
}

export function parseMode(value: string | undefined): Mode | undefined {
  if (value === undefined) return 'observe';
  return (MODES as readonly string[]).includes(value) ? (value as Mode) : undefined;
}

/**
 * `agent --once` and `--incident` exit 0 when every incident was investigated, 1 when an investigation failed, and
 * this when one was deferred (the LLM down, a budget spent, stopped): a cron job can tell "try again later" from
 * "done", and the next run takes it up.
 */
export const EXIT_NOT_NOW = 3;

/** Runs the loop; resolves when `--once` is done or `stop` is aborted. Returns the exit code. */
export async function runAgent(ctx: Context, command: AgentCommand): Promise<number> {
  const watcher =
    ctx.prometheus === undefined
      ? undefined
      : (await import('../incidents/watcher.ts')).createWatcher(ctx, {
          intervalMs: ctx.config.incidents.pollSeconds * 1000,
        });
  const { openAgent } = await import('./loop.ts');
  const agent = await openAgent(ctx, { mode: command.mode, stop: command.stop, narrate: command.narrate });
  const narrate = (line: string): void => {
    command.narrate(escapeControls(ctx.redact(line)));
  };
  const seen = { failed: false, deferred: false };
  const tell = (report: Report): void => {
    if (report.skipped !== undefined) narrate(`incident ${report.incidentId}: skipped: ${report.skipped}`);
    seen.failed ||= report.skipped?.startsWith('failed') === true;
    seen.deferred ||= report.deferred === true;
  };
  try {
    if (command.incident !== undefined) {
      if (!(await ctx.store()).incidents.get(command.incident)) {
        narrate(`there is no incident ${command.incident}`);
        return 1;
      }
      tell(await agent.handle(command.incident));
    } else if (command.once) {
      // Once: take in what Prometheus fires now, then handle what is open. Alerts that could not be read are
      // incidents this run may have missed: a cron job must hear "try again later", not "nothing to do".
      if ((await watcher?.poll()) === false) {
        narrate('could not read the alerts from Prometheus; what fires now waits for the next run');
        seen.deferred = true;
      }
      const reports = await agent.runOnce();
      // Stopped before or between investigations: what was left in the queue waits for the next run.
      seen.deferred ||= command.stop.aborted;
      if (reports.length === 0 && !command.stop.aborted) narrate('no incident waiting for an investigation');
      for (const report of reports) tell(report);
    } else {
      watcher?.start();
      const mode = effectiveMode(command.mode, ctx.config, (await ctx.store()).agent.paused().paused);
      narrate(
        `watching ${watcher ? 'Prometheus alerts and ' : ''}open incidents every ${ctx.config.agent.pollSeconds} s in ${mode} mode${mode === command.mode ? '' : ` (${command.mode} asked; capped by the repository policies or the kill switch)`}; Ctrl-C stops`,
      );
      await agent.run();
    }
  } finally {
    await watcher?.stop();
    await agent.close();
  }
  return seen.failed ? 1 : seen.deferred ? EXIT_NOT_NOW : 0;
}

/** `agent pause|resume`: the kill switch, in the store every process on the file reads. */
export async function setPause(ctx: Context, paused: boolean, by: string, reason?: string): Promise<string> {
  const store = await ctx.store();
  store.agent.setPaused(paused, by, ctx.now(), reason);
  return paused
    ? `paused by ${by}: run_sandbox_test and open_pr refuse every caller, and the loop only observes (${store.path})`
    : `resumed by ${by} (${store.path})`;
}
