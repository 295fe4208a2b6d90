// Fault modes a test switches on at run time, to give the watching agent something real to find.

const KINDS = {
  error_rate: 'number',
  latency_ms: 'number',
  stale_model: 'boolean',
  memory_leak_mb_per_s: 'number',
};
const LEAK_TICKS_PER_SECOND = 10;
// A forgotten leak fault must not take the host down with the service.
const MAX_LEAK_BYTES = 1024 * 1024 * 1024;

/** Why `input` is not a valid fault set, or undefined when it is. */
export function validateFaults(input) {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    return 'faults must be a JSON object';
  for (const [name, value] of Object.entries(input)) {
    const kind = KINDS[name];
    if (!kind) return `unknown fault "${name}" (known: ${Object.keys(KINDS).join(', ')})`;
    if (typeof value !== kind) return `fault "${name}" must be a ${kind}`;
    if (kind === 'number' && !(Number.isFinite(value) && value >= 0))
      return `fault "${name}" must be a finite number >= 0`;
    if (name === 'error_rate' && value > 1) return 'fault "error_rate" must be between 0 and 1';
  }
  return undefined;
}

/** The active fault set, and the memory it leaks on purpose while memory_leak_mb_per_s is set. */
export function createFaults() {
  let active = {};
  let leaked = [];
  let leakedBytes = 0;
  const leak = setInterval(() => {
    const bytes = Math.round(((active.memory_leak_mb_per_s ?? 0) * 1024 * 1024) / LEAK_TICKS_PER_SECOND);
    if (bytes === 0 || leakedBytes + bytes > MAX_LEAK_BYTES) return;
    // Filled, so that the pages are really touched and the resident memory grows too.
    leaked.push(Buffer.alloc(bytes, 1));
    leakedBytes += bytes;
  }, 1000 / LEAK_TICKS_PER_SECOND);
  leak.unref();

  return {
    get active() {
      return active;
    },
    /** Replaces the whole set; throws on an invalid one. */
    set(next) {
      const problem = validateFaults(next);
      if (problem) throw new TypeError(problem);
      active = { ...next };
      if (!active.memory_leak_mb_per_s) {
        leaked = [];
        leakedBytes = 0;
      }
    },
    /** Whether this request should fail, by error_rate. */
    failNow: () => Math.random() < (active.error_rate ?? 0),
    stop() {
      clearInterval(leak);
      leaked = [];
      leakedBytes = 0;
    },
  };
}
