// The market predictor: forecasts a price as the moving average of recent prices, and reports on itself.

import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import * as defaults from './config.mjs';
import { createLokiShipper } from './loki.mjs';
import { createRegistry } from './metrics.mjs';

const VERSION = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;
const ROUTES = new Set(['/predict', '/health', '/metrics', '/admin/faults']);
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const FAULT_KEYS = {
  error_rate: 'number',
  latency_ms: 'number',
  stale_model: 'boolean',
  memory_leak_mb_per_s: 'number',
};

/** A deterministic pseudo-random sequence, so the seeded prices are the same on every start. */
function prng(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

function seedPrices(symbol, count) {
  const random = prng([...symbol].reduce((h, c) => h * 31 + c.charCodeAt(0), 7));
  const prices = [100];
  for (let i = 1; i < count; i++) prices.push(Math.max(1, prices[i - 1] * (1 + (random() - 0.5) * 0.02)));
  return prices;
}

export function validateFaults(input) {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    return 'faults must be a JSON object';
  for (const [name, value] of Object.entries(input)) {
    const type = FAULT_KEYS[name];
    if (!type) return `unknown fault "${name}" (known: ${Object.keys(FAULT_KEYS).join(', ')})`;
    if (typeof value !== type) return `fault "${name}" must be a ${type}`;
    if (name === 'error_rate' && (value < 0 || value > 1)) return 'error_rate must be between 0 and 1';
    if (type === 'number' && (value < 0 || !Number.isFinite(value))) return `fault "${name}" must be >= 0`;
  }
  return undefined;
}

/**
 * options: host, port, admin (enables /admin/faults), faults, lokiUrl, log (a sink for log objects;
 * default: JSON lines on stdout), and overrides of the config values (window, modelRefreshSeconds,
 * modelMaxAgeSeconds, memoryLimitBytes).
 */
export async function startPredictor(options = {}) {
  const settings = {
    window: options.window ?? defaults.MOVING_AVERAGE_WINDOW,
    refreshSeconds: options.modelRefreshSeconds ?? defaults.MODEL_REFRESH_SECONDS,
    maxAgeSeconds: options.modelMaxAgeSeconds ?? defaults.MODEL_MAX_AGE_SECONDS,
    memoryLimitBytes: options.memoryLimitBytes ?? defaults.MEMORY_LIMIT_BYTES,
  };
  const startProblem = validateFaults(options.faults ?? {});
  if (startProblem) throw new Error(startProblem);
  const started = Date.now();
  let faults = {};
  const leaked = [];
  const prices = new Map(defaults.SYMBOLS.map(symbol => [symbol, seedPrices(symbol, 200)]));
  let modelRefreshedAt = Date.now();
  let modelVersion = 1;

  const shipper = options.lokiUrl
    ? createLokiShipper({ url: options.lokiUrl, labels: { service: 'market-predictor' }, onError: () => {} })
    : undefined;
  const sink = options.log ?? (entry => process.stdout.write(`${JSON.stringify(entry)}\n`));
  function log(level, msg, fields = {}) {
    const entry = { ts: new Date().toISOString(), level, msg, service: 'market-predictor', ...fields };
    sink(entry);
    shipper?.push(level, JSON.stringify(entry));
  }

  const registry = createRegistry();
  const requests = registry.counter('http_requests_total', 'HTTP requests by route, method and status code.');
  const duration = registry.histogram(
    'http_request_duration_seconds',
    'HTTP request latency by route.',
    BUCKETS,
  );
  const predictions = registry.counter('predictions_total', 'Predictions served, by symbol.');
  const modelAge = () => (Date.now() - modelRefreshedAt) / 1000;
  registry.gauge('model_age_seconds', 'Seconds since the model was last refreshed.', () => [
    [{}, modelAge()],
  ]);
  registry.gauge('model_last_refresh_timestamp_seconds', 'Unix time of the last model refresh.', () => [
    [{}, modelRefreshedAt / 1000],
  ]);
  registry.gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', () => [
    [{}, process.memoryUsage().rss],
  ]);
  registry.gauge('process_heap_bytes', 'V8 heap in use, in bytes.', () => [
    [{}, process.memoryUsage().heapUsed],
  ]);
  registry.gauge('process_cpu_seconds_total', 'User and system CPU time spent, in seconds.', () => {
    const { user, system } = process.cpuUsage();
    return [[{}, (user + system) / 1e6]];
  });
  registry.gauge('process_start_time_seconds', 'Start time of the process, in unix seconds.', () => [
    [{}, started / 1000],
  ]);

  const refresh = setInterval(() => {
    if (faults.stale_model) return;
    for (const [symbol, series] of prices) {
      const last = series.at(-1);
      series.push(Math.max(1, last * (1 + (Math.random() - 0.5) * 0.01)));
      if (series.length > 1000) series.shift();
      prices.set(symbol, series);
    }
    modelRefreshedAt = Date.now();
    modelVersion++;
  }, settings.refreshSeconds * 1000);
  refresh.unref();
  const leak = setInterval(() => {
    const mb = faults.memory_leak_mb_per_s ?? 0;
    if (mb > 0) leaked.push(Buffer.alloc(Math.round(mb * 1024 * 1024), 1));
  }, 1000);
  leak.unref();

  /** Applies a validated fault set. A stale model is one stuck on data older than its allowed age. */
  function applyFaults(next) {
    if (next.stale_model && !faults.stale_model)
      modelRefreshedAt = Date.now() - (settings.maxAgeSeconds + 60) * 1000;
    faults = { ...next };
    if (!faults.memory_leak_mb_per_s) leaked.length = 0;
  }
  applyFaults(options.faults ?? {});

  function health() {
    const age = modelAge();
    const heap = process.memoryUsage();
    const held = heap.heapUsed + heap.arrayBuffers;
    const checks = {
      model_freshness: {
        status: age <= settings.maxAgeSeconds ? 'ok' : 'fail',
        detail: `model is ${Math.round(age)} s old (max ${settings.maxAgeSeconds} s)`,
      },
      memory: {
        status: held <= settings.memoryLimitBytes ? 'ok' : 'fail',
        detail: `${Math.round(held / 1048576)} MiB in use (limit ${Math.round(settings.memoryLimitBytes / 1048576)} MiB)`,
      },
    };
    const failing = Object.values(checks).some(c => c.status !== 'ok');
    return {
      status: failing ? 'degraded' : 'ok',
      version: VERSION,
      uptime_seconds: (Date.now() - started) / 1000,
      checks,
    };
  }

  function predict(url) {
    const symbol = url.searchParams.get('symbol');
    if (!symbol || !/^[A-Z]{1,10}$/.test(symbol))
      return [400, { error: 'symbol must be 1-10 capital letters' }];
    const series = prices.get(symbol);
    if (!series) return [404, { error: `unknown symbol ${symbol}` }];
    if (faults.error_rate && Math.random() < faults.error_rate) {
      log('error', 'prediction failed: upstream price feed error (injected fault)', { symbol });
      return [500, { error: 'prediction failed' }];
    }
    const recent = series.slice(-settings.window);
    const prediction = settings.window === 0 ? 0 / 0 : recent.reduce((a, b) => a + b, 0) / recent.length;
    if (!Number.isFinite(prediction)) {
      log('error', 'prediction produced a non-finite value', { symbol, window: settings.window });
      return [500, { error: 'prediction produced a non-finite value' }];
    }
    predictions.inc({ symbol });
    return [
      200,
      {
        symbol,
        prediction: Number(prediction.toFixed(4)),
        window: settings.window,
        model_version: modelVersion,
        generated_at: new Date().toISOString(),
      },
    ];
  }

  async function admin(req) {
    if (!options.admin) return [404, { error: 'not found' }];
    if (req.method === 'GET') return [200, faults];
    if (req.method === 'DELETE') {
      applyFaults({});
      return [200, faults];
    }
    if (req.method !== 'POST') return [405, { error: 'method not allowed' }];
    let body = '';
    for await (const chunk of req) body += chunk;
    let parsed;
    try {
      parsed = JSON.parse(body || '{}');
    } catch {
      return [400, { error: 'body must be JSON' }];
    }
    const problem = validateFaults(parsed);
    if (problem) return [400, { error: problem }];
    applyFaults(parsed);
    log('warn', 'fault modes changed', { faults });
    return [200, faults];
  }

  const server = createServer(async (req, res) => {
    const began = performance.now();
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = ROUTES.has(url.pathname) ? url.pathname : 'other';
    const requestId = randomUUID();
    let status;
    let body;
    let type = 'application/json';
    try {
      if (route === '/predict' && req.method === 'GET') {
        if (faults.latency_ms) await new Promise(resolve => setTimeout(resolve, faults.latency_ms));
        [status, body] = predict(url);
      } else if (route === '/health' && req.method === 'GET') {
        body = health();
        status = body.status === 'down' ? 503 : 200;
      } else if (route === '/metrics' && req.method === 'GET') {
        [status, body, type] = [200, registry.render(), 'text/plain; version=0.0.4; charset=utf-8'];
      } else if (route === '/admin/faults') {
        [status, body] = await admin(req);
      } else {
        [status, body] = [404, { error: 'not found' }];
      }
    } catch (error) {
      log('error', 'request failed', { error: String(error), request_id: requestId });
      [status, body] = [500, { error: 'internal error' }];
    }
    res.writeHead(status, { 'content-type': type });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
    const seconds = (performance.now() - began) / 1000;
    requests.inc({ route, method: req.method ?? 'GET', code: String(status) });
    duration.observe({ route }, seconds);
    if (route !== '/metrics' && route !== '/health') {
      log(status >= 500 ? 'error' : 'info', 'request', {
        route,
        status,
        duration_ms: Math.round(seconds * 1000),
        request_id: requestId,
      });
    }
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, options.host ?? '127.0.0.1', resolve);
  });
  const { port } = server.address();
  const url = `http://${options.host ?? '127.0.0.1'}:${port}`;
  log('info', 'market predictor listening', { url, version: VERSION, window: settings.window });

  return {
    url,
    port,
    setFaults(next) {
      const problem = validateFaults(next);
      if (problem) throw new Error(problem);
      applyFaults(next);
    },
    async close() {
      clearInterval(refresh);
      clearInterval(leak);
      await new Promise(resolve => {
        server.close(resolve);
        server.closeAllConnections();
      });
      await shipper?.close();
    },
  };
}
