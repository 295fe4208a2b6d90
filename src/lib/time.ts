// Parsing of the time and duration formats tools accept: RFC 3339, unix seconds, and relative times.

import { invalidArgument, quoted } from './errors.ts';

const UNIT_SECONDS: Record<string, number> = {
  ms: 0.001,
  s: 1,
  m: 60,
  h: 3600,
  d: 86_400,
  w: 604_800,
  y: 31_536_000,
};

const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/;

/** Parses a Prometheus-style duration (`90s`, `1h30m`, `2d`) into seconds; `undefined` when it is not one. */
export function parseDuration(text: string): number | undefined {
  let rest = text.trim();
  if (rest === '') return undefined;
  let total = 0;
  while (rest !== '') {
    const match = DURATION_RE.exec(rest);
    if (!match) return undefined;
    const [whole, amount = '', unit = ''] = match;
    total += Number(amount) * (UNIT_SECONDS[unit] ?? Number.NaN);
    rest = rest.slice(whole.length);
  }
  return Number.isFinite(total) ? total : undefined;
}

/** Formats seconds as the shortest Prometheus duration (`90` → `1m30s`). */
export function formatDuration(seconds: number): string {
  if (seconds <= 0) return '0s';
  if (seconds < 1) return `${Math.round(seconds * 1000)}ms`;
  const parts: string[] = [];
  let rest = Math.round(seconds * 1000) / 1000;
  for (const [unit, size] of [
    ['w', 604_800],
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
  ] as const) {
    if (rest >= size) {
      const count = Math.floor(rest / size);
      parts.push(`${count}${unit}`);
      rest -= count * size;
    }
  }
  if (rest > 0) parts.push(`${Number(rest.toFixed(3))}s`);
  return parts.join('');
}

const TIME_HINT =
  'Use RFC 3339 with an offset (2026-01-31T14:00:00Z), unix seconds (1769868000), or a relative time (now, now-1h, 30m for "30 minutes ago").';

// Dates with an optional time; a missing offset means UTC, which the echoed result makes visible.
const DATE_RE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?$/i;
const HAS_OFFSET_RE = /(?:Z|[+-]\d{2}:?\d{2})$/i;
// 9999-12-31T23:59:59Z, the last time RFC 3339 can write.
const MAX_UNIX_SECONDS = 253_402_300_799;

/**
 * Resolves a time argument to unix seconds relative to `now` (unix seconds).
 * `field` names the argument in error messages.
 */
export function parseTime(value: string | number, now: number, field: string): number {
  if (typeof value === 'number') return fromEpochNumber(value, field);
  const text = value.trim();
  if (text === '') throw invalidArgument(`${field} is empty.`, TIME_HINT);
  // Split, since 19 digits are more than a float holds.
  const nanos = nanosecondEpoch(text, field);
  if (nanos !== undefined) return Number(nanos.slice(0, -9)) + Number(nanos.slice(-9)) / 1e9;
  if (/^-?\d+(?:\.\d+)?$/.test(text)) return fromEpochNumber(Number(text), field);

  const relative = /^now(?:\s*([+-])\s*(.+))?$/i.exec(text);
  if (relative) {
    const [, sign, amount] = relative;
    if (sign === undefined || amount === undefined) return now;
    const seconds = relativeDuration(amount, field, text);
    if (seconds === undefined)
      throw invalidArgument(`${field}: ${quoted(text)} has an unknown duration.`, TIME_HINT);
    return sign === '-' ? now - seconds : now + seconds;
  }

  const ago = relativeDuration(text, field, text);
  if (ago !== undefined) return now - ago;

  if (DATE_RE.test(text)) {
    const iso = text.replace(' ', 'T');
    const ms = parseDateMs(HAS_OFFSET_RE.test(iso) || !iso.includes('T') ? iso : `${iso}Z`);
    if (Number.isFinite(ms) && realDate(text)) return ms / 1000;
  }
  throw invalidArgument(`${field}: ${quoted(text)} is not a time I understand.`, TIME_HINT);
}

/**
 * A duration in a relative time, in any case as `now` is (`NOW-1H`). An `M` beside lower case (`now-6M`) is
 * refused: Grafana reads it as months, which have no fixed length, and in Prometheus it is no unit at all.
 */
