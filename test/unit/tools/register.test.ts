import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { CallToolResultSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadConfig } from '../../../src/config.ts';
import { createContext } from '../../../src/context.ts';
import { ToolError } from '../../../src/lib/errors.ts';
import { createServer } from '../../../src/server.ts';
import { defineTool, type ToolDefinition } from '../../../src/tools/define.ts';
import { connect, textOf, type Connected } from '../../support/mcp.ts';
import { logSink } from '../../support/logs.ts';
import { waitFor } from '../../support/wait.ts';

const annotations = {
  readOnlyHint: true,
  destructiveHint: false,
  idempotentHint: true,
  openWorldHint: false,
};

const echo = defineTool({
  name: 'echo_secret',
  title: 'Echo',
  description: 'test tool',
  input: z.strictObject({ mode: z.enum(['ok', 'boom', 'tool-error', 'malformed']) }),
  output: z.object({ said: z.string() }),
  annotations,
  async run(input, ctx) {
    await Promise.resolve();
    if (input.mode === 'boom') throw new Error(`kaboom with ${ctx.config.github.token ?? ''}`);
    if (input.mode === 'tool-error') throw new ToolError('QUERY_ERROR', 'bad query', 'try another');
    if (input.mode === 'malformed') return { said: 42 } as unknown as { said: string };
    return { said: `the token is ${ctx.config.github.token ?? ''}` };
  },
});

async function withTools(tools: ToolDefinition[], env: Record<string, string>) {
  const logs: string[] = [];
  const ctx = createContext(await loadConfig({ env }), {
    logDestination: logSink(logs).destination,
  });
  const server = createServer(ctx, { tools });
  const client = new Client({ name: 't', version: '1' });
  const [a, b] = InMemoryTransport.createLinkedPair();
  await Promise.all([client.connect(a), server.connect(b)]);
  return {
    logs,
    call: async (args: unknown) =>
      (await client.callTool({
        name: 'echo_secret',
        arguments: args as Record<string, unknown>,
      })) as CallToolResult,
    close: async () => {
      await client.close();
      await server.close();
    },
  };
}

let session: Connected | undefined;
afterEach(async () => {
  await session?.close();
  session = undefined;
});

describe('tools/list', () => {
  it('publishes every tool with its schemas and annotations, compactly', async () => {
    session = await connect({});
    const { tools } = await session.client.listTools();
    expect(tools.map(t => t.name)).toEqual([
      'query_prometheus',
      'explore_prometheus',
      'search_loki',
      'explore_loki',
      'predictor_health',
      'run_sandbox_test',
      'open_pr',
      'read_repo',
      'list_incidents',
      'get_incident',
      'annotate_incident',
    ]);
    const query = tools[0];
    expect(query?.inputSchema).toMatchObject({
      type: 'object',
      required: ['query'],
      additionalProperties: false,
    });
    expect(Object.keys(query?.inputSchema.properties ?? {})).toEqual([
      'query',
      'time',
      'start',
      'end',
      'step',
      'format',
    ]);
    expect(query?.outputSchema?.type).toBe('object');
    // Result fields are named and typed; which are always present is left to the zod check of each result.
    expect(query?.outputSchema).not.toHaveProperty('required');
    // Hints equal to the specification's defaults are not sent; a read-only tool's other hints mean nothing.
    expect(query?.annotations).toEqual({ readOnlyHint: true });
    // run_sandbox_test may read its source from GitHub: an open world.
    expect(tools.find(tool => tool.name === 'run_sandbox_test')?.annotations).toEqual({
      destructiveHint: false,
      idempotentHint: true,
    });
    // Tool definitions are paid for on every LLM turn; the finished project must stay under 12 KB.
    expect(Buffer.byteLength(JSON.stringify({ tools }))).toBeLessThan(12 * 1024);
  });
});

