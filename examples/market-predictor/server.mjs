#!/usr/bin/env node
// Runs the market predictor: HOST (127.0.0.1), PORT (8080; 0 picks a free one), LOKI_URL (optional),
// PREDICTOR_ADMIN=1 enables POST/DELETE /admin/faults, PREDICTOR_FAULTS='{"error_rate":0.2}' starts with faults.
import { startPredictor } from './src/app.mjs';

const faults = process.env.PREDICTOR_FAULTS ? JSON.parse(process.env.PREDICTOR_FAULTS) : {};
const predictor = await startPredictor({
  host: process.env.HOST ?? '127.0.0.1',
  port: Number(process.env.PORT ?? 8080),
  admin: process.env.PREDICTOR_ADMIN === '1',
  lokiUrl: process.env.LOKI_URL || undefined,
  faults,
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    await predictor.close();
    process.exit(0);
  });
}
