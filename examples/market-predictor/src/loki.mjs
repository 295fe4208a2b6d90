// Ships log lines to Loki's push API in batches. It never blocks the service and never throws at it: while
// Loki is down or slow, lines wait in a bounded buffer that drops (and counts) the oldest.
// `dropped` counts every line Loki will never get: pushed out of the full buffer, or refused by Loki.

const PUSH_PATH = '/loki/api/v1/push';

/**
 * `labels` must be low-cardinality (service, environment): each distinct set is a Loki stream. The
 * level is added per line. `onStatus(error)` is told when pushing starts failing (with the error) and
 * when it works again (with undefined).
 */
export function createLokiShipper({
  url,
  labels,
  onStatus = () => {},
  flushMs = 1000,
  maxBatch = 500,
  maxBuffer = 10_000,
  timeoutMs = 2000,
}) {
  const endpoint = `${url.replace(/\/+$/, '')}${PUSH_PATH}`;
  let buffer = [];
  let dropped = 0;
  let failing = false;
  let inFlight;
  let lastNs = 0n;

  /** Unix nanoseconds as a string, strictly increasing so that lines of one millisecond keep their order. */
  function timestamp(unixMs) {
    const ns = BigInt(unixMs) * 1_000_000n;
    lastNs = ns > lastNs ? ns : lastNs + 1n;
    return String(lastNs);
  }

  /** Puts a batch Loki did not take back in front, keeping the newest lines when that is too many. */
  function requeue(batch) {
    buffer = [...batch, ...buffer];
    const excess = buffer.length - maxBuffer;
    if (excess > 0) {
      buffer = buffer.slice(excess);
      dropped += excess;
    }
  }

  function body(batch) {
    const streams = new Map();
    for (const { level, ts, line } of batch) {
      if (!streams.has(level)) streams.set(level, { stream: { ...labels, level }, values: [] });
      streams.get(level).values.push([ts, line]);
    }
    return JSON.stringify({ streams: [...streams.values()] });
  }

  /** Pushes one batch; true when Loki took it. */
  async function pushBatch() {
    const batch = buffer.slice(0, maxBatch);
    buffer = buffer.slice(batch.length);
    let error;
    try {
      const response = await fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: body(batch),
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.body?.cancel();
      if (!response.ok) error = new Error(`Loki answered HTTP ${response.status}`);
      // Loki refuses a malformed or too old batch for good (4xx); anything else may pass later.
      if (response.status >= 500 || response.status === 429) requeue(batch);
      else if (!response.ok) dropped += batch.length;
    } catch (cause) {
      error = cause;
      requeue(batch);
    }
    if (Boolean(error) !== failing) {
      failing = Boolean(error);
      onStatus(error);
    }
    return !error;
  }

  /** At most one push at a time: a slow Loki holds lines in the bounded buffer, not in pending requests. */
  function flush() {
    if (!inFlight && buffer.length > 0) inFlight = pushBatch().finally(() => (inFlight = undefined));
    return inFlight;
  }

  const timer = setInterval(flush, flushMs);
  timer.unref();

  return {
    push(unixMs, level, line) {
      buffer.push({ level, ts: timestamp(unixMs), line });
      if (buffer.length > maxBuffer) {
        buffer.shift();
        dropped++;
      }
      if (buffer.length >= maxBatch) void flush();
    },
    get dropped() {
      return dropped;
    },
    /** Sends what is left, stopping at the first failure so that a dead Loki cannot hold up shutdown. */
    async close() {
      clearInterval(timer);
      let delivered = (await inFlight) ?? true;
      while (delivered && buffer.length > 0) delivered = await flush();
    },
  };
}
