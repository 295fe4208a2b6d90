// devops-mcp benchmarks (not part of `npm test`): cold start, call latency, peak RSS and result size, each
// against a reference, in one run against the same real Prometheus. Prints figures and ratios.
//   node bench/run.ts            (after `npm run build`)

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, get } from 'node:http';
import { makeBackfill } from '../test/support/backfill.ts';
import { startMetricsTarget } from '../test/support/metrics-target.ts';
import { startPrometheus } from '../test/support/prometheus.ts';

const root = join(import.meta.dirname, '..');
const bin = join(root, 'bin', 'devops-mcp.js');
if (!existsSync(join(root, 'dist', 'cli.js'))) throw new Error('run `npm run build` first');

const COLD_RUNS = 21;
const CALLS = 1000;
// A server runs for hours: measure it warm, as TurboFan leaves it after a few hundred calls.
const WARMUP = 500;

const median = (values: number[]): number => {
  const sorted = values.toSorted((a, b) => a - b);
  return sorted[sorted.length >> 1] ?? Number.NaN;
};
const ms = (value: number) => `${value.toFixed(value < 1 ? 2 : 1)} ms`;
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

const INIT = `${JSON.stringify({
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '1' } },
})}\n`;

/** Milliseconds from spawn to the initialize result on stdout. */
async function coldStart(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, args, { env, stdio: ['pipe', 'pipe', 'ignore'] });
  child.stdin.write(INIT);
  await new Promise(resolve => child.stdout.once('data', resolve));
  const elapsed = performance.now() - started;
  const exited = new Promise(resolve => child.once('exit', resolve));
  child.kill();
  await exited;
  return elapsed;
}

async function coldStarts(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < COLD_RUNS; i++) times.push(await coldStart(args, env));
  return median(times);
}

