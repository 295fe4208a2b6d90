import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { createHash } from 'node:crypto';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cleanEnv, run, start } from '../support/bin.ts';
import { startMetricsTarget, type MetricsTarget } from '../support/metrics-target.ts';
import { freePort, silentServer, type SilentServer } from '../support/ports.ts';
import { startPrometheus, type PrometheusServer } from '../support/prometheus.ts';
import { waitFor } from '../support/wait.ts';

const SECRET = 'ghp_e2eSecretValue0123456789';

let prometheus: PrometheusServer;
let target: MetricsTarget;
let silent: SilentServer;
let dir: string;

beforeAll(async () => {
  target = await startMetricsTarget();
  target.set('queue_depth', { queue: 'orders' }, 7);
  prometheus = await startPrometheus({ targets: [target.address] });
  for (let i = 0; i < 100; i++) {
    const body = (await (await fetch(`${prometheus.url}/api/v1/query?query=queue_depth`)).json()) as any;
    if (body.data.result.length > 0) break;
    await new Promise(resolve => setTimeout(resolve, 100));
  }
  // Accepts connections and never answers: a hung backend.
  silent = await silentServer();
  dir = await mkdtemp(join(tmpdir(), 'devops-mcp-e2e-'));
});

afterAll(async () => {
  await prometheus.stop();
  await target.close();
  silent.close();
  await rm(dir, { recursive: true, force: true });
});

async function client(env: Record<string, string>): Promise<{ client: Client; stderr: () => string }> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, 'serve'],
    env,
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const c = new Client({ name: 'e2e', version: '1.0.0' });
  await c.connect(transport);
  return { client: c, stderr: () => stderr };
}

const call = async (c: Client, args: Record<string, unknown>) =>
  (await c.callTool({ name: 'query_prometheus', arguments: args })) as CallToolResult;
const text = (result: CallToolResult) => (result.content[0]?.type === 'text' ? result.content[0].text : '');

