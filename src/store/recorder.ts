// Records tool calls in the audit log without holding up the call: rows are queued and written shortly after the
// result has gone out, one prepared INSERT each and one transaction per batch. A commit costs ~25 µs and a row in a
// batch ~4 µs, so a burst of calls shares one commit. The price: a process killed with SIGKILL loses the rows of
// its last FLUSH_MS; a normal stop (signal, stdin closed) writes them first. A batch that cannot be written (the file
// locked past the busy timeout, the disk full) waits for the next write, up to MAX_BACKLOG rows.

import { createHash } from 'node:crypto';
import type { Logger } from '../lib/logger.ts';
import { cutLine } from '../lib/logs.ts';
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
/** Parameter names are cut to this; no tool has a longer one. */
const MAX_KEY_CHARS = 64;
/**
 * Past this, a row's arguments are recorded by their hash alone: a client may send 50,000 unknown parameters or a
 * 200 KB name, and each row is kept for good (and printed whole by `audit tail`).
 */
const MAX_ARGS_CHARS = 4096;
const FLUSH_MS = 20;
const FLUSH_ROWS = 256;
/** Rows kept for a retry while the log cannot be written; beyond it the oldest go, counted in the log. */
const MAX_BACKLOG = 10_000;
/** A write that fails again is tried again this much later, whether or not more calls come. */
const RETRY_MS = 1000;
/** A log that keeps failing is reported at most this often (seconds), with the count since the last report. */
const REPORT_SECONDS = 60;
/** Field names whose string values are secrets wherever they appear. */
export const SECRET_KEY = /(token|secret|password|passwd|api[-_]?key|authorization|credential|cookie)/i;

/**
 * Nesting past which a value is written out by jsonText rather than JSON.stringify: JSON.stringify recurses, and a
 * client can nest thousands of levels in a few kilobytes (`[[[[…]]]]`), which overflows the stack.
 */
const MAX_NATIVE_DEPTH = 500;

/** Whether `value` nests deeper than `limit` levels, found without recursion. */
function deeperThan(value: unknown, limit: number): boolean {
  const todo: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  for (let next = todo.pop(); next !== undefined; next = todo.pop()) {
    if (next.depth >= limit) return true;
    const items = Array.isArray(next.value) ? (next.value as unknown[]) : Object.values(next.value as object);
    for (const item of items)
      if (item !== null && typeof item === 'object') todo.push({ value: item, depth: next.depth + 1 });
  }
  return false;
}

const hasJson = (value: unknown): boolean =>
  value !== undefined && typeof value !== 'function' && typeof value !== 'symbol';

/**
 * JSON.stringify's text of a value read from JSON, whatever its depth: JSON.stringify's own while the value is
 * shallow (it is ten times faster), else written out here with a stack of its own.
 */
function jsonText(value: unknown): string {
  if (value === null || typeof value !== 'object' || !deeperThan(value, MAX_NATIVE_DEPTH))
    return JSON.stringify(value);
  const parts: string[] = [];
  // What is left to write, last first: a string is JSON text as it stands, an object a value to write out.
  const todo: Array<string | { value: unknown }> = [{ value }];
  for (let next = todo.pop(); next !== undefined; next = todo.pop()) {
    if (typeof next === 'string') {
      parts.push(next);
      continue;
    }
    const item = next.value;
    if (item === null || typeof item !== 'object') {
      // As JSON.stringify does: a value with no JSON is null in a list, and left out of an object.
      parts.push(hasJson(item) ? JSON.stringify(item) : 'null');
    } else if (Array.isArray(item)) {
      parts.push('[');
      todo.push(']');
      for (let i = item.length - 1; i >= 0; i--) todo.push({ value: item[i] as unknown }, i > 0 ? ',' : '');
    } else {
      parts.push('{');
      todo.push('}');
      const members = Object.entries(item).filter(([, v]) => hasJson(v));
      for (let i = members.length - 1; i >= 0; i--) {
        const [key, v] = members[i] as [string, unknown];
        todo.push({ value: v }, `${i > 0 ? ',' : ''}${JSON.stringify(key)}:`);
      }
    }
  }
  return parts.join('');
}

const hashOf = (json: string) => ({
  sha256: createHash('sha256').update(json).digest('hex'),
  bytes: Buffer.byteLength(json),
});

