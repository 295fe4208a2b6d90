// Builds one MCP server over the shared context. It does no I/O of its own; transports are the caller's.
//
// It uses the SDK's low-level Server rather than McpServer on purpose: McpServer validates tool input itself
// and answers bad input with a bare message, while devops-mcp's adapter (tools/register.ts) must answer
// with a code and a hint, reject unknown parameters, and keep the published schemas compact.

import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { jsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/types.js';
import pkg from '../package.json' with { type: 'json' };
import type { Context } from './context.ts';
import { minuteLimit, type Logger } from './lib/logger.ts';
import { cutLine } from './lib/logs.ts';
import type { Redactor } from './lib/redact.ts';
import { registerPrompts } from './prompts/investigate-incident.ts';
import { registerIncidentResources } from './resources/incidents.ts';
import { registerTools, type ToolSource } from './tools/register.ts';

export const VERSION: string = pkg.version;

const INSTRUCTIONS =
  'DevOps tools for the services you operate. Discover metric and label names with explore_prometheus, then query_prometheus. Results are bounded summaries: when one says truncated, follow its note. Incidents (grouped alerts) are the resource incident://active and the tools list_incidents/get_incident.';

// This server never asks the client to fill a form, so it needs no JSON Schema engine; skipping the SDK's
// default (Ajv) keeps start-up fast.
const noValidator: jsonSchemaValidator = {
  getValidator: () => () => ({
    valid: false,
    data: undefined,
    errorMessage: 'elicitation is not used by devops-mcp',
  }),
};

/** Characters of a protocol error kept in the log: one may quote a whole message the client sent. */
const MAX_PROBLEM_CHARS = 1000;
/** Protocol errors logged a minute by one server: a client can make the SDK report one for each line it sends. */
const PROBLEMS_PER_MINUTE = 10;

/**
 * What JSON.parse says of an empty or blank line: the SDK's stdio transport parses every line it reads, a blank one
 * too, and reports that as an error; it carries no message, so nothing was dropped. (A line cut off after a colon or
 * comma reads the same, and goes unlogged too.)
 */
const isBlankLine = (error: Error): boolean =>
  error instanceof SyntaxError && error.message === 'Unexpected end of JSON input';

/**
 * Logs the errors the SDK reports, the first PROBLEMS_PER_MINUTE of each minute, each scrubbed before it is cut (a
 * secret across the cut would not match). Those past the limit are counted, in one line when the minute ends.
 */
function problemLog(log: Logger, redact: Redactor): (error: Error) => void {
  const allowed = minuteLimit(PROBLEMS_PER_MINUTE, unlogged => {
    log.warn({ unlogged }, 'MCP messages dropped or failed: %d more this minute, not logged', unlogged);
  });
  return error => {
    if (isBlankLine(error) || !allowed()) return;
    const problem = redact(String(error).replace(/\s+/g, ' '));
    log.warn({ problem: cutLine(problem, MAX_PROBLEM_CHARS) }, 'MCP message dropped or failed');
  };
}

/**
 * The message with an error's text as JSON-RPC wants it. McpError writes "MCP error <code>: " into its message and
 * the SDK sends that message as is; a client builds its own McpError from the reply, so people read "MCP error
 * -32002: MCP error -32002: Resource not found". The code travels beside the message: the text goes without it.
 */
function unprefixed(message: JSONRPCMessage): JSONRPCMessage {
  // A look at two fields, not the SDK's isJSONRPCErrorResponse: that one runs a zod parse of every message sent,
  // each tool result included (measured: +6 MB peak RSS over the bench's calls).
  if (!('error' in message) || typeof message.error.message !== 'string') return message;
  const prefix = `MCP error ${message.error.code}: `;
  if (!message.error.message.startsWith(prefix)) return message;
  return { ...message, error: { ...message.error, message: message.error.message.slice(prefix.length) } };
}

export interface ServerOptions {
  tools?: ToolSource;
}

export function createServer(ctx: Context, options: ServerOptions = {}): Server {
  const server = new Server(
    { name: 'devops-mcp', title: 'devops-mcp', version: VERSION },
    {
      capabilities: {
        tools: { listChanged: false },
        resources: { subscribe: true, listChanged: true },
        prompts: { listChanged: false },
        completions: {},
        logging: {},
      },
      instructions: INSTRUCTIONS,
      jsonSchemaValidator: noValidator,
    },
  );
  const screen = registerTools(
    server,
    options.tools ?? (async () => (await import('./tools/index.ts')).tools),
    ctx,
  );
  registerIncidentResources(server, ctx);
  registerPrompts(server, ctx);
  // Every error the SDK sends, its own (a bad tools/call) as much as the handlers', goes through the transport.
  const connect = server.connect.bind(server);
  server.connect = async transport => {
    const send = transport.send.bind(transport);
    transport.send = (message, options) => send(unprefixed(message), options);
    await connect(transport);
    // The SDK has set its own handler; every message a client sends passes the tools' screen first.
    const receive = transport.onmessage;
    if (receive) {
      transport.onmessage = (message, extra) => {
        receive(screen(message), extra);
      };
    }
  };
  // A line that is not JSON-RPC, a response to no request, a reply that could not be sent: the SDK drops it and
  // says so only here (typescript-sdk#563).
  server.onerror = problemLog(ctx.logger.child({ component: 'mcp' }), ctx.redact);
  return server;
}
