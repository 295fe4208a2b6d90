// Requests a transport has received and not yet answered, so that a stop can let them finish first.

import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';

export interface Drain {
  /** Resolves once every request received so far has its response sent, or after `ms` at the latest. */
  settled(ms: number): Promise<void>;
}

/**
 * Watches the messages through a connected transport. A stdio client that sends a request and closes our stdin
 * (a script piping a call in, a client shutting down) still gets the answer: stdout stays open after stdin ends.
 */
export function trackRequests(transport: Transport): Drain {
  const open = new Set<string | number>();
  let wake: (() => void) | undefined;
  const received = transport.onmessage;
  transport.onmessage = (message, extra) => {
    if ('method' in message && 'id' in message) open.add(message.id);
    received?.(message, extra);
  };
  const send = transport.send.bind(transport);
  transport.send = async (message, options) => {
    try {
      await send(message, options);
    } finally {
      const id = 'method' in message || !('id' in message) ? undefined : message.id;
      if (id !== undefined && open.delete(id) && open.size === 0) wake?.();
    }
  };
  return {
    settled: ms =>
      open.size === 0
        ? Promise.resolve()
        : new Promise(resolve => {
            const timer = setTimeout(resolve, ms);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          }),
  };
}
