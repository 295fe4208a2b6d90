import { describe, expect, it } from 'vitest';
import { contextTooLong, retryAfterMsOf, retryableLlmError } from '../../../src/agent/llm.ts';
import { createCircuitBreaker } from '../../../src/lib/circuit-breaker.ts';
import { backoffMs, retry } from '../../../src/lib/retry.ts';

describe('retry', () => {
  it('backs off exponentially with jitter, capped, and takes the server’s retry-after when given', () => {
    const at = (attempt: number, random: number, retryAfterMs?: number) =>
      backoffMs(attempt, { baseMs: 100, maxMs: 1000, random: () => random, retryAfterMs });
    expect([at(1, 0), at(1, 1), at(2, 1), at(3, 0.5), at(9, 1)]).toEqual([50, 100, 200, 300, 1000]);
    expect(at(1, 0.5, 2500)).toBe(1000);
    expect(at(1, 0.5, 0)).toBe(0);
  });

  it('retries what is retryable, then gives up with the last error', async () => {
    const waits: number[] = [];
    let calls = 0;
    const result = retry(
      () => {
        calls += 1;
        return Promise.reject(Object.assign(new Error('busy'), { status: 503 }));
      },
      {
        retries: 2,
        retryable: retryableLlmError,
        sleep: ms => {
          waits.push(ms);
          return Promise.resolve();
        },
        random: () => 0,
      },
    );
    await expect(result).rejects.toThrow('busy');
    expect(calls).toBe(3);
    expect(waits).toEqual([250, 500]);
    let once = 0;
    await expect(
      retry(
        () =>
          once++ === 0
            ? Promise.reject(Object.assign(new Error('bad'), { status: 400 }))
            : Promise.resolve(1),
        {
          retries: 3,
          retryable: retryableLlmError,
        },
      ),
    ).rejects.toThrow('bad');
  });

  it('reads retry-after-ms, retry-after in seconds or as a date', () => {
    expect(retryAfterMsOf({ headers: new Headers({ 'retry-after-ms': '250' }) })).toBe(250);
    expect(retryAfterMsOf({ headers: { 'retry-after': '2' } })).toBe(2000);
    expect(
      retryAfterMsOf({ headers: { 'retry-after': new Date(Date.now() + 60_000).toUTCString() } }),
    ).toBeGreaterThan(50_000);
    expect(retryAfterMsOf(new Error('x'))).toBeUndefined();
  });

  it('tells outages from mistakes', () => {
    expect([429, 500, 503, 408].map(status => retryableLlmError({ status }))).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect([400, 401, 404].map(status => retryableLlmError({ status }))).toEqual([false, false, false]);
    expect(retryableLlmError(new Error('connect ECONNREFUSED 127.0.0.1:1'))).toBe(true);
  });
});

describe('the circuit breaker', () => {
  it('opens after the failures in a row, lets one probe through after the cooldown, and closes on success', () => {
    let now = 0;
    const breaker = createCircuitBreaker({ failures: 2, cooldownMs: 1000, now: () => now });
    breaker.failure();
    expect(breaker.state()).toBe('closed');
    breaker.failure();
    expect([breaker.state(), breaker.allow(), breaker.retryInMs()]).toEqual(['open', false, 1000]);
    now = 1000;
    expect([breaker.state(), breaker.allow(), breaker.allow()]).toEqual(['half_open', true, false]);
    breaker.failure();
    expect(breaker.state()).toBe('open');
    now = 2000;
    expect(breaker.allow()).toBe(true);
    breaker.success();
    expect([breaker.state(), breaker.allow()]).toEqual(['closed', true]);
  });

  it('is held open as long as a backend asked, a day at most, and no later failure shortens the hold', () => {
    let now = 0;
    const breaker = createCircuitBreaker({ failures: 3, cooldownMs: 1000, now: () => now });
    breaker.failure(600_000);
    expect([breaker.state(), breaker.retryInMs()]).toEqual(['open', 600_000]);
    now = 10_000;
    breaker.failure();
    expect(breaker.retryInMs()).toBe(590_000);
    breaker.failure(1e12);
    expect(breaker.retryInMs()).toBe(86_400_000);
  });
});

describe('what the LLM endpoint says', () => {
  it('reads an overflowing context from OpenAI, LangChain and llama.cpp', () => {
    const llamaCpp = Object.assign(
      new Error('400 the request exceeds the available context size, try increasing it'),
      {
        status: 400,
        error: { code: 400, type: 'exceed_context_size_error' },
      },
    );
    expect(contextTooLong(llamaCpp)).toBe(true);
    expect(contextTooLong(Object.assign(new Error('x'), { name: 'ContextOverflowError' }))).toBe(true);
    expect(
      contextTooLong(Object.assign(new Error('400 bad'), { status: 400, code: 'context_length_exceeded' })),
    ).toBe(true);
    expect(contextTooLong(Object.assign(new Error('400 The model cannot take this'), { status: 400 }))).toBe(
      false,
    );
  });
});
