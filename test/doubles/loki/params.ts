// Loki's request parameters: timestamps, durations, limit, direction and step, parsed the way Loki's
// pkg/loghttp does, with its error messages (which wrap Go's strconv and time messages).

import { goQuote, LokiError } from './errors.ts';

export const NS = 1_000_000_000n;
export const MS = 1_000_000n;
const MINUTE = 60n * NS;
const HOUR = 60n * MINUTE;
const DAY = 24n * HOUR;

/** Request parameters as Go's r.Form sees them: a missing parameter reads as "". */
export class Form {
  readonly #values: URLSearchParams;

  constructor(values: URLSearchParams) {
    this.#values = values;
  }

  get(name: string): string {
    return this.#values.get(name) ?? '';
  }

  getAll(name: string): string[] {
    return this.#values.getAll(name);
  }
}

export const nowNs = (): bigint => BigInt(Date.now()) * MS;

const GO_FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const RFC3339_NANO =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:Z|([+-])(\d{2}):(\d{2}))$/;
const INT64_MAX = 2n ** 63n - 1n;

/** Go's strconv.ParseFloat for decimal text, or undefined when it would fail. */
export function parseGoFloat(text: string): number | undefined {
  return GO_FLOAT.test(text) && Number.isFinite(Number(text)) ? Number(text) : undefined;
}

function rfc3339Nano(value: string): bigint | undefined {
  const m = RFC3339_NANO.exec(value);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  // Date.UTC rolls 2024-02-30 over into March; Go refuses it, and so does this double.
  const back = new Date(ms);
  if (back.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) return undefined;
  const fraction = BigInt((m[7] ?? '').padEnd(9, '0'));
  const offsetMinutes = m[8] ? (m[8] === '-' ? -1 : 1) * (Number(m[9]) * 60 + Number(m[10])) : 0;
  return (BigInt(ms) - BigInt(offsetMinutes) * 60_000n) * MS + fraction;
}

/**
 * A Loki timestamp in nanoseconds: "" is the fallback; with a dot, float seconds rounded to the
 * millisecond; an integer of at most 10 characters is seconds, a longer one nanoseconds; else RFC 3339.
 */
export function parseTimestamp(value: string, fallback: bigint): bigint {
  if (value === '') return fallback;
  const seconds = value.includes('.') ? parseGoFloat(value) : undefined;
  if (seconds !== undefined) {
    const whole = Math.trunc(seconds);
    const fraction = Math.round((seconds - whole) * 1000) / 1000;
    return BigInt(whole) * NS + BigInt(Math.trunc(fraction * 1e9));
  }
  if (/^[+-]?\d+$/.test(value)) {
    const n = BigInt(value);
    if (n > INT64_MAX || n < -INT64_MAX - 1n) {
      throw new Error(`strconv.ParseInt: parsing ${goQuote(value)}: value out of range`);
    }
    return value.length <= 10 ? n * NS : n;
  }
  const parsed = rfc3339Nano(value);
  if (parsed === undefined) throw new Error(`strconv.ParseInt: parsing ${goQuote(value)}: invalid syntax`);
  return parsed;
}

const PROM_UNITS: ReadonlyArray<[string, bigint]> = [
  ['y', 365n * DAY],
  ['w', 7n * DAY],
  ['d', DAY],
  ['h', HOUR],
  ['m', MINUTE],
  ['s', NS],
  ['ms', MS],
];

/** Prometheus' duration syntax (model.ParseDuration): "1h30m", units y w d h m s ms, biggest first. */
export function parsePromDuration(text: string): bigint {
  if (text === '0') return 0n;
  if (text === '') throw new Error('empty duration string');
  let rest = text;
  let total = 0n;
  let lastUnit = -1;
  while (rest !== '') {
    const m = /^(\d+)(\D*)/.exec(rest);
    if (!m || m[2] === '') throw new Error(`not a valid duration string: ${goQuote(text)}`);
    const unit = PROM_UNITS.findIndex(([name]) => name === m[2]);
    if (unit < 0) throw new Error(`unknown unit ${goQuote(m[2] ?? '')} in duration ${goQuote(text)}`);
    if (unit <= lastUnit) throw new Error(`not a valid duration string: ${goQuote(text)}`);
    lastUnit = unit;
    total += BigInt(m[1] ?? '0') * (PROM_UNITS[unit]?.[1] ?? 0n);
    rest = rest.slice(m[0].length);
  }
  return total;
}

const GO_UNITS: Record<string, bigint> = {
  ns: 1n,
  us: 1000n,
  µs: 1000n,
  μs: 1000n,
  ms: MS,
  s: NS,
  m: MINUTE,
  h: HOUR,
};

/** Go's time.ParseDuration ("1.5s", "300ms", "2h45m"), or undefined when it would fail. */
export function parseGoDuration(text: string): bigint | undefined {
  const sign = text.startsWith('-') ? -1n : 1n;
  let rest = text.replace(/^[-+]/, '');
  if (rest === '0') return 0n;
  if (rest === '') return undefined;
  let total = 0n;
  while (rest !== '') {
    const m = /^(\d*)(?:\.(\d*))?([^\d.]+)/.exec(rest);
    if (!m || (m[1] === '' && !m[2])) return undefined;
    const unit = GO_UNITS[m[3] ?? ''];
    if (unit === undefined) return undefined;
    const fraction = m[2] ?? '';
    total += BigInt(m[1] || '0') * unit + (BigInt(fraction || '0') * unit) / 10n ** BigInt(fraction.length);
    rest = rest.slice(m[0].length);
  }
  return sign * total;
}

