// Waits for a condition the system reaches on its own (an alert firing, a notification arriving), polling briefly.

export async function waitFor<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 20_000,
  everyMs = 100,
): Promise<T> {
  // performance.now(), not Date.now(): a test that fakes the wall clock (vi.useFakeTimers({ toFake: ['Date'] }))
  // must still see the deadline pass.
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (performance.now() > deadline)
      throw new Error(`condition not met within ${timeoutMs} ms: ${check.toString()}`);
    await new Promise(resolve => setTimeout(resolve, everyMs));
  }
}
