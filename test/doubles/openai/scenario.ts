// The script the double plays: steps with what each incoming request must hold and what the scripted model
// answers, the matching of a request against a step, and the rendering of a step's answer.

import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import type { FinishReason } from './wire.ts';

/** A chat message as the request carries it (content a string or an array of parts). */
export interface RequestMessage {
  role: string;
  content?: unknown;
  name?: string;
  tool_call_id?: string;
  tool_calls?: Array<{ id: string; type: string; function?: { name: string; arguments: string } }>;
}

export interface ChatRequestBody {
  model: string;
  messages: RequestMessage[];
  tools?: Array<{ type: string; function?: { name: string; parameters?: unknown; strict?: boolean | null } }>;
  tool_choice?: unknown;
  response_format?: {
    type: string;
    json_schema?: { name: string; schema?: unknown; strict?: boolean | null };
  };
  stream?: boolean | null;
  [key: string]: unknown;
}

/** A tool result of the conversation: a `tool` message with the call it answers. */
export interface ToolResult {
  id: string;
  /** The called tool's name, from the assistant message that made the call. */
  name: string;
  /** The call's arguments, parsed when they are JSON. */
  arguments: unknown;
  content: string;
}

/** What `arguments` and `content` functions see: the conversation the request carries. */
export interface Conversation {
  request: ChatRequestBody;
  messages: RequestMessage[];
  toolResults: ToolResult[];
  /** The content of the latest result of the named tool (any tool when omitted); throws when there is none. */
  lastResult(tool?: string): string;
  /** lastResult parsed as JSON; throws when it is not JSON. */
  lastJson(tool?: string): any;
}

type Computed<T> = T | ((conversation: Conversation) => T);

export interface ScriptedToolCall {
  name: string;
  /** An object (sent as its JSON), a raw string (sent as is, so it may be invalid JSON), or a function. */
  arguments: Computed<Record<string, unknown> | string>;
  /**
   * Deliberately off-script, as local models are: the call may name a tool the request does not offer and
   * its arguments are not held to the offered schema.
   */
  misbehave?: boolean;
}

export interface Expectations {
  /** Names of the function tools offered. */
  tools?: { include?: string[]; exclude?: string[]; exactly?: string[] };
  /**
   * The previous step's tool calls are each answered by a `tool` message with its tool_call_id; optionally
   * every such result contains a text, or reads as an error (contains the word "error", as LangChain's tool
   * node and the MCP adapters phrase failures) or not. Implied (bare) after a step that called tools.
   */
  toolResults?: { contains?: string; error?: boolean } | false;
  /** Texts the system (or developer) messages contain. */
  system?: string[];
  /** Texts the user messages contain. */
  user?: string[];
  /** Structured output requested (`response_format` json_schema, optionally with that name), or not. */
  responseFormat?: boolean | { name: string };
  /** Any further check: a string is the deviation. */
  check?: (conversation: Conversation) => string | undefined;
}

export type Answer =
  | { toolCalls: ScriptedToolCall[]; content?: string }
  | { content: Computed<string>; finishReason?: FinishReason }
  | { json: Computed<Record<string, unknown>> };

export type Step = {
  /** Named in deviations and in assertDone's message. */
  name?: string;
  expect?: Expectations;
  /**
   * Tokens to report; computed from the request and the answer when omitted; `null` sends no `usage` at all, as
   * some OpenAI-compatible servers do.
   */
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
} & Answer;

export type Scenario = Step[];

/** A step's answer, ready for the wire (tool call ids are given by the caller). */
export interface Rendered {
  content: string | null;
  toolCalls: Array<{ name: string; arguments: string }>;
  finishReason: FinishReason;
}

export class Deviation extends Error {
  /** The request parameter that differed, as OpenAI's error `param`. */
  readonly param: string | null;
  constructor(message: string, param: string | null = null) {
    super(message);
    this.name = 'Deviation';
    this.param = param;
  }
}

export function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part: unknown) =>
        part !== null && typeof part === 'object' && 'text' in part && typeof part.text === 'string'
          ? part.text
          : '',
      )
      .join('');
  }
  return '';
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

