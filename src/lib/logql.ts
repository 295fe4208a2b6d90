// Local LogQL checks with the grammar Grafana mirrors from Loki's own: syntax errors with their position,
// and the semantic rules Loki enforces that the grammar cannot see.

import { parser } from '@grafana/lezer-logql';
import type { SyntaxNode } from '@lezer/common';
import { invalidArgument, quoted } from './errors.ts';
import { parseDuration } from './time.ts';

export interface SelectorRead {
  /** The stream selector's text, e.g. `{app="api"}`: what Loki's index statistics take. */
  selector: string;
  /** Its range aggregation's `[range]`, in seconds (0 in a log query). */
  rangeSeconds: number;
  /** Its range aggregation's `offset`, in seconds (0 without one). */
  offsetSeconds: number;
  /** Whether pipeline stages follow this selector (in any of its reads with this range and offset). */
  hasStages: boolean;
}

export interface LogQLQuery {
  kind: 'logs' | 'metric';
  /**
   * Each stream selector with the range and offset it is read with: at each step t Loki reads its lines in
   * (t - offset - range, t - offset]. One entry per distinct selector, range and offset.
   */
  selectors: SelectorRead[];
  /**
   * Whether a step with no sample means 0: the query is a line or byte count (count_over_time, rate,
   * bytes_over_time, bytes_rate), or sums of one, and Loki writes no sample for a window without lines.
   */
  countsLines: boolean;
  /** Whether it has pipeline stages (line filters, a parser, label filters, formatting) after a selector. */
  hasStages: boolean;
}

const HINT =
  'LogQL is a stream selector such as {app="api"}, optional filters (|= "error", | json | status >= 500), and for metrics a range aggregation such as sum by (level) (count_over_time({app="api"}[5m])).';

function excerpt(query: string, position: number): string {
  const from = Math.max(0, position - 20);
  const near = query.slice(from, position + 20);
  return `${from > 0 ? '…' : ''}${near}${position + 20 < query.length ? '…' : ''}`;
}

export function checkLogQL(query: string): LogQLQuery {
  const tree = parser.parse(query);
  let errorAt: number | undefined;
  tree.iterate({
    enter(node) {
      if (errorAt !== undefined) return false;
      if (node.type.isError) errorAt = node.from;
      return undefined;
    },
  });
  if (errorAt !== undefined) {
    const column = errorAt + 1;
    const found =
      errorAt >= query.length
        ? 'the query ends too early'
        : `unexpected "${query.slice(errorAt, errorAt + 12)}"`;
    throw invalidArgument(
      `LogQL syntax error at column ${column}: ${found} (near: ${excerpt(query, errorAt)}).`,
      HINT,
    );
  }
  const top = tree.topNode.firstChild?.firstChild;
  const kind = top?.name === 'MetricExpr' ? 'metric' : 'logs';
  const reads = new Map<string, SelectorRead>();
  let hasStages = false;
  const cursor = tree.cursor();
  do {
    if (cursor.name === 'PipelineExpr') hasStages = true;
    if (cursor.name !== 'Selector') continue;
    checkSelector(query, cursor.node);
    const read = { selector: query.slice(cursor.from, cursor.to), ...rangeOf(query, cursor.node.parent) };
    // One entry per selector, range and offset, as the cost guardrail counts reads; stages in any make it staged.
    const key = JSON.stringify(read);
    const staged = stagesAfter(cursor.node);
    const seen = reads.get(key);
    if (seen) seen.hasStages ||= staged;
    else reads.set(key, { ...read, hasStages: staged });
  } while (cursor.next());
  if (reads.size === 0) throw invalidArgument('LogQL query has no stream selector.', HINT);
  return { kind, selectors: [...reads.values()], countsLines: countsLines(top ?? null), hasStages };
}

/** Whether pipeline stages follow a selector: in its log expression, or one it is parenthesized in. */
function stagesAfter(selector: SyntaxNode): boolean {
  for (
    let node = selector.parent;
    node?.name === 'LogExpr' || node?.name === 'LogRangeExpr';
    node = node.parent
  )
    if (node.getChild('PipelineExpr')) return true;
  return false;
}

/** The `[range]` and `offset` of a selector's range expression (`{app="a"}[5m] offset 1h`), in seconds. */
function rangeOf(query: string, parent: SyntaxNode | null): { rangeSeconds: number; offsetSeconds: number } {
  if (parent?.name !== 'LogRangeExpr') return { rangeSeconds: 0, offsetSeconds: 0 };
  const seconds = (duration: SyntaxNode | null | undefined) =>
    duration ? (parseDuration(query.slice(duration.from, duration.to)) ?? 0) : 0;
  return {
    rangeSeconds: seconds(parent.getChild('Range')?.getChild('Duration')),
    offsetSeconds: seconds(parent.getChild('OffsetExpr')?.getChild('Duration')),
  };
}

