// The market predictor: forecasts a price as the moving average of its recent prices, and reports on itself
// through /health, /metrics and JSON logs.

import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import * as config from './config.mjs';
import { createFaults, validateFaults } from './faults.mjs';
import { assessHealth, memoryInUse } from './health.mjs';
import { createLogger } from './logger.mjs';
import { createLokiShipper } from './loki.mjs';
import { CONTENT_TYPE as METRICS_CONTENT_TYPE } from './metrics.mjs';
import { createModel, movingAverage } from './model.mjs';
import { createTelemetry } from './telemetry.mjs';

export { validateFaults };

export const VERSION = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;

const SERVICE = 'market-predictor';
const MAX_BODY_BYTES = 16 * 1024;
const SHUTDOWN_GRACE_MS = 5000;
// Probes poll these every few seconds: a line for each would drown the real traffic.
const QUIET_ROUTES = new Set(['/health', '/metrics']);

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const json = (status, body) => ({ status, type: 'application/json', body: JSON.stringify(body) });

/** A 500 whose one log line (level error) names the cause, so that each failed request logs exactly once. */
const failure = (msg, fields = {}) => ({ ...json(500, { error: msg }), log: { msg, ...fields } });

async function readJson(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, 'body must be JSON');
  }
}

/** A fetch failure's useful part: "connect ECONNREFUSED …" rather than "fetch failed". */
const errorText = error => String(error?.cause?.message ?? error?.message ?? error);

/**
 * Starts the service. Options: host (127.0.0.1), port (8080; 0 picks a free one), admin (enables
 * /admin/faults), faults (active from the start), lokiUrl, log (a sink for log objects instead of stdout),
 * and overrides of src/config.mjs: window, modelRefreshSeconds, modelMaxAgeSeconds, memoryLimitBytes.
 */
