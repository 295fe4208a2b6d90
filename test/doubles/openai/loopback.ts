// Watches the global fetch during a test, so a suite can show its client reached nothing but the double:
// LangChain's token counting can reach for a tiktoken encoding on the internet, which must never happen.

import { vi } from 'vitest';

export interface FetchLog {
  loopback: number;
  /** URLs of requests to anywhere else; each was refused. */
  strays: string[];
}

/** Spies on globalThis.fetch (restored with the test's mocks): loopback requests pass, others are refused. */
export function watchFetch(): FetchLog {
  const log: FetchLog = { loopback: 0, strays: [] };
  const real = globalThis.fetch;
  vi.spyOn(globalThis, 'fetch').mockImplementation((input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname)) {
      log.loopback += 1;
      return real(input, init);
    }
    log.strays.push(url.href);
    return Promise.reject(new TypeError(`fetch to ${url.href} refused: tests stay on the loopback`));
  });
  return log;
}