// Range aggregations that count lines or their bytes. Those over unwrapped values (sum_over_time, avg_over_time,
// rate of an unwrap) are left out: an average, a minimum or a quantile of no value is no value, not 0.
const LINE_COUNTS = new Set(['CountOverTime', 'Rate', 'BytesOverTime', 'BytesRate']);

/**
 * Whether a metric expression counts lines: a line count, or a sum of line counts. Any other aggregation
 * (avg, min, max, count, topk) of no series is no value, topk's gaps are series outside the top k, and a binary
 * operation's gaps may be samples a comparison filtered out, so their missing steps are not zeros.
 */
function countsLines(node: SyntaxNode | null): boolean {
  if (!node) return false;
  switch (node.name) {
    case 'MetricExpr':
      // `(expr)` nests one MetricExpr in another.
      return countsLines(node.firstChild);
    case 'VectorAggregationExpr':
      return (
        node.getChild('VectorOp')?.firstChild?.name === 'Sum' && countsLines(node.getChild('MetricExpr'))
      );
    case 'RangeAggregationExpr':
      return (
        LINE_COUNTS.has(node.getChild('RangeOp')?.firstChild?.name ?? '') &&
        !node.getChild('LogRangeExpr')?.getChild('UnwrapExpr')
      );
    default:
      return false;
  }
}

/**
 * Loki refuses selectors that every stream matches: at least one matcher must not match the empty value (what a
 * stream without the label has), whatever its operator — {app="api"}, {app=~"api.+"} and {app!=""} all qualify.
 */
function checkSelector(query: string, selector: SyntaxNode): void {
  const matchers = selector.getChildren('Matchers').flatMap(function collect(node): SyntaxNode[] {
    return [...node.getChildren('Matcher'), ...node.getChildren('Matchers').flatMap(collect)];
  });
  // undefined (no verdict from here) counts as selective: Loki judges it.
  if (!matchers.some(matcher => matchesEmpty(query, matcher) !== true)) {
    throw invalidArgument(
      `The stream selector ${quoted(query.slice(selector.from, selector.to))} matches every stream; Loki refuses it.`,
      'Add at least one matcher that cannot match an empty value, e.g. {app="api"}, {app=~"api.+"} or {app!=""}.',
    );
  }
}

/** Whether a matcher matches the empty value, as Loki's (Prometheus's) labels.Matcher.Matches("") decides. */
function matchesEmpty(query: string, matcher: SyntaxNode): boolean | undefined {
  const op =
    matcher.getChild('Eq') ?? matcher.getChild('Neq') ?? matcher.getChild('Re') ?? matcher.getChild('Nre');
  const literal = matcher.getChild('String');
  if (!op || !literal) return undefined;
  const value = unquote(query.slice(literal.from, literal.to));
  if (op.name === 'Eq') return value === '';
  if (op.name === 'Neq') return value !== '';
  const matches = regexMatchesEmpty(value);
  return matches === undefined || op.name === 'Re' ? matches : !matches;
}

/**
 * Whether Go's RE2, anchored as Prometheus anchors matchers (^(?s:…)$), matches "" with this pattern; undefined
 * when JavaScript cannot say. The two dialects differ: RE2 refuses lookarounds and backreferences, which JavaScript
 * reads, so those are left to Loki; RE2-only syntax (\z, \Q…\E, \pL, [[:alpha:]]) would mean something else
 * to a plain RegExp, but the `u` flag makes JavaScript refuse unknown escapes and stray brackets instead. A leading
 * flag group ((?i), (?s), …) cannot change whether "" matches, so it is dropped.
 */
function regexMatchesEmpty(pattern: string): boolean | undefined {
  if (/\(\?<?[=!]|\\[1-9]/.test(pattern)) return undefined;
  const source = pattern.replace(/^\(\?[imsU]+\)/, '').replaceAll('(?P<', '(?<');
  try {
    return new RegExp(`^(?:${source})$`, 'su').test('');
  } catch {
    return undefined;
  }
}

function unquote(literal: string): string {
  if (literal.startsWith('`')) return literal.slice(1, -1);
  try {
    return JSON.parse(literal) as string;
  } catch {
    return literal.slice(1, -1);
  }
}