export async function startPredictor(options = {}) {
  // Checked before anything starts, so that a bad set leaves nothing running.
  const problem = validateFaults(options.faults ?? {});
  if (problem) throw new TypeError(problem);
  const settings = {
    window: options.window ?? config.MOVING_AVERAGE_WINDOW,
    refreshSeconds: options.modelRefreshSeconds ?? config.MODEL_REFRESH_SECONDS,
    maxModelAgeSeconds: options.modelMaxAgeSeconds ?? config.MODEL_MAX_AGE_SECONDS,
    memoryLimitBytes: options.memoryLimitBytes ?? config.MEMORY_LIMIT_BYTES,
  };
  const host = options.host ?? '127.0.0.1';
  const startedAt = Date.now();
  let draining = false;

  const shipper = options.lokiUrl
    ? createLokiShipper({
        url: options.lokiUrl,
        labels: { service: SERVICE },
        onStatus: error =>
          error
            ? log('warn', 'loki push failing; buffering log lines', { error: errorText(error) })
            : log('info', 'loki push working again', { dropped_lines: shipper.dropped }),
      })
    : undefined;
  const log = createLogger({ service: SERVICE, sink: options.log, ship: shipper?.push });

  const model = createModel({ symbols: config.SYMBOLS, historyLength: config.HISTORY_LENGTH });
  const faults = createFaults();
  const telemetry = createTelemetry({ model, lokiDropped: () => shipper?.dropped ?? 0 });

  const refresher = setInterval(() => {
    if (faults.active.stale_model) return;
    model.refresh();
    log('info', 'model refreshed', { model_version: model.version });
  }, settings.refreshSeconds * 1000);
  refresher.unref();

  function setFaults(next) {
    const before = JSON.stringify(faults.active);
    const wasStale = Boolean(faults.active.stale_model);
    faults.set(next);
    if (JSON.stringify(faults.active) === before) return;
    const stale = Boolean(faults.active.stale_model);
    // Stale means the refreshes stopped long ago: show that age now rather than minutes from now.
    if (stale && !wasStale) model.backdate(settings.maxModelAgeSeconds + 60);
    if (!stale && wasStale) model.refresh();
    const cleared = Object.keys(faults.active).length === 0;
    log(cleared ? 'info' : 'warn', cleared ? 'fault modes cleared' : 'fault modes set', {
      faults: faults.active,
    });
  }
  setFaults(options.faults ?? {});

  async function predict(ctx) {
    if (faults.active.latency_ms) await sleep(faults.active.latency_ms);
    const symbol = ctx.params.get('symbol')?.trim().toUpperCase();
    if (!symbol) return json(400, { error: 'missing query parameter "symbol"' });
    if (!/^[A-Z]{1,10}$/.test(symbol)) return json(400, { error: 'symbol must be 1 to 10 letters' });
    if (!model.has(symbol)) return json(404, { error: `unknown symbol "${symbol}"`, known: config.SYMBOLS });
    ctx.fields.symbol = symbol;

    if (faults.failNow()) {
      telemetry.predictionErrors.inc({ reason: 'injected' });
      return failure('prediction failed: price feed unavailable (injected fault)');
    }
    const prediction = movingAverage(model.prices(symbol), settings.window);
    if (!Number.isFinite(prediction)) {
      telemetry.predictionErrors.inc({ reason: 'non_finite' });
      return failure('prediction produced a non-finite value', {
        window: settings.window,
        value: String(prediction),
      });
    }
    telemetry.predictions.inc({ symbol });
    return json(200, {
      symbol,
      prediction: Number(prediction.toFixed(4)),
      window: settings.window,
      model_version: model.version,
      generated_at: new Date().toISOString(),
    });
  }

  function health() {
    const { status, checks } = assessHealth({
      modelAgeSeconds: (Date.now() - model.refreshedAt) / 1000,
      maxModelAgeSeconds: settings.maxModelAgeSeconds,
      memoryBytes: memoryInUse(),
      memoryLimitBytes: settings.memoryLimitBytes,
      draining,
    });
    const uptime = Math.round((Date.now() - startedAt) / 100) / 10;
    return json(status === 'down' ? 503 : 200, { status, version: VERSION, uptime_seconds: uptime, checks });
  }

  async function postFaults(ctx) {
    const next = await readJson(ctx.req);
    const invalid = validateFaults(next);
    if (invalid) return json(400, { error: invalid });
    setFaults(next);
    return json(200, faults.active);
  }

  const routes = {
    '/predict': { GET: predict },
    '/health': { GET: health },
    '/metrics': { GET: () => ({ status: 200, type: METRICS_CONTENT_TYPE, body: telemetry.render() }) },
    ...(options.admin && {
      '/admin/faults': {
        GET: () => json(200, faults.active),
        POST: postFaults,
        DELETE: () => {
          setFaults({});
          return json(200, faults.active);
        },
      },
    }),
  };

  async function respond(route, ctx) {
    if (route === 'other') return json(404, { error: 'not found' });
    const handler = routes[route][ctx.req.method];
    if (!handler) {
      return {
        ...json(405, { error: 'method not allowed' }),
        headers: { allow: Object.keys(routes[route]).join(', ') },
      };
    }
    try {
      return await handler(ctx);
    } catch (error) {
      if (error instanceof HttpError) return json(error.status, { error: error.message });
      return failure('request failed unexpectedly', { error: errorText(error) });
    }
  }

  async function handle(req, res) {
    const began = performance.now();
    const target = req.url ?? '/';
    const query = target.indexOf('?');
    const path = query === -1 ? target : target.slice(0, query);
    // Known paths only: query strings and unknown paths would give the metrics unbounded label values.
    const route = Object.hasOwn(routes, path) ? path : 'other';
    const ctx = {
      req,
      requestId: randomUUID(),
      params: new URLSearchParams(query === -1 ? '' : target.slice(query + 1)),
      fields: {},
    };
    const response = await respond(route, ctx);
    res.writeHead(response.status, {
      'content-type': response.type,
      'x-request-id': ctx.requestId,
      // Shutting down: no keep-alive, or this connection would hold up the close.
      ...(draining && { connection: 'close' }),
      ...response.headers,
    });
    res.end(response.body);

    const seconds = (performance.now() - began) / 1000;
    telemetry.requests.inc({ route, method: req.method, code: String(response.status) });
    telemetry.duration.observe({ route }, seconds);
    if (QUIET_ROUTES.has(route) && response.status < 500) return;
    const { msg = 'request', ...cause } = response.log ?? {};
    log(response.status >= 500 ? 'error' : 'info', msg, {
      route,
      method: req.method,
      status: response.status,
      duration_ms: Math.round(seconds * 1000),
      request_id: ctx.requestId,
      ...ctx.fields,
      ...cause,
    });
  }

  function stopBackground() {
    clearInterval(refresher);
    faults.stop();
  }

  const server = createServer((req, res) => void handle(req, res));
  try {
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 8080, host, resolve);
    });
  } catch (error) {
    stopBackground();
    await shipper?.close();
    throw error;
  }
  const { port } = server.address();
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  log('info', 'market predictor listening', { url, port, version: VERSION, window: settings.window });

  let closing;
  /** Stops accepting, lets in-flight requests finish (for a grace period), then flushes the logs. */
  function close() {
    closing ??= (async () => {
      draining = true;
      stopBackground();
      await new Promise(resolve => {
        const cut = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
        server.close(() => {
          clearTimeout(cut);
          resolve();
        });
      });
      log('info', 'market predictor stopped', {
        uptime_seconds: Math.round((Date.now() - startedAt) / 1000),
      });
      await shipper?.close();
    })();
    return closing;
  }

  return { url, port, setFaults, close };
}
