// A Loki HTTP API double: the endpoints devops-mcp uses, in Loki's wire format, on a free loopback port.
// Shapes follow Loki's HTTP API reference (fixtures/loki-http-api-examples.json holds its examples, and
// contract.test.ts holds the double to them); errors are plain text, as Loki writes them.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import {
  durationSeconds,
  LokiHttpError,
  parseQuery,
  runPipeline,
  selects,
  type Labels,
  type LogSelection,
  type MetricExpr,
} from './logql.ts';

export interface PushStream {
  stream: Labels;
  values: Array<[string, string] | [string, string, Record<string, string>]>;
}

export interface LokiDouble {
  url: string;
  port: number;
  /** Every request received, for assertions on what a client sent. */
  requests: Array<{ method: string; path: string; query: URLSearchParams }>;
  push(streams: PushStream[]): void;
  /** Answer every query endpoint with this status and body (after a delay) until cleared with null. */
  setFault(fault: { status?: number; body?: string; delayMs?: number } | null): void;
  reset(): void;
  close(): Promise<void>;
}

export interface LokiDoubleOptions {
  maxEntriesLimitPerQuery?: number;
  maxQueryLengthHours?: number;
}

interface Entry {
  /** Nanoseconds. */
  ns: bigint;
  line: string;
}

const NS = 1_000_000_000n;
const MAX_POINTS = 11_000;

/** Loki's time parameters: nanosecond epochs, ≤ 10-digit integers as seconds, floats as seconds, or RFC 3339. */
export function parseLokiTime(value: string | null, fallback: bigint): bigint {
  if (value === null || value === '') return fallback;
  if (/^\d+$/.test(value)) return value.length <= 10 ? BigInt(value) * NS : BigInt(value);
  if (/^\d+\.\d+$/.test(value)) return BigInt(Math.round(Number(value) * 1e9));
  const ms = Date.parse(value);
  if (Number.isNaN(ms))
    throw new LokiHttpError(400, `invalid parameter: cannot parse "${value}" to a valid timestamp`);
  return BigInt(ms) * 1_000_000n;
}

function formatGoDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.round(seconds % 60);
  return `${h}h${m}m${s}s`;
}

function emptyStats(lines: number, bytes: number, returned: number) {
  return {
    ingester: {
      compressedBytes: 0,
      decompressedBytes: bytes,
      decompressedLines: lines,
      headChunkBytes: bytes,
      headChunkLines: lines,
      totalBatches: 1,
      totalChunksMatched: lines > 0 ? 1 : 0,
      totalDuplicates: 0,
      totalLinesSent: returned,
      totalReached: 1,
    },
    store: {
      compressedBytes: 0,
      decompressedBytes: 0,
      decompressedLines: 0,
      chunksDownloadTime: 0,
      totalChunksRef: 0,
      totalChunksDownloaded: 0,
      totalDuplicates: 0,
    },
    summary: {
      bytesProcessedPerSecond: bytes * 1000,
      execTime: 0.001,
      linesProcessedPerSecond: lines * 1000,
      queueTime: 0,
      totalBytesProcessed: bytes,
      totalLinesProcessed: lines,
      totalEntriesReturned: returned,
    },
  };
}

