// The service's verdict on itself for /health: its own checks, and ok, degraded or down.

const MIB = 1024 * 1024;

/** Heap plus external memory: the leak fault retains Buffers, which live outside the V8 heap. */
export function memoryInUse() {
  const { heapUsed, external } = process.memoryUsage();
  return heapUsed + external;
}

/** Degraded when a check fails; down only while shutting down, when it should get no more traffic. */
export function assessHealth({
  modelAgeSeconds,
  maxModelAgeSeconds,
  memoryBytes,
  memoryLimitBytes,
  draining,
}) {
  const checks = [
    {
      name: 'model_freshness',
      status: modelAgeSeconds <= maxModelAgeSeconds ? 'ok' : 'fail',
      detail: `model is ${Math.round(modelAgeSeconds)} s old (max ${maxModelAgeSeconds} s)`,
    },
    {
      name: 'memory',
      status: memoryBytes <= memoryLimitBytes ? 'ok' : 'fail',
      detail: `heap and buffers hold ${Math.round(memoryBytes / MIB)} MiB (limit ${Math.round(memoryLimitBytes / MIB)} MiB)`,
    },
  ];
  const status = draining ? 'down' : checks.every(check => check.status === 'ok') ? 'ok' : 'degraded';
  return { status, checks };
}
