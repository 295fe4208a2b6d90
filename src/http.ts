// Streamable HTTP transport: /mcp with sessions, /healthz, DNS-rebinding protection and bearer-token auth.

import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { RequestId } from '@modelcontextprotocol/sdk/types.js';
import type { Context } from './context.ts';
import { minuteLimit, type Logger } from './lib/logger.ts';
import { cutLine } from './lib/logs.ts';
import { isWildcardHost } from './lib/net.ts';
import type { Redactor } from './lib/redact.ts';
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
/**
 * A session seen this recently is never taken for a new one: between the initialize response and the client's next
 * request it has nothing open, and evicting it would answer that request 404. It is also the 503's retry-after.
 */
const RECENTLY_SEEN_MS = 30_000;
// JSON-RPC error codes: the implementation-defined server error the SDK answers with too, and a body not JSON.
const SERVER_ERROR = -32000;
const PARSE_ERROR = -32700;
/** Characters of a refusal kept in the log: it may quote a header the client sent, up to Node's 16 KB of them. */
const MAX_REFUSAL_CHARS = 1000;
/** Refusals logged a minute before any session exists: anyone who can reach the port can send them. */
const REFUSALS_PER_MINUTE = 10;

/** The host name of a Host header or host[:port] entry, lower-case and without brackets. */
function hostnameOf(value: string): string | undefined {
  try {
    return new URL(`http://${value}`).hostname.replace(/^\[|\]$/g, '').toLowerCase();
  } catch {
    return undefined;
  }
}

/**
 * Logs refusals, the first REFUSALS_PER_MINUTE of each minute, each scrubbed of secrets and then cut (a secret across
 * the cut would not match). Those past the limit are counted, in one line when the minute ends.
 */
function refusalLog(
  log: Logger,
  redact: Redactor,
): (problem: string, fields?: Record<string, unknown>) => void {
  const allowed = minuteLimit(REFUSALS_PER_MINUTE, unlogged => {
    log.warn({ unlogged }, 'refused requests: %d more this minute, not logged', unlogged);
  });
  return (problem, fields = {}) => {
    if (allowed()) log.warn(fields, 'refused request: %s', cutLine(redact(problem), MAX_REFUSAL_CHARS));
  };
}

interface Session {
  transport: StreamableHTTPServerTransport;
  server: Server;
  lastSeen: number;
  /** Responses still open: a GET event stream can sit silent far longer than the idle limit. */
  open: number;
  /** The requests in flight on the session's POST streams, by id: see settle(). */
  calls: Map<RequestId, Call>;
}

/** The requests of one POST not yet answered, and whether the client cancelled one of them. */
interface Call {
  unanswered: Set<RequestId>;
  cancelled: boolean;
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
  // One for the whole server: refusals before a session exists come from anyone who can reach the port. Those on a
  // session go to its server's problem log, ten a minute for each session like what its transport drops.
  const refused = refusalLog(log, ctx.redact);

  function refuse(
    res: ServerResponse,
    status: number,
    code: number,
    message: string,
    headers: Record<string, string> = {},
  ): void {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
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

  /**
   * The session a new one may take the place of: the least recently seen one that has no response open and was not
   * seen in the last RECENTLY_SEEN_MS. Most clients never send DELETE (the SDK's Client.close() does not), and their
   * sessions would hold every place until the idle limit.
   */
  function idlest(): [string, Session] | undefined {
    const cutoff = Date.now() - RECENTLY_SEEN_MS;
    let found: [string, Session] | undefined;
    for (const [id, session] of sessions) {
      if (session.open > 0 || session.lastSeen > cutoff) continue;
      if (found === undefined || session.lastSeen < found[1].lastSeen) found = [id, session];
    }
    return found;
  }

  /** Closes the idlest session to make room; false when none may go. */
  async function evictIdlest(): Promise<boolean> {
    const found = idlest();
    if (found === undefined) return false;
    const [id, session] = found;
    log.info(
      { session: id, idleSeconds: Math.round((Date.now() - session.lastSeen) / 1000) },
      'closing the least recently seen session: http.maxSessions reached',
    );
    await session.transport.close();
    return true;
  }

  async function openSession(req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
    if (sessions.size >= options.maxSessions && idlest() === undefined) {
      refuse(res, 503, SERVER_ERROR, 'Too many sessions, each in use or seen in the last 30 s; retry later', {
        'retry-after': String(RECENTLY_SEEN_MS / 1000),
      });
      return;
    }
    const server = createServer(ctx);
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      // Room is made only here, once the transport has accepted the initialize: one it refuses (no Accept header, not
      // JSON-RPC) must not close a session in use. Should the place found above have gone to another initialize
      // meanwhile, this one is let in all the same, a session over the limit until one closes.
      onsessioninitialized: async id => {
        if (sessions.size >= options.maxSessions) await evictIdlest();
        sessions.set(id, session);
        log.debug({ session: id }, 'session opened');
      },
    });
    const session: Session = { transport, server, lastSeen: Date.now(), open: 0, calls: new Map() };
    transport.onclose = () => {
      const id = transport.sessionId;
      if (id !== undefined && sessions.delete(id)) log.debug({ session: id }, 'session closed');
    };
    await server.connect(transport);
    // Each response sent settles its request (see settle()).
    const send = transport.send.bind(transport);
    transport.send = async (message, sendOptions) => {
      try {
        await send(message, sendOptions);
      } finally {
        // A response has an id and a result or an error (looked at directly: the SDK's guards zod-parse the whole
        // message, every tool result included).
        if ('id' in message && ('result' in message || 'error' in message) && isRequestId(message.id))
          settle(session, message.id, false);
      }
    };
    track(session, res);
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

