// An in-process MCP client connected to a devops-mcp server over the SDK's in-memory transport.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { loadConfig } from '../../src/config.ts';
import { createContext, type Context } from '../../src/context.ts';
import { createServer } from '../../src/server.ts';
import { processOwner } from '../../src/lib/owner.ts';
import { logSink } from './logs.ts';

export interface Connected {
  client: Client;
  ctx: Context;
  /** Log lines the server wrote. */
  logs: string[];
  call(name: string, args: Record<string, unknown>): Promise<CallToolResult>;
  close(): Promise<void>;
}

export async function connect(
  env: Record<string, string | undefined>,
  now?: () => number,
): Promise<Connected> {
  const config = await loadConfig({ env });
  const { destination, lines: logs } = logSink();
  const ctx = createContext(config, {
    now,
    logDestination: destination,
    owner: processOwner(),
  });
  const server = createServer(ctx);
  const client = new Client({ name: 'test', version: '1.0.0' });
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await Promise.all([client.connect(clientTransport), server.connect(serverTransport)]);
  return {
    client,
    ctx,
    logs,
    call: async (name, args) => (await client.callTool({ name, arguments: args })) as CallToolResult,
    async close() {
      await client.close();
      await server.close();
      await ctx.close();
    },
  };
}

/** The text of a result's first content block. */
export function textOf(result: CallToolResult): string {
  const first = result.content[0];
  return first?.type === 'text' ? first.text : '';
}
