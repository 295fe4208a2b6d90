// Entry of the `devops-mcp` command: the only module that touches argv, env, signals and exit codes.

import { homedir, hostname, userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { createContext, type Context } from './context.ts';
import { isLoopbackHost } from './lib/net.ts';
import { ownerAlive, processOwner } from './lib/owner.ts';
import { VERSION } from './server.ts';
import type { Store } from './store/index.ts';
import { defaultDbPath } from './store/paths.ts';

const USAGE = `devops-mcp ${VERSION}: safe, fast DevOps tools over MCP

Usage:
  devops-mcp serve                          MCP over stdio (Claude Desktop, IDEs, the Inspector)
  devops-mcp serve --http [--host H] [--port P]
                                            MCP over Streamable HTTP at /mcp, plus /healthz and
                                            the Alertmanager webhook POST /alerts
  devops-mcp serve --watch [--http …]       also turn Prometheus's firing alerts into incidents
  devops-mcp check                          probe every configured backend
  devops-mcp audit verify                   check the audit log's hash chain (exit 1 if altered)
  devops-mcp audit tail [-n N]              print the last N audit rows (default 20)
  devops-mcp agent [--mode M] [--once] [--incident ID]
                                            the headless loop: investigate open incidents with the LLM
                                            (OPENAI_API_KEY / OPENAI_BASE_URL) through the same tools;
                                            M = observe (default) | propose | autonomous
  devops-mcp agent pause [--reason TEXT] | agent resume
                                            the kill switch: run_sandbox_test and open_pr refuse everyone
  devops-mcp --version | --help

Settings come from environment variables and the optional DEVOPS_MCP_CONFIG file; see the README.`;

// Grace period for in-flight work on SIGINT/SIGTERM before the process exits anyway.
const SHUTDOWN_GRACE_MS = 5000;

function fail(message: string, code = 1): void {
  process.stderr.write(`devops-mcp: ${message}\n`);
  process.exitCode = code;
}

export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        http: { type: 'boolean', default: false },
        watch: { type: 'boolean', default: false },
        lines: { type: 'string', short: 'n' },
        mode: { type: 'string' },
        once: { type: 'boolean', default: false },
        incident: { type: 'string' },
        reason: { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
        version: { type: 'boolean', short: 'v', default: false },
      },
    });
  } catch (error) {
    fail(`${(error as Error).message}\n\n${USAGE}`, 2);
    return;
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  if (values.help || command === undefined || command === 'help') {
    (command === undefined && !values.help ? process.stderr : process.stdout).write(`${USAGE}\n`);
    if (command === undefined && !values.help) process.exitCode = 2;
    return;
  }
  if (positionals.length > (command === 'audit' || command === 'agent' ? 2 : 1)) {
    fail(`unexpected argument ${positionals.at(-1) ?? ''}\n\n${USAGE}`, 2);
    return;
  }
  if (values.watch && command !== 'serve') {
    fail('--watch applies to `serve` only', 2);
    return;
  }
  if (
    (values.mode !== undefined ||
      values.once ||
      values.incident !== undefined ||
      values.reason !== undefined) &&
    command !== 'agent'
  ) {
    fail('--mode, --once, --incident and --reason apply to `agent` only', 2);
    return;
  }
  if (values.lines !== undefined && command !== 'audit') {
    fail('-n applies to `audit tail` only', 2);
    return;
  }
  if ((values.http || values.host !== undefined || values.port !== undefined) && command !== 'serve') {
    fail('--http, --host and --port apply to `serve` only', 2);
    return;
  }
  if (!values.http && (values.host !== undefined || values.port !== undefined)) {
    fail('--host and --port need --http', 2);
    return;
  }

  const overrides: Array<{ path: string[]; value: unknown; flag: string }> = [];
  if (values.host !== undefined)
    overrides.push({ path: ['http', 'host'], value: values.host, flag: '--host' });
  if (values.port !== undefined) {
    overrides.push({
      path: ['http', 'port'],
      value: /^\d+$/.test(values.port) ? Number(values.port) : values.port,
      flag: '--port',
    });
  }
  let config: Config;
  try {
    config = await loadConfig({ env: process.env, overrides });
  } catch (error) {
    if (error instanceof ConfigError) {
      fail(error.message);
      return;
    }
    throw error;
  }

  switch (command) {
    case 'serve':
      await serve(config, values.http, values.watch);
      return;
    case 'audit':
      await audit(config, positionals[1], values.lines);
      return;
    case 'check':
      await check(config);
      return;
    case 'agent':
      await agent(config, positionals[1], values);
      return;
    default:
      fail(`unknown command ${command}\n\n${USAGE}`, 2);
  }
}

async function check(config: Config): Promise<void> {
  const ctx = createContext({ ...config, logLevel: config.logLevel === 'info' ? 'warn' : config.logLevel });
  const { formatChecks, runChecks } = await import('./check.ts');
  const results = await runChecks(ctx);
  process.stdout.write(`${formatChecks(results)}\n`);
  await ctx.close();
  if (results.some(r => r.status === 'failing')) process.exitCode = 1;
}

