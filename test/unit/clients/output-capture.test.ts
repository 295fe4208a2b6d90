// What a sandbox run's output becomes: printable text within its byte limit, shown whole when it fits.
import { expect, it } from 'vitest';
import { createOutputCapture } from '../../../src/clients/docker.ts';

async function capture(chunks: readonly Buffer[], limit: number) {
  const capture = createOutputCapture(limit);
  for (const chunk of chunks) {
    await new Promise<void>(resolve => {
      capture.sink.write(chunk, () => {
        resolve();
      });
    });
  }
  return capture.result();
}

it('shows output that fits whole, a character on the middle of the limit included', async () => {
  const text = `${'a'.repeat(2047)}€${'b'.repeat(2046)}`;
  expect(Buffer.byteLength(text)).toBe(4096);
  const out = await capture([Buffer.from(text)], 4096);
  expect(out.head + out.tail).toBe(text);
  expect(out.omittedBytes).toBe(0);
});

it('keeps head and tail within the limit and counts what they leave out', async () => {
  const text = '€'.repeat(3000);
  const out = await capture([Buffer.from(text)], 1024);
  expect(Buffer.byteLength(out.head + out.tail)).toBeLessThanOrEqual(1024);
  expect(Buffer.byteLength(out.head + out.tail) + out.omittedBytes).toBe(Buffer.byteLength(text));
});

it("shows bidi controls in a run's output as U+FFFD, so that no line reads in an order it was not written", async () => {
  const out = await capture([Buffer.from('PASS \u202etset\u202c\nok \u2067x\u2069\n')], 4096);
  expect(out.head + out.tail).toBe('PASS \ufffdtset\ufffd\nok \ufffdx\ufffd\n');
});
