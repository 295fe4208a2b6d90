// The investigation's LangChain middleware: it keeps the ledger and the transcript, enforces the budgets, retries
// the LLM (backoff, retry-after, circuit breaker), and corrects a misbehaving model a bounded number of times —
// an answer that is neither a tool call nor the diagnosis, an unknown tool, tool arguments that are not JSON
// (which would otherwise end a createAgent run silently with `invalid_tool_calls`).

import { AIMessage, HumanMessage, ToolMessage, type BaseMessage } from '@langchain/core/messages';
import { BaseCallbackHandler } from '@langchain/core/callbacks/base';
import { ToolInputParsingException } from '@langchain/core/tools';
import type { LLMResult } from '@langchain/core/outputs';
import type { Command } from '@langchain/langgraph';
import { StructuredOutputParsingError, createMiddleware, type ModelRequest } from 'langchain';
import { CircuitOpenError, type CircuitBreaker } from '../lib/circuit-breaker.ts';
import { retry } from '../lib/retry.ts';
import { BudgetExceeded, type Budget } from './budgets.ts';
import { errorCodeOf, type Ledger, type LedgerEntry } from './ledger.ts';
import { contextTooLong, refusedByEndpoint, retryAfterMsOf, retryableLlmError } from './llm.ts';

export class LlmUnavailable extends Error {
  override readonly name = 'LlmUnavailable';
}

export class Stopped extends Error {
  override readonly name = 'Stopped';
}

export interface ModelTurn {
  at: number;
  ms: number;
  tokens: number;
  retries: number;
}

/** What the loop's own policy says of one call of the model, before it reaches the tool. */
export interface GuardVerdict {
  /** A refusal text (`CODE: message`): the call does not reach the tool. */
  refusal?: string;
  /** Hears how the call it let through ended (the code of a refusal, if any): a slot taken for it may go back. */
  settle?: (outcome: { ok: boolean; code?: string | undefined }) => void;
}

export interface Guard {
  (name: string, args: Record<string, unknown>): GuardVerdict | undefined;
}

export interface RuntimeOptions {
  ledger: Ledger;
  budget: Budget;
  breaker: CircuitBreaker;
  retries: number;
  /** The tool the model answers with (LangChain's tool strategy): its call ends the run when it fits the schema. */
  diagnosisTool: string;
  /** The names of the tools offered, to tell an unknown tool from a known one. */
  offered: readonly string[];
  guard?: Guard;
  /**
   * Aborted when the run is cut (the loop told to stop, or the wall clock): the model call in flight and any wait
   * to retry it end, with no verdict on the endpoint, and no model call follows.
   */
  stop: AbortSignal;
  now: () => number;
  onRetry?: (error: unknown, attempt: number, waitMs: number) => void;
  /** Hears each tool call of the model once it is in the ledger (the CLI narrates them). */
  onTool?: (entry: LedgerEntry) => void;
  /** Hears each model call that answered, once the budget counts it (the loop records the usage as it goes). */
  onModelCall?: () => void;
  /**
   * Told when a write tool's call (run_sandbox_test, open_pr) starts and ends: the run is not cut while one is under
   * way (investigate.ts), since an abandoned PR would be made all the same, and recorded as failed.
   */
  writing?: { begin(): void; end(): void };
}

/** The tools whose calls change something outside the store, which a cut must not abandon half-way. */
const WRITES = new Set(['run_sandbox_test', 'open_pr']);

export interface Runtime {
  middleware: ReturnType<typeof createMiddleware>;
  /** The callbacks handler that sees every model answer (including those the agent throws away). */
  callbacks: BaseCallbackHandler[];
  /** Everything said so far, in order: the seed, each answer (corrected ones too, with the replies), each tool result. */
  conversation: BaseMessage[];
  turns: ModelTurn[];
}

export function textOfContent(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part: unknown) =>
        typeof part === 'object' && part !== null && 'text' in part && typeof part.text === 'string'
          ? part.text
          : '',
      )
      .join('');
  }
  return '';
}

