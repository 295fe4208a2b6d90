// Records tool calls in the audit log without holding up the call: rows are queued and written shortly after the
// result has gone out, one prepared INSERT each and one transaction per batch. A commit costs ~25 µs and a row in a
// batch ~4 µs, so a burst of calls shares one commit. The price: a process killed with SIGKILL loses the rows of
// its last FLUSH_MS; a normal stop (signal, stdin closed) writes them first.

import { createHash } from 'node:crypto';
import type { Logger } from '../lib/logger.ts';
import type { Redactor } from '../lib/redact.ts';
import type { AuditEntry } from './audit.ts';
import type { Store } from './index.ts';

export interface ToolCallRecord {
  tool: string;
  args: unknown;
  client?: string | undefined;
  session?: string | undefined;
  outcome: 'ok' | 'error';
  code?: string | undefined;
  ms: number;
}

export interface AuditRecorder {
  record(call: ToolCallRecord): void;
  /** Writes what is queued; readers in this process call it first. */
  flush(): Promise<void>;
}

/** A string longer than this is recorded by its hash: the log proves what was sent without keeping it. */
const MAX_VALUE_CHARS = 256;
const FLUSH_MS = 20;
const FLUSH_ROWS = 256;
/** Field names whose string values are secrets wherever they appear. */
export const SECRET_KEY = /(token|secret|password|passwd|api[-_]?key|authorization|credential|cookie)/i;

/** Arguments as the audit log keeps them: secrets redacted, long values replaced by their sha256. */
export function auditArgs(args: unknown, redact: Redactor): string {
  const walk = (value: unknown, key: string | undefined, depth: number): unknown => {
    if (key !== undefined && SECRET_KEY.test(key) && value !== undefined && value !== null)
      return '[REDACTED]';
    if (typeof value === 'string') {
      const clean = redact(value);
      if (clean.length <= MAX_VALUE_CHARS) return clean;
      return { sha256: createHash('sha256').update(value).digest('hex'), chars: value.length };
    }
    if (value === null || typeof value !== 'object') return value;
    const json = JSON.stringify(value);
    // Nested values too large to keep are hashed whole; the top level is always walked, so each argument shows.
    if (depth > 0 && (depth >= 4 || json.length > 4 * MAX_VALUE_CHARS)) {
      return { sha256: createHash('sha256').update(json).digest('hex'), bytes: Buffer.byteLength(json) };
    }
    if (Array.isArray(value)) return value.map(item => walk(item, undefined, depth + 1));
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, k, depth + 1)]));
  };
  return JSON.stringify(walk(args, undefined, 0) ?? {});
}

export function createAuditRecorder(options: {
  store: () => Promise<Store>;
  redact: Redactor;
  now: () => number;
  logger: Logger;
}): AuditRecorder {
  let queue: AuditEntry[] = [];
  let raw: Array<{ call: ToolCallRecord; at: number }> = [];
  let scheduled: NodeJS.Timeout | undefined;
  let failedOnce = false;

  async function flush(): Promise<void> {
    if (scheduled) clearTimeout(scheduled);
    scheduled = undefined;
    if (raw.length === 0 && queue.length === 0) return;
    for (const { call, at } of raw) {
      queue.push({
        at,
        tool: call.tool,
        client: call.client,
        session: call.session,
        args: auditArgs(call.args, options.redact),
        outcome: call.outcome,
        code: call.code,
        ms: call.ms,
      });
    }
    raw = [];
    const rows = queue;
    queue = [];
    try {
      const store = await options.store();
      store.audit.appendAll(rows);
    } catch (error) {
      if (!failedOnce) options.logger.error({ err: error }, 'could not write the audit log');
      failedOnce = true;
    }
  }

  return {
    record(call) {
      raw.push({ call, at: options.now() });
      if (raw.length >= FLUSH_ROWS) {
        void flush();
        return;
      }
      if (scheduled) return;
      scheduled = setTimeout(() => {
        scheduled = undefined;
        void flush();
      }, FLUSH_MS);
      scheduled.unref();
    },
    flush,
  };
}