export async function startLokiDouble(options: LokiDoubleOptions = {}): Promise<LokiDouble> {
  const maxEntries = options.maxEntriesLimitPerQuery ?? 5000;
  const maxLengthSeconds = (options.maxQueryLengthHours ?? 721) * 3600;
  const streams = new Map<string, { labels: Labels; entries: Entry[] }>();
  const requests: LokiDouble['requests'] = [];
  let fault: { status?: number; body?: string; delayMs?: number } | null = null;

  function push(body: PushStream[]): void {
    for (const s of body) {
      const key = JSON.stringify(Object.entries(s.stream).sort(([a], [b]) => a.localeCompare(b)));
      const stream = streams.get(key) ?? { labels: { ...s.stream }, entries: [] };
      for (const [ns, line] of s.values) stream.entries.push({ ns: BigInt(ns), line });
      stream.entries.sort((a, b) => (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : 0));
      streams.set(key, stream);
    }
  }

  /** Entries of matching streams in [from, to), through the pipeline, with their resulting labels. */
  function select(sel: LogSelection, from: bigint, to: bigint) {
    const out: Array<{ labels: Labels; entry: Entry }> = [];
    let scannedLines = 0;
    let scannedBytes = 0;
    for (const stream of streams.values()) {
      if (!selects(sel.matchers, stream.labels)) continue;
      for (const entry of stream.entries) {
        if (entry.ns < from || entry.ns >= to) continue;
        scannedLines++;
        scannedBytes += Buffer.byteLength(entry.line);
        const labels = runPipeline(sel.stages, stream.labels, entry.line);
        if (labels) out.push({ labels, entry });
      }
    }
    return { out, scannedLines, scannedBytes };
  }

  type Vector = Map<string, { labels: Labels; value: number }>;
  const counters = { lines: 0, bytes: 0 };

  function evaluate(expr: MetricExpr, at: bigint): Vector {
    const result: Vector = new Map();
    if (expr.type === 'range') {
      const from = at - BigInt(Math.round(expr.range * 1e9));
      // Loki's range is (t - range, t]: shift both ends by one nanosecond for the half-open select.
      const { out, scannedLines, scannedBytes } = select(expr.selection, from + 1n, at + 1n);
      counters.lines += scannedLines;
      counters.bytes += scannedBytes;
      for (const { labels, entry } of out) {
        const key = JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
        const sample = result.get(key) ?? { labels, value: 0 };
        sample.value += expr.op.startsWith('bytes') ? Buffer.byteLength(entry.line) : 1;
        result.set(key, sample);
      }
      if (expr.op === 'rate' || expr.op === 'bytes_rate')
        for (const s of result.values()) s.value /= expr.range;
      return result;
    }
    const inner = evaluate(expr.inner, at);
    const groups = new Map<string, { labels: Labels; values: number[] }>();
    for (const { labels, value } of inner.values()) {
      const kept: Labels = {};
      for (const [k, v] of Object.entries(labels)) {
        if (expr.by ? expr.by.includes(k) : expr.without ? !expr.without.includes(k) : false) kept[k] = v;
      }
      const key = JSON.stringify(Object.entries(kept).sort(([a], [b]) => a.localeCompare(b)));
      const group = groups.get(key) ?? { labels: kept, values: [] };
      group.values.push(value);
      groups.set(key, group);
    }
    for (const [key, { labels, values }] of groups) {
      const sum = values.reduce((a, b) => a + b, 0);
      const value = {
        sum,
        count: values.length,
        max: Math.max(...values),
        min: Math.min(...values),
        avg: sum / values.length,
      }[expr.op];
      result.set(key, { labels, value });
    }
    return result;
  }

  function queryRange(params: URLSearchParams) {
    const query = params.get('query');
    if (!query) throw new LokiHttpError(400, 'query parameter is required');
    const now = BigInt(Date.now()) * 1_000_000n;
    const end = parseLokiTime(params.get('end'), now);
    const start = parseLokiTime(params.get('start'), end - 3600n * NS);
    if (end < start) throw new LokiHttpError(400, 'invalid query, through < from (end < start)');
    const lengthSeconds = Number(end - start) / 1e9;
    if (lengthSeconds > maxLengthSeconds) {
      throw new LokiHttpError(
        400,
        `the query time range exceeds the limit (query length: ${formatGoDuration(lengthSeconds)}, limit: ${formatGoDuration(maxLengthSeconds)})`,
      );
    }
    const limit = Number(params.get('limit') ?? 100);
    if (!Number.isInteger(limit) || limit <= 0)
      throw new LokiHttpError(400, 'limit must be a positive value');
    if (limit > maxEntries) {
      throw new LokiHttpError(
        400,
        `max entries limit per query exceeded, limit > max_entries_limit_per_query (${limit} > ${maxEntries})`,
      );
    }
    const parsed = parseQuery(query);
    if (parsed.kind === 'logs') {
      const { out, scannedLines, scannedBytes } = select(parsed.selection, start, end);
      const backward = (params.get('direction') ?? 'backward') === 'backward';
      out.sort((a, b) => (a.entry.ns === b.entry.ns ? 0 : a.entry.ns < b.entry.ns === backward ? 1 : -1));
      const kept = out.slice(0, limit);
      const grouped = new Map<string, { stream: Labels; values: Array<[string, string]> }>();
      for (const { labels, entry } of kept) {
        const key = JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
        const g = grouped.get(key) ?? { stream: labels, values: [] };
        g.values.push([entry.ns.toString(), entry.line]);
        grouped.set(key, g);
      }
      return {
        status: 'success',
        data: {
          resultType: 'streams',
          result: [...grouped.values()],
          stats: emptyStats(scannedLines, scannedBytes, kept.length),
        },
      };
    }
    const stepParam = params.get('step');
    const step = stepParam
      ? /^\d+(\.\d+)?$/.test(stepParam)
        ? Number(stepParam)
        : durationSeconds(stepParam)
      : Math.max(Math.floor(lengthSeconds / 250), 1);
    if (lengthSeconds / step > MAX_POINTS) {
      throw new LokiHttpError(
        400,
        'exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)',
      );
    }
    counters.lines = 0;
    counters.bytes = 0;
    const series = new Map<string, { metric: Labels; values: Array<[number, string]> }>();
    const stepNs = BigInt(Math.round(step * 1e9));
    for (let t = start; t <= end; t += stepNs) {
      for (const [key, { labels, value }] of evaluate(parsed.expr, t)) {
        const s = series.get(key) ?? { metric: labels, values: [] };
        s.values.push([Number(t / 1_000_000n) / 1000, String(value)]);
        series.set(key, s);
      }
    }
    return {
      status: 'success',
      data: {
        resultType: 'matrix',
        result: [...series.values()],
        stats: emptyStats(counters.lines, counters.bytes, 0),
      },
    };
  }

  function instant(params: URLSearchParams) {
    const query = params.get('query');
    if (!query) throw new LokiHttpError(400, 'query parameter is required');
    const parsed = parseQuery(query);
    if (parsed.kind === 'logs') {
      throw new LokiHttpError(
        400,
        'log queries are not supported as an instant query type, please change your query to a range query type',
      );
    }
    const at = parseLokiTime(params.get('time'), BigInt(Date.now()) * 1_000_000n);
    counters.lines = 0;
    counters.bytes = 0;
    const result = [...evaluate(parsed.expr, at).values()].map(({ labels, value }) => ({
      metric: labels,
      value: [Number(at / 1_000_000n) / 1000, String(value)],
    }));
    return {
      status: 'success',
      data: { resultType: 'vector', result, stats: emptyStats(counters.lines, counters.bytes, 0) },
    };
  }

  function matching(params: URLSearchParams, key: 'query' | 'match[]') {
    const now = BigInt(Date.now()) * 1_000_000n;
    const end = parseLokiTime(params.get('end'), now);
    const start = parseLokiTime(params.get('start'), end - 6n * 3600n * NS);
    const selectors = params.getAll(key).filter(Boolean);
    const parsed = selectors.map(s => {
      const q = parseQuery(s);
      if (q.kind !== 'logs' || q.selection.stages.length > 0)
        throw new LokiHttpError(400, `parse error : only stream selectors are accepted here: ${s}`);
      return q.selection.matchers;
    });
    return [...streams.values()].filter(
      s =>
        (parsed.length === 0 || parsed.some(m => selects(m, s.labels))) &&
        s.entries.some(e => e.ns >= start && e.ns <= end),
    );
  }

  function indexStats(params: URLSearchParams) {
    const found = matching(params, 'query');
    const now = BigInt(Date.now()) * 1_000_000n;
    const end = parseLokiTime(params.get('end'), now);
    const start = parseLokiTime(params.get('start'), end - 3600n * NS);
    let entries = 0;
    let bytes = 0;
    const chunks = new Set<string>();
    found.forEach((stream, i) => {
      for (const e of stream.entries) {
        if (e.ns < start || e.ns > end) continue;
        entries++;
        bytes += Buffer.byteLength(e.line);
        // One chunk per stream per hour, roughly how Loki cuts them.
        chunks.add(`${i}:${e.ns / (3600n * NS)}`);
      }
    });
    return { streams: found.length, chunks: chunks.size, entries, bytes };
  }

  function route(
    method: string,
    path: string,
    params: URLSearchParams,
    body: Buffer,
    headers: IncomingMessage['headers'],
  ) {
    if (path === '/ready') return { status: 200, text: 'ready\n' };
    if (path === '/loki/api/v1/push') {
      if (method !== 'POST') throw new LokiHttpError(405, 'method not allowed');
      if (!(headers['content-type'] ?? '').startsWith('application/json')) {
        throw new LokiHttpError(
          415,
          'the Loki test double accepts only JSON pushes (Content-Type: application/json), not protobuf',
        );
      }
      const raw = headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body;
      let parsed: { streams?: unknown };
      try {
        parsed = JSON.parse(raw.toString('utf8')) as { streams?: unknown };
      } catch {
        throw new LokiHttpError(400, 'loghttp.PushRequest: invalid JSON');
      }
      if (!Array.isArray(parsed.streams))
        throw new LokiHttpError(400, 'loghttp.PushRequest: streams is required');
      for (const s of parsed.streams as PushStream[]) {
        if (typeof s.stream !== 'object' || !Array.isArray(s.values))
          throw new LokiHttpError(400, 'loghttp.PushRequest: malformed stream');
        for (const value of s.values) {
          if (
            !Array.isArray(value) ||
            typeof value[0] !== 'string' ||
            !/^\d+$/.test(value[0]) ||
            typeof value[1] !== 'string'
          ) {
            throw new LokiHttpError(
              400,
              'loghttp.PushRequest: each value must be ["<unix epoch in nanoseconds as a string>", "<log line>"]',
            );
          }
        }
      }
      push(parsed.streams as PushStream[]);
      return { status: 204 };
    }
    if (method !== 'GET' && method !== 'POST') throw new LokiHttpError(405, 'method not allowed');
    if (path === '/loki/api/v1/query_range') return { status: 200, json: queryRange(params) };
    if (path === '/loki/api/v1/query') return { status: 200, json: instant(params) };
    if (path === '/loki/api/v1/labels') {
      const names = new Set(matching(params, 'query').flatMap(s => Object.keys(s.labels)));
      return { status: 200, json: { status: 'success', data: [...names].sort() } };
    }
    const values = /^\/loki\/api\/v1\/label\/([^/]+)\/values$/.exec(path);
    if (values) {
      const name = decodeURIComponent(values[1] ?? '');
      const found = new Set(
        matching(params, 'query')
          .map(s => s.labels[name])
          .filter((v): v is string => v !== undefined),
      );
      return { status: 200, json: { status: 'success', data: [...found].sort() } };
    }
    if (path === '/loki/api/v1/series') {
      if (params.getAll('match[]').length === 0)
        throw new LokiHttpError(400, 'at least one match[] argument is required');
      return {
        status: 200,
        json: { status: 'success', data: matching(params, 'match[]').map(s => s.labels) },
      };
    }
    if (path === '/loki/api/v1/index/stats') return { status: 200, json: indexStats(params) };
    throw new LokiHttpError(404, '404 page not found');
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://loki');
    const chunks: Buffer[] = [];
    for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    const params = new URLSearchParams(url.search);
    if (
      req.method === 'POST' &&
      (req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')
    ) {
      for (const [k, v] of new URLSearchParams(body.toString('utf8'))) params.append(k, v);
    }
    requests.push({ method: req.method ?? 'GET', path: url.pathname, query: params });
    if (fault && url.pathname.startsWith('/loki/api/v1/') && url.pathname !== '/loki/api/v1/push') {
      const { status = 500, body: text = 'internal error', delayMs = 0 } = fault;
      if (delayMs > 0) await new Promise(resolve => setTimeout(resolve, delayMs));
      if (res.destroyed) return;
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(text);
      return;
    }
    try {
      const answer = route(req.method ?? 'GET', url.pathname, params, body, req.headers);
      if ('json' in answer)
        res
          .writeHead(answer.status, { 'content-type': 'application/json; charset=utf-8' })
          .end(JSON.stringify(answer.json));
      else
        res.writeHead(answer.status, { 'content-type': 'text/plain; charset=utf-8' }).end(answer.text ?? '');
    } catch (error) {
      const status = error instanceof LokiHttpError ? error.status : 500;
      const message = error instanceof Error ? error.message : String(error);
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(`${message}\n`);
    }
  }

  const server = createServer((req, res) => {
    void handle(req, res);
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    push,
    setFault(next) {
      fault = next;
    },
    reset() {
      streams.clear();
      requests.length = 0;
      fault = null;
    },
    close: () =>
      new Promise(resolve => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}