  /** Notes the requests a POST carries, until its response closes. */
  function trackCalls(session: Session, res: ServerResponse, ids: readonly RequestId[]): void {
    if (ids.length === 0) return;
    const call: Call = { unanswered: new Set(ids), cancelled: false };
    for (const id of ids) session.calls.set(id, call);
    res.once('close', () => {
      for (const id of ids) if (session.calls.get(id) === call) session.calls.delete(id);
    });
  }

  /**
   * Marks a request answered or cancelled. The SDK ends a POST's event stream once it has sent a response to each
   * request on it, and sends none to a cancelled one, as the specification says: that stream would stay open for
   * ever (a keepalive every 15 s) and its session would never be idle. It is closed here once nothing on it waits.
   */
  function settle(session: Session, id: RequestId, cancelled: boolean): void {
    const call = session.calls.get(id);
    if (!call?.unanswered.delete(id)) return;
    call.cancelled ||= cancelled;
    if (call.unanswered.size === 0 && call.cancelled) session.transport.closeSSEStream(id);
  }

  async function handleMcp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const sessionHeader = req.headers['mcp-session-id'];
    const sessionId = Array.isArray(sessionHeader) ? sessionHeader[0] : sessionHeader;
    if (req.method !== 'POST' && req.method !== 'GET' && req.method !== 'DELETE') {
      refuse(res, 405, SERVER_ERROR, 'Method not allowed', { allow: 'GET, POST, DELETE' });
      return;
    }
    let session: Session | undefined;
    if (sessionId !== undefined) {
      session = sessions.get(sessionId);
      if (!session) {
        refuse(res, 404, SERVER_ERROR, 'Session not found; initialize a new session');
        return;
      }
      // Before the body is read: a session whose request is still arriving is in use, and must not be evicted.
      track(session, res);
    } else if (req.method !== 'POST') {
      refuse(res, 400, SERVER_ERROR, 'Bad Request: Mcp-Session-Id header is required');
      return;
    }
    let body: unknown;
    if (req.method === 'POST') {
      const read = await readJson(req);
      if ('gone' in read) {
        log.debug({ session: sessionId }, 'the client went away before its request body ended');
        return;
      }
      if (!read.ok) {
        if (session) session.server.onerror?.(new Error(`refused request (${read.status}): ${read.message}`));
        else refused(read.message, { status: read.status });
        refuse(res, read.status, read.code, read.message, read.headers);
        return;
      }
      body = read.value;
    }
    if (session === undefined) {
      if (isInitialize(body)) await openSession(req, res, body);
      else refuse(res, 400, SERVER_ERROR, 'Bad Request: no Mcp-Session-Id header; send initialize first');
      return;
    }
    const ids = idsIn(body);
    trackCalls(session, res, ids.requests);
    await session.transport.handleRequest(req, res, body);
    // After the transport has passed the cancellation on, so the call is aborted before its stream goes.
    for (const id of ids.cancelled) settle(session, id, true);
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
    const read = await readBody(req, limit);
    if ('gone' in read) {
      log.debug('the client went away before its webhook body ended');
      return;
    }
    if (read.body === undefined) {
      answer(
        400,
        {
          status: 'error',
          error: `Bad Request: the body is larger than ${limit} bytes (incidents.webhookMaxBytes); nothing was stored`,
        },
        read.drained ? {} : CLOSE,
      );
      return;
    }
    const { parseWebhook } = await import('./incidents/webhook.ts');
    const parsed = parseWebhook(read.body.toString('utf8'), ctx.now(), ctx.config.incidents.externalLabels);
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
      // The problem names the header; it is cut, as a Host or Origin may be as long as Node lets headers be.
      refused(hostProblem, { status: 403 });
      refuse(res, 403, SERVER_ERROR, `Forbidden: ${hostProblem}`);
      return;
    }
    if (!authorized(req)) {
      refuse(res, 401, SERVER_ERROR, 'Unauthorized: send Authorization: Bearer <DEVOPS_MCP_HTTP_TOKEN>', {
        'www-authenticate': 'Bearer realm="devops-mcp"',
      });
      return;
    }
    if (path === '/healthz') {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        refuse(res, 405, SERVER_ERROR, 'Method not allowed', { allow: 'GET, HEAD' });
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
    refuse(
      res,
      404,
      SERVER_ERROR,
      'Not found: the MCP endpoint is /mcp (and the Alertmanager webhook POST /alerts)',
    );
  }

  const httpServer = createHttpServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log.error({ err: error }, 'request failed');
      if (!res.headersSent) refuse(res, 500, SERVER_ERROR, 'Internal server error');
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