function relativeDuration(amount: string, field: string, text: string): number | undefined {
  const exact = parseDuration(amount);
  if (exact !== undefined || amount === amount.toLowerCase()) return exact;
  const folded = parseDuration(amount.toLowerCase());
  if (folded !== undefined && amount.includes('M') && text !== text.toUpperCase()) {
    throw invalidArgument(
      `${field}: ${quoted(text)} uses M, which could mean months or minutes.`,
      'Write minutes as m (now-30m) and months as days or weeks (now-30d, now-4w).',
    );
  }
  return folded;
}

/**
 * Date.parse, with a leap second (":60", which RFC 3339 allows and V8 refuses) read as the second after ":59" — the
 * same instant as the next minute's first, which is what a unix time can say of it.
 */
export function parseDateMs(iso: string): number {
  const leap = /^(\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:)60/;
  return leap.test(iso) ? Date.parse(iso.replace(leap, '$159')) + 1000 : Date.parse(iso);
}

/**
 * Whether the calendar date and the clock time written are real ones: Date.parse rolls "2026-02-30" over to March 2
 * and takes hour 24, where a caller meant a day that does not exist.
 */
export function realDate(text: string): boolean {
  const match = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?/.exec(text);
  if (!match) return true;
  const [year, month, day, hour = 0, minute = 0, second = 0] = match.slice(1).map(part => Number(part || 0));
  if (year === undefined || month === undefined || day === undefined) return true;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return (
    month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth && hour <= 23 && minute <= 59 && second <= 60
  );
}

function fromEpochNumber(value: number, field: string): number {
  if (!Number.isFinite(value) || value < 0) {
    throw invalidArgument(`${field} must be a non-negative unix time.`, TIME_HINT);
  }
  // Read by their size, as seconds they would lie past the year 30000: 13-digit values are milliseconds,
  // 16-digit ones microseconds, 19-digit ones nanoseconds.
  const seconds =
    value >= 1e17 ? value / 1e9 : value >= 1e15 ? value / 1e6 : value >= 1e12 ? value / 1000 : value;
  if (seconds > MAX_UNIX_SECONDS) {
    const digits = Math.floor(value).toString().length;
    throw invalidArgument(
      `${field} (${digits} digits) is no unix time this side of the year 9999 in seconds (10 digits), milliseconds (13), microseconds (16) or nanoseconds (19).`,
      TIME_HINT,
    );
  }
  return seconds;
}

/**
 * The digits of a nanosecond epoch argument ("1764000000123456789"), which a float of seconds would round
 * (to about 200 ns); undefined for any other form of time. One given as a JSON number was rounded already, as it
 * was read (a double holds integers exactly only up to 2^53, 16 digits): it is refused, since a paging cursor so
 * moved skips or repeats lines.
 */
export function nanosecondEpoch(value: string | number | undefined, field: string): string | undefined {
  if (typeof value === 'number' && value > Number.MAX_SAFE_INTEGER) {
    throw invalidArgument(
      `${field} is a number past 2^53, which a JSON number cannot carry exactly (its last digits may be rounded).`,
      'Pass a nanosecond epoch as a string ("1764000000123456789"), its digits as the note gave them.',
    );
  }
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  return /^[1-9]\d{18}$/.test(text) ? text : undefined;
}

/** RFC 3339 in UTC, without milliseconds when they are zero. */
export function toRfc3339(unixSeconds: number): string {
  const iso = new Date(Math.round(unixSeconds * 1000)).toISOString();
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
}

export interface Window {
  start: number;
  end: number;
}

/** A [start, end] window from optional arguments: end defaults to now, start to `defaultSeconds` before end. */
export function resolveWindow(
  input: { start?: string | number | undefined; end?: string | number | undefined },
  now: number,
  defaultSeconds: number,
): Window {
  const end = input.end === undefined ? now : parseTime(input.end, now, 'end');
  const start = input.start === undefined ? end - defaultSeconds : parseTime(input.start, now, 'start');
  if (end <= start) {
    throw invalidArgument(
      `end (${toRfc3339(end)}) must be after start (${toRfc3339(start)}).`,
      'Swap them, or use a relative start such as "now-1h" with end "now".',
    );
  }
  return { start, end };
}