/**
 * The text of a tool result. The MCP adapter turns a result with structured content into a text block carrying a
 * copy of it, which LangChain then serializes whole: unwrapped here, so the model sees the tool's own text once.
 */
export function toolText(content: unknown): string {
  const text = textOfContent(content);
  if (!text.startsWith('{"type":"text"')) return text;
  try {
    const block = JSON.parse(text) as { type?: unknown; text?: unknown };
    return block.type === 'text' && typeof block.text === 'string' ? block.text : text;
  } catch {
    return text;
  }
}

/**
 * Tokens of a call whose answer carried no `usage` (some OpenAI-compatible servers leave it out): about four
 * characters a token, over what was sent and what came back, so that agent.maxTokens still ends the run.
 */
function estimatedTokens(request: ModelRequest, answer: AIMessage | undefined): number {
  const sized = (value: unknown): number => {
    try {
      return JSON.stringify(value).length;
    } catch {
      return 0;
    }
  };
  // What goes out on every call: the system prompt, the tools' definitions, and every message with its tool calls.
  let chars = textOfContent(request.systemMessage.content).length;
  for (const tool of request.tools) {
    const t = tool as { name?: unknown; description?: unknown; schema?: unknown };
    chars += sized([t.name, t.description, t.schema]);
  }
  for (const message of [...request.messages, ...(answer ? [answer] : [])]) {
    chars += textOfContent(message.content).length;
    if (AIMessage.isInstance(message)) chars += sized(message.tool_calls ?? []);
  }
  return Math.ceil(chars / 4);
}

/** The longest wait between attempts at one model call. */
const LONGEST_RETRY_WAIT_MS = 30_000;

/** Read through a call, so that a check made earlier in the same function does not narrow it. */
const stopRequested = (signal: AbortSignal): boolean => signal.aborted;

function rawToolCallIds(message: AIMessage): string[] {
  const raw = (message.additional_kwargs as { tool_calls?: Array<{ id?: string }> }).tool_calls ?? [];
  return raw.map(call => call.id ?? '').filter(id => id !== '');
}

/** LangChain's refusal of a call's arguments against the tool's schema, as thrown, wrapped or not. */
function isInputRefusal(error: unknown): boolean {
  const wrapped = (error as { toolError?: unknown } | undefined)?.toolError;
  return error instanceof ToolInputParsingException || wrapped instanceof ToolInputParsingException;
}

const invalidArgumentsText = (detail: string) =>
  `INVALID_ARGUMENT error: the arguments of this call are not valid JSON (${detail}). Send the call again with a JSON object matching the tool's parameters.`;

