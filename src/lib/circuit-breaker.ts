// A small circuit breaker: after `failures` failures in a row it opens for `cooldownMs`, then lets one call
// through (half-open); a success closes it, a failure opens it again. Every call that allow() let through must
// end in success(), failure() or release(): a half-open probe that ended otherwise (cancelled, or an answer
// that says nothing about the backend's health) would otherwise hold the probe slot, and the breaker would
// refuse every call until the process restarts.

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface CircuitBreaker {
  state(): BreakerState;
  /** Whether a call may go ahead now (in half-open state, only the first caller gets true). */
  allow(): boolean;
  /** Milliseconds until an open breaker lets a call through (0 when it would now). */
  retryInMs(): number;
  success(): void;
  /** A failed call; `holdMs`, a wait the backend asked for, keeps the breaker open at least that long. */
  failure(holdMs?: number): void;
  /** The call ended without showing whether the backend works: the state stays, the next call may probe. */
  release(): void;
}

export class CircuitOpenError extends Error {
  override readonly name = 'CircuitOpenError';
  readonly retryInMs: number;
  constructor(what: string, retryInMs: number) {
    super(`${what} is unavailable (circuit open); next attempt in ${Math.ceil(retryInMs / 1000)} s`);
    this.retryInMs = retryInMs;
  }
}

const MAX_HOLD_MS = 86_400_000;

export function createCircuitBreaker(opts: {
  failures: number;
  cooldownMs: number;
  now?: () => number;
}): CircuitBreaker {
  const now = opts.now ?? Date.now;
  let failed = 0;
  let openedAt: number | undefined;
  let cooldownMs = opts.cooldownMs;
  let probing = false;
  const state = (): BreakerState => {
    if (openedAt === undefined) return 'closed';
    return now() - openedAt >= cooldownMs ? 'half_open' : 'open';
  };
  return {
    state,
    allow() {
      const current = state();
      if (current === 'closed') return true;
      if (current === 'open' || probing) return false;
      probing = true;
      return true;
    },
    retryInMs() {
      return openedAt === undefined ? 0 : Math.max(0, cooldownMs - (now() - openedAt));
    },
    success() {
      failed = 0;
      openedAt = undefined;
      cooldownMs = opts.cooldownMs;
      probing = false;
    },
    failure(holdMs) {
      failed += 1;
      probing = false;
      // Told how long to wait, the breaker opens at once for that long (a day at most: a wild retry-after must not
      // keep a backend off until restart): earlier probes would only be refused. A later failure never shortens a
      // hold still running.
      const hold = Math.min(holdMs ?? 0, MAX_HOLD_MS);
      const remaining = openedAt === undefined ? 0 : Math.max(0, cooldownMs - (now() - openedAt));
      const held = Math.max(hold, remaining);
      if (openedAt !== undefined || failed >= opts.failures || hold > opts.cooldownMs) {
        openedAt = now();
        cooldownMs = Math.max(opts.cooldownMs, held);
      }
    },
    release() {
      probing = false;
    },
  };
}
