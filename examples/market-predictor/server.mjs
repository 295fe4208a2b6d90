#!/usr/bin/env node
// Runs the market predictor. Environment: HOST (127.0.0.1), PORT (8080; 0 picks a free one), LOKI_URL,
// PREDICTOR_ADMIN=1 (enables /admin/faults), PREDICTOR_FAULTS (a fault set in JSON, active from the start).
import { startPredictor } from './src/app.mjs';

function fail(msg, error) {
  const entry = { ts: new Date().toISOString(), level: 'error', msg, service: 'market-predictor', error };
  process.stdout.write(`${JSON.stringify(entry)}\n`);
  process.exit(1);
}

let faults;
try {
  faults = JSON.parse(process.env.PREDICTOR_FAULTS || '{}');
} catch (error) {
  fail('PREDICTOR_FAULTS is not valid JSON', error.message);
}

const port = Number(process.env.PORT || 8080);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail('PORT must be a port number', process.env.PORT);

const predictor = await startPredictor({
  host: process.env.HOST || '127.0.0.1',
  port,
  admin: process.env.PREDICTOR_ADMIN === '1',
  lokiUrl: process.env.LOKI_URL || undefined,
  faults,
}).catch(error => fail('cannot start', error.message));

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    await predictor.close();
    process.exit(0);
  });
}
