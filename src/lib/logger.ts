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
