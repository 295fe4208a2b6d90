// Local LogQL checks with the grammar Grafana mirrors from Loki's own: syntax errors with their position,
// and the semantic rules Loki enforces that the grammar cannot see.

import { parser } from '@grafana/lezer-logql';
import type { SyntaxNode } from '@lezer/common';
import { invalidArgument } from './errors.ts';
import { parseDuration } from './time.ts';

export interface LogQLQuery {
  kind: 'logs' | 'metric';
  /** Each stream selector's text, e.g. `{app="api"}`: what Loki's index statistics take. */
  selectors: string[];
  /** The longest `[range]` of a range aggregation, in seconds (0 for log queries). */
  maxRangeSeconds: number;
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
  const selectors: string[] = [];
  let maxRangeSeconds = 0;
  const cursor = tree.cursor();
  do {
    if (cursor.name === 'Selector') {
      checkSelector(query, cursor.node);
      selectors.push(query.slice(cursor.from, cursor.to));
    } else if (cursor.name === 'Duration' && cursor.node.parent?.name === 'Range') {
      maxRangeSeconds = Math.max(maxRangeSeconds, parseDuration(query.slice(cursor.from, cursor.to)) ?? 0);
    }
  } while (cursor.next());
  if (selectors.length === 0) throw invalidArgument('LogQL query has no stream selector.', HINT);
  return { kind, selectors: [...new Set(selectors)], maxRangeSeconds };
}

/** Loki refuses selectors that every stream matches: at least one matcher must be positive and non-empty. */
function checkSelector(query: string, selector: SyntaxNode): void {
  const matchers = selector.getChildren('Matchers').flatMap(function collect(node): SyntaxNode[] {
    return [...node.getChildren('Matcher'), ...node.getChildren('Matchers').flatMap(collect)];
  });
  const selective = matchers.some(matcher => {
    const op = matcher.getChild('Eq') ?? matcher.getChild('Re');
    const literal = matcher.getChild('String');
    if (!op || !literal) return false;
    const value = unquote(query.slice(literal.from, literal.to));
    if (op.name === 'Eq') return value !== '';
    try {
      return !new RegExp(`^(?:${value})$`).test('');
    } catch {
      // Go RE2 syntax JavaScript cannot read: let Loki judge it.
      return true;
    }
  });
  if (!selective) {
    throw invalidArgument(
      `The stream selector ${query.slice(selector.from, selector.to)} matches every stream; Loki refuses it.`,
      'Add at least one = or =~ matcher that cannot match an empty value, e.g. {app="api"} or {app=~"api.+"}.',
    );
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