export function createRuntime(opts: RuntimeOptions): Runtime {
  const { ledger, budget, breaker } = opts;
  const conversation: BaseMessage[] = [];
  const turns: ModelTurn[] = [];
  let lastAnswer: AIMessage | undefined;
  /** Calls whose arguments were not JSON, in an answer that also had valid ones: answered with this refusal. */
  const invalidCalls = new Map<string, { args: unknown; text: string }>();

  const callbacks: Runtime['callbacks'] = [
    // LangChain's own factory for a handler from plain methods (its callback API is class-based).
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment
    BaseCallbackHandler.fromMethods({
      handleLLMEnd(output: LLMResult) {
        const generation = output.generations[0]?.[0] as { message?: unknown } | undefined;
        const message = generation?.message;
        if (message && AIMessage.isInstance(message)) lastAnswer = message;
      },
    }),
  ];

  /**
   * Adds to the transcript what it lacks of a request, in order. The transcript only grows: the agent's state keeps
   * neither a corrected answer nor the reply to it (they go to the model on the retry only), so taking each request
   * as the whole conversation would lose every correction. A message is known by itself or by its id (the answer
   * recorded may be another object than the one that went into the state).
   */
  const remember = (messages: readonly BaseMessage[]): void => {
    for (const message of messages) {
      const id = message.id;
      const known = conversation.some(m => m === message || (id !== undefined && id !== '' && m.id === id));
      if (!known) conversation.push(message);
    }
  };

  type Handler = (request: ModelRequest) => AIMessage | Command | Promise<AIMessage | Command>;
  type Outcome = { kind: 'done'; result: AIMessage } | { kind: 'correct'; exchange: BaseMessage[] };

  /** One model call (retried while the endpoint fails), and what to make of its answer. */
  const callModel = async (request: ModelRequest, handler: Handler): Promise<Outcome> => {
    if (opts.stop.aborted) throw new Stopped('the loop was told to stop');
    budget.beforeModelCall();
    if (!breaker.allow()) throw new CircuitOpenError('the LLM endpoint', breaker.retryInMs());
    remember(request.messages);
    const started = Date.now();
    let retries = 0;
    let result: AIMessage | Command | undefined;
    const parsing = { failed: false };
    let settled = false;
    try {
      result = await retry(
        async () => {
          lastAnswer = undefined;
          parsing.failed = false;
          try {
            return await handler(request);
          } catch (error) {
            // A model that answered, badly, is not an outage: that is for the corrections below.
            if (error instanceof StructuredOutputParsingError) {
              parsing.failed = true;
              return undefined;
            }
            throw error;
          }
        },
        {
          retries: opts.retries,
          // A server that asks for a longer wait than a retry makes (a daily token quota's "try again in 7m") is
          // not retried: its breaker is held open that long instead (below).
          retryable: error =>
            retryableLlmError(error) && (retryAfterMsOf(error) ?? 0) <= LONGEST_RETRY_WAIT_MS,
          retryAfterMs: retryAfterMsOf,
          maxMs: LONGEST_RETRY_WAIT_MS,
          signal: opts.stop,
          onRetry: (error, attempt, waitMs) => {
            retries = attempt;
            opts.onRetry?.(error, attempt, waitMs);
          },
        },
      );
      breaker.success();
      settled = true;
    } catch (error) {
      // Told to stop while waiting to retry: the wait was cut short, which is no outage.
      if (stopRequested(opts.stop)) throw new Stopped('the loop was told to stop', { cause: error });
      // An endpoint that is down, or refuses this client (its key, its model: see refusedByEndpoint), is an outage
      // for the breaker, and the investigation is deferred until the endpoint answers again.
      if (retryableLlmError(error) || refusedByEndpoint(error)) {
        breaker.failure(retryAfterMsOf(error));
        settled = true;
        const refused = refusedByEndpoint(error)
          ? ' (check OPENAI_API_KEY, OPENAI_BASE_URL and DEVOPS_MCP_MODEL)'
          : '';
        throw new LlmUnavailable(`the LLM endpoint failed: ${(error as Error).message}${refused}`, {
          cause: error,
        });
      }
      if (contextTooLong(error)) {
        throw new BudgetExceeded('context', "the conversation outgrew the model's context window");
      }
      throw error;
    } finally {
      // Stopped, or an error no retry fixes (a 400, a 401): no verdict on the endpoint, but the probe is over.
      if (!settled) breaker.release();
    }
    const answer = lastAnswer ?? (AIMessage.isInstance(result) ? result : undefined);
    const tokens = answer?.usage_metadata?.total_tokens ?? estimatedTokens(request, answer);
    budget.afterModelCall(tokens);
    turns.push({ at: opts.now(), ms: Date.now() - started, tokens, retries });
    opts.onModelCall?.();
    const noDiagnosis = (said: string): Outcome => {
      budget.correct('no_diagnosis', said.slice(0, 200));
      const reply = new HumanMessage(
        'Your answer was neither a tool call nor the diagnosis. Investigate with the tools offered, then answer by calling the diagnosis tool, citing the ids of the tool calls you made.',
      );
      conversation.push(reply);
      return { kind: 'correct', exchange: answer ? [answer, reply] : [reply] };
    };
    if (!answer)
      return parsing.failed
        ? noDiagnosis('(an answer that was not the diagnosis JSON)')
        : { kind: 'done', result: result as AIMessage };
    conversation.push(answer);

    const calls = answer.tool_calls ?? [];
    const invalid = answer.invalid_tool_calls ?? [];
    if (calls.length === 0 && invalid.length > 0) {
      const detail = invalid.map(c => `${c.name ?? '?'}: ${c.error ?? 'not JSON'}`).join('; ');
      budget.correct('invalid_arguments', detail);
      const ids = rawToolCallIds(answer);
      for (const id of ids) {
        const call = invalid.find(c => c.id === id);
        ledger.record({
          id,
          tool: call?.name ?? '?',
          args: call?.args ?? null,
          by: 'model',
          ok: false,
          code: 'INVALID_ARGUMENT',
          heldBack: true,
          ms: 0,
          at: opts.now(),
          result: 'arguments were not valid JSON',
        });
      }
      const text = invalidArgumentsText(detail);
      const replies: BaseMessage[] =
        ids.length > 0
          ? ids.map(id => new ToolMessage({ tool_call_id: id, status: 'error', content: text }))
          : [new HumanMessage(text)];
      conversation.push(...replies);
      return { kind: 'correct', exchange: [answer, ...replies] };
    }
    const structured = typeof result === 'object' && 'structuredResponse' in result;
    if (!structured && calls.some(c => c.name === opts.diagnosisTool)) {
      // LangChain sends the schema errors back to the model itself (as the diagnosis call's tool message); counted.
      budget.correct('invalid_arguments', 'the diagnosis did not fit its schema');
      return { kind: 'done', result: result as AIMessage };
    }
    if (parsing.failed || (calls.length === 0 && !structured))
      return noDiagnosis(textOfContent(answer.content));
    for (const call of calls.filter(c => !opts.offered.includes(c.name)))
      budget.correct('unknown_tool', call.name);
    if (structured && !ledger.entries.some(e => e.by === 'model')) {
      budget.correct('no_diagnosis', 'a diagnosis before any tool call');
      const text =
        'REFUSED error: you answered without calling any tool, so nothing supports that diagnosis. Gather evidence with the tools first, then answer again citing the ids of those calls.';
      // The diagnosis call is answered as every tool call must be, before the conversation goes on.
      const replies: BaseMessage[] = calls.map(
        c => new ToolMessage({ tool_call_id: c.id ?? '', name: c.name, status: 'error', content: text }),
      );
      conversation.push(...replies);
      return { kind: 'correct', exchange: [answer, ...replies] };
    }
    if (!structured && invalid.length > 0 && AIMessage.isInstance(result)) {
      // Valid calls beside invalid ones: the valid ones run, and each invalid one gets its refusal as when every
      // call is invalid. Left alone it would go unanswered: ChatOpenAI sends only `tool_calls` when there are any,
      // so the model would never hear that its call failed (and a server that remembers its calls refuses the
      // next request). So the invalid calls join them with empty arguments, and the tool step answers each with
      // the refusal instead of running it. One correction for the answer.
      const detail = invalid.map(c => `${c.name ?? '?'}: ${c.error ?? 'not JSON'}`).join('; ');
      budget.correct('invalid_arguments', detail);
      const answered = invalid.filter(c => c.id !== undefined && c.id !== '');
      for (const c of answered)
        invalidCalls.set(c.id ?? '', { args: c.args ?? null, text: invalidArgumentsText(detail) });
      return {
        kind: 'done',
        result: new AIMessage({
          id: result.id,
          name: result.name,
          content: result.content,
          additional_kwargs: result.additional_kwargs,
          response_metadata: result.response_metadata,
          ...(result.usage_metadata ? { usage_metadata: result.usage_metadata } : {}),
          tool_calls: [
            ...calls,
            ...answered.map(c => ({ id: c.id, name: c.name ?? '?', args: {}, type: 'tool_call' as const })),
          ],
          invalid_tool_calls: [],
        }),
      };
    }
    return { kind: 'done', result: result as AIMessage };
  };

  const middleware = createMiddleware({
    name: 'devops-mcp-investigation',
    wrapModelCall: async (request, handler) => {
      // A correction is another model call within this step: the exchange it answers (the bad answer and the
      // reply to it) goes to the model on the retry and into the transcript, not into the agent's state.
      let current = request;
      for (;;) {
        const outcome = await callModel(current, handler);
        if (outcome.kind === 'done') return outcome.result;
        current = { ...current, messages: [...current.messages, ...outcome.exchange] };
      }
    },

    wrapToolCall: async (request, handler) => {
      const call = request.toolCall;
      const id = call.id ?? ledger.loopId();
      const args = call.args;
      const started = Date.now();
      const refuse = (text: string, code = errorCodeOf(text), recordedArgs: unknown = args) => {
        const entry = ledger.record({
          id,
          tool: call.name,
          args: recordedArgs,
          by: 'model',
          ok: false,
          code,
          heldBack: true,
          ms: 0,
          at: opts.now(),
          result: text,
        });
        opts.onTool?.(entry);
        const message = new ToolMessage({
          tool_call_id: id,
          name: call.name,
          status: 'error',
          content: text,
        });
        conversation.push(message);
        return message;
      };
      const invalidCall = invalidCalls.get(id);
      if (invalidCall) {
        invalidCalls.delete(id);
        return refuse(invalidCall.text, 'INVALID_ARGUMENT', invalidCall.args);
      }
      if (!budget.takeToolCall()) {
        return refuse(
          `BUDGET: error: this investigation's tool-call budget (${budget.limits.maxToolCalls}) is spent. Answer now with your diagnosis from what you have.`,
        );
      }
      const verdict = opts.guard?.(call.name, args);
      if (verdict?.refusal !== undefined) return refuse(verdict.refusal);
      let message: ToolMessage;
      const writes = WRITES.has(call.name);
      if (writes) opts.writing?.begin();
      try {
        const out = await handler(request);
        if (!ToolMessage.isInstance(out)) {
          verdict?.settle?.({ ok: true });
          return out;
        }
        message = out;
      } catch (error) {
        if (error instanceof BudgetExceeded) {
          verdict?.settle?.({ ok: false });
          throw error;
        }
        // An MCP error result (isError) arrives as a thrown ToolException: it goes back to the model as a tool
        // message it can correct itself from, never as an aborted run. Arguments LangChain refused against the
        // tool's schema never reached the tool: said with the code a tool would use, so the ledger and the
        // guard know nothing was done (a PR slot taken for the call goes back).
        const notSent = isInputRefusal(error);
        message = new ToolMessage({
          tool_call_id: id,
          name: call.name,
          status: 'error',
          content: `${notSent ? 'INVALID_ARGUMENT: ' : ''}${(error as Error).message}`,
        });
      } finally {
        if (writes) opts.writing?.end();
      }
      const text = toolText(message.content);
      // The model sees the tool's text as is: the adapter's content block (text plus a copy of the structured
      // content) would reach the wire as JSON around JSON, twice the tokens.
      message = new ToolMessage({
        tool_call_id: message.tool_call_id,
        name: message.name ?? call.name,
        status: message.status ?? 'success',
        content: text,
        artifact: message.artifact as unknown,
      });
      const unknown = !opts.offered.includes(call.name);
      const entry = ledger.record({
        id,
        tool: call.name,
        args,
        by: 'model',
        ok: message.status !== 'error',
        code: unknown ? 'UNKNOWN_TOOL' : message.status === 'error' ? errorCodeOf(text) : undefined,
        ...(unknown ? { heldBack: true as const } : {}),
        ms: Date.now() - started,
        at: opts.now(),
        result: text,
      });
      verdict?.settle?.({ ok: entry.ok, code: entry.code });
      opts.onTool?.(entry);
      conversation.push(message);
      return message;
    },
  });
  return { middleware, callbacks, conversation, turns };
}
