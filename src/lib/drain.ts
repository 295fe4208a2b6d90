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
  const done = (id: string | number) => {
    if (open.delete(id) && open.size === 0) wake?.();
  };
  transport.onmessage = (message, extra) => {
    if ('method' in message && 'id' in message) open.add(message.id);
    // A request the client cancelled gets no response (the SDK sends none): it is no longer waited for.
    else if ('method' in message && message.method === 'notifications/cancelled') {
      const requestId = (message.params as { requestId?: unknown } | undefined)?.requestId;
      if (typeof requestId === 'string' || typeof requestId === 'number') done(requestId);
    }
    received?.(message, extra);
  };
  const send = transport.send.bind(transport);
  transport.send = async (message, options) => {
    try {
      await send(message, options);
    } finally {
      const id = 'method' in message || !('id' in message) ? undefined : message.id;
      if (id !== undefined) done(id);
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
