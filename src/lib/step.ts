// Choice of a range query's resolution: automatic when absent, raised when it would exceed the point budget.

import { invalidArgument, quoted } from './errors.ts';
import { formatDuration, parseDuration } from './time.ts';

// Steps a person would pick, so echoed steps read naturally (15s, 5m, 1h) and results align across calls.
const NICE_STEPS = [
  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 172_800,
  604_800,
];

export interface StepChoice {
  /** Seconds between points. */
  step: number;
  /** Points per series that step yields over the range. */
  points: number;
  /** How the step was decided. */
  reason: 'auto' | 'requested' | 'raised';
  /** The caller's step when it was raised. */
  requested?: number;
}

export interface StepBudget {
  /** Points per series aimed at when no step is given. */
  targetPoints: number;
  /** Most points per series ever asked of the backend (Prometheus refuses more than 11,000). */
  maxPoints: number;
}

/** The longest step taken: a year, far past any range worth a series, and far short of int64 nanoseconds. */
const MAX_STEP_SECONDS = 365 * 86_400;

/**
 * A step argument: a duration (30s, 5m) or a number of seconds. Prometheus and Loki resolve a step to whole
 * milliseconds (a shorter one is zero, which they refuse); a huge one overflows their int64 nanoseconds. A step
 * longer than the range is taken (one point at the start: what `increase(x[1h])` at a 1h step over 30m asks for).
 */
export function parseStep(step: string | number): number {
  const seconds =
    typeof step === 'number' || /^\d+(?:\.\d+)?$/.test(step) ? Number(step) : parseDuration(step);
  if (seconds === undefined || !Number.isFinite(seconds) || seconds <= 0) {
    throw invalidArgument(
      `step ${quoted(step)} is not a positive duration.`,
      'Use a duration such as 30s, 5m or 1h, or a number of seconds.',
    );
  }
  if (seconds < 0.001) {
    throw invalidArgument(
      `step ${quoted(step)} is shorter than a millisecond, the finest step there is.`,
      'Use a step of 1ms or more; for every sample, query a range selector (x[5m]) as an instant query.',
    );
  }
  if (seconds > MAX_STEP_SECONDS) {
    throw invalidArgument(
      `step ${quoted(step)} is longer than a year, the longest step taken.`,
      'Use a step of a year or less.',
    );
  }
  return seconds;
}

export function pointsFor(rangeSeconds: number, step: number): number {
  return Math.floor(rangeSeconds / step) + 1;
}

/** Smallest nice step at or above `minimum`; beyond the table, whole days. */
function niceStepAtLeast(minimum: number): number {
  const nice = NICE_STEPS.find(step => step >= minimum);
  return nice ?? Math.ceil(minimum / 86_400) * 86_400;
}

export function chooseStep(
  rangeSeconds: number,
  requested: number | undefined,
  budget: StepBudget,
): StepChoice {
  const range = Math.max(rangeSeconds, 0);
  if (requested === undefined) {
    const step = niceStepAtLeast(Math.max(range / budget.targetPoints, 1));
    return { step, points: pointsFor(range, step), reason: 'auto' };
  }
  if (pointsFor(range, requested) <= budget.maxPoints) {
    return { step: requested, points: pointsFor(range, requested), reason: 'requested' };
  }
  let step = niceStepAtLeast(range / (budget.maxPoints - 1));
  while (pointsFor(range, step) > budget.maxPoints) step = niceStepAtLeast(step + 1);
  return { step, points: pointsFor(range, step), reason: 'raised', requested };
}

export function describeStep(choice: StepChoice, budget: StepBudget): string | undefined {
  if (choice.reason !== 'raised' || choice.requested === undefined) return undefined;
  return `step raised from ${formatDuration(choice.requested)} to ${formatDuration(choice.step)} to stay within ${budget.maxPoints} points per series`;
}

// Prometheus's default scrape interval, and longer than nearly every configured one: a step beyond it skips
// samples of a plain selector.
const SCRAPE_INTERVAL = 60;
// A query echoed in a hint longer than this is written as <query>.
const MAX_ECHO = 120;
const SELECTOR_RE = /^(?:[a-zA-Z_:][a-zA-Z0-9_:]*\s*(?:\{[^{}]*\})?|\{[^{}]*\})$/;

/**
 * The longest `[range]` of a PromQL expression (a subquery's `[1h:1m]` counts its range), in seconds; 0 when it
 * has none. Brackets inside quoted strings (a label value) are not ranges.
 */
