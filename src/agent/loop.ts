// The headless loop: for each open incident not yet investigated, one investigation (analyze), then the action its
// diagnosis warrants (act), all recorded on the incident and in the store; runs once or until told to stop.

import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import type { BaseMessage } from '@langchain/core/messages';
import type { DynamicStructuredTool } from '@langchain/core/tools';
import type { Context } from '../context.ts';
import type { Store } from '../store/index.ts';
import { createCircuitBreaker, type CircuitBreaker } from '../lib/circuit-breaker.ts';
import { abortableSleep } from '../lib/retry.ts';
import { act, recordModelActions, type ActOutcome } from './act.ts';
import { asAnnotation, type CheckedDiagnosis } from './diagnosis.ts';
import { startSession, type Session } from './investigate.ts';
import { checkOutcomes } from './learn.ts';
import { refusedBeforeWriting } from './ledger.ts';
import { connectInProcess, type AgentMcp } from './mcp.ts';
import { textOfContent, type Guard } from './middleware.ts';
import { atLeast, effectiveMode, lowerOf, repoCap, type Mode } from './modes.ts';
import { findRepoPolicy } from '../policy/repos.ts';

export interface AgentOptions {
  mode: Mode;
  /** Aborted on SIGINT/SIGTERM: the loop ends between steps. */
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
  const narrate = opts.narrate ?? (() => undefined);
  const mcp = await connectInProcess(ctx);
  const { loadMcpTools } = await import('@langchain/mcp-adapters');
  const tools: DynamicStructuredTool[] = await loadMcpTools('devops-mcp', mcp.client, {
    throwOnLoadError: true,
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

  async function handle(incidentId: number): Promise<Report> {
    const store = await ctx.store();
    const report: Report = { incidentId, refused: [] };
    const pause = store.agent.paused();
    const mode = effectiveMode(opts.mode, ctx.config, pause.paused);
    report.mode = mode;
    if (breaker.state() === 'open') {
      report.skipped = `the LLM endpoint is unavailable; retrying in ${Math.ceil(breaker.retryInMs() / 1000)} s`;
      return report;
    }
    const slot = store.agent.take('agent_investigations', config.maxInvestigationsPerHour, 3600, ctx.now());
    if (!slot.ok) {
      report.skipped = `investigation budget of ${config.maxInvestigationsPerHour} per hour reached (next in ${slot.retryAfterSeconds} s)`;
      return report;
    }
    const startedAt = ctx.now();
    const investigationId = store.agent.startInvestigation(incidentId, mode, startedAt);
    report.investigationId = investigationId;
    narrate(
      `incident ${incidentId}: investigating in ${mode} mode${pause.paused ? ' (paused: observe only)' : ''}`,
    );
    let session: Session | undefined;
    let finished = false;
    try {
      session = await startSession(
        {
          ctx,
          mcp,
          model,
          tools,
          breaker,
          stop: opts.stop,
          guard: guardFor(mode, store, incidentId),
          onTool: entry => {
            const args = JSON.stringify(entry.args);
            narrate(
              `incident ${incidentId}: ${entry.tool} ${args.length > 120 ? `${args.slice(0, 119)}…` : args} → ${entry.ok ? 'ok' : (entry.code ?? 'error')} (${entry.bytes} B, ${entry.ms} ms)`,
            );
          },
        },
        incidentId,
        mode,
      );
      const ended = session.ending;
      if (ended.kind === 'diagnosed' && atLeast(mode, 'propose') && session.diagnosis.proposedChange) {
        narrate(`incident ${incidentId}: testing the proposed change in the sandbox`);
        report.acted = await act(ctx, mcp, session, mode, {
          maxRevisions: config.maxRevisions,
          maxPrsPerHour: config.maxPrsPerHour,
          cooldownSeconds: config.cooldownSeconds,
          minConfidenceToAct: config.minConfidenceToAct,
        });
        if (report.acted.tested) {
          narrate(
            `incident ${incidentId}: sandbox: ${report.acted.runs} run(s), ${report.acted.passed ? 'passed' : 'failed'}`,
          );
        }
        if (report.acted.pr) narrate(`incident ${incidentId}: opened ${report.acted.pr.url}`);
        else if (report.acted.stopped) narrate(`incident ${incidentId}: ${report.acted.stopped}`);
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
      if (refusedLines.length > 0) {
        await mcp.call('annotate_incident', {
          id: incidentId,
          note: `Refused attempts during investigation ${investigationId}:\n${refusedLines.join('\n')}`.slice(
            0,
            4000,
          ),
        });
      }
      const annotation = asAnnotation(diagnosis);
      const annotated = await mcp.call('annotate_incident', {
        id: incidentId,
        ...(annotation.finding !== undefined
          ? { finding: annotation.finding, evidence: annotation.evidence }
          : { note: annotation.note ?? '' }),
      });
      if (annotated.isError === true) log.warn({ incidentId }, 'could not annotate the incident');

      const usage = session.budget.usage;
      store.agent.finishInvestigation(investigationId, {
        diagnosis,
        flags: diagnosis.flags,
        transcript: transcriptOf(session, mode, report),
        tokens: usage.tokens,
        modelCalls: usage.modelCalls,
        toolCalls: usage.toolCalls,
        ...(budgetHit === undefined ? {} : { budgetHit }),
        now: ctx.now(),
      });
      finished = true;
      if (budgetHit !== undefined && DEFERRED.has(budgetHit))
        store.agent.release('agent_investigations', startedAt);
      narrate(
        `incident ${incidentId}: ${budgetHit === undefined ? 'diagnosed' : `ended (${budgetHit})`} — confidence ${diagnosis.confidence}${diagnosis.flags.length > 0 ? `, flags ${diagnosis.flags.join(', ')}` : ''}; ${usage.modelCalls} model calls, ${usage.toolCalls} tool calls, ${usage.tokens} tokens`,
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
   * Open incidents to investigate: those whose every investigation ended without a verdict (deferred, or an error,
   * at most MAX_ERROR_ENDINGS of those), none still running.
   */
  async function pending(): Promise<number[]> {
    const store = await ctx.store();
    return store.incidents
      .active()
      .map(row => row.id)
      .filter(id => {
        const investigations = store.agent.investigations(id);
        const retryable = investigations.every(
          inv =>
            inv.endedAt !== undefined &&
            inv.budgetHit !== undefined &&
            (DEFERRED.has(inv.budgetHit) || inv.budgetHit === 'error'),
        );
        return (
          retryable && investigations.filter(inv => inv.budgetHit === 'error').length < MAX_ERROR_ENDINGS
        );
      })
      .sort((a, b) => a - b);
  }

  async function runOnce(): Promise<Report[]> {
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
    const queue = await pending();
    const worker = async () => {
      for (let id = queue.shift(); id !== undefined && !opts.stop.aborted; id = queue.shift()) {
        try {
          reports.push(await handle(id));
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
    handle,
    runOnce,
    async run() {
      while (!opts.stop.aborted) {
        await runOnce();
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