const storeOptions = () => ({ dbPath: defaultDbPath(process.env, homedir()) });

/** A store that cannot be opened stops the process with its message (no stack trace). */
/** The store, or undefined once its failure is reported (the process then exits 1). */
async function storeOrExit(ctx: Context): Promise<Store | undefined> {
  try {
    return await ctx.store();
  } catch (error) {
    storeFailed(ctx, error);
    return undefined;
  }
}

function storeFailed(ctx: Context, error: unknown): void {
  const message = (error as Error).name === 'StoreError' ? (error as Error).message : String(error);
  fail(message);
  void ctx.close().finally(() => process.exit(1));
}

async function audit(config: Config, action: string | undefined, lines: string | undefined): Promise<void> {
  if (action !== 'verify' && action !== 'tail') {
    fail(`audit needs verify or tail\n\n${USAGE}`, 2);
    return;
  }
  const count = lines === undefined ? 20 : Number(lines);
  if (!Number.isInteger(count) || count < 1) {
    fail(`-n must be a positive whole number (got ${lines ?? ''})`, 2);
    return;
  }
  const ctx = createContext({ ...config, logLevel: 'warn' }, storeOptions());
  const store = await storeOrExit(ctx);
  if (!store) return;
  const { formatAuditRows } = await import('./store/format.ts');
  if (action === 'tail') {
    process.stdout.write(formatAuditRows(store.audit.tail(count)));
  } else {
    const verdict = store.audit.verify();
    if (verdict.ok) {
      process.stdout.write(
        `audit log intact: ${verdict.rows} rows in ${store.path}${verdict.rows > 0 ? `; head ${verdict.head}` : ''}${verdict.anchored || verdict.rows === 0 ? '' : ` (no anchor file ${store.path}.audit-head: rows cut from the end would not show)`}\n`,
      );
    } else {
      process.stdout.write(`audit log ALTERED at row ${verdict.row}: ${verdict.problem} (${store.path})\n`);
      process.exitCode = 1;
    }
  }
  await ctx.close();
}

async function serve(config: Config, http: boolean, watch: boolean): Promise<void> {
  if (http && !isLoopbackHost(config.http.host) && config.http.token === undefined) {
    fail(
      `DEVOPS_MCP_HTTP_TOKEN: required when serving HTTP on a non-loopback host (${config.http.host}); set it to a long random secret`,
    );
    return;
  }
  if (watch && !config.prometheus) {
    fail('PROMETHEUS_URL: required by serve --watch (the alerts are read from Prometheus)');
    return;
  }
  const ctx = createContext(config, { owner: processOwner(), ...storeOptions() });
  // HTTP and watch mode need the store at once: open it before listening, so a bad file stops the start.
  if ((http || watch) && !(await storeOrExit(ctx))) return;
  reapSandboxes(ctx);
  let stop: () => Promise<void>;
  if (http) {
    const { startHttpServer } = await import('./http.ts');
    let running;
    try {
      running = await startHttpServer(ctx, {
        host: config.http.host,
        port: config.http.port,
        token: config.http.token,
        allowedHosts: config.http.allowedHosts,
        allowedOrigins: config.http.allowedOrigins,
        maxSessions: config.http.maxSessions,
        sessionIdleMs: config.http.sessionIdleMinutes * 60_000,
      });
    } catch (error) {
      const code = (error as { code?: string }).code;
      fail(`cannot listen on ${config.http.host}:${config.http.port}: ${code ?? (error as Error).message}`);
      await ctx.close();
      return;
    }
    stop = () => running.close();
  } else {
    const [{ StdioServerTransport }, { createServer }] = await Promise.all([
      import('@modelcontextprotocol/sdk/server/stdio.js'),
      import('./server.ts'),
    ]);
    const server = createServer(ctx);
    // A plain `serve` opens the store right after the handshake: off the cold-start path the client waits on,
    // and still at start, so a bad file ends the process with its message instead of failing later calls.
    server.oninitialized = () => {
      ctx.store().catch((error: unknown) => {
        storeFailed(ctx, error);
      });
    };
    const transport = new StdioServerTransport();
    await server.connect(transport);
    const { trackRequests } = await import('./lib/drain.ts');
    const requests = trackRequests(transport);
    ctx.logger.info({ version: VERSION }, 'serving MCP over stdio');
    let answerable = true;
    // Requests already received are answered first (within the grace period): stdout outlives stdin.
    stop = async () => {
      if (answerable) await requests.settled(SHUTDOWN_GRACE_MS - 1000);
      await server.close();
    };
    // The client closing our stdin is the normal end of a stdio session.
    process.stdin.once('end', () => void shutdown(ctx, stop, 'stdin closed'));
    // The client closing its read end of stdout (EPIPE at the next answer) ends it too, and then no answer can
    // reach it: none is waited for. Unhandled, that error would end the process with a stack trace and exit code 1.
    process.stdout.on('error', (error: NodeJS.ErrnoException) => {
      answerable = false;
      void shutdown(ctx, stop, `stdout closed (${error.code ?? error.message})`);
    });
  }
  if (watch) {
    const { createWatcher } = await import('./incidents/watcher.ts');
    const watcher = createWatcher(ctx, { intervalMs: config.incidents.pollSeconds * 1000 });
    watcher.start();
    ctx.logger.info({ everySeconds: config.incidents.pollSeconds }, 'watching Prometheus alerts');
    const stopServing = stop;
    stop = async () => {
      await watcher.stop();
      await stopServing();
    };
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void shutdown(ctx, stop, signal));
  }
}