const isRequestId = (value: unknown): value is RequestId =>
  typeof value === 'string' || typeof value === 'number';

/** The ids of the requests a POST carries, and of the requests it cancels (notifications/cancelled). */
function idsIn(body: unknown): { requests: RequestId[]; cancelled: RequestId[] } {
  const requests: RequestId[] = [];
  const cancelled: RequestId[] = [];
  for (const m of Array.isArray(body) ? (body as unknown[]) : [body]) {
    if (typeof m !== 'object' || m === null) continue;
    const { method, id, params } = m as { method?: unknown; id?: unknown; params?: { requestId?: unknown } };
    if (typeof method !== 'string') continue;
    if (isRequestId(id)) requests.push(id);
    else if (method === 'notifications/cancelled' && isRequestId(params?.requestId))
      cancelled.push(params.requestId);
  }
  return { requests, cancelled };
}

// Past this the connection is closed rather than drained.
const MAX_DRAIN_BYTES = 64 * 1024 * 1024;
/** The headers of a refusal sent before the body was read to its end: the connection serves no other request. */
const CLOSE = { connection: 'close' };

type Body = { body: Buffer } | { body: undefined; drained: boolean } | { gone: true };

/**
 * The body, or none when it exceeds `limit`. The rest of a body too large is read and dropped, so that the refusal
 * arrives: a connection closed on a client still sending resets, and the client sees that instead. Past
 * MAX_DRAIN_BYTES reading stops (`drained` false): the refusal then says Connection: close, and Node ends the
 * connection once it is sent. `gone` when the client closed the connection before the body ended: nothing can be
 * answered, and nothing went wrong here.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Body> {
  return new Promise(resolve => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
      } else if (size > MAX_DRAIN_BYTES) {
        req.off('data', onData);
        req.pause();
        resolve({ body: undefined, drained: false });
      }
    };
    req.on('data', onData);
    req.once('end', () => {
      resolve(size > limit ? { body: undefined, drained: true } : { body: Buffer.concat(chunks) });
    });
    // Node reports a client gone mid-body as an error ("aborted", ECONNRESET), and then closes the request.
    const gone = () => {
      resolve({ gone: true });
    };
    req.once('error', gone);
    req.once('close', () => {
      if (!req.complete) gone();
    });
  });
}

type BodyResult =
  | { ok: true; value: unknown }
  | { ok: false; status: number; code: number; message: string; headers: Record<string, string> };

async function readJson(req: IncomingMessage): Promise<BodyResult | { gone: true }> {
  const read = await readBody(req, MAX_BODY_BYTES);
  if ('gone' in read) return read;
  if (read.body === undefined) {
    const headers = read.drained ? {} : CLOSE;
    return { ok: false, status: 413, code: SERVER_ERROR, message: 'Request body too large', headers };
  }
  try {
    return { ok: true, value: JSON.parse(read.body.toString('utf8')) as unknown };
  } catch {
    return {
      ok: false,
      status: 400,
      code: PARSE_ERROR,
      message: 'Parse error: the body is not JSON',
      headers: {},
    };
  }
}
