// What createServer adds around the handlers: protocol errors as clients read them, and a log of what it drops.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { createContext, type Context } from '../../src/context.ts';
import { createServer } from '../../src/server.ts';
import { logSink } from '../support/logs.ts';

const SECRET = 'ghp_ServerT0kenEEEEEEEEEEEEEEEEEEEEEEEEEE';

let ctx: Context;
let client: Client;
let clientTransport: InMemoryTransport;
let logs: string[];

beforeEach(async () => {
  logs = [];
  ctx = createContext(await loadConfig({ env: { GITHUB_TOKEN: SECRET, DEVOPS_MCP_DB: ':memory:' } }), {
    logDestination: logSink(logs).destination,
  });
  const server = createServer(ctx);
  client = new Client({ name: 'test', version: '1' });
  const [a, b] = InMemoryTransport.createLinkedPair();
  clientTransport = a;
  await Promise.all([client.connect(a), server.connect(b)]);
});

afterEach(async () => {
  vi.useRealTimers();
  await client.close();
  await ctx.close();
});

/** The message of the error a call rejects with, as the SDK client builds it from the reply. */
const messageOf = async (call: Promise<unknown>): Promise<string> => {
  try {
    await call;
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('the call did not fail');
};

describe('protocol errors', () => {
  it('reach the client with "MCP error <code>:" once', async () => {
    const messages = [
      await messageOf(client.readResource({ uri: 'x://y' })),
      await messageOf(client.subscribeResource({ uri: 'incident://404' })),
      await messageOf(client.getPrompt({ name: 'nope' })),
      await messageOf(client.getPrompt({ name: 'investigate_incident', arguments: { id: 'abc' } })),
      await messageOf(client.callTool({ name: 'drop_database', arguments: {} })),
    ];
    expect(messages[0]).toMatch(/^MCP error -32002: Resource not found: x:\/\/y\. /);
    expect(messages[2]).toMatch(/^MCP error -32602: Unknown prompt: nope\. /);
    expect(messages[4]).toMatch(/^MCP error -32602: Unknown tool: "drop_database"\. /);
    for (const message of messages) expect(message.match(/MCP error/g)).toHaveLength(1);
  });

  it("quote the caller's argument only so far", async () => {
    const id = `${'9'.repeat(20)}${'x'.repeat(1_000_000)}`;
    const prompt = await messageOf(client.getPrompt({ name: 'investigate_incident', arguments: { id } }));
    expect(prompt.length).toBeLessThan(300);
    expect(prompt).toContain(`(got "${'9'.repeat(20)}`);
    const name = await messageOf(client.getPrompt({ name: 'p'.repeat(1_000_000) }));
    expect(name.length).toBeLessThan(300);
    const uri = await messageOf(client.readResource({ uri: `incident://${'z'.repeat(1_000_000)}` }));
    expect(uri.length).toBeLessThan(500);
  });
});

describe('messages the SDK drops', () => {
  it('are logged at warn, scrubbed before they are cut', async () => {
    // A response to no request: the SDK drops it and reports the whole message. The token sits across the cut.
    const filler = 'x'.repeat(870);
    await clientTransport.send({
      jsonrpc: '2.0',
      id: 999,
      result: { filler, more: `${SECRET}${'y'.repeat(5000)}` },
    });
    await new Promise(resolve => setImmediate(resolve));
    const line = logs.find(l => l.includes('MCP message dropped or failed'));
    expect(line).toBeDefined();
    const entry = JSON.parse(line ?? '{}');
    expect(entry.level).toBe(40);
    expect(entry.problem).toMatch(/^Error: Received a response for an unknown message ID/);
    expect(entry.problem).toContain('[REDACTED]');
    expect(entry.problem).not.toContain(SECRET.slice(0, 6));
    expect(entry.problem.length).toBeLessThan(1100);
  });

  it('are logged ten a minute, then counted in one line when the minute ends', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    const unknown = (id: number) => clientTransport.send({ jsonrpc: '2.0', id: 1000 + id, result: {} });
    const dropped = () => logs.filter(l => l.includes('MCP message dropped or failed'));
    const counted = () => logs.filter(l => l.includes('not logged')).map(l => JSON.parse(l));
    for (let i = 0; i < 100; i++) await unknown(i);
    await new Promise(resolve => setImmediate(resolve));
    expect(dropped()).toHaveLength(10);
    expect(counted()).toEqual([]);
    vi.advanceTimersByTime(60_000);
    expect(counted()).toHaveLength(1);
    expect(counted()[0]).toMatchObject({ level: 40, unlogged: 90 });
    // A new minute: ten more logged.
    for (let i = 0; i < 20; i++) await unknown(i);
    await new Promise(resolve => setImmediate(resolve));
    expect(dropped()).toHaveLength(20);
  });
});