/** Loki's "float seconds, or a Prometheus duration" parameters (step, interval). */
function parseSecondsOrDuration(value: string): bigint {
  const seconds = parseGoFloat(value);
  if (seconds !== undefined) return BigInt(Math.trunc(seconds * 1e9));
  try {
    return parsePromDuration(value);
  } catch {
    throw new LokiError(400, `cannot parse ${goQuote(value)} to a valid duration`);
  }
}

/** Prometheus' model.Duration.String(): "30d1h", "5m", "0s" (weeks and years only when exact). */
export function formatPromDuration(ns: bigint): string {
  let ms = ns / MS;
  if (ms === 0n) return '0s';
  const sign = ms < 0n ? '-' : '';
  if (ms < 0n) ms = -ms;
  let out = '';
  for (const [unit, size] of PROM_UNITS) {
    const unitMs = size / MS;
    if ((unit === 'y' || unit === 'w') && ms % unitMs !== 0n) continue;
    const count = ms / unitMs;
    if (count > 0n) {
      out += `${count}${unit}`;
      ms -= count * unitMs;
    }
  }
  return sign + out;
}

/** `value` in `unit`s with the fraction Go prints: "1.5", "90", "0.25". */
function decimal(value: bigint, unit: bigint): string {
  const whole = value / unit;
  const fraction = value % unit;
  if (fraction === 0n) return `${whole}`;
  const digits = unit.toString().length - 1;
  return `${whole}.${fraction.toString().padStart(digits, '0').replace(/0+$/, '')}`;
}

/** Go's time.Duration.String(): "722h0m0s", "1m30s", "1.5s", "250ms". */
export function formatGoDuration(ns: bigint): string {
  if (ns === 0n) return '0s';
  const sign = ns < 0n ? '-' : '';
  let rest = ns < 0n ? -ns : ns;
  if (rest < NS) {
    const [unit, size] = rest < 1000n ? ['ns', 1n] : rest < MS ? ['µs', 1000n] : ['ms', MS];
    return `${sign}${decimal(rest, size)}${unit}`;
  }
  const hours = rest / HOUR;
  rest %= HOUR;
  const minutes = rest / MINUTE;
  rest %= MINUTE;
  const seconds = `${decimal(rest, NS)}s`;
  if (hours > 0n) return `${sign}${hours}h${minutes}m${seconds}`;
  return minutes > 0n ? `${sign}${minutes}m${seconds}` : `${sign}${seconds}`;
}

function wrap(what: string, parse: () => bigint): bigint {
  try {
    return parse();
  } catch (error) {
    throw new LokiError(400, `could not parse '${what}' parameter: ${(error as Error).message}`);
  }
}

/**
 * start and end (nanoseconds). end defaults to now; start to end - `since` (or `defaultSince`), where an end
 * in the future counts as now.
 */
export function bounds(form: Form, defaultSince: bigint, now = nowNs()): { start: bigint; end: bigint } {
  const sinceText = form.get('since');
  const since = sinceText === '' ? defaultSince : wrap('since', () => parsePromDuration(sinceText));
  const end = wrap('end', () => parseTimestamp(form.get('end'), now));
  const endOrNow = end > now ? now : end;
  const start = wrap('start', () => parseTimestamp(form.get('start'), endOrNow - since));
  return { start, end };
}

export function parseLimit(form: Form): number {
  const text = form.get('limit');
  if (text === '') return 100;
  if (!/^[+-]?\d+$/.test(text)) {
    throw new LokiError(400, `strconv.Atoi: parsing ${goQuote(text)}: invalid syntax`);
  }
  const limit = Number(text);
  if (limit <= 0) throw new LokiError(400, 'limit must be a positive value');
  if (limit > 2 ** 32 - 1) {
    throw new LokiError(400, `limit value ${limit} is out of range [0, ${2 ** 32 - 1}]`);
  }
  return limit;
}

export type Direction = 'forward' | 'backward';

export function parseDirection(form: Form): Direction {
  const text = form.get('direction');
  if (text === '') return 'backward';
  const direction = text.toLowerCase();
  if (direction !== 'forward' && direction !== 'backward') {
    throw new LokiError(400, `invalid direction '${text}'`);
  }
  return direction;
}

/** The step of a range query; by default one 250th of the range, in whole seconds, at least 1s. */
export function parseStep(form: Form, start: bigint, end: bigint): bigint {
  const text = form.get('step');
  if (text === '') {
    const seconds = Math.max(Math.floor(Number(end - start) / 1e9 / 250), 1);
    return BigInt(seconds) * NS;
  }
  return parseSecondsOrDuration(text);
}

export function parseInterval(form: Form): bigint {
  const text = form.get('interval');
  return text === '' ? 0n : parseSecondsOrDuration(text);
}
