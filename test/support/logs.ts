// The log lines a context writes, kept for a test to read (or just kept off the terminal).

import { Writable } from 'node:stream';

export interface LogSink {
  /** Give it to createContext as `logDestination`. */
  destination: Writable;
  /** Each line written, as JSON text. */
  lines: string[];
}

/** A sink writing into `lines` (a new list unless given). */
export function logSink(lines: string[] = []): LogSink {
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { destination, lines };
}
