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
  failure(): void;
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

export function createCircuitBreaker(opts: {
  failures: number;
  cooldownMs: number;
  now?: () => number;
}): CircuitBreaker {
  const now = opts.now ?? Date.now;
  let failed = 0;
  let openedAt: number | undefined;
  let probing = false;
  const state = (): BreakerState => {
    if (openedAt === undefined) return 'closed';
    return now() - openedAt >= opts.cooldownMs ? 'half_open' : 'open';
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
      return openedAt === undefined ? 0 : Math.max(0, opts.cooldownMs - (now() - openedAt));
    },
    success() {
      failed = 0;
      openedAt = undefined;
      probing = false;
    },
    failure() {
      failed += 1;
      probing = false;
      if (openedAt !== undefined || failed >= opts.failures) openedAt = now();
    },
    release() {
      probing = false;
    },
  };
}
