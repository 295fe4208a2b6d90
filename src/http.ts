// Streamable HTTP transport: /mcp with sessions, /healthz, DNS-rebinding protection and bearer-token auth.

import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { Context } from './context.ts';
import { isWildcardHost } from './lib/net.ts';
import { createServer, VERSION } from './server.ts';

export interface HttpOptions {
  host: string;
  port: number;
  token: string | undefined;
  allowedHosts: readonly string[];
  allowedOrigins: readonly string[];
  maxSessions: number;
  sessionIdleMs: number;
}

export interface RunningHttpServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 4 * 1024 * 1024;
const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'];

/** The host name of a Host header or host[:port] entry, lower-case and without brackets. */
function hostnameOf(value: string): string | undefined {
  try {
    return new URL(`http://${value}`).hostname.replace(/^\[|\]$/g, '').toLowerCase();
  } catch {
    return undefined;
  }
}

interface Session {
  transport: StreamableHTTPServerTransport;
  server: Server;
  lastSeen: number;
  /** Responses still open: a GET event stream can sit silent far longer than the idle limit. */
  open: number;
}

export async function startHttpServer(ctx: Context, options: HttpOptions): Promise<RunningHttpServer> {
  const [{ StreamableHTTPServerTransport }, { ingest, startSweeper }] = await Promise.all([
    import('@modelcontextprotocol/sdk/server/streamableHttp.js'),
    import('./incidents/intake.ts'),
  ]);
  const log = ctx.logger.child({ component: 'http' });
  const sessions = new Map<string, Session>();

  // Which Host names are ours. A wildcard bind with no list accepts any name: the token still guards it.
  const hostNames = new Set([
    ...LOOPBACK_NAMES,
    ...options.allowedHosts.map(h => hostnameOf(h) ?? h.toLowerCase()),
  ]);
  if (!isWildcardHost(options.host)) hostNames.add(hostnameOf(options.host) ?? options.host);
  const anyHost = isWildcardHost(options.host) && options.allowedHosts.length === 0;
  if (anyHost)
    log.warn(
      'listening on all interfaces without allowedHosts: Host headers are not checked, only the token',
    );
  const origins = new Set(options.allowedOrigins.map(o => o.toLowerCase().replace(/\/+$/, '')));
  const tokenDigest = options.token === undefined ? undefined : digest(options.token);

  function refuse(
    res: ServerResponse,
    status: number,
    message: string,
    headers: Record<string, string> = {},
  ): void {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }));
  }

  function checkHost(req: IncomingMessage): string | undefined {
    const host = req.headers.host;
    const name = host === undefined ? undefined : hostnameOf(host);
    if (name === undefined) return 'missing or malformed Host header';
    if (!anyHost && !hostNames.has(name)) return `Host ${host ?? ''} is not allowed`;
    const origin = req.headers.origin;
    if (origin === undefined) return undefined;
    const normalized = origin.toLowerCase().replace(/\/+$/, '');
    if (origins.has(normalized)) return undefined;
    let originHost: string | undefined;
    try {
      originHost = new URL(origin).hostname.replace(/^\[|\]$/g, '').toLowerCase();
    } catch {
      return `Origin ${origin} is not allowed`;
    }
    const allowed = anyHost ? originHost === name : hostNames.has(originHost);
    return allowed ? undefined : `Origin ${origin} is not allowed`;
  }

  function authorized(req: IncomingMessage): boolean {
    if (tokenDigest === undefined) return true;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    return match?.[1] !== undefined && timingSafeEqual(digest(match[1]), tokenDigest);
  }

  async function openSession(req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
    if (sessions.size >= options.maxSessions) {
      refuse(res, 503, 'Too many sessions; close one (DELETE /mcp) or retry later', { 'retry-after': '30' });
      return;
    }
    const server = createServer(ctx);
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: id => {
        sessions.set(id, { transport, server, lastSeen: Date.now(), open: 0 });
        log.debug({ session: id }, 'session opened');
      },
    });
    transport.onclose = () => {
      const id = transport.sessionId;
      if (id !== undefined && sessions.delete(id)) log.debug({ session: id }, 'session closed');
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
    // A refused initialize (a missing Accept header, a bad version) registers no session: close what was built
    // for it, or every such request would leave a server and its change-feed listener behind, outside maxSessions.
    if (transport.sessionId === undefined || !sessions.has(transport.sessionId)) await server.close();
  }

  /** A session is in use while any of its responses is open; idle time counts from when the last one closed. */
  function track(session: Session, res: ServerResponse): void {
    session.open++;
    session.lastSeen = Date.now();
    res.once('close', () => {
      session.open--;
      session.lastSeen = Date.now();
    });
  }

  async function handleMcp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const sessionHeader = req.headers['mcp-session-id'];
    const sessionId = Array.isArray(sessionHeader) ? sessionHeader[0] : sessionHeader;
    if (req.method !== 'POST' && req.method !== 'GET' && req.method !== 'DELETE') {
      refuse(res, 405, 'Method not allowed', { allow: 'GET, POST, DELETE' });
      return;
    }
    let body: unknown;
    if (req.method === 'POST') {
      const read = await readJson(req);
      if (!read.ok) {
        refuse(res, read.status, read.message);
        return;
      }
      body = read.value;
      if (sessionId === undefined) {
        if (isInitialize(body)) await openSession(req, res, body);
        else refuse(res, 400, 'Bad Request: no Mcp-Session-Id header; send initialize first');
        return;
      }
    } else if (sessionId === undefined) {
      refuse(res, 400, 'Bad Request: Mcp-Session-Id header is required');
      return;
    }
    const session = sessions.get(sessionId);
    if (!session) {
      refuse(res, 404, 'Session not found; initialize a new session');
      return;
    }
    track(session, res);
    await session.transport.handleRequest(req, res, body);
  }

  /** The Alertmanager webhook receiver (payload version 4). Host/Origin and token rules are those of /mcp. */
  async function handleAlerts(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const answer = (status: number, body: Record<string, unknown>, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'POST') {
      answer(
        405,
        { status: 'error', error: 'Method not allowed: POST an Alertmanager webhook payload' },
        { allow: 'POST' },
      );
      return;
    }
    const limit = ctx.config.incidents.webhookMaxBytes;
    const body = await readText(req, limit);
    if (body === undefined) {
      answer(400, {
        status: 'error',
        error: `Bad Request: the body is larger than ${limit} bytes (incidents.webhookMaxBytes); nothing was stored`,
      });
      return;
    }
    const { parseWebhook } = await import('./incidents/webhook.ts');
    const parsed = parseWebhook(body, ctx.now(), ctx.config.incidents.externalLabels);
    if (!parsed.ok) {
      answer(400, { status: 'error', error: `Bad Request: ${parsed.problem}; nothing was stored` });
      return;
    }
    const changes = await ingest(ctx, parsed.alerts);
    if (parsed.truncatedAlerts > 0)
      log.warn(
        { groupKey: parsed.groupKey, truncated: parsed.truncatedAlerts },
        'Alertmanager truncated alerts from a webhook',
      );
    answer(200, { status: 'ok', alerts: parsed.alerts.length, incidents: changes.map(c => c.id) });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const hostProblem = checkHost(req);
    if (hostProblem !== undefined) {
      log.warn({ host: req.headers.host, origin: req.headers.origin }, 'refused request: %s', hostProblem);
      refuse(res, 403, `Forbidden: ${hostProblem}`);
      return;
    }
    if (!authorized(req)) {
      refuse(res, 401, 'Unauthorized: send Authorization: Bearer <DEVOPS_MCP_HTTP_TOKEN>', {
        'www-authenticate': 'Bearer realm="devops-mcp"',
      });
      return;
    }
    if (path === '/healthz') {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        refuse(res, 405, 'Method not allowed', { allow: 'GET, HEAD' });
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'ok', version: VERSION, sessions: sessions.size }));
      return;
    }
    if (path === '/mcp') {
      await handleMcp(req, res);
      return;
    }
    if (path === '/alerts') {
      await handleAlerts(req, res);
      return;
    }
    refuse(res, 404, 'Not found: the MCP endpoint is /mcp (and the Alertmanager webhook POST /alerts)');
  }

  const httpServer = createHttpServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log.error({ err: error }, 'request failed');
      if (!res.headersSent) refuse(res, 500, 'Internal server error');
      else res.end();
    });
  });

  const reaper = setInterval(
    () => {
      const cutoff = Date.now() - options.sessionIdleMs;
      for (const [id, session] of sessions) {
        if (session.open > 0 || session.lastSeen >= cutoff) continue;
        log.info({ session: id }, 'closing idle session');
        void session.transport.close();
      }
    },
    Math.min(60_000, options.sessionIdleMs),
  );
  reaper.unref();

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(options.port, options.host, () => {
      httpServer.off('error', reject);
      resolve();
    });
  });
  // Incidents fed only by the webhook resolve after their quiet period too: Alertmanager sends "resolved" once,
  // so the sweeper runs from the start, for incidents a previous process left quiet as much as for new ones.
  // It opens the store on its first tick if nothing has by then (`serve --http` opens it before listening).
  const stopSweeper = startSweeper(
    ctx,
    Math.max(1000, Math.min(15_000, ctx.config.incidents.quietSeconds * 250)),
  );
  const { port } = httpServer.address() as AddressInfo;
  const shownHost = options.host.includes(':') ? `[${options.host}]` : options.host;
  const url = `http://${shownHost}:${port}/mcp`;
  log.info({ url, auth: tokenDigest !== undefined }, 'serving MCP over Streamable HTTP');

  return {
    url,
    port,
    async close() {
      clearInterval(reaper);
      stopSweeper();
      await Promise.allSettled([...sessions.values()].map(s => s.transport.close()));
      await new Promise<void>(resolve => {
        httpServer.close(() => {
          resolve();
        });
        httpServer.closeAllConnections();
      });
    },
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function isInitialize(body: unknown): boolean {
  const messages = Array.isArray(body) ? (body as unknown[]) : [body];
  return messages.some(
    m => typeof m === 'object' && m !== null && (m as { method?: unknown }).method === 'initialize',
  );
}

// Past this the connection is closed rather than drained.
const MAX_DRAIN_BYTES = 64 * 1024 * 1024;

/** The body as text, or undefined when it exceeds `limit` (the rest is read and dropped, so the 400 arrives). */
async function readText(req: IncomingMessage, limit: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_DRAIN_BYTES) {
      req.destroy();
      return undefined;
    }
    if (size <= limit) chunks.push(chunk);
  }
  return size > limit ? undefined : Buffer.concat(chunks).toString('utf8');
}

type BodyResult = { ok: true; value: unknown } | { ok: false; status: number; message: string };

async function readJson(req: IncomingMessage): Promise<BodyResult> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return { ok: false, status: 413, message: 'Request body too large' };
    chunks.push(chunk);
  }
  try {
    return { ok: true, value: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown };
  } catch {
    return { ok: false, status: 400, message: 'Parse error: the body is not JSON' };
  }
}
