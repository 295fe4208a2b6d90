// Ships log lines to Loki's push API in batches; never blocks or breaks the service when Loki is away.

const FLUSH_MS = 1000;
const MAX_BATCH = 500;
const MAX_BUFFER = 10_000;
const TIMEOUT_MS = 2000;

/** Unix milliseconds as Loki's nanosecond epoch string. */
const nanos = ms => `${BigInt(Math.floor(ms)) * 1_000_000n + BigInt(Math.round((ms % 1) * 1e6))}`;

export function createLokiShipper({ url, labels, onError = () => {} }) {
  let buffer = [];
  let dropped = 0;
  let sending = Promise.resolve();

  async function send(batch) {
    const streams = new Map();
    for (const entry of batch) {
      const stream = { ...labels, level: entry.level };
      const id = JSON.stringify(stream);
      const s = streams.get(id) ?? { stream, values: [] };
      s.values.push([nanos(entry.ms), entry.line]);
      streams.set(id, s);
    }
    try {
      const response = await fetch(new URL('/loki/api/v1/push', url), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ streams: [...streams.values()] }),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      if (!response.ok) onError(new Error(`Loki answered HTTP ${response.status}`));
    } catch (error) {
      onError(error);
    }
  }

  function flush() {
    if (buffer.length === 0) return sending;
    const batch = buffer.splice(0, MAX_BATCH);
    sending = sending.then(() => send(batch));
    return sending;
  }

  const timer = setInterval(flush, FLUSH_MS);
  timer.unref();

  return {
    push(level, line) {
      if (buffer.length >= MAX_BUFFER) {
        buffer.shift();
        dropped++;
      }
      buffer.push({ ms: Date.now(), level, line });
      if (buffer.length >= MAX_BATCH) void flush();
    },
    get dropped() {
      return dropped;
    },
    async close() {
      clearInterval(timer);
      while (buffer.length > 0) await flush();
      await sending;
    },
  };
}