describe('devops-mcp serve over stdio', () => {
  it('lists its tools compactly and answers queries from a real Prometheus', async () => {
    const { client: c } = await client(cleanEnv({ PROMETHEUS_URL: prometheus.url }));
    const { tools } = await c.listTools();
    expect(tools.map(t => t.name)).toContain('query_prometheus');
    expect(tools.every(t => t.outputSchema?.type === 'object')).toBe(true);
    expect(Buffer.byteLength(JSON.stringify({ tools }))).toBeLessThan(12 * 1024);

    const instant = await call(c, { query: 'queue_depth' });
    expect(instant.isError).toBeFalsy();
    expect(instant.structuredContent).toMatchObject({
      result_type: 'vector',
      series: [{ value: 7, labels: { __name__: 'queue_depth', queue: 'orders', job: 'test' } }],
    });
    expect(JSON.parse(text(instant))).toEqual(instant.structuredContent);

    const range = await call(c, { query: 'queue_depth', start: 'now-5m' });
    expect(range.structuredContent).toMatchObject({ result_type: 'matrix', step: '2s', series_total: 1 });
    expect(range.structuredContent?.start).toMatch(/Z$/);
    await c.close();
  });

  it('answers bad input and a dead backend with tool errors, and keeps serving', async () => {
    const deadPort = await freePort();
    const { client: c } = await client(cleanEnv({ PROMETHEUS_URL: `http://127.0.0.1:${deadPort}` }));
    const bad = await call(c, { query: 'sum(' });
    expect(bad.isError).toBe(true);
    expect(text(bad)).toMatch(/^BACKEND_UNREACHABLE: Prometheus is unreachable: connection refused/);
    const wrong = await call(c, { query: ['up'] });
    expect(text(wrong)).toMatch(/^INVALID_ARGUMENT/);
    const backwards = await call(c, { query: 'up', start: 'now', end: 'now-2h' });
    expect(text(backwards)).toMatch(/^INVALID_ARGUMENT: end .* must be after start/);
    // Still serving after all of that.
    expect((await c.listTools()).tools.length).toBeGreaterThan(1);
    await c.close();
  });

  it("passes on invalid PromQL with Prometheus's errorType", async () => {
    const { client: c } = await client(cleanEnv({ PROMETHEUS_URL: prometheus.url }));
    const result = await call(c, { query: 'sum(rate(queue_depth[5m])' });
    expect(result.isError).toBe(true);
    expect(text(result)).toContain('errorType bad_data');
    await c.close();
  });

  it('gives up on a backend that never answers within its timeout', async () => {
    const config = join(dir, 'slow.json');
    await writeFile(config, JSON.stringify({ prometheus: { url: silent.url, timeoutMs: 500 } }));
    const { client: c } = await client(cleanEnv({ DEVOPS_MCP_CONFIG: config }));
    const result = await call(c, { query: 'up' });
    expect(text(result)).toMatch(/^BACKEND_TIMEOUT: Prometheus did not answer within 500 ms/);
    expect((await c.listTools()).tools.length).toBeGreaterThan(1);
    await c.close();
  });

  it('says what to set when Prometheus is not configured', async () => {
    const { client: c } = await client(cleanEnv());
    expect(text(await call(c, { query: 'up' }))).toContain('not configured: set PROMETHEUS_URL');
    await c.close();
  });

  it('writes only JSON-RPC to stdout, logs to stderr without secrets, and exits 0 when stdin closes', async () => {
    const server = start(
      ['serve'],
      cleanEnv({ PROMETHEUS_URL: prometheus.url, GITHUB_TOKEN: SECRET, LOG_LEVEL: 'debug' }),
    );
    let stdout = '';
    server.child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const lines = [
      {
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 'raw', version: '1' },
        },
      },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      {
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'query_prometheus', arguments: { query: 'queue_depth' } },
      },
      {
        jsonrpc: '2.0',
        id: 3,
        method: 'tools/call',
        params: { name: 'query_prometheus', arguments: { query: 1 } },
      },
    ];
    for (const line of lines) server.child.stdin.write(`${JSON.stringify(line)}\n`);
    await waitFor(() => stdout.split('\n').filter(Boolean).length >= 3);
    server.child.stdin.end();
    expect(await server.exited).toBe(0);
    const messages = stdout
      .split('\n')
      .filter(Boolean)
      .map(line => JSON.parse(line));
    expect(messages.map(m => m.id).sort()).toEqual([1, 2, 3]);
    expect(messages.every(m => m.jsonrpc === '2.0')).toBe(true);
    expect(server.stderr()).toContain('serving MCP over stdio');
    expect(server.stderr()).not.toContain(SECRET);
  });

  it('answers a call already received when stdin closes, before it exits', async () => {
    const config = join(dir, 'slow-close.json');
    await writeFile(config, JSON.stringify({ prometheus: { url: silent.url, timeoutMs: 800 } }));
    const server = start(['serve'], cleanEnv({ DEVOPS_MCP_CONFIG: config }));
    let stdout = '';
    server.child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const init = {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'pipe', version: '1' } },
    };
    const query = {
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: { name: 'query_prometheus', arguments: { query: 'up' } },
    };
    // As `printf '…' | devops-mcp serve` does: everything, then end of input, while the call still waits.
    server.child.stdin.end(
      [init, { jsonrpc: '2.0', method: 'notifications/initialized' }, query]
        .map(line => `${JSON.stringify(line)}\n`)
        .join(''),
    );
    expect(await server.exited).toBe(0);
    const answer = stdout
      .split('\n')
      .filter(Boolean)
      .map(line => JSON.parse(line))
      .find(m => m.id === 2);
    expect(answer?.result?.content?.[0]?.text).toMatch(
      /^BACKEND_TIMEOUT: Prometheus did not answer within 800 ms/,
    );
  });

  it('keeps serving, and records the call, when its arguments nest thousands of levels deep', async () => {
    const env = cleanEnv({ DEVOPS_MCP_DB: join(dir, 'deep.sqlite') });
    const server = start(['serve'], env);
    let stdout = '';
    server.child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const init = {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'pipe', version: '1' } },
    };
    // 10 KB of brackets: past what JSON.stringify can write without overflowing the stack.
    const nested = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    server.child.stdin.write(
      [
        JSON.stringify(init),
        JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
        `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_incidents","arguments":{"status":${nested}}}}`,
      ]
        .map(line => `${line}\n`)
        .join(''),
    );
    await waitFor(() => stdout.includes('"id":2'));
    server.child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'ping' })}\n`);
    await waitFor(() => stdout.includes('"id":3'));
    server.child.stdin.end();
    expect(await server.exited).toBe(0);
    expect(server.stderr()).not.toContain('RangeError');
    const rows = (await run(['audit', 'tail'], env)).stdout;
    const sent = createHash('sha256').update(nested).digest('hex');
    expect(rows).toMatch(
      new RegExp(`list_incidents error INVALID_ARGUMENT .*"sha256":"${sent}","bytes":10000`),
    );
  });

  it('shuts down cleanly, exit 0 and no stack trace, when the client closes its end of stdout', async () => {
    const server = start(['serve'], cleanEnv());
    const send = (message: unknown) => server.child.stdin.write(`${JSON.stringify(message)}\n`);
    send({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'pipe', version: '1' } },
    });
    await waitFor(() => server.stderr().includes('serving MCP'));
    await new Promise(resolve => setTimeout(resolve, 200));
    server.child.stdout.destroy();
    for (let id = 2; id < 20; id++) send({ jsonrpc: '2.0', id, method: 'tools/list' });
    expect(await server.exited).toBe(0);
    expect(server.stderr()).toContain('"reason":"stdout closed (EPIPE)"');
    expect(server.stderr()).not.toMatch(/Unhandled|\n\s+at /);
  });

  it('logs a line it cannot read, scrubbed and cut, and keeps serving', async () => {
    const server = start(['serve'], cleanEnv({ GITHUB_TOKEN: SECRET }));
    let stdout = '';
    server.child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const lines = [
      JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 'pipe', version: '1' },
        },
      }),
      'this is garbage',
      // Blank lines are no messages: nothing is logged for them, however many.
      ...Array.from({ length: 50 }, () => ''),
      '  \r',
      // A response to no request: the SDK quotes all of it. The secret sits across the cut at 1,000 characters.
      JSON.stringify({
        jsonrpc: '2.0',
        id: 99,
        result: { x: `${'x'.repeat(875)}${SECRET}${'y'.repeat(5000)}` },
      }),
      JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' }),
    ];
    server.child.stdin.write(lines.map(line => `${line}\n`).join(''));
    await waitFor(() => stdout.includes('"id":2'));
    server.child.stdin.end();
    expect(await server.exited).toBe(0);
    const warnings = server
      .stderr()
      .split('\n')
      .filter(line => line.includes('MCP message dropped or failed'))
      .map(line => JSON.parse(line));
    expect(warnings.map(w => w.level)).toEqual([40, 40]);
    expect(warnings[0].problem).toMatch(
      /^SyntaxError: Unexpected token .*"this is garbage" is not valid JSON/,
    );
    expect(warnings[1].problem).toContain('[REDACTED]');
    expect(warnings[1].problem.length).toBeLessThan(1100);
    expect(server.stderr()).not.toContain(SECRET.slice(0, 6));
    expect(stdout).toContain('"id":2');
  });

  it('shuts down cleanly on SIGTERM and SIGINT', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const server = start(['serve'], cleanEnv());
      // Signalled before its handlers are in place, a process just dies: wait for them, however loaded the machine.
      await waitFor(() => server.stderr().includes('serving MCP'));
      expect(await server.kill(signal)).toBe(0);
      expect(server.stderr()).toContain('shutting down');
    }
  });
});
