// The loop's MCP client: the server built in process and a client linked to it over the in-memory transport,
// so every call the loop or its model makes passes the validation, policy and audit any client's call does.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { JsonSchemaValidator, jsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/types.js';
import type { Context } from '../context.ts';
import { VERSION, createServer } from '../server.ts';

export const CLIENT_NAME = 'devops-mcp-agent';

// The server checks every result against its full zod schema before sending it; the client checking the compact
// published schema again would need Ajv, which the bundle leaves out (see scripts/build.mjs).
const trustServerResults: jsonSchemaValidator = {
  getValidator<T>(): JsonSchemaValidator<T> {
    return input => ({ valid: true, data: input as T, errorMessage: undefined });
  },
};

export interface AgentMcp {
  client: Client;
  /** A tool call's result; a protocol error (an unknown tool) comes back as an error result, as the model sees it. */
  call(name: string, args: Record<string, unknown>, signal?: AbortSignal): Promise<CallToolResult>;
  /** A resource's text. */
  read(uri: string): Promise<string>;
  close(): Promise<void>;
}

export async function connectInProcess(ctx: Context): Promise<AgentMcp> {
  const server = createServer(ctx);
  const client = new Client(
    { name: CLIENT_NAME, version: VERSION },
    { jsonSchemaValidator: trustServerResults },
  );
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await Promise.all([server.connect(serverTransport), client.connect(clientTransport)]);
  return {
    client,
    async call(name, args, signal) {
      try {
        return (await client.callTool({ name, arguments: args }, undefined, {
          ...(signal ? { signal } : {}),
          timeout: 15 * 60_000,
        })) as CallToolResult;
      } catch (error) {
        return { isError: true, content: [{ type: 'text', text: (error as Error).message }] };
      }
    },
    async read(uri) {
      const result = await client.readResource({ uri });
      const first = result.contents[0];
      return first && 'text' in first ? first.text : '';
    },
    async close() {
      await client.close();
      await server.close();
    },
  };
}

export function textOf(result: CallToolResult): string {
  return result.content.map(c => (c.type === 'text' ? c.text : '')).join('\n');
}
