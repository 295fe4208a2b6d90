// The one adapter between tool definitions and MCP: listing, input validation, error rendering, results.

import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
  type CallToolResult,
  type JSONRPCMessage,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { Context } from '../context.ts';
import { quoted, ToolError } from '../lib/errors.ts';
import { cutLine } from '../lib/logs.ts';
import { redactJson } from '../lib/redact.ts';
import type { ToolAnnotations, ToolContext, ToolDefinition } from './define.ts';

type JsonObject = Record<string, unknown>;

const SAFE_INTEGER = Number.MAX_SAFE_INTEGER;
/**
 * The caller chooses its client name and the name of a tool that may not exist, at any length: the audit log keeps
 * this many characters of each, marked where cut.
 */
const MAX_NAME_CHARS = 128;

/**
 * The key under which the screen (registerTools) wraps arguments that are not an object: drawn per process, so that
 * no client sends it by chance (one that did would only have its own arguments read from under it).
 */
const SCREENED = `devops-mcp:screened:${Math.random().toString(36).slice(2)}`;

/**
 * JSON Schema for a zod schema, without what costs context and says nothing: zod's safe-integer bounds,
 * `propertyNames: {type: string}` (always true in JSON), size bounds (still enforced), and, for results,
 * descriptions, `required`, `additionalProperties: false`, and the properties of objects below the top level
 * (series, streams, groups, label sets): the published result schema names each field of a result and its type,
 * while the full zod schema still checks every result before it is sent. A nullable result field is written
 * `type: [T, "null"]`.
 * Tool definitions are paid for on every LLM turn, and the whole tools/list must stay under 12 KB.
 */
function compact(node: unknown, io: 'input' | 'output', nested = false): unknown {
  if (Array.isArray(node)) return node.map(item => compact(item, io, nested));
  if (typeof node !== 'object' || node === null) return node;
  const source = node as JsonObject;
  if (io === 'output' && nested && source.type === 'object') return { type: 'object' };
  if (io === 'output' && Array.isArray(source.anyOf)) {
    const nullable = nullableType(source.anyOf.map(option => compact(option, io, nested)));
    if (nullable) return nullable;
  }
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(source)) {
    if (key === '$schema') continue;
    if ((key === 'minimum' && value === -SAFE_INTEGER) || (key === 'maximum' && value === SAFE_INTEGER))
      continue;
    if (key === 'propertyNames' && JSON.stringify(value) === '{"type":"string"}') continue;
    // Size bounds and positivity guard the server, which enforces them; the model needs no reminder of them.
    if (
      key === 'maxLength' ||
      key === 'maxItems' ||
      (key === 'minLength' && value === 1) ||
      (key === 'exclusiveMinimum' && value === 0)
    )
      continue;
    if (
      io === 'output' &&
      (key === 'description' || key === 'required' || (key === 'additionalProperties' && value === false))
    )
      continue;
    out[key] = compact(value, io, nested || key === 'items' || key === 'properties');
  }
  return out;
}

/** The (compacted) options `[{type: T}, {type: "null"}]` of an anyOf as `{type: [T, "null"]}`, T a plain scalar. */
function nullableType(options: unknown[]): JsonObject | undefined {
  if (options.length !== 2) return undefined;
  const types = options.map(option =>
    typeof option === 'object' && option !== null && Object.keys(option).length === 1
      ? (option as JsonObject).type
      : undefined,
  );
  const [first, second] = types;
  if (typeof first !== 'string' || second !== 'null' || first === 'object' || first === 'array')
    return undefined;
  return { type: [first, 'null'] };
}

// The MCP specification's defaults for tool annotations; a hint equal to its default is not sent.
const ANNOTATION_DEFAULTS: ToolAnnotations = {
  readOnlyHint: false,
  destructiveHint: true,
  idempotentHint: false,
  openWorldHint: true,
};

/**
 * The annotations a client needs, and no more: a hint equal to the specification's default is left out, and so
 * are `destructiveHint` and `idempotentHint` of a read-only tool, which the specification says are meaningful
 * only when `readOnlyHint` is false.
 */
