// The headless loop: for each open incident not yet investigated, one investigation (analyze), then the action its
// diagnosis warrants (act), all recorded on the incident and in the store; runs once or until told to stop.

import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import type { BaseMessage } from '@langchain/core/messages';
import type { DynamicStructuredTool } from '@langchain/core/tools';
import type { Context } from '../context.ts';
import type { Store } from '../store/index.ts';
import { createCircuitBreaker, type CircuitBreaker } from '../lib/circuit-breaker.ts';
import { ownerAlive } from '../lib/owner.ts';
import { abortableSleep } from '../lib/retry.ts';
import { escapeControls } from '../lib/terminal.ts';
import { act, recordModelActions, type ActOutcome, type Slot } from './act.ts';
import { asAnnotation, type CheckedDiagnosis } from './diagnosis.ts';
import { openSession, type Session } from './investigate.ts';
import { checkOutcomes } from './learn.ts';
import { refusedBeforeWriting } from './ledger.ts';
import { connectInProcess, type AgentMcp } from './mcp.ts';
import { textOfContent, type Guard } from './middleware.ts';
import { atLeast, effectiveMode, lowerOf, repoCap, type Mode } from './modes.ts';
import { findRepoPolicy } from '../policy/repos.ts';

export interface AgentOptions {
  mode: Mode;
  /** Aborted on SIGINT/SIGTERM: the investigation under way ends (a model call in flight abandoned), then the loop. */
  stop: AbortSignal;
  /** One line per step, for a human watching (the CLI writes them to stderr). */
  narrate?: (line: string) => void;
  /** The chat model; by default ChatOpenAI from the configuration. */
  model?: BaseChatModel;
}

export interface Report {
  incidentId: number;
  investigationId?: number;
  mode?: Mode;
  skipped?: string;
  /** Not investigated now for want of the LLM, a budget or time (stopped): the next run takes it up. */
  deferred?: true;
  diagnosis?: CheckedDiagnosis;
  budgetHit?: string;
  acted?: ActOutcome;
  /** Attempts the tools (or the loop's policy) refused. */
  refused: Array<{ id: string; tool: string; code: string | undefined }>;
}

export interface AgentLoop {
  /** Investigates one incident (now, whatever its state). */
  handle(incidentId: number): Promise<Report>;
  /** Investigates every open incident that has no finished investigation yet. */
  runOnce(): Promise<Report[]>;
  /** runOnce every `agent.pollSeconds` until stopped. */
  run(): Promise<void>;
  breaker: CircuitBreaker;
  mcp: AgentMcp;
  close(): Promise<void>;
}

/** Endings worth coming back for: the investigation never got a fair chance. */
const DEFERRED = new Set(['llm_unavailable', 'stopped']);
/**
 * An investigation that ended in an error (a bug, an endpoint refusing a request) is taken up again too, but an
 * incident gets at most this many such endings in all: an error that is not transient must not have the loop
 * spend its investigation budget on the same incident every poll, for ever.
 */
const MAX_ERROR_ENDINGS = 3;
const WRITE_TOOLS = new Set(['run_sandbox_test', 'open_pr', 'annotate_incident']);

function serialize(messages: readonly BaseMessage[]): unknown[] {
  return messages.map(m => {
    const ai = m as BaseMessage & {
      tool_calls?: unknown[];
      invalid_tool_calls?: unknown[];
      usage_metadata?: unknown;
      tool_call_id?: string;
      status?: string;
    };
    return {
      role: m.type,
      content: textOfContent(m.content),
      ...(ai.tool_calls?.length ? { tool_calls: ai.tool_calls } : {}),
      ...(ai.invalid_tool_calls?.length ? { invalid_tool_calls: ai.invalid_tool_calls } : {}),
      ...(ai.usage_metadata ? { usage: ai.usage_metadata } : {}),
      ...(ai.tool_call_id ? { tool_call_id: ai.tool_call_id, status: ai.status } : {}),
    };
  });
}