describe('tool calls', () => {
  it('answers "not configured" naming the setting when Prometheus is not set up', async () => {
    session = await connect({});
    const result = await session.call('query_prometheus', { query: 'up' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(
      /^NOT_CONFIGURED: Prometheus is not configured: set PROMETHEUS_URL\nHint: /,
    );
  });

  it('turns wrong types and unknown parameters into INVALID_ARGUMENT with the valid names', async () => {
    session = await connect({ PROMETHEUS_URL: 'http://127.0.0.1:9' });
    const wrongType = await session.call('query_prometheus', { query: 42 });
    expect(wrongType.isError).toBe(true);
    expect(textOf(wrongType)).toContain('INVALID_ARGUMENT: Invalid arguments for query_prometheus: query:');
    expect(textOf(wrongType)).toContain('Valid parameters: query, time, start, end, step, format');
    const unknown = await session.call('query_prometheus', { query: 'up', datasource: 'x' });
    expect(textOf(unknown)).toContain('unknown parameter(s) datasource');
    const empty = await session.call('query_prometheus', { query: '   ' });
    expect(empty.isError).toBe(true);
  });

  it('never echoes a flood of arguments back: names, problems and values are listed up to a bound', async () => {
    session = await connect({ PROMETHEUS_URL: 'http://127.0.0.1:9' });
    const keys = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}${'x'.repeat(50)}`, 1]));
    const flood = await session.call('query_prometheus', { query: 'up', ...keys });
    expect(textOf(flood)).toContain('and 19990 more');
    const huge = await session.call('query_prometheus', { query: 'up', time: 'x'.repeat(1_000_000) });
    expect(textOf(huge)).toContain('(1000000 characters) is not a time I understand');
    for (const result of [flood, huge]) expect(Buffer.byteLength(textOf(result))).toBeLessThan(2048);
  });

  it('coerces numeric strings where a number is expected', async () => {
    session = await connect({ PROMETHEUS_URL: 'http://127.0.0.1:9' });
    const result = await session.call('explore_prometheus', { limit: '20' });
    // Gets past validation to the (unreachable) backend.
    expect(textOf(result)).toMatch(/^BACKEND_UNREACHABLE/);
  });

  it('rejects an unknown tool as a protocol error', async () => {
    session = await connect({});
    await expect(session.call('drop_database', {})).rejects.toThrow(/Unknown tool: "drop_database"/);
  });

  it('answers arguments that are not an object as a bad argument, and records each call', async () => {
    const ctx = createContext(await loadConfig({ env: {} }), { logDestination: logSink().destination });
    const server = createServer(ctx, { tools: [echo] });
    const client = new Client({ name: 't', version: '1' });
    const [a, b] = InMemoryTransport.createLinkedPair();
    await Promise.all([client.connect(a), server.connect(b)]);
    const sent: unknown[] = ['x', [1], null, 5];
    for (const args of sent) {
      const result = await client.request(
        { method: 'tools/call', params: { name: 'echo_secret', arguments: args as Record<string, unknown> } },
        CallToolResultSchema,
      );
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/^INVALID_ARGUMENT: Invalid arguments for echo_secret: /);
    }
    // An unknown tool sent such arguments is still an unknown tool.
    await expect(
      client.request(
        {
          method: 'tools/call',
          params: { name: 'nope', arguments: 'x' as unknown as Record<string, unknown> },
        },
        CallToolResultSchema,
      ),
    ).rejects.toThrow(/Unknown tool: "nope"/);
    // And a well-formed call after them is served as usual.
    const ok = (await client.callTool({ name: 'echo_secret', arguments: { mode: 'ok' } })) as CallToolResult;
    expect(textOf(ok)).toContain('said');
    await ctx.audit.flush();
    const rows = (await ctx.store()).audit.tail(10);
    expect(rows.map(row => [row.tool, row.code, row.args])).toEqual([
      ['echo_secret', 'INVALID_ARGUMENT', '"x"'],
      ['echo_secret', 'INVALID_ARGUMENT', '[1]'],
      ['echo_secret', 'INVALID_ARGUMENT', 'null'],
      ['echo_secret', 'INVALID_ARGUMENT', '5'],
      ['nope', 'UNKNOWN_TOOL', '"x"'],
      ['echo_secret', null, '{"mode":"ok"}'],
    ]);
    await client.close();
    await server.close();
    await ctx.close();
  });

  it('judges each call on its own arguments, whatever ids a client reuses or leaves unanswered', async () => {
    const ctx = createContext(await loadConfig({ env: {} }), { logDestination: logSink().destination });
    const server = createServer(ctx, { tools: [echo] });
    const [a, b] = InMemoryTransport.createLinkedPair();
    const answers = new Map<unknown, unknown[]>();
    a.onmessage = message => {
      if ('id' in message) answers.set(message.id, [...(answers.get(message.id) ?? []), message]);
    };
    await server.connect(b);
    await a.start();
    const send = (message: Record<string, unknown>) => a.send({ jsonrpc: '2.0', ...message } as never);
    await send({
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
    });
    await send({ method: 'notifications/initialized' });
    // No name: refused before any handler runs, with its arguments never read.
    await send({ id: 5, method: 'tools/call', params: { arguments: 'stale' } });
    await waitFor(() => answers.has(5));
    // The same id again, well-formed this time.
    await send({ id: 5, method: 'tools/call', params: { name: 'echo_secret', arguments: { mode: 'ok' } } });
    // And many malformed calls at once, then a good one.
    for (let id = 100; id < 250; id++)
      await send({ id, method: 'tools/call', params: { name: 'echo_secret', arguments: 'x' } });
    await send({ id: 250, method: 'tools/call', params: { name: 'echo_secret', arguments: { mode: 'ok' } } });
    await waitFor(() => answers.has(250) && (answers.get(5)?.length ?? 0) === 2);
    const text = (id: number, n = 0) => JSON.stringify(answers.get(id)?.[n]);
    expect(text(5, 1)).toContain('the token is');
    for (let id = 100; id < 250; id++) expect(text(id)).toContain('INVALID_ARGUMENT');
    expect(text(250)).toContain('the token is');
    await server.close();
    await ctx.close();
  });

  it('scrubs configured secrets from client and tool names before the audit log keeps them', async () => {
    const token = 'ghp_abcdef0123456789abcdef0123456789';
    const ctx = createContext(await loadConfig({ env: { GITHUB_TOKEN: token } }), {
      logDestination: logSink().destination,
    });
    const server = createServer(ctx, { tools: [echo] });
    const client = new Client({ name: `evil-${token}`, version: token });
    const [a, b] = InMemoryTransport.createLinkedPair();
    await Promise.all([client.connect(a), server.connect(b)]);
    await expect(client.callTool({ name: `x_${token}`, arguments: {} })).rejects.toThrow(
      /Unknown tool: "x_\[REDACTED\]"/,
    );
    await client.callTool({ name: 'echo_secret', arguments: { [token]: 'v', mode: 'ok' } });
    await ctx.audit.flush();
    const rows = (await ctx.store()).audit.tail(2);
    expect(JSON.stringify(rows)).not.toContain(token.slice(4));
    expect(rows[0]).toMatchObject({ tool: 'x_[REDACTED]', client: 'evil-[REDACTED]/[REDACTED]' });
    expect(JSON.parse(rows[1]?.args ?? '')).toEqual({ '[REDACTED]': 'v', mode: 'ok' });
    await client.close();
    await server.close();
    await ctx.close();
  });

  it('keeps at most 128 characters of a client name and of an unknown tool name in the audit log, marked', async () => {
    const ctx = createContext(await loadConfig({ env: {} }), {
      logDestination: logSink().destination,
    });
    const server = createServer(ctx);
    const client = new Client({ name: 'c'.repeat(5000), version: '1' });
    const [a, b] = InMemoryTransport.createLinkedPair();
    await Promise.all([client.connect(a), server.connect(b)]);
    await expect(client.callTool({ name: 't'.repeat(10_000), arguments: {} })).rejects.toThrow(
      /Unknown tool/,
    );
    await ctx.audit.flush();
    const [row] = (await ctx.store()).audit.tail(1);
    expect(row?.tool).toBe(`${'t'.repeat(128)}… [+9872 chars]`);
    expect(row?.client).toBe(`${'c'.repeat(128)}… [+4874 chars]`);
    await client.close();
    await server.close();
    await ctx.close();
  });

  it('keeps secrets out of results, errors and logs', async () => {
    const secret = 'ghp_0123456789abcdef';
    const t = await withTools([echo], { GITHUB_TOKEN: secret, LOG_LEVEL: 'debug' });
    const ok = await t.call({ mode: 'ok' });
    expect(textOf(ok)).toBe('{"said":"the token is [REDACTED]"}');
    expect(ok.structuredContent).toEqual({ said: 'the token is [REDACTED]' });
    const boom = await t.call({ mode: 'boom' });
    expect(textOf(boom)).toBe(
      'INTERNAL_ERROR: The tool failed unexpectedly; the details are in the server log.',
    );
    expect(t.logs.join('')).toContain('kaboom with [REDACTED]');
    expect(t.logs.join('')).not.toContain(secret);
    await t.close();
  });

  it('scrubs a secret that is also a number in the result without breaking its JSON', async () => {
    const numbers = defineTool({
      ...echo,
      name: 'echo_secret',
      output: z.object({ id: z.number(), said: z.string() }),
      async run() {
        await Promise.resolve();
        return { id: 98765432, said: 'pin 98765432' };
      },
    });
    // A basic-auth password of digits only: a real credential, and the digits of an id in a result.
    const t = await withTools([numbers], { PROMETHEUS_URL: 'http://ops:98765432@127.0.0.1:9' });
    const ok = await t.call({ mode: 'ok' });
    expect(ok.isError, textOf(ok)).toBeFalsy();
    expect(JSON.parse(textOf(ok))).toEqual({ id: 98765432, said: 'pin [REDACTED]' });
    expect(ok.structuredContent).toEqual({ id: 98765432, said: 'pin [REDACTED]' });
    await t.close();
  });

  it('renders a ToolError with its code and hint, and refuses a malformed result', async () => {
    const t = await withTools([echo], {});
    expect(textOf(await t.call({ mode: 'tool-error' }))).toBe('QUERY_ERROR: bad query\nHint: try another');
    const malformed = await t.call({ mode: 'malformed' });
    expect(malformed.isError).toBe(true);
    expect(textOf(malformed)).toMatch(/^INTERNAL_ERROR: echo_secret produced a malformed result/);
    await t.close();
  });
});