export function conversationOf(request: ChatRequestBody): Conversation {
  const calls = new Map<string, { name: string; arguments: unknown }>();
  for (const m of request.messages) {
    for (const c of m.tool_calls ?? []) {
      calls.set(c.id, { name: c.function?.name ?? '', arguments: parseJson(c.function?.arguments ?? '') });
    }
  }
  const toolResults = request.messages
    .filter(m => m.role === 'tool')
    .map(m => {
      const id = m.tool_call_id ?? '';
      const call = calls.get(id);
      return { id, name: call?.name ?? '', arguments: call?.arguments, content: textOf(m.content) };
    });
  const lastResult = (tool?: string): string => {
    const found = toolResults.filter(r => tool === undefined || r.name === tool).at(-1);
    if (!found) throw new Deviation(`the conversation holds no result of ${tool ?? 'any tool'}`, 'messages');
    return found.content;
  };
  return {
    request,
    messages: request.messages,
    toolResults,
    lastResult,
    lastJson(tool) {
      const text = lastResult(tool);
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new Deviation(`the last result of ${tool ?? 'any tool'} is not JSON: ${text.slice(0, 200)}`);
      }
    },
  };
}

export function offeredTools(request: ChatRequestBody): string[] {
  return (request.tools ?? []).flatMap(t => (t.type === 'function' && t.function ? [t.function.name] : []));
}

const list = (names: string[]) => (names.length > 0 ? names.join(', ') : 'none');

function checkTools(want: NonNullable<Expectations['tools']>, offered: string[]): void {
  const missing = (want.include ?? []).filter(n => !offered.includes(n));
  if (missing.length > 0) {
    throw new Deviation(
      `expected the tools offered to include ${list(missing)}; offered: ${list(offered)}`,
      'tools',
    );
  }
  const present = (want.exclude ?? []).filter(n => offered.includes(n));
  if (present.length > 0) {
    throw new Deviation(
      `expected the tools offered to exclude ${list(present)}; offered: ${list(offered)}`,
      'tools',
    );
  }
  if (want.exactly && [...want.exactly].sort().join() !== [...offered].sort().join()) {
    throw new Deviation(
      `expected exactly the tools ${list(want.exactly)}; offered: ${list(offered)}`,
      'tools',
    );
  }
}

function checkToolResults(
  want: { contains?: string; error?: boolean },
  previousIds: string[],
  conversation: Conversation,
): void {
  for (const id of previousIds) {
    const result = conversation.toolResults.find(r => r.id === id);
    if (!result) {
      throw new Deviation(
        `expected a tool message answering tool_call_id ${id} of the previous step; the tool messages answer ${list(conversation.toolResults.map(r => r.id))}`,
        'messages',
      );
    }
    if (want.contains !== undefined && !result.content.includes(want.contains)) {
      throw new Deviation(
        `expected the result of ${result.name} (${id}) to contain ${JSON.stringify(want.contains)}; it reads ${JSON.stringify(result.content.slice(0, 300))}`,
        'messages',
      );
    }
    if (want.error !== undefined && /\berror\b/i.test(result.content) !== want.error) {
      throw new Deviation(
        `expected the result of ${result.name} (${id}) ${want.error ? 'to be' : 'not to be'} an error; it reads ${JSON.stringify(result.content.slice(0, 300))}`,
        'messages',
      );
    }
  }
}

function checkTexts(role: 'system' | 'user', texts: string[], messages: RequestMessage[]): void {
  const roles = role === 'system' ? ['system', 'developer'] : ['user'];
  const all = messages.filter(m => roles.includes(m.role)).map(m => textOf(m.content));
  for (const text of texts) {
    if (!all.some(t => t.includes(text))) {
      throw new Deviation(
        `expected a ${role} message containing ${JSON.stringify(text)}; the ${role} messages read ${JSON.stringify(all.join('\n').slice(0, 300))}`,
        'messages',
      );
    }
  }
}

function checkResponseFormat(want: boolean | { name: string }, request: ChatRequestBody): void {
  const format = request.response_format;
  const got = format?.type === 'json_schema' ? `json_schema ${format.json_schema?.name ?? ''}` : format?.type;
  if (want === false) {
    if (got !== undefined) throw new Deviation(`expected no response_format; got ${got}`, 'response_format');
    return;
  }
  if (format?.type !== 'json_schema') {
    throw new Deviation(`expected response_format json_schema; got ${got ?? 'none'}`, 'response_format');
  }
  if (typeof want === 'object' && format.json_schema?.name !== want.name) {
    throw new Deviation(
      `expected response_format json_schema ${want.name}; got ${got ?? ''}`,
      'response_format',
    );
  }
}

