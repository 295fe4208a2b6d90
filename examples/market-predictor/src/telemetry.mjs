// What /metrics exposes: the service's own instruments and the usual process metrics.

import { createRegistry } from './metrics.mjs';

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** `model` is read at scrape time; `lokiDropped()` counts log lines dropped while Loki was away. */
export function createTelemetry({ model, lokiDropped }) {
  const registry = createRegistry();
  const requests = registry.counter('http_requests_total', 'HTTP requests by route, method and status code.');
  const duration = registry.histogram(
    'http_request_duration_seconds',
    'HTTP request duration in seconds, by route.',
    DURATION_BUCKETS,
  );
  const predictions = registry.counter('predictions_total', 'Predictions served, by symbol.');
  const predictionErrors = registry.counter('prediction_errors_total', 'Predictions that failed, by reason.');
  registry.collected(
    'model_age_seconds',
    'Seconds since the model was last refreshed.',
    'gauge',
    () => (Date.now() - model.refreshedAt) / 1000,
  );
  registry.collected(
    'model_last_refresh_timestamp_seconds',
    'Unix time of the last model refresh, in seconds.',
    'gauge',
    () => model.refreshedAt / 1000,
  );
  registry.collected(
    'loki_dropped_lines_total',
    'Log lines Loki never got: dropped from the full buffer while it was away, or refused by it.',
    'counter',
    lokiDropped,
  );
  registry.collected(
    'process_cpu_seconds_total',
    'Total user and system CPU time spent, in seconds.',
    'counter',
    () => {
      const { user, system } = process.cpuUsage();
      return (user + system) / 1e6;
    },
  );
  registry.collected('process_resident_memory_bytes', 'Resident memory size, in bytes.', 'gauge', () =>
    process.memoryUsage.rss(),
  );
  registry.collected(
    'process_heap_bytes',
    'V8 heap in use, in bytes.',
    'gauge',
    () => process.memoryUsage().heapUsed,
  );
  registry.collected(
    'nodejs_external_memory_bytes',
    'Memory held outside the V8 heap (Buffers and other external memory), in bytes.',
    'gauge',
    () => process.memoryUsage().external,
  );
  registry.collected(
    'process_start_time_seconds',
    'Start time of the process since the Unix epoch, in seconds.',
    'gauge',
    () => performance.timeOrigin / 1000,
  );
  return { render: registry.render, requests, duration, predictions, predictionErrors };
}
