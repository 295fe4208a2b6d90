// A Loki HTTP API double on a free loopback port, for suites that need a Loki: push, query, query_range,
// labels, label values, series, index/stats and ready, in Loki's wire format. Shapes are held to the
// examples of Loki's HTTP API reference by contract.test.ts; errors are plain text with Loki's messages.

import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { indexStats, instantQuery, labelNames, labelValues, queryRange, series, type Limits } from './api.ts';
import { LokiError } from './errors.ts';
import { Form, parsePromDuration } from './params.ts';
import { decodePush, validatePush } from './push.ts';
import { Store, type PushStream } from './store.ts';

export type { PushStream } from './store.ts';

export interface LokiDouble {
  url: string;
  port: number;
  close(): Promise<void>;
  /** Adds entries as a JSON push would (a third element of a value is structured metadata). */
  push(streams: PushStream[]): void;
  /** Drops all streams, recorded requests and the fault. */
  reset(): void;
  /** Every request received, with its parameters (URL query and form body; repeated ones as arrays). */
  requests: Array<{ method: string; path: string; query: Record<string, string | string[]> }>;
  /**
   * Until cleared with null, query endpoints (not push or /ready) wait delayMs, then answer status and
   * body as plain text; with only delayMs they answer normally after the delay.
   */
  setFault(f: { status?: number; body?: string; delayMs?: number } | null): void;
}

export interface LokiDoubleOptions {
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Loki's max_entries_limit_per_query. */
  maxEntriesLimitPerQuery?: number;
  /** Loki's max_query_length, as a Prometheus duration. */
  maxQueryLength?: string;
  /** Loki's max_query_series. */
  maxQuerySeries?: number;
}

type Fault = Parameters<LokiDouble['setFault']>[0];

interface Reply {
  status: number;
  json?: unknown;
  text?: string;
}

interface Request {
  form: Form;
  body: Buffer;
  headers: IncomingHttpHeaders;
  match: RegExpExecArray;
}

interface Route {
  path: RegExp;
  methods: string[];
  /** Whether setFault applies. */
  query: boolean;
  run(request: Request): Reply;
}

const json = (value: unknown): Reply => ({ status: 200, json: value });

function send(res: ServerResponse, reply: Reply): void {
  if (reply.json !== undefined) {
    res.writeHead(reply.status, { 'content-type': 'application/json; charset=UTF-8' });
    res.end(`${JSON.stringify(reply.json)}\n`);
  } else if (reply.text !== undefined) {
    res.writeHead(reply.status, {
      'content-type': 'text/plain; charset=utf-8',
      'x-content-type-options': 'nosniff',
    });
    res.end(reply.text);
  } else {
    res.writeHead(reply.status).end();
  }
}

/** Go's r.Form: a urlencoded POST body's parameters first, then the URL's. */
function formOf(req: IncomingMessage, url: URL, body: Buffer): URLSearchParams {
  const params = new URLSearchParams();
  const type = req.headers['content-type'] ?? '';
  if (req.method === 'POST' && type.startsWith('application/x-www-form-urlencoded')) {
    for (const [k, v] of new URLSearchParams(body.toString('utf8'))) params.append(k, v);
  }
  for (const [k, v] of url.searchParams) params.append(k, v);
  return params;
}

function recordOf(params: URLSearchParams): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const key of new Set(params.keys())) {
    const values = params.getAll(key);
    out[key] = values.length === 1 ? (values[0] ?? '') : values;
  }
  return out;
}

export async function startLokiDouble(opts: LokiDoubleOptions = {}): Promise<LokiDouble> {
  const limits: Limits = {
    maxEntriesLimitPerQuery: opts.maxEntriesLimitPerQuery ?? 5000,
    maxQueryLength: parsePromDuration(opts.maxQueryLength ?? '721h'),
    maxQuerySeries: opts.maxQuerySeries ?? 500,
  };
  const store = new Store();
  const requests: LokiDouble['requests'] = [];
  const closing = new AbortController();
  let fault: Fault = null;

  const QUERY = ['GET', 'POST'];
  const routes: Route[] = [
    { path: /^\/ready$/, methods: ['GET'], query: false, run: () => ({ status: 200, text: 'ready\n' }) },
    {
      path: /^\/loki\/api\/v1\/push$/,
      methods: ['POST'],
      query: false,
      run: ({ body, headers }) => {
        store.push(decodePush(body, headers));
        return { status: 204 };
      },
    },
    {
      path: /^\/loki\/api\/v1\/query_range$/,
      methods: QUERY,
      query: true,
      run: r => json(queryRange(r.form, store, limits)),
    },
    {
      path: /^\/loki\/api\/v1\/query$/,
      methods: QUERY,
      query: true,
      run: r => json(instantQuery(r.form, store, limits)),
    },
    // /label is Loki's older name for /labels.
    {
      path: /^\/loki\/api\/v1\/labels?$/,
      methods: QUERY,
      query: true,
      run: r => json(labelNames(r.form, store, limits)),
    },
    {
      path: /^\/loki\/api\/v1\/label\/([^/]+)\/values$/,
      methods: QUERY,
      query: true,
      run: r => json(labelValues(decodeURIComponent(r.match[1] ?? ''), r.form, store, limits)),
    },
    {
      path: /^\/loki\/api\/v1\/series$/,
      methods: QUERY,
      query: true,
      run: r => json(series(r.form, store, limits)),
    },
    {
      path: /^\/loki\/api\/v1\/index\/stats$/,
      methods: QUERY,
      query: true,
      run: r => json(indexStats(r.form, store, limits)),
    },
  ];

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://loki');
    const chunks: Buffer[] = [];
    for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    const params = formOf(req, url, body);
    const method = req.method ?? 'GET';
    requests.push({ method, path: url.pathname, query: recordOf(params) });

    const route = routes.find(r => r.path.test(url.pathname));
    const match = route?.path.exec(url.pathname);
    if (!route || !match) {
      send(res, { status: 404, text: '404 page not found\n' });
      return;
    }
    if (!route.methods.includes(method)) {
      send(res, { status: 405 }); // Loki's router answers a wrong method with a bare 405
      return;
    }

    const active = route.query ? fault : null;
    if (active?.delayMs) {
      try {
        await sleep(active.delayMs, undefined, { signal: closing.signal });
      } catch {
        return; // closing: the connection is being dropped anyway
      }
    }
    if (active && (active.status !== undefined || active.body !== undefined)) {
      send(res, { status: active.status ?? 500, text: active.body ?? '' });
      return;
    }
    try {
      send(res, route.run({ form: new Form(params), body, headers: req.headers, match }));
    } catch (error) {
      if (error instanceof LokiError) send(res, { status: error.status, text: error.message });
      else
        send(res, {
          status: 500,
          text: error instanceof Error ? (error.stack ?? error.message) : String(error),
        });
    }
  }

  const server = createServer((req, res) => {
    void handle(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host ?? '127.0.0.1';

  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    requests,
    push(streams) {
      store.push(validatePush({ streams }));
    },
    setFault(next) {
      fault = next;
    },
    reset() {
      store.clear();
      requests.length = 0;
      fault = null;
    },
    close: () =>
      new Promise(resolve => {
        closing.abort();
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}