/**
 * Arguments as the audit log keeps them: secrets redacted (in names as much as in values), long values replaced by
 * their sha256, and the whole replaced by its sha256 when what is left is still larger than MAX_ARGS_CHARS.
 */
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
    // Nested values too large to keep are hashed whole; the top level is always walked, so each argument shows.
    if (depth > 0) {
      const json = jsonText(value);
      if (depth >= 4 || json.length > 4 * MAX_VALUE_CHARS) return hashOf(json);
    }
    if (Array.isArray(value)) return value.map(item => walk(item, undefined, depth + 1));
    // No prototype: a parameter named __proto__ is kept as one, not taken for the object's prototype.
    const kept = Object.create(null) as Record<string, unknown>;
    for (const [k, v] of Object.entries(value)) {
      // Two names may read the same once cut or scrubbed: each parameter keeps a row of its own.
      const name = cutLine(redact(k), MAX_KEY_CHARS);
      let unique = name;
      for (let n = 2; Object.hasOwn(kept, unique); n++) unique = `${name} #${n}`;
      kept[unique] = walk(v, k, depth + 1);
    }
    return kept;
  };
  const kept = JSON.stringify(args === undefined ? {} : walk(args, undefined, 0));
  if (kept.length <= MAX_ARGS_CHARS) return kept;
  return JSON.stringify(hashOf(jsonText(args)));
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
  /** Failures and dropped rows not yet reported, and when the last report went out. */
  let failures = 0;
  let dropped = 0;
  let reportedAt: number | undefined;

  function schedule(ms: number): void {
    if (scheduled) return;
    scheduled = setTimeout(() => {
      scheduled = undefined;
      void flush();
    }, ms);
    scheduled.unref();
  }

  /**
   * The row's arguments, or a placeholder saying why there are none: this runs in a timer, where a throw would end the
   * process and lose every row queued beside this one, and the call happened whether or not its arguments show.
   */
  function recordedArgs(call: ToolCallRecord): string {
    try {
      return auditArgs(call.args, options.redact);
    } catch (error) {
      const problem = cutLine(options.redact(String(error)), MAX_VALUE_CHARS);
      options.logger.error({ tool: call.tool, problem }, 'could not render the arguments of an audit row');
      return JSON.stringify({ unrecorded: problem });
    }
  }

  // One write at a time: a batch that failed goes back ahead of the rows recorded after it, so order holds.
  let writing: Promise<void> = Promise.resolve();
  function flush(): Promise<void> {
    if (scheduled) clearTimeout(scheduled);
    scheduled = undefined;
    for (const { call, at } of raw) {
      queue.push({
        at,
        tool: call.tool,
        client: call.client,
        session: call.session,
        args: recordedArgs(call),
        outcome: call.outcome,
        code: call.code,
        ms: call.ms,
      });
    }
    raw = [];
    const next = writing.then(write);
    writing = next.catch(() => undefined);
    return next;
  }

  async function write(): Promise<void> {
    if (queue.length === 0) return;
    const rows = queue;
    queue = [];
    try {
      const store = await options.store();
      store.audit.appendAll(rows);
    } catch (error) {
      // Back at the head of the queue, ahead of what was recorded meanwhile; past the bound, the oldest go.
      queue = [...rows, ...queue];
      const over = queue.length - MAX_BACKLOG;
      if (over > 0) {
        queue.splice(0, over);
        dropped += over;
      }
      failures += 1;
      const now = options.now();
      if (reportedAt === undefined || now - reportedAt >= REPORT_SECONDS) {
        options.logger.error(
          { err: error, failures, waiting: queue.length, dropped },
          'could not write the audit log; its rows wait for the next write',
        );
        reportedAt = now;
        failures = 0;
        dropped = 0;
      }
      schedule(RETRY_MS);
      return;
    }
    if (dropped > 0) {
      // Dropped since the last report: said once the log is written again, or no one would hear of them.
      options.logger.error({ dropped }, 'audit rows were dropped while the audit log could not be written');
      dropped = 0;
    }
    failures = 0;
    reportedAt = undefined;
  }

  return {
    record(call) {
      raw.push({ call, at: options.now() });
      if (raw.length >= FLUSH_ROWS) {
        void flush();
        return;
      }
      schedule(FLUSH_MS);
    },
    flush,
  };
}