async function agent(
  config: Config,
  action: string | undefined,
  flags: {
    mode?: string | undefined;
    once: boolean;
    incident?: string | undefined;
    reason?: string | undefined;
  },
): Promise<void> {
  const { parseMode, runAgent, setPause } = await import('./agent/command.ts');
  if (action === 'pause' || action === 'resume') {
    if (flags.mode !== undefined || flags.once || flags.incident !== undefined) {
      fail(`agent ${action} takes no --mode, --once or --incident`, 2);
      return;
    }
    if (action === 'resume' && flags.reason !== undefined) {
      fail('--reason applies to `agent pause` only', 2);
      return;
    }
    const ctx = createContext({ ...config, logLevel: 'warn' }, storeOptions());
    try {
      const by = `${userInfo().username}@${hostname()}`;
      process.stdout.write(`${await setPause(ctx, action === 'pause', by, flags.reason)}\n`);
    } catch (error) {
      fail((error as Error).name === 'StoreError' ? (error as Error).message : String(error));
    }
    await ctx.close();
    return;
  }
  if (action !== undefined) {
    fail(`unknown agent action ${action}; use pause or resume, or no action to run the loop\n\n${USAGE}`, 2);
    return;
  }
  if (flags.reason !== undefined) {
    fail('--reason applies to `agent pause` only', 2);
    return;
  }
  const mode = parseMode(flags.mode);
  if (mode === undefined) {
    fail(`--mode must be observe, propose or autonomous (got ${flags.mode ?? ''})`, 2);
    return;
  }
  const incident = flags.incident === undefined ? undefined : Number(flags.incident);
  if (incident !== undefined && (!Number.isInteger(incident) || incident < 1)) {
    fail(`--incident must be an incident number (got ${flags.incident ?? ''})`, 2);
    return;
  }
  if (incident !== undefined && flags.once) {
    fail(
      '--once and --incident exclude each other: --incident already investigates one incident and ends',
      2,
    );
    return;
  }
  if (config.openai.apiKey === undefined && config.openai.baseUrl === undefined) {
    fail('OPENAI_API_KEY or OPENAI_BASE_URL: required by agent (the model that investigates)');
    return;
  }
  const ctx = createContext(config, { owner: processOwner(), ...storeOptions() });
  if (!(await storeOrExit(ctx))) return;
  reapSandboxes(ctx);
  // The signal ends the investigation under way (a model call in flight is abandoned; an act step under way, a
  // sandbox run or a PR, finishes) and the loop; a second signal exits at once. Either way the next run takes the
  // incident up again (agent/loop.ts closes what a process that died left running).
  const stop = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      ctx.logger.info({ signal }, 'stopping');
      stop.abort();
      process.once(signal, () => process.exit(130));
    });
  }
  try {
    process.exitCode = await runAgent(ctx, {
      mode,
      once: flags.once,
      incident,
      stop: stop.signal,
      narrate: line => process.stderr.write(`agent: ${line}\n`),
    });
  } catch (error) {
    ctx.logger.error({ err: error }, 'the agent failed');
    process.exitCode = 1;
  }
  await ctx.close();
}

/** Removes sandbox containers a crashed devops-mcp on this host left behind; never those of a live one. */
function reapSandboxes(ctx: Context): void {
  if (Object.keys(ctx.config.repos).length === 0) return;
  // Containers of other hosts sharing this engine are theirs to reap (ownerAlive says so of them).
  ctx.docker
    .reap(ownerAlive)
    .then(count => {
      if (count > 0) ctx.logger.info({ count }, 'removed sandbox containers left by a stopped server');
    })
    .catch((error: unknown) => {
      ctx.logger.warn({ err: error }, 'could not look for leftover sandbox containers');
    });
}

let stopping = false;

async function shutdown(ctx: Context, stop: () => Promise<void>, reason: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  ctx.logger.info({ reason }, 'shutting down');
  const force = setTimeout(() => {
    ctx.logger.warn('shutdown took too long; exiting');
    process.exit(1);
  }, SHUTDOWN_GRACE_MS);
  force.unref();
  try {
    await stop();
    await ctx.close();
  } catch (error) {
    ctx.logger.error({ err: error }, 'error while shutting down');
    process.exitCode = 1;
  }
  clearTimeout(force);
  process.exit();
}