function publishedAnnotations(annotations: ToolAnnotations): Partial<ToolAnnotations> {
  const out: Partial<ToolAnnotations> = {};
  for (const key of Object.keys(ANNOTATION_DEFAULTS) as Array<keyof ToolAnnotations>) {
    if (annotations.readOnlyHint && (key === 'destructiveHint' || key === 'idempotentHint')) continue;
    if (annotations[key] !== ANNOTATION_DEFAULTS[key]) out[key] = annotations[key];
  }
  return out;
}

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Tool['inputSchema'] {
  return compact(z.toJSONSchema(schema, { io, unrepresentable: 'any' }), io) as Tool['inputSchema'];
}

export function toMcpTool(tool: ToolDefinition): Tool {
  return {
    name: tool.name,
    title: tool.title,
    description: tool.description,
    inputSchema: jsonSchema(tool.input, 'input'),
    outputSchema: jsonSchema(tool.output, 'output'),
    annotations: publishedAnnotations(tool.annotations),
  };
}

/** The tools, or a loader for them: loading on first use keeps their modules off the start-up path. */
export type ToolSource = readonly ToolDefinition[] | (() => Promise<readonly ToolDefinition[]>);

/**
 * Registers tools/list and tools/call. Returns the screen the server passes every incoming message through: the SDK
 * parses a request before any handler sees it, and a tools/call whose `arguments` is not an object (`"x"`, `[1]`,
 * `null`) would be answered -32603 with zod's report and leave no audit row. The screen sends such a call on with
 * what was sent wrapped in an object under SCREENED, which the handler unwraps and validates as it does any other
 * bad argument. The value travels with its own request, whatever ids a client reuses or leaves unanswered.
 */
export function registerTools(
  server: Server,
  source: ToolSource,
  ctx: Context,
): (message: JSONRPCMessage) => JSONRPCMessage {
  let loaded: Promise<{ byName: Map<string, ToolDefinition>; listing: Tool[] }> | undefined;
  const load = () =>
    (loaded ??= Promise.resolve(typeof source === 'function' ? source() : source).then(tools => ({
      byName: new Map(tools.map(tool => [tool.name, tool])),
      listing: tools.map(toMcpTool),
    })));
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: (await load()).listing }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const { byName } = await load();
    const tool = byName.get(request.params.name);
    const sent = request.params.arguments;
    const args: unknown = sent === undefined ? {} : SCREENED in sent ? sent[SCREENED] : sent;
    const clientInfo = server.getClientVersion();
    const caller: Caller = {
      // Both names are the client's own text: a configured secret in them is scrubbed before they are cut.
      client: clientInfo
        ? cutLine(ctx.redact(`${clientInfo.name}/${clientInfo.version}`), MAX_NAME_CHARS)
        : undefined,
      session: extra.sessionId,
    };
    if (!tool) {
      ctx.audit.record({
        tool: cutLine(ctx.redact(request.params.name), MAX_NAME_CHARS),
        args,
        ...caller,
        outcome: 'error',
        code: 'UNKNOWN_TOOL',
        ms: 0,
      });
      throw new McpError(
        ErrorCode.InvalidParams,
        `Unknown tool: ${quoted(ctx.redact(request.params.name))}. Available: ${[...byName.keys()].join(', ')}`,
      );
    }
    const progressToken = request.params._meta?.progressToken;
    const toolCtx: ToolContext = {
      ...ctx,
      signal: extra.signal,
      progress: async (progress, total, message) => {
        if (progressToken === undefined) return;
        await extra.sendNotification({
          method: 'notifications/progress',
          params: { progressToken, progress, total, message },
        });
      },
    };
    return callTool(tool, args, toolCtx, caller);
  });
  return message => {
    if (!('method' in message) || message.method !== 'tools/call' || !('id' in message)) return message;
    const params: unknown = message.params;
    if (typeof params !== 'object' || params === null || !('arguments' in params)) return message;
    const given = params.arguments;
    if (given === undefined || (typeof given === 'object' && given !== null && !Array.isArray(given)))
      return message;
    return { ...message, params: { ...params, arguments: { [SCREENED]: given } } };
  };
}

