// Structured logs: one JSON object per line, to a sink (stdout by default) and, when configured, to Loki.

const writeStdout = entry => process.stdout.write(`${JSON.stringify(entry)}\n`);

/** `ship(unixMs, level, line)` forwards each line, e.g. to a Loki shipper. */
export function createLogger({ service, sink = writeStdout, ship }) {
  return function log(level, msg, fields = {}) {
    const at = Date.now();
    const entry = { ts: new Date(at).toISOString(), level, msg, service, ...fields };
    sink(entry);
    ship?.(at, level, JSON.stringify(entry));
  };
}