/** Throws a Deviation when the request does not hold what the step expects. */
export function match(step: Step, previousToolCallIds: string[], conversation: Conversation): void {
  const want = step.expect ?? {};
  const request = conversation.request;
  if (want.tools) checkTools(want.tools, offeredTools(request));
  if (want.toolResults !== false && (want.toolResults !== undefined || previousToolCallIds.length > 0)) {
    checkToolResults(want.toolResults ?? {}, previousToolCallIds, conversation);
  }
  if (want.system) checkTexts('system', want.system, request.messages);
  if (want.user) checkTexts('user', want.user, request.messages);
  if (want.responseFormat !== undefined) checkResponseFormat(want.responseFormat, request);
  const other = want.check?.(conversation);
  if (other !== undefined) throw new Deviation(other);
}

/**
 * Schema violations of a scripted value against a schema the request gave (a tool's parameters, a
 * response_format's schema), as OpenAI's structured outputs would never produce; undefined when the
 * schema cannot be compiled (then the value is not checked).
 */
export type SchemaCheck = (schema: unknown, value: unknown) => string[] | undefined;

/** One per double: compiled schemas are kept by their text, as every request offers the same tools again. */
export function createSchemaCheck(): SchemaCheck {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const compiled = new Map<string, ValidateFunction | undefined>();
  return (schema, value) => {
    if (schema === null || typeof schema !== 'object') return undefined;
    // Clients put draft-07 or 2020-12 in $schema; both read alike for what tool schemas use.
    const rest: Record<string, unknown> = { ...schema };
    delete rest.$schema;
    const key = JSON.stringify(rest);
    if (!compiled.has(key)) {
      try {
        compiled.set(key, ajv.compile(rest));
      } catch {
        compiled.set(key, undefined);
      }
    }
    const validate = compiled.get(key);
    if (!validate) return undefined;
    if (validate(value)) return [];
    return (validate.errors ?? []).map(e => `${e.instancePath || '/'} ${e.message ?? ''}`);
  };
}

function computed<T>(value: Computed<T>, conversation: Conversation): T {
  return typeof value === 'function' ? (value as (c: Conversation) => T)(conversation) : value;
}

/** The step's answer for this conversation; throws a Deviation when the script does not fit the request. */
export function render(step: Step, conversation: Conversation, violations: SchemaCheck): Rendered {
  const request = conversation.request;
  if ('toolCalls' in step) {
    const offered = request.tools ?? [];
    const toolCalls = step.toolCalls.map(call => {
      const args = computed(call.arguments, conversation);
      const tool = offered.find(t => t.function?.name === call.name);
      if (!call.misbehave) {
        if (!tool) {
          throw new Deviation(
            `the script calls ${call.name}, which the request does not offer (offered: ${list(offeredTools(request))}); mark the call misbehave to send it anyway`,
            'tools',
          );
        }
        const wrong = typeof args === 'string' ? undefined : violations(tool.function?.parameters, args);
        if (wrong && wrong.length > 0) {
          throw new Deviation(
            `the script's arguments for ${call.name} do not fit the offered parameters: ${wrong.join('; ')}`,
            'tools',
          );
        }
      }
      return { name: call.name, arguments: typeof args === 'string' ? args : JSON.stringify(args) };
    });
    return { content: step.content ?? null, toolCalls, finishReason: 'tool_calls' };
  }
  if ('json' in step) {
    const format = request.response_format;
    if (format?.type !== 'json_schema' && format?.type !== 'json_object') {
      throw new Deviation(
        `the script answers structured output, but the request asks for none (response_format ${format?.type ?? 'absent'})`,
        'response_format',
      );
    }
    const value = computed(step.json, conversation);
    const wrong = format.type === 'json_schema' ? violations(format.json_schema?.schema, value) : undefined;
    if (wrong && wrong.length > 0) {
      throw new Deviation(
        `the script's structured answer does not fit response_format ${format.json_schema?.name ?? ''}: ${wrong.join('; ')}`,
        'response_format',
      );
    }
    return { content: JSON.stringify(value), toolCalls: [], finishReason: 'stop' };
  }
  return {
    content: computed(step.content, conversation),
    toolCalls: [],
    finishReason: step.finishReason ?? 'stop',
  };
}
