import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { trackRequests } from '../../../src/lib/drain.ts';

/** A transport as the SDK's server leaves it once connected: onmessage set, send writing out. */
function connected() {
  const sent: JSONRPCMessage[] = [];
  const transport = {
    start: () => Promise.resolve(),
    close: () => Promise.resolve(),
    send: (message: JSONRPCMessage) => {
      sent.push(message);
      return Promise.resolve();
    },
    onmessage: (_message: JSONRPCMessage) => undefined,
  } as unknown as Transport;
  const drain = trackRequests(transport);
  const receive = (message: JSONRPCMessage) => transport.onmessage?.(message);
  return { transport, drain, receive, sent };
}

const settledNow = async (promise: Promise<void>) => {
  let settled = false;
  void promise.then(() => (settled = true));
  for (let i = 0; i < 5; i++) await Promise.resolve();
  return settled;
};

afterEach(() => {
  vi.useRealTimers();
});

describe('trackRequests', () => {
  it('waits for the responses of requests received, and no longer once they are sent', async () => {
    vi.useFakeTimers();
    const { transport, drain, receive } = connected();
    receive({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'x' } });
    const waiting = drain.settled(60_000);
    expect(await settledNow(waiting)).toBe(false);
    await transport.send({ jsonrpc: '2.0', id: 1, result: {} });
    expect(await settledNow(waiting)).toBe(true);
  });

  it('stops waiting for a request the client cancelled, which gets no response', async () => {
    vi.useFakeTimers();
    const { drain, receive } = connected();
    receive({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'slow' } });
    const waiting = drain.settled(60_000);
    receive({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 7 } });
    expect(await settledNow(waiting)).toBe(true);
  });

  it('gives up after the grace period when a response never comes', async () => {
    vi.useFakeTimers();
    const { drain, receive } = connected();
    receive({ jsonrpc: '2.0', id: 'a', method: 'tools/call', params: { name: 'stuck' } });
    const waiting = drain.settled(4000);
    await vi.advanceTimersByTimeAsync(3999);
    expect(await settledNow(waiting)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await settledNow(waiting)).toBe(true);
  });
});