/** A bare JSON-RPC-over-stdio driver: what the server costs, without an SDK client's own work on top. */
function driver(child: { stdout: NodeJS.ReadableStream; stdin: NodeJS.WritableStream }) {
  let buffer = '';
  let nextId = 1;
  const waiting = new Map<number, (message: any) => void>();
  child.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      const message = JSON.parse(line);
      waiting.get(message.id)?.(message);
      waiting.delete(message.id);
    }
  });
  return {
    request(method: string, params: unknown): Promise<any> {
      const id = nextId++;
      child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
      return new Promise(resolve => waiting.set(id, resolve));
    },
    notify(method: string) {
      child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method })}\n`);
    },
  };
}

/** Peak RSS (VmHWM), and how much of the RSS now is file-backed: pages of the mapped `node` binary and libraries. */
function rssOf(pid: number): { peak: number; file: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kB = (field: string) =>
    Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN) * 1024;
  return { peak: kB('VmHWM'), file: kB('RssFile') };
}

const now = Date.now() / 1000;
const data = makeBackfill(now);
const target = await startMetricsTarget();
for (let i = 0; i < 5; i++) target.set('bench_up', { shard: String(i) }, 1);
const prometheus = await startPrometheus({ targets: [target.address], backfill: data.text });
for (let i = 0; i < 100; i++) {
  const body = (await (await fetch(`${prometheus.url}/api/v1/query?query=bench_up`)).json()) as any;
  if (body.data.result.length > 0) break;
  await new Promise(resolve => setTimeout(resolve, 100));
}
// A store file of its own (the audit log is written on every call), not the user's state directory.
const storeDir = mkdtempSync(join(tmpdir(), 'devops-mcp-bench-'));
const env = {
  ...process.env,
  PROMETHEUS_URL: prometheus.url,
  LOG_LEVEL: 'warn',
  DEVOPS_MCP_DB: join(storeDir, 'devops-mcp.db'),
};

try {
  // (a) cold start
  await coldStart([bin, 'serve'], env); // fills Node's compile cache, as any second start would find it
  const bare = await coldStarts(
    ['-e', 'process.stdin.once("data", () => process.stdout.write("{}\\n"))'],
    env,
  );
  const minimal = await coldStarts([join(root, 'bench', 'peers', 'minimal-sdk-server.mjs')], env);
  const ours = await coldStarts([bin, 'serve'], env);

  // (b) latency, (c) peak RSS, (d) bytes, on one long-lived server
  const server = spawn(process.execPath, [bin, 'serve'], { env, stdio: ['pipe', 'pipe', 'inherit'] });
  const rpc = driver(server);
  await rpc.request('initialize', JSON.parse(INIT).params);
  rpc.notify('notifications/initialized');
  const instant = { name: 'query_prometheus', arguments: { query: 'bench_up' } };
  // The reference: the same query as a plain keep-alive GET from this process, over the same HTTP stack.
  const agent = new Agent({ keepAlive: true });
  const fetchText = (path: string) =>
    new Promise<string>((resolve, reject) => {
      get(`${prometheus.url}${path}`, { agent }, response => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => {
          resolve(text);
        });
      }).on('error', reject);
    });
  const rawPath = `/api/v1/query?query=bench_up&time=${now.toFixed(3)}`;
  const raw = () => fetchText(rawPath);
  const callTimes: number[] = [];
  const rawTimes: number[] = [];
  for (let i = 0; i < WARMUP; i++) {
    await rpc.request('tools/call', instant);
    await raw();
  }
  // Alternating blocks, so that both see the same machine load without each call waking the other process.
  const BLOCK = 50;
  for (let done = 0; done < CALLS; done += BLOCK) {
    for (let i = 0; i < BLOCK; i++) {
      const t = performance.now();
      const result = await rpc.request('tools/call', instant);
      callTimes.push(performance.now() - t);
      if (result.result?.isError) throw new Error(JSON.stringify(result));
    }
    for (let i = 0; i < BLOCK; i++) {
      const t = performance.now();
      await raw();
      rawTimes.push(performance.now() - t);
    }
  }

  // The floor of any stdio MCP server: one JSON-RPC round trip over the pipes that does no work (ping). A
  // tool call can never be faster than that plus the backend's own answer.
  const pingTimes: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    const t = performance.now();
    await rpc.request('ping', {});
    pingTimes.push(performance.now() - t);
  }

  const rangeArgs = { query: 'fleet_load', start: data.fleetStart, end: data.fleetEnd, step: 1 };
  const range = await rpc.request('tools/call', { name: 'query_prometheus', arguments: rangeArgs });
  const rangeText: string = range.result.content[0].text;
  const rawRange = await fetchText(
    `/api/v1/query_range?query=fleet_load&start=${data.fleetStart}&end=${data.fleetEnd}&step=1`,
  );
  const rawRangeBytes = Buffer.byteLength(rawRange);
  for (let i = 0; i < 20; i++)
    await rpc.request('tools/call', { name: 'query_prometheus', arguments: rangeArgs });
  const rss = rssOf(server.pid ?? 0);

  // The memory reference: the minimal SDK server (one echo tool, no backend) after as many calls as ours got.
  const peer = spawn(process.execPath, [join(root, 'bench', 'peers', 'minimal-sdk-server.mjs')], {
    env,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const peerRpc = driver(peer);
  await peerRpc.request('initialize', JSON.parse(INIT).params);
  peerRpc.notify('notifications/initialized');
  for (let i = 0; i < WARMUP + CALLS + 21; i++) {
    await peerRpc.request('tools/call', { name: 'echo', arguments: { text: 'bench_up' } });
  }
  const peerRss = rssOf(peer.pid ?? 0);
  peer.kill();
  const tools = await rpc.request('tools/list', {});
  const toolsBytes = Buffer.byteLength(JSON.stringify(tools.result));
  server.kill();
  agent.destroy();

  const rows: Array<[string, string, string, string]> = [
    [
      'cold start to initialize result',
      ms(ours),
      `node -e: ${ms(bare)}; minimal SDK server: ${ms(minimal)}`,
      `${(ours / minimal).toFixed(2)}× minimal SDK (target ≤ 150 ms)`,
    ],
    [
      'instant query_prometheus, median',
      ms(median(callTimes)),
      `raw HTTP GET: ${ms(median(rawTimes))}`,
      `${(median(callTimes) / median(rawTimes)).toFixed(2)}× raw (target ≤ 1.25×)`,
    ],
    [
      'stdio round trip (ping), median',
      ms(median(pingTimes)),
      `floor of a call: ping + raw GET = ${((median(pingTimes) + median(rawTimes)) / median(rawTimes)).toFixed(2)}× raw`,
      `server work per call: ${ms(median(callTimes) - median(pingTimes) - median(rawTimes))}`,
    ],
    [
      'peak RSS of the server',
      `${mb(rss.peak)} (file-backed now: ${mb(rss.file)})`,
      `minimal SDK server, same number of calls: ${mb(peerRss.peak)} (file-backed: ${mb(peerRss.file)})`,
      `${(rss.peak / peerRss.peak).toFixed(2)}× minimal SDK (target ≤ 80 MB)`,
    ],
    [
      '10 min × 1 s × 40 series, text',
      kb(Buffer.byteLength(rangeText)),
      `raw Prometheus JSON: ${kb(rawRangeBytes)}`,
      `${(rawRangeBytes / Buffer.byteLength(rangeText)).toFixed(0)}× smaller (target ≤ 8 KB)`,
    ],
    ['tools/list', kb(toolsBytes), '', 'budget for the finished project: 12 KB'],
  ];
  process.stdout.write(
    `devops-mcp bench (node ${process.version}, ${CALLS} calls, ${COLD_RUNS} cold starts)\n\n`,
  );
  process.stdout.write('| measure | devops-mcp | reference | ratio / target |\n| --- | --- | --- | --- |\n');
  for (const row of rows) process.stdout.write(`| ${row.join(' | ')} |\n`);
} finally {
  await prometheus.stop();
  await target.close();
  rmSync(storeDir, { recursive: true, force: true });
}