/** What an investigation keeps apart from the incident view: everything said, every call, what was done. */
function transcriptOf(session: Session, mode: Mode, report: Report): Record<string, unknown> {
  return {
    mode,
    offered: session.offered,
    messages: serialize(session.runtime.conversation),
    toolCalls: session.ledger.entries,
    modelTurns: session.runtime.turns,
    corrections: session.budget.usage.corrections,
    acted: report.acted ?? null,
  };
}

export async function openAgent(ctx: Context, opts: AgentOptions): Promise<AgentLoop> {
  const config = ctx.config.agent;
  const log = ctx.logger.child({ component: 'agent' });
  // Narration goes to a terminal: secrets scrubbed as in the logs, and no control character (an error text or a URL
  // a backend sent could carry escapes that rewrite the operator's screen).
  const narrate = (line: string): void => opts.narrate?.(escapeControls(ctx.redact(line)));
  const mcp = await connectInProcess(ctx);
  const { loadMcpTools } = await import('@langchain/mcp-adapters');
  const tools: DynamicStructuredTool[] = await loadMcpTools('devops-mcp', mcp.client, {
    throwOnLoadError: true,
    // The SDK's default is 60 s, less than a sandbox run may take; the act step's own calls wait as long (mcp.ts).
    defaultToolTimeout: 15 * 60_000,
  });
  const model = opts.model ?? (await (await import('./llm.ts')).createChatModel(ctx.config));
  const breaker = createCircuitBreaker({
    failures: config.breakerFailures,
    cooldownMs: config.breakerCooldownSeconds * 1000,
  });

  /**
   * The loop's own policy on the model's write calls, before they reach the tools (which check theirs): the mode cap,
   * and for a PR the model opens itself, the PR budget and the group's cooldown that the loop's own PRs take (act.ts),
   * or a model offered open_pr could open any number of them in one investigation.
   */
  const guardFor =
    (mode: Mode, store: Store, incidentId: number): Guard =>
    (name, args) => {
      // What the model is told (an alert annotation, a log line) may ask it to close another incident, or this
      // one: it writes on the incident it investigates only, and never its status, which its alerts and people set.
      if (name === 'annotate_incident') {
        if (args.id !== incidentId) {
          return {
            refusal: `OUT_OF_SCOPE: error: the investigation of incident ${incidentId} annotates that incident only. Nothing was done.`,
          };
        }
        if (args.status !== undefined) {
          return {
            refusal: `OUT_OF_SCOPE: error: the loop does not acknowledge or resolve incidents; their alerts and people do. Add a note or a finding instead. Nothing was done.`,
          };
        }
        return undefined;
      }
      if (name !== 'run_sandbox_test' && name !== 'open_pr') return undefined;
      const repo = typeof args.repo === 'string' ? args.repo : '';
      // A repository without a policy here is the tools' to refuse (not allow-listed, no sandbox policy): the
      // call goes through, so the refusal is theirs, audited like any other.
      // Looked up as the tools look it up (case-insensitively), so that no spelling of the name slips past its cap.
      if (!findRepoPolicy(ctx.config.repos, repo)) return undefined;
      const needed: Mode = name === 'open_pr' ? 'autonomous' : 'propose';
      const allowed = lowerOf(mode, repoCap(ctx.config, repo));
      if (!atLeast(allowed, needed)) {
        return {
          refusal: `MODE_NOT_ALLOWED: error: ${name} on ${repo || 'that repository'} needs ${needed} mode; the loop runs it in ${allowed}. Nothing was done.`,
        };
      }
      if (name !== 'open_pr') return undefined;
      const at = ctx.now();
      const group = store.incidents.get(incidentId)?.group_key ?? String(incidentId);
      const cooldown = `agent_cooldown:${group}`;
      const calm = store.agent.take(cooldown, 1, config.cooldownSeconds, at);
      if (!calm.ok) {
        return {
          refusal: `COOLDOWN: error: the loop acted on ${group} recently and acts on an incident group once per ${config.cooldownSeconds} s (again in ${calm.retryAfterSeconds} s). Nothing was done.`,
        };
      }
      const slot = store.agent.take('agent_prs', config.maxPrsPerHour, 3600, at);
      if (!slot.ok) {
        store.agent.release(cooldown, at);
        return {
          refusal: `BUDGET: error: the loop's budget of ${config.maxPrsPerHour} PR(s) per hour is spent (next in ${slot.retryAfterSeconds} s). Nothing was done.`,
        };
      }
      return {
        // A PR the tool refused before writing was no action: its slots go back, so the model can correct the
        // call. Any other failure may have left a branch or a PR: the slots stay spent (ledger.ts).
        settle: ({ ok, code }) => {
          if (ok || !refusedBeforeWriting(code)) return;
          store.agent.release('agent_prs', at);
          store.agent.release(cooldown, at);
        },
      };
    };

  /** The incidents whose deferral for an LLM outage this process has told the operator of (see investigate). */
  const outageTold = new Set<number>();

  /**
   * Investigates an incident if `wanted` still holds when the investigation is claimed (in the store's write
   * transaction, so that two loops on one file never take the same incident).
   */
  async function investigate(incidentId: number, wanted: (store: Store) => boolean): Promise<Report> {
    const store = await ctx.store();
    const report: Report = { incidentId, refused: [] };
    const pause = store.agent.paused();
    const mode = effectiveMode(opts.mode, ctx.config, pause.paused);
    report.mode = mode;
    if (breaker.state() === 'open') {
      report.skipped = `the LLM endpoint is unavailable; retrying in ${Math.ceil(breaker.retryInMs() / 1000)} s`;
      report.deferred = true;
      return report;
    }
    // One instant for the slot and the investigation: the slot is given back by it.
    const startedAt = ctx.now();
    const slot = store.agent.take('agent_investigations', config.maxInvestigationsPerHour, 3600, startedAt);
    if (!slot.ok) {
      report.skipped = `investigation budget of ${config.maxInvestigationsPerHour} per hour reached (next in ${slot.retryAfterSeconds} s)`;
      report.deferred = true;
      return report;
    }
    const investigationId = store.agent.claimInvestigation(
      incidentId,
      { mode, now: startedAt, owner: ctx.owner },
      () => wanted(store),
    );
    if (investigationId === undefined) {
      store.agent.release('agent_investigations', startedAt);
      report.skipped = 'not waiting for an investigation any more (resolved, or taken up by another loop)';
      return report;
    }
    report.investigationId = investigationId;
    // While the LLM is down the breaker lets a probe through every cooldown. The first deferral of an incident is
    // told, the next ones are not: an outage of a few hours would push the incident's own history out of its capped
    // timeline, and bury the operator's terminal in lines that say nothing new. The timeline is told once in all,
    // the operator once by this process (a run with --incident says what became of it). So a probe after one says
    // it is investigating only once it has more to say (a tool call, an ending other than the outage).
    const afterOutage = store.agent.investigations(incidentId).at(-2)?.budgetHit === 'llm_unavailable';
    const quiet = afterOutage && outageTold.has(incidentId);
    // An object, so that a check after the closures set it is not narrowed to its first value.
    const told = { start: false };
    const begin = (): void => {
      if (told.start) return;
      told.start = true;
      narrate(
        `incident ${incidentId}: investigating in ${mode} mode${pause.paused ? ' (paused: observe only)' : ''}`,
      );
    };
    const say = (line: string): void => {
      begin();
      narrate(`incident ${incidentId}: ${line}`);
    };
    if (!quiet) begin();
    let session: Session | undefined;
    let finished = false;
    /** The group cooldown slot the act step holds, which goes back if this process dies before it is spent. */
    let held: Slot | undefined;
    // Kept in the store as the investigation goes, so that a loop that finds this process dead records what it spent
    // and gives back the cooldown of an act step that never reached its PR (closeAbandoned).
    const checkpoint = (): void => {
      const usage = session?.budget.usage;
      if (!usage) return;
      store.agent.recordProgress(investigationId, {
        tokens: usage.tokens,
        modelCalls: usage.modelCalls,
        toolCalls: usage.toolCalls,
        ...(held ? { cooldown: held } : {}),
      });
    };
    try {
      session = await openSession(
        {
          ctx,
          mcp,
          model,
          tools,
          breaker,
          stop: opts.stop,
          guard: guardFor(mode, store, incidentId),
          onModelCall: checkpoint,
          onTool: entry => {
            const args = JSON.stringify(entry.args);
            say(
              `${entry.tool} ${args.length > 120 ? `${args.slice(0, 119)}…` : args} → ${entry.ok ? 'ok' : (entry.code ?? 'error')} (${entry.bytes} B, ${entry.ms} ms)`,
            );
          },
        },
        incidentId,
        mode,
      );
      await session.run();
      const ended = session.ending;
      if (ended.kind === 'diagnosed' && atLeast(mode, 'propose') && session.diagnosis.proposedChange) {
        try {
          report.acted = await act(ctx, mcp, session, mode, {
            maxRevisions: config.maxRevisions,
            maxPrsPerHour: config.maxPrsPerHour,
            cooldownSeconds: config.cooldownSeconds,
            minConfidenceToAct: config.minConfidenceToAct,
            narrate: say,
            holding: slot => {
              held = slot;
              checkpoint();
            },
          });
        } finally {
          // What the step kept spent when it ended (a tested change, a failing run) stays spent, whatever follows.
          if (held) {
            held = undefined;
            checkpoint();
          }
        }
        if (report.acted.tested) {
          say(`sandbox: ${report.acted.runs} run(s), ${report.acted.passed ? 'passed' : 'failed'}`);
        }
        if (report.acted.pr) say(`opened ${report.acted.pr.url}`);
        else if (report.acted.stopped) say(report.acted.stopped);
      }
      await recordModelActions(ctx, session);
      const diagnosis = session.diagnosis;
      report.diagnosis = diagnosis;
      const budgetHit =
        session.ending.kind === 'budget'
          ? session.ending.budget
          : session.ending.kind === 'deferred'
            ? session.ending.reason
            : undefined;
      if (budgetHit !== undefined) report.budgetHit = budgetHit;
      const repeatOutage = budgetHit === 'llm_unavailable' && afterOutage;

      // The refused attempts go on the timeline too: what the model tried that policy stopped.
      report.refused = session.ledger.entries
        .filter(e => e.by === 'model' && !e.ok && (WRITE_TOOLS.has(e.tool) || e.code === 'UNKNOWN_TOOL'))
        .map(e => ({ id: e.id, tool: e.tool, code: e.code }));
      const refusedLines = session.ledger.entries
        .filter(e => report.refused.some(r => r.id === e.id))
        .map(
          e =>
            `- ${e.id} ${e.tool} ${JSON.stringify(e.args).slice(0, 200)} → ${e.result.split('\n')[0]?.slice(0, 300) ?? ''}`,
        );
      if (refusedLines.length > 0 && !repeatOutage) {
        await mcp.call('annotate_incident', {
          id: incidentId,
          note: `Refused attempts during investigation ${investigationId}:\n${refusedLines.join('\n')}`.slice(
            0,
            4000,
          ),
        });
      }
      if (!repeatOutage) {
        const annotation = asAnnotation(diagnosis);
        const annotated = await mcp.call('annotate_incident', {
          id: incidentId,
          ...(annotation.finding !== undefined
            ? { finding: annotation.finding, evidence: annotation.evidence }
            : { note: annotation.note ?? '' }),
        });
        if (annotated.isError === true) log.warn({ incidentId }, 'could not annotate the incident');
      }

      const usage = session.budget.usage;
      if (repeatOutage && usage.modelCalls === 0) {
        // A probe the endpoint never answered: nothing was said or spent, and the deferral before it stands for the
        // outage. Kept, each probe would add a row (and its seed) for as long as the outage lasts.
        store.agent.discardInvestigation(investigationId);
        delete report.investigationId;
      } else {
        store.agent.finishInvestigation(investigationId, {
          diagnosis,
          flags: diagnosis.flags,
          transcript: transcriptOf(session, mode, report),
          tokens: usage.tokens,
          modelCalls: usage.modelCalls,
          toolCalls: usage.toolCalls,
          ...(budgetHit === undefined ? {} : { budgetHit }),
          now: ctx.now(),
          quiet: repeatOutage,
        });
      }
      finished = true;
      if (budgetHit !== undefined && DEFERRED.has(budgetHit)) {
        store.agent.release('agent_investigations', startedAt);
        report.deferred = true;
      }
      if (budgetHit === 'llm_unavailable') {
        if (quiet && !told.start) return report;
        outageTold.add(incidentId);
      } else {
        outageTold.delete(incidentId);
      }
      say(
        `${budgetHit === undefined ? 'diagnosed' : `ended (${budgetHit})`} — confidence ${diagnosis.confidence}${diagnosis.flags.length > 0 ? `, flags ${diagnosis.flags.join(', ')}` : ''}; ${usage.modelCalls} model calls, ${usage.toolCalls} tool calls, ${usage.tokens} tokens`,
      );
      return report;
    } catch (error) {
      // Whatever failed (the session, acting on its diagnosis, the annotations), the investigation ends here: a row
      // left unfinished would keep pending() from ever taking the incident up again.
      if (!finished) {
        try {
          store.agent.finishInvestigation(investigationId, {
            diagnosis: session?.diagnosis ?? null,
            flags: [...(session?.diagnosis.flags ?? []), 'error'],
            transcript: {
              error: String(error),
              ...(session ? transcriptOf(session, mode, report) : {}),
            },
            tokens: session?.budget.usage.tokens ?? 0,
            modelCalls: session?.budget.usage.modelCalls ?? 0,
            toolCalls: session?.budget.usage.toolCalls ?? 0,
            budgetHit: 'error',
            now: ctx.now(),
          });
        } catch (finishError) {
          log.error({ err: finishError, incidentId }, 'could not record the failed investigation');
        }
      }
      throw error;
    }
  }

  /**
   * Whether an incident waits for an investigation: open, and its every investigation ended without a verdict
   * (deferred, or an error, at most MAX_ERROR_ENDINGS of those), none still running.
   */
  function awaiting(store: Store, id: number): boolean {
    const status = store.incidents.get(id)?.status;
    if (status === undefined || status === 'resolved') return false;
    const investigations = store.agent.investigations(id);
    const retryable = investigations.every(
      inv =>
        inv.endedAt !== undefined &&
        inv.budgetHit !== undefined &&
        (DEFERRED.has(inv.budgetHit) || inv.budgetHit === 'error'),
    );
    // A process that died mid-investigation (abandoned) counts as an error: an incident that crashes the process
    // each time (a result that exhausts its memory) must not be taken up for ever.
    const failed = investigations.filter(inv => inv.budgetHit === 'error' || inv.flags.includes('abandoned'));
    return retryable && failed.length < MAX_ERROR_ENDINGS;
  }

  /** An investigation asked for by hand runs whatever the incident's state, but never beside a running one. */
  const noneRunning = (store: Store, id: number): boolean =>
    store.agent.investigations(id).every(inv => inv.endedAt !== undefined);

  /**
   * Ends the investigations a dead process left running — killed, crashed, or a second signal — as `stopped`, so their
   * incidents are taken up again: a row without an end would keep them from it for ever. Dead means its owner on this
   * host is gone, or (another host's, or from before owners were recorded) that it is older than any investigation
   * can run: the wall clock budget plus every sandbox run its revisions may take.
   */
  async function closeAbandoned(): Promise<void> {
    const store = await ctx.store();
    const now = ctx.now();
    // Sandbox runs wait their turn for the engine behind the other workers' (sandbox.maxConcurrent at a time).
    const queued = Math.ceil(config.concurrency / ctx.config.sandbox.maxConcurrent);
    const longest =
      config.maxSeconds + (config.maxRevisions + 1) * queued * ctx.config.sandbox.limits.timeoutSeconds + 60;
    for (const inv of store.agent.unfinishedInvestigations()) {
      if (inv.owner === ctx.owner) continue;
      const dead = inv.owner !== undefined && !ownerAlive(inv.owner);
      if (!dead && now - inv.startedAt <= longest) continue;
      const why = dead
        ? `the process running it (${inv.owner ?? ''}) ended before it did`
        : `it was still running after ${Math.round(now - inv.startedAt)} s, longer than any investigation can`;
      // What it spent is what it recorded as it went (the last model call's figures).
      const closed = store.agent.finishInvestigation(inv.id, {
        diagnosis: null,
        flags: ['abandoned'],
        transcript: { abandoned: why, ...(inv.cooldown ? { cooldownGivenBack: inv.cooldown } : {}) },
        tokens: inv.tokens,
        modelCalls: inv.modelCalls,
        toolCalls: inv.toolCalls,
        budgetHit: 'stopped',
        now,
      });
      // Its slot stays spent: it may have spent its tokens (and a crash loop must not investigate without limit).
      if (!closed) continue;
      // Its act step took the group's cooldown and died before its PR: nothing was published, so the slot goes back,
      // as a stop gives it back (act.ts); kept, the investigation taken up again would be refused by it.
      if (inv.cooldown) store.agent.release(inv.cooldown.counter, inv.cooldown.at);
      log.warn({ investigation: inv.id, incidentId: inv.incidentId, owner: inv.owner }, `closed: ${why}`);
      narrate(
        `incident ${inv.incidentId}: investigation ${inv.id} closed, ${why}${inv.cooldown ? ' (before its PR: the cooldown it took goes back)' : ''}; it is taken up again (${MAX_ERROR_ENDINGS} such or failed endings at most)`,
      );
    }
  }

  /** Open incidents to investigate (see awaiting), oldest first. */
  async function pending(): Promise<number[]> {
    const store = await ctx.store();
    return store.incidents
      .active()
      .map(row => row.id)
      .filter(id => awaiting(store, id))
      .sort((a, b) => a - b);
  }

  /** When the store was last pruned (once an hour is plenty: what goes is days old). */
  let prunedAt = Number.NEGATIVE_INFINITY;
  async function prune(): Promise<void> {
    const now = ctx.now();
    if (now - prunedAt < 3600) return;
    prunedAt = now;
    const days = ctx.config.store.transcriptDays;
    const dropped = (await ctx.store()).agent.prune(now, days > 0 ? now - days * 86_400 : undefined);
    if (dropped > 0)
      log.info({ dropped, days }, 'dropped investigation transcripts past store.transcriptDays');
  }

  async function runOnce(): Promise<Report[]> {
    try {
      await prune();
    } catch (error) {
      log.warn({ err: error }, 'could not prune the store');
    }
    try {
      for (const change of await checkOutcomes(ctx)) {
        narrate(
          `incident ${change.incidentId}: outcome of ${change.repo}#${change.prNumber}: ${change.outcome}`,
        );
      }
    } catch (error) {
      log.warn({ err: error }, 'could not check the outcomes of past PRs');
    }
    const reports: Report[] = [];
    await closeAbandoned();
    const queue = await pending();
    const worker = async () => {
      for (let id = queue.shift(); id !== undefined && !opts.stop.aborted; id = queue.shift()) {
        try {
          reports.push(await investigate(id, store => awaiting(store, id)));
        } catch (error) {
          log.error({ err: error, incidentId: id }, 'investigation failed');
          reports.push({ incidentId: id, skipped: `failed: ${(error as Error).message}`, refused: [] });
        }
      }
    };
    await Promise.all(Array.from({ length: config.concurrency }, worker));
    return reports.sort((a, b) => a.incidentId - b.incidentId);
  }

  return {
    async handle(incidentId) {
      await closeAbandoned();
      return investigate(incidentId, store => noneRunning(store, incidentId));
    },
    runOnce,
    async run() {
      // Why each incident waits (the budget, the LLM), told once when it changes, not every poll; the figures in a
      // reason (seconds to wait) change every poll and do not count.
      const told = new Map<number, string>();
      while (!opts.stop.aborted) {
        for (const report of await runOnce()) {
          const why = report.skipped?.replace(/\d+/g, 'N');
          if (why === undefined || told.get(report.incidentId) === why) continue;
          told.set(report.incidentId, why);
          narrate(`incident ${report.incidentId}: waiting: ${report.skipped ?? ''}`);
          log.info(
            { incidentId: report.incidentId, reason: report.skipped },
            'incident not investigated now',
          );
        }
        try {
          await abortableSleep(config.pollSeconds * 1000, opts.stop);
        } catch {
          break;
        }
      }
    },
    breaker,
    mcp,
    close: () => mcp.close(),
  };
}