export function longestRange(promql: string): number {
  let longest = 0;
  let quote: string | undefined;
  for (let i = 0; i < promql.length; i++) {
    const char = promql[i];
    if (quote !== undefined) {
      if (char === '\\') i++;
      else if (char === quote) quote = undefined;
    } else if (char === '"' || char === "'" || char === '`') quote = char;
    else if (char === '[') {
      const close = promql.indexOf(']', i);
      if (close < 0) break;
      const range = parseDuration(promql.slice(i + 1, close).split(':')[0] ?? '');
      if (range !== undefined) longest = Math.max(longest, range);
      i = close;
    }
  }
  return longest;
}

// How far back Prometheus looks from each evaluation point for a plain selector's latest sample (its default
// --query.lookback-delta).
const LOOKBACK = 300;

/**
 * The query evaluated over each whole step, `f(x[step])` or `f((expr)[step:])`, echoed short. A range must be a
 * PromQL duration: a step of a fraction of a second (450.5) is written in whole milliseconds (450500ms), as
 * Prometheus resolves it, since `7m30.5s` is refused. A `#` comment runs to the end of its line, so the closing
 * parenthesis goes on the next one.
 */
function overStep(query: string, fn: string, step: number): string {
  const millis = Math.round(step * 1000);
  const every = millis % 1000 === 0 ? formatDuration(millis / 1000) : `${millis}ms`;
  const text = query.trim();
  const echo = text.length > MAX_ECHO ? '<query>' : text;
  if (SELECTOR_RE.test(text)) return `${fn}(${echo}[${every}])`;
  return `${fn}((${echo}${echo.includes('#') ? '\n' : ''})[${every}:])`;
}

// Words of PromQL that are not metric names.
const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'and',
  'or',
  'unless',
  'inf',
  'nan',
]);

/**
 * Whether a query is a scalar expression (`time()`, `scalar(…)`, `1 + 1`): it reads no series, and a subquery of
 * it (the hints' max_over_time) is refused by Prometheus. Read by its words: no selector outside scalar().
 */
function isScalar(query: string): boolean {
  // Strings and comments in one pass, left to right: a `#` inside a string starts no comment.
  let text = query.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`|#[^\n]*/g, m =>
    m.startsWith('#') ? '' : '""',
  );
  text = text.replace(/\[[^\]]*\]/g, '');
  // scalar(…) is a scalar whatever it reads: each is taken for a number.
  for (let at = text.search(/\bscalar\s*\(/); at >= 0; at = text.search(/\bscalar\s*\(/)) {
    const end = closingParen(text, text.indexOf('(', at));
    if (end < 0) break;
    text = `${text.slice(0, at)}0${text.slice(end + 1)}`;
  }
  if (text.includes('{')) return false;
  // Words that are not function names, keywords or the letters of a number (1e3, 0x10) are metric names.
  for (const match of text.matchAll(
    /(?<![A-Za-z0-9_:.])[A-Za-z_:][A-Za-z0-9_:]*(?![A-Za-z0-9_:])(\s*\()?/g,
  )) {
    if (match[1] === undefined && !KEYWORDS.has(match[0].toLowerCase())) return false;
  }
  return true;
}

/** The index of the `)` that closes the `(` at `open`, or -1. */
function closingParen(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')' && --depth === 0) return i;
  }
  return -1;
}

/**
 * A hint for a range query that matched no series at a step longer than the lookback and every `[range]` of the
 * query: its samples may all lie between the points, where no evaluation sees them, rather than not exist.
 * Undefined when every sample would have been seen.
 */
export function emptyRangeHint(query: string, step: number): string | undefined {
  if (step <= Math.max(LOOKBACK, longestRange(query)) || isScalar(query)) return undefined;
  const every = formatDuration(step);
  return `No series at the points of the ${every} step, but each sees only the last ${formatDuration(LOOKBACK)} (Prometheus's default lookback): samples between points are missed. ${overStep(query, 'max_over_time', step)} at this step finds them (or count_over_time). If that is empty too, check the metric name and label values with explore_prometheus.`;
}

/**
 * A hint for a range query whose step hides what happens between its points: each point is one evaluation,
 * so a burst shorter than the step (beyond the scrape interval and every `[range]` of the query, which would
 * cover it) can fall between two points and be missing from min, max and spikes. max_over_time over one step
 * at that step sees every sample; undefined when nothing can hide.
 */
export function peakHint(query: string, step: number): string | undefined {
  if (step <= Math.max(SCRAPE_INTERVAL, longestRange(query)) || isScalar(query)) return undefined;
  return `At a ${formatDuration(step)} step a burst between two points is not seen: ${overStep(query, 'max_over_time', step)} (or min_over_time) at this step shows the peaks.`;
}