/** Who made a call, for the audit log. */
export interface Caller {
  /** `name/version` from the client's initialize. */
  client?: string | undefined;
  /** The Streamable HTTP session; none over stdio. */
  session?: string | undefined;
}

/**
 * Runs one tool call end to end; never throws, so every failure reaches the model as a readable result. Every call
 * leaves an audit row (tool, caller, redacted arguments, outcome or error code, duration).
 */
export async function callTool(
  tool: ToolDefinition,
  args: unknown,
  ctx: ToolContext,
  caller: Caller = {},
): Promise<CallToolResult> {
  const started = performance.now();
  const log = ctx.logger;
  try {
    const input = tool.input.safeParse(args);
    if (!input.success) throw inputError(tool, input.error);
    const result = await tool.run(input.data, ctx);
    const checked = tool.output.safeParse(result);
    if (!checked.success) {
      log.error(
        { tool: tool.name, issues: checked.error.issues },
        'tool result does not match its output schema',
      );
      throw new ToolError(
        'INTERNAL_ERROR',
        `${tool.name} produced a malformed result.`,
        'Report this to the operator.',
      );
    }
    // The text stays the JSON of structuredContent, whatever a secret in it looks like.
    const { value: structured, text } = redactJson(checked.data as JsonObject, ctx.redact);
    if (log.isLevelEnabled('debug')) {
      log.debug(
        { tool: tool.name, ms: Math.round(performance.now() - started), bytes: text.length },
        'tool call ok',
      );
    }
    ctx.audit.record({ tool: tool.name, args, ...caller, outcome: 'ok', ms: performance.now() - started });
    return { content: [{ type: 'text', text }], structuredContent: structured };
  } catch (error) {
    const failure = error instanceof ToolError ? error : unexpected(tool, error, log);
    ctx.audit.record({
      tool: tool.name,
      args,
      ...caller,
      outcome: 'error',
      code: failure.code,
      ms: performance.now() - started,
    });
    log.info(
      { tool: tool.name, ms: Math.round(performance.now() - started), code: failure.code },
      'tool call failed',
    );
    const hint = failure.hint === undefined ? '' : `\nHint: ${failure.hint}`;
    return {
      content: [{ type: 'text', text: ctx.redact(`${failure.code}: ${failure.message}${hint}`) }],
      isError: true,
    };
  }
}

function unexpected(tool: ToolDefinition, error: unknown, log: Context['logger']): ToolError {
  log.error({ tool: tool.name, err: error }, 'unexpected error in tool');
  return new ToolError('INTERNAL_ERROR', 'The tool failed unexpectedly; the details are in the server log.');
}

/** Problems and names listed in an error; the rest are counted. A hostile caller may send 20,000 unknown keys. */
const LISTED = 10;

function inputError(tool: ToolDefinition, error: z.ZodError): ToolError {
  const some = (items: readonly string[]): string =>
    [...items.slice(0, LISTED), ...(items.length > LISTED ? [`and ${items.length - LISTED} more`] : [])].join(
      ', ',
    );
  const problems = error.issues.slice(0, LISTED).map(issue => {
    if (issue.code === 'unrecognized_keys')
      return `unknown parameter(s) ${some(issue.keys.map(key => cutLine(key, 64)))}`;
    const where = issue.path.length === 0 ? 'arguments' : cutLine(issue.path.join('.'), 64);
    return `${where}: ${cutLine(issue.message, 200)}`;
  });
  if (error.issues.length > LISTED) problems.push(`and ${error.issues.length - LISTED} more problems`);
  return new ToolError(
    'INVALID_ARGUMENT',
    `Invalid arguments for ${tool.name}: ${problems.join('; ')}.`,
    `Valid parameters: ${Object.keys(tool.input.shape).join(', ')}; see the tool's input schema.`,
  );
}
