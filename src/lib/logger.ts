// The process logger: pino to stderr (stdout belongs to the MCP stdio transport), secrets redacted.

import pino from 'pino';
import type { Redactor } from './redact.ts';

export type Logger = pino.Logger;
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface LoggerOptions {
  level: LogLevel;
  redact: Redactor;
  /** Where lines go; stderr by default. Tests pass a stream to read them. */
  destination?: pino.DestinationStream;
}

// Field names that may carry credentials wherever they appear in a log object.
const REDACT_PATHS = [
  'token',
  'apiKey',
  'password',
  'authorization',
  '*.token',
  '*.apiKey',
  '*.password',
  '*.authorization',
  '*.headers.authorization',
  'headers.authorization',
  'req.headers.authorization',
];

export function createLogger(options: LoggerOptions): Logger {
  const destination = options.destination ?? pino.destination({ dest: 2, sync: true });
  return pino(
    {
      name: 'devops-mcp',
      level: options.level,
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      // Known secret values are also scrubbed from free text (messages, error strings).
      hooks: {
        streamWrite: line => options.redact(line),
      },
    },
    destination,
  );
}

/**
 * A gate for lines anyone can cause (a client's malformed messages, requests refused at the door): true for the
 * first `perMinute` of each minute; those past it are counted, and `counted` is told how many when the minute ends.
 */
export function minuteLimit(perMinute: number, counted: (unlogged: number) => void): () => boolean {
  const MINUTE_MS = 60_000;
  let minuteEnds = 0;
  let logged = 0;
  let unlogged = 0;
  let timer: NodeJS.Timeout | undefined;
  const count = () => {
    clearTimeout(timer);
    timer = undefined;
    if (unlogged > 0) counted(unlogged);
    unlogged = 0;
  };
  return () => {
    const now = Date.now();
    if (now >= minuteEnds) {
      count();
      minuteEnds = now + MINUTE_MS;
      logged = 0;
    }
    if (logged < perMinute) {
      logged++;
      return true;
    }
    unlogged++;
    if (timer === undefined) {
      timer = setTimeout(count, minuteEnds - now);
      timer.unref();
    }
    return false;
  };
}
