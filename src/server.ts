// Builds one MCP server over the shared context. It does no I/O of its own; transports are the caller's.
//
// It uses the SDK's low-level Server rather than McpServer on purpose: McpServer validates tool input itself
// and answers bad input with a bare message, while devops-mcp's adapter (tools/register.ts) must answer
// with a code and a hint, reject unknown parameters, and keep the published schemas compact.

import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { jsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/types.js';
import pkg from '../package.json' with { type: 'json' };
import type { Context } from './context.ts';
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
  registerTools(server, options.tools ?? (async () => (await import('./tools/index.ts')).tools), ctx);
  registerIncidentResources(server, ctx);
  registerPrompts(server, ctx);
  return server;
}
