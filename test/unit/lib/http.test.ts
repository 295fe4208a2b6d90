// The HTTP backend's resilience against a real loopback server: transient failures retried within the deadline,
// Retry-After honoured, and a breaker that answers at once during an outage and probes again after it.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ToolError } from '../../../src/lib/errors.ts';
import { createHttpBackend, type HttpBackendOptions } from '../../../src/lib/http.ts';
import { freePort } from '../../support/ports.ts';
import { waitFor } from '../../support/wait.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const closers: Array<() => Promise<void>> = [];

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(closers.splice(0).map(close => close()));
});

/**
 * A server answering in turn with `replies`, then with the last one; counts the requests it got, and notes when
 * each came (performance.now()).
 */
async function serve(
  ...replies: Handler[]
): Promise<{ url: string; hits: () => number; arrivals: readonly number[] }> {
  const arrivals: number[] = [];
  const server = createServer((req, res) => {
    const reply = replies[Math.min(arrivals.length, replies.length - 1)];
    arrivals.push(performance.now());
    reply?.(req, res);
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise(resolve => {
        server.close(() => {
          resolve();
        });
      }),
  );
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits: () => arrivals.length,
    arrivals,
  };
}

const status =
  (code: number, headers: Record<string, string> = {}): Handler =>
  (_req, res) => {
    res.writeHead(code, headers).end(String(code));
  };

function backend(url: string, extra: Partial<HttpBackendOptions> = {}) {
  const http = createHttpBackend({
    name: 'Prometheus',
    envVar: 'PROMETHEUS_URL',
    baseUrl: url,
    timeoutMs: 3000,
    maxResponseBytes: 1024 * 1024,
    retries: 2,
    breaker: { failures: 3, cooldownMs: 400 },
    ...extra,
  });
  closers.push(() => http.close());
  return http;
}

const codeOf = async (call: Promise<unknown>) => {
  try {
    await call;
    return 'ok';
  } catch (error) {
    return error instanceof ToolError ? error.code : String(error);
  }
};

describe('the HTTP backend', () => {
  it('retries a 503 and answers with the success that follows', async () => {
    const server = await serve(status(503), status(200));
    const response = await backend(server.url).request({ path: '/api/v1/query' });
    expect(response.status).toBe(200);
    expect(server.hits()).toBe(2);
  });

  it("waits the server's Retry-After before asking again", async () => {
    const server = await serve(status(429, { 'retry-after': '1' }), status(200));
    const response = await backend(server.url).request({ path: '/q' });
    expect(response.status).toBe(200);
    // A lower bound on a wait the backend must make, as the server saw it: load only lengthens it, so it cannot
    // fail a correct build (the 10 ms spare covers timer rounding). Its own backoff would ask again after ~100 ms.
    const [first = 0, second = 0] = server.arrivals;
    expect(second - first).toBeGreaterThanOrEqual(990);
  });

  it('gives up after its retries, and never past the deadline', async () => {
    const always = await serve(status(502));
    expect((await backend(always.url).request({ path: '/q' })).status).toBe(502);
    expect(always.hits()).toBe(3);
    // A retry-after longer than what is left of the deadline is not waited for: the 429 is the answer.
    const slow = await serve(status(429, { 'retry-after': '30' }));
    expect((await backend(slow.url).request({ path: '/q' })).status).toBe(429);
    expect(slow.hits()).toBe(1);
  });

  it("tells a caller over the read cap how to ask for less in the backend's own terms", async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200).end('x'.repeat(2048));
    });
    const hintOf = async (extra: Partial<HttpBackendOptions>) => {
      try {
        await backend(server.url, { maxResponseBytes: 1024, ...extra }).request({ path: '/q' });
      } catch (error) {
        return error instanceof ToolError ? `${error.code}: ${error.hint ?? ''}` : String(error);
      }
      return 'ok';
    };
    expect(await hintOf({})).toMatch(/^RESULT_TOO_LARGE: Ask for less: aggregate \(sum by/);
    expect(await hintOf({ tooLargeHint: 'Ask for fewer lines.' })).toBe(
      'RESULT_TOO_LARGE: Ask for fewer lines.',
    );
  });

  it('does not retry a client error or a probe without retries', async () => {
    const server = await serve(status(400), status(503));
    expect((await backend(server.url).request({ path: '/q' })).status).toBe(400);
    expect((await backend(server.url, { retries: 0 }).request({ path: '/q' })).status).toBe(503);
    expect(server.hits()).toBe(2);
  });

  it('opens its breaker after failed calls in a row, answers at once, then probes again', async () => {
    // Only the clock, which the breaker reads: the test moves it past the cooldown rather than wait it out.
    vi.useFakeTimers({ toFake: ['Date'] });
    const down = backend(`http://127.0.0.1:${await freePort()}`, { retries: 0 });
    for (let i = 0; i < 3; i++)
      expect(await codeOf(down.request({ path: '/q' }))).toBe('BACKEND_UNREACHABLE');
    const refused = down.request({ path: '/q' });
    await expect(refused).rejects.toThrow(
      /failed 3 calls in a row; devops-mcp is not asking it again for 1 s/,
    );

    const server = await serve(status(500), status(500), status(500), status(200));
    const flaky = backend(server.url, { retries: 0 });
    for (let i = 0; i < 3; i++) expect((await flaky.request({ path: '/q' })).status).toBe(500);
    expect(await codeOf(flaky.request({ path: '/q' }))).toBe('BACKEND_UNREACHABLE');
    vi.advanceTimersByTime(399);
    expect(await codeOf(flaky.request({ path: '/q' }))).toBe('BACKEND_UNREACHABLE');
    expect(server.hits()).toBe(3);
    vi.advanceTimersByTime(1);
    expect((await flaky.request({ path: '/q' })).status).toBe(200);
    expect(server.hits()).toBe(4);
  });

  it('lets the next call probe when the probe itself was cancelled or too large', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    let slow = true;
    const server = await serve(
      status(500),
      status(500),
      status(500),
      () => {
        // The half-open probe: never answered; the client gives up on it.
      },
      (_req, res) => {
        res.writeHead(200).end('x'.repeat(2048)); // over the cap below
      },
      (_req, res) => {
        slow = false;
        res.writeHead(200).end('ok');
      },
    );
    const flaky = backend(server.url, { retries: 0, maxResponseBytes: 1024 });
    for (let i = 0; i < 3; i++) expect((await flaky.request({ path: '/q' })).status).toBe(500);
    vi.advanceTimersByTime(400);
    const cancel = new AbortController();
    const probe = codeOf(flaky.request({ path: '/q', signal: cancel.signal }));
    // Cancelled once the server has it, so that it is the probe that is given up on, not a call never sent.
    await waitFor(() => server.hits() === 4);
    cancel.abort();
    expect(await probe).toBe('CANCELLED');
    expect(await codeOf(flaky.request({ path: '/q' }))).toBe('RESULT_TOO_LARGE');
    expect((await flaky.request({ path: '/q' })).status).toBe(200);
    expect(slow).toBe(false);
    expect(server.hits()).toBe(6);
  });
});
