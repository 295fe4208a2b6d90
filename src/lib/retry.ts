// Retry with exponential backoff and full jitter, honouring a server's retry-after, for calls to flaky backends.

export interface RetryOptions {
  /** Attempts after the first. */
  retries: number;
  baseMs?: number;
  maxMs?: number;
  /** Whether an error is worth another attempt (a 429, a 5xx, a dropped connection). */
  retryable: (error: unknown) => boolean;
  /** The wait the server asked for, in milliseconds, when it named one. */
  retryAfterMs?: (error: unknown) => number | undefined;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  signal?: AbortSignal;
  onRetry?: (error: unknown, attempt: number, waitMs: number) => void;
}

export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The wait before attempt `attempt` (1-based): the server's retry-after when given, else jittered backoff. */
export function backoffMs(
  attempt: number,
  opts: { baseMs: number; maxMs: number; retryAfterMs?: number | undefined; random: () => number },
): number {
  if (opts.retryAfterMs !== undefined) return Math.min(Math.max(0, opts.retryAfterMs), opts.maxMs);
  const ceiling = Math.min(opts.maxMs, opts.baseMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + (opts.random() * ceiling) / 2);
}

export async function retry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const sleep = opts.sleep ?? abortableSleep;
  const random = opts.random ?? Math.random;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      if (attempt >= opts.retries || !opts.retryable(error) || opts.signal?.aborted) throw error;
      const wait = backoffMs(attempt + 1, {
        baseMs: opts.baseMs ?? 500,
        maxMs: opts.maxMs ?? 30_000,
        retryAfterMs: opts.retryAfterMs?.(error),
        random,
      });
      opts.onRetry?.(error, attempt + 1, wait);
      await sleep(wait, opts.signal);
    }
  }
}
