// LogQL for the double: parsed with the same lezer grammar devops-mcp uses, into a small AST that
// pipeline.ts and engine.ts evaluate. Syntax errors and Loki's parse-time checks come out as Loki words
// them; whatever the double does not implement is refused with a 400 that names it.

import { parser } from '@grafana/lezer-logql';
import type { SyntaxNode, Tree } from '@lezer/common';
import { LokiError, parseError, unsupported } from './errors.ts';
import { parseGoDuration, parsePromDuration } from './params.ts';

export type Labels = Record<string, string>;

export interface Matcher {
  name: string;
  op: '=' | '!=' | '=~' | '!~';
  value: string;
  /** Fully anchored, as Loki (and Prometheus) match label values. */
  regex?: RegExp;
}

export type Comparison = '==' | '!=' | '>' | '>=' | '<' | '<=';

export type LabelPredicate =
  | { kind: 'and' | 'or'; left: LabelPredicate; right: LabelPredicate }
  | { kind: 'matcher'; matcher: Matcher }
  | { kind: 'number'; name: string; cmp: Comparison; value: number }
  | { kind: 'duration'; name: string; cmp: Comparison; value: bigint };

export type TemplatePart = string | { label: string } | { line: true };

export type Stage =
  /** Keeps a line when any test hits (or, negated, when none does: `!= "a" or "b"` drops both). */
  | { kind: 'line'; negate: boolean; tests: Array<(line: string) => boolean> }
  | { kind: 'json' }
  | { kind: 'logfmt' }
  | { kind: 'label'; predicate: LabelPredicate }
  | { kind: 'line_format'; parts: TemplatePart[] };

export interface LogSelector {
  matchers: Matcher[];
  stages: Stage[];
}

export type RangeOp = 'count_over_time' | 'rate' | 'bytes_over_time' | 'bytes_rate';
export type VectorOp = 'sum' | 'count' | 'min' | 'max' | 'avg' | 'topk' | 'bottomk';

export interface RangeAggregation {
  kind: 'range';
  op: RangeOp;
  selector: LogSelector;
  /** Nanoseconds. */
  range: bigint;
  offset: bigint;
}

export interface VectorAggregation {
  kind: 'vector';
  op: VectorOp;
  grouping?: { without: boolean; labels: string[] };
  /** topk and bottomk's k. */
  k?: number;
  inner: MetricExpr;
}

export type MetricExpr = RangeAggregation | VectorAggregation;
export type Query = { kind: 'log'; selector: LogSelector } | { kind: 'metric'; expr: MetricExpr };

const EMPTY_COMPATIBLE =
  'queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~".*" does not meet this requirement, but app=~".+" will';

// Token names in Loki's yacc errors: keywords print as themselves, functions (only when followed by a
// parenthesis) as their upper-case token, literals as STRING, NUMBER, DURATION or RANGE.
const words = (list: string) => list.trim().split(/\s+/);
const KEYWORDS = new Set(
  words(`by without bool json regexp logfmt unpack pattern label_format line_format ip decolorize drop
    keep unwrap offset on ignoring group_left group_right or and unless label_replace`),
);
const FUNCTIONS = new Set(
  words(`rate rate_counter count_over_time bytes_rate bytes_over_time avg_over_time sum_over_time
    min_over_time max_over_time stdvar_over_time stddev_over_time quantile_over_time first_over_time
    last_over_time absent_over_time vector sum avg max min count stddev stdvar bottomk topk sort
    sort_desc approx_topk`),
);
const CONVERSIONS: Record<string, string> = {
  bytes: 'BYTES_CONV',
  duration: 'DURATION_CONV',
  duration_seconds: 'DURATION_SECONDS_CONV',
};
// Two-character operators first, so that the longest one is reported.
const PUNCTUATION = words('|= |~ |> != =~ !~ !> == >= <= { } ( ) [ ] , . = | + - * / % ^ > <');

/** The token Loki's lexer would report at `offset` (whitespace skipped). */
function tokenAt(query: string, offset: number): string {
  const rest = query.slice(offset).trimStart();
  if (rest === '') return '$end';
  if (rest.startsWith('"') || rest.startsWith('`')) return 'STRING';
  if (/^\[[^\]]*\]/.test(rest)) return 'RANGE';
  const number = /^\d+(?:\.\d+)?([a-zA-Z]*)/.exec(rest);
  if (number) return number[1] ? 'DURATION' : 'NUMBER';
  const word = /^[a-zA-Z_][\w.]*/.exec(rest)?.[0];
  if (word !== undefined) {
    if (KEYWORDS.has(word)) return word;
    const call = /^\s*\(/.test(rest.slice(word.length));
    if (call && FUNCTIONS.has(word)) return word.toUpperCase();
    if (call && word in CONVERSIONS) return CONVERSIONS[word] ?? word;
    return 'IDENTIFIER';
  }
  return PUNCTUATION.find(p => rest.startsWith(p)) ?? rest[0] ?? '$end';
}

function position(query: string, offset: number): string {
  const before = query.slice(0, offset);
  const line = before.split('\n').length;
  return `line ${line}, col ${offset - before.lastIndexOf('\n')}`;
}

/** Loki's message for the first place the grammar rejects (without its ", expecting ..." hint). */
function throwOnSyntaxError(query: string, tree: Tree): void {
  let first: number | undefined;
  tree.iterate({
    enter(node) {
      if (node.type.isError && (first === undefined || node.from < first)) first = node.from;
    },
  });
  if (first === undefined) return;
  const token = tokenAt(query, first);
  // The column is the token's; $end is reported just past the last character, as Loki's scanner does.
  const at = token === '$end' ? query.length : query.length - query.slice(first).trimStart().length;
  throw new LokiError(400, `parse error at ${position(query, at)}: syntax error: unexpected ${token}`);
}

const ESCAPES: Record<string, string> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  '"': '"',
  "'": "'",
};

/** A Go string literal: backquoted raw, or double-quoted with Go's escapes. */
function unquote(query: string, node: SyntaxNode): string {
  const literal = query.slice(node.from, node.to);
  if (literal.startsWith('`')) return literal.slice(1, -1);
  return literal
    .slice(1, -1)
    .replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|[\s\S])/g, (_, escape: string) => {
      if (/^[xuU]/.test(escape)) return String.fromCodePoint(parseInt(escape.slice(1), 16));
      if (/^[0-7]{3}$/.test(escape)) return String.fromCodePoint(parseInt(escape, 8));
      const simple = ESCAPES[escape];
      if (simple === undefined) {
        throw new LokiError(400, `parse error at ${position(query, node.from)}: invalid char escape`);
      }
      return simple;
    });
}

/**
 * An RE2 pattern as a JavaScript RegExp. RE2's leading flag group ((?i), (?s), (?m)) becomes a flag and
 * (?P<name>) a named group; other RE2-only syntax fails to compile and is reported as Loki reports it.
 */
export function compileRegex(pattern: string, anchored: boolean, dotAll: boolean): RegExp {
  let source = pattern;
  const flags = new Set(dotAll ? ['s'] : []);
  const lead = /^\(\?([a-zA-Z]+)\)/.exec(source);
  if (lead) {
    for (const flag of lead[1] ?? '') {
      if (flag !== 'i' && flag !== 's' && flag !== 'm') throw unsupported(`the regexp flag (?${flag})`);
      flags.add(flag);
    }
    source = source.slice(lead[0].length);
  }
  source = source.replaceAll('(?P<', '(?<');
  try {
    return new RegExp(anchored ? `^(?:${source})$` : source, [...flags].join(''));
  } catch (error) {
    // JavaScript's wording ("Invalid regular expression: /.../: Unterminated group"), in Go's frame.
    const { message } = error as Error;
    const reason = message.slice(message.lastIndexOf(': ') + 2).toLowerCase();
    throw parseError(`error parsing regexp: ${reason}: \`${pattern}\``);
  }
}

function text(query: string, node: SyntaxNode): string {
  return query.slice(node.from, node.to);
}

function need(node: SyntaxNode, name: string): SyntaxNode {
  const found = node.getChild(name);
  if (!found) throw unsupported(`a ${node.name} without ${name}`);
  return found;
}

/** Every node named `name` below `node`, in document order. */
function descendants(node: SyntaxNode, name: string): SyntaxNode[] {
  const found: SyntaxNode[] = [];
  for (let child = node.firstChild; child; child = child.nextSibling) {
    if (child.name === name) found.push(child);
    found.push(...descendants(child, name));
  }
  return found;
}

const MATCH_OPS: Record<string, Matcher['op']> = { Eq: '=', Neq: '!=', Re: '=~', Nre: '!~' };

function matcher(query: string, node: SyntaxNode): Matcher {
  const name = text(query, need(node, 'Identifier'));
  const value = unquote(query, need(node, 'String'));
  const op = MATCH_OPS[node.getChild('Identifier')?.nextSibling?.name ?? ''];
  if (!op) throw unsupported(`the matcher ${text(query, node)}`);
  if (op === '=~' || op === '!~') return { name, op, value, regex: compileRegex(value, true, false) };
  return { name, op, value };
}

export function matches(m: Matcher, value: string): boolean {
  switch (m.op) {
    case '=':
      return value === m.value;
    case '!=':
      return value !== m.value;
    case '=~':
      return m.regex?.test(value) ?? false;
    case '!~':
      return !(m.regex?.test(value) ?? false);
  }
}

function selectorMatchers(query: string, selector: SyntaxNode): Matcher[] {
  return descendants(selector, 'Matcher').map(node => matcher(query, node));
}

/** Loki refuses a selector whose every matcher also matches streams lacking the label. */
function requireSelectiveMatcher(matchers: Matcher[]): void {
  if (!matchers.some(m => !matches(m, ''))) throw parseError(EMPTY_COMPATIBLE);
}

const COMPARISONS: Record<string, Comparison> = {
  Eq: '==',
  Eql: '==',
  Neq: '!=',
  Gtr: '>',
  Gte: '>=',
  Lss: '<',
  Lte: '<=',
};

function comparison(node: SyntaxNode): Comparison {
  const cmp = COMPARISONS[node.getChild('Identifier')?.nextSibling?.name ?? ''];
  if (!cmp) throw unsupported(`the comparison in ${node.name}`);
  return cmp;
}

/** A duration literal as Loki's lexer reads one: Prometheus syntax first, then Go's. */
function durationLiteral(value: string): bigint {
  try {
    return parsePromDuration(value);
  } catch {
    const go = parseGoDuration(value);
    if (go === undefined) throw parseError(`not a valid duration string: "${value}"`);
    return go;
  }
}

function labelPredicate(query: string, node: SyntaxNode): LabelPredicate {
  const parts = node.getChildren('LabelFilter');
  const [left, right] = parts;
  if (left && right) {
    const kind = node.getChild('Or') ? 'or' : 'and';
    return { kind, left: labelPredicate(query, left), right: labelPredicate(query, right) };
  }
  if (left) return labelPredicate(query, left); // parenthesized
  const m = node.getChild('Matcher');
  if (m) return { kind: 'matcher', matcher: matcher(query, m) };
  const number = node.getChild('NumberFilter');
  if (number) {
    return {
      kind: 'number',
      name: text(query, need(number, 'Identifier')),
      cmp: comparison(number),
      value: Number(text(query, need(number, 'LiteralExpr'))),
    };
  }
  const duration = node.getChild('UnitFilter')?.getChild('DurationFilter');
  if (duration) {
    return {
      kind: 'duration',
      name: text(query, need(duration, 'Identifier')),
      cmp: comparison(duration),
      value: durationLiteral(text(query, need(duration, 'Duration'))),
    };
  }
  throw unsupported(`the label filter ${text(query, node)}`);
}

function lineFilter(query: string, node: SyntaxNode): Stage {
  if (node.getChild('FilterOp')) throw unsupported(`the line filter ${text(query, node)}`);
  const op = need(node, 'Filter').firstChild?.name;
  const values = descendants(node, 'String').map(s => unquote(query, s));
  if (op === 'PipeExact' || op === 'Neq') {
    return { kind: 'line', negate: op === 'Neq', tests: values.map(v => (line: string) => line.includes(v)) };
  }
  if (op === 'PipeMatch' || op === 'Nre') {
    // Line filter regexes are not anchored, and Loki lets their dot match newlines.
    const regexes = values.map(v => compileRegex(v, false, true));
    return { kind: 'line', negate: op === 'Nre', tests: regexes.map(r => (line: string) => r.test(line)) };
  }
  throw unsupported(`the line filter ${text(query, node)}`);
}

/** A line_format stage; its template reduced to what the double renders: text, {{.label}}, {{__line__}}. */
function lineFormat(query: string, node: SyntaxNode): Stage {
  const parts: TemplatePart[] = [];
  let rest = unquote(query, need(node, 'String'));
  for (let open = rest.indexOf('{{'); open >= 0; open = rest.indexOf('{{')) {
    const close = rest.indexOf('}}', open);
    if (close < 0) throw parseError(`template: line:1: unclosed action`);
    if (open > 0) parts.push(rest.slice(0, open));
    const action = rest.slice(open + 2, close).trim();
    if (action === '__line__') parts.push({ line: true });
    else if (/^\.[a-zA-Z_]\w*$/.test(action)) parts.push({ label: action.slice(1) });
    else throw unsupported(`the line_format action {{${action}}}`);
    rest = rest.slice(close + 2);
  }
  if (rest !== '') parts.push(rest);
  return { kind: 'line_format', parts };
}

function stages(query: string, pipeline: SyntaxNode | null): Stage[] {
  if (!pipeline) return [];
  const out: Stage[] = [];
  for (const stage of descendants(pipeline, 'PipelineStage')) {
    const lines = stage.getChild('LineFilters');
    if (lines) {
      for (const filter of descendants(lines, 'LineFilter')) out.push(lineFilter(query, filter));
      continue;
    }
    const logfmt = stage.getChild('LogfmtParser');
    const filter = stage.getChild('LabelFilter');
    const format = stage.getChild('LineFormatExpr');
    if (stage.getChild('LabelParser')?.getChild('Json')) out.push({ kind: 'json' });
    else if (logfmt && !logfmt.getChild('LogfmtParserFlags')) out.push({ kind: 'logfmt' });
    else if (filter) out.push({ kind: 'label', predicate: labelPredicate(query, filter) });
    else if (format) out.push(lineFormat(query, format));
    else throw unsupported(`the pipeline stage ${text(query, stage).replace(/^\|\s*/, '| ')}`);
  }
  return out;
}

function logSelector(query: string, node: SyntaxNode): LogSelector {
  const inner = node.getChild('LogExpr'); // parenthesized
  if (inner) return logSelector(query, inner);
  return {
    matchers: selectorMatchers(query, need(node, 'Selector')),
    stages: stages(query, node.getChild('PipelineExpr')),
  };
}

const RANGE_OPS: Record<string, RangeOp> = {
  CountOverTime: 'count_over_time',
  Rate: 'rate',
  BytesOverTime: 'bytes_over_time',
  BytesRate: 'bytes_rate',
};
const VECTOR_OPS: Record<string, VectorOp> = {
  Sum: 'sum',
  Count: 'count',
  Min: 'min',
  Max: 'max',
  Avg: 'avg',
  Topk: 'topk',
  Bottomk: 'bottomk',
};

function rangeAggregation(query: string, node: SyntaxNode): RangeAggregation {
  const opText = text(query, need(node, 'RangeOp'));
  const op = RANGE_OPS[need(node, 'RangeOp').firstChild?.name ?? ''];
  if (!op) throw unsupported(`the range aggregation ${opText}`);
  const param = node.getChild('Number');
  if (param) throw parseError(`parameter ${text(query, param)} not supported for operation ${op}`);
  if (node.getChild('Grouping')) throw parseError(`grouping not allowed for ${op} aggregation`);
  const logRange = need(node, 'LogRangeExpr');
  if (logRange.getChild('UnwrapExpr')) throw unsupported('unwrap');
  const offset = logRange.getChild('OffsetExpr')?.getChild('Duration');
  return {
    kind: 'range',
    op,
    selector: {
      matchers: selectorMatchers(query, need(logRange, 'Selector')),
      stages: stages(query, logRange.getChild('PipelineExpr')),
    },
    range: durationLiteral(text(query, need(need(logRange, 'Range'), 'Duration'))),
    offset: offset ? durationLiteral(text(query, offset)) : 0n,
  };
}

function vectorAggregation(query: string, node: SyntaxNode): VectorAggregation {
  const opNode = need(node, 'VectorOp');
  const op = VECTOR_OPS[opNode.firstChild?.name ?? ''];
  if (!op) throw unsupported(`the aggregation ${text(query, opNode)}`);
  const grouping = node.getChild('Grouping');
  const param = node.getChild('Number');
  const aggregation: VectorAggregation = {
    kind: 'vector',
    op,
    inner: metric(query, need(node, 'MetricExpr')),
  };
  if (grouping) {
    const labels = grouping.getChild('Labels');
    aggregation.grouping = {
      without: grouping.getChild('Without') !== null,
      labels: labels ? descendants(labels, 'Identifier').map(n => text(query, n)) : [],
    };
  }
  if (op === 'topk' || op === 'bottomk') {
    if (!param) throw parseError(`parameter required for operation ${op}`);
    const k = text(query, param);
    if (!/^[+-]?\d+$/.test(k)) throw parseError(`invalid parameter ${op}(${k},`);
    if (Number(k) <= 0) throw parseError(`invalid parameter (must be greater than 0) ${op}(${k}`);
    aggregation.k = Number(k);
  } else if (param) {
    throw parseError(`unsupported parameter for operation ${op}(${text(query, param)},`);
  }
  return aggregation;
}

function metric(query: string, node: SyntaxNode): MetricExpr {
  const inner = node.firstChild;
  if (!inner) throw unsupported('an empty metric expression');
  switch (inner.name) {
    case 'RangeAggregationExpr':
      return rangeAggregation(query, inner);
    case 'VectorAggregationExpr':
      return vectorAggregation(query, inner);
    case 'MetricExpr':
      return metric(query, inner);
    case 'BinOpExpr':
      throw unsupported('binary operations');
    default:
      throw unsupported(`the expression ${text(query, inner)}`);
  }
}

function syntaxTree(query: string): SyntaxNode {
  const tree = parser.parse(query);
  throwOnSyntaxError(query, tree);
  return tree.topNode;
}

/** A log or metric query, as the query endpoints take it. */
export function parseQuery(query: string): Query {
  const top = syntaxTree(query);
  for (const selector of descendants(top, 'Selector')) {
    requireSelectiveMatcher(selectorMatchers(query, selector));
  }
  const expr = top.getChild('Expr')?.firstChild;
  if (expr?.name === 'LogExpr') return { kind: 'log', selector: logSelector(query, expr) };
  if (expr?.name === 'MetricExpr') return { kind: 'metric', expr: metric(query, expr) };
  throw unsupported(`the query ${query}`);
}

/**
 * A bare stream selector, as the series, labels and index endpoints take one. `selective` applies Loki's
 * empty-compatible check, which the series endpoint skips.
 */
export function parseSelector(query: string, selective: boolean): Matcher[] {
  const top = syntaxTree(query);
  const expr = top.getChild('Expr')?.firstChild;
  const selector =
    expr?.name === 'LogExpr' && !expr.getChild('PipelineExpr') ? expr.getChild('Selector') : null;
  if (selective) {
    for (const s of descendants(top, 'Selector')) requireSelectiveMatcher(selectorMatchers(query, s));
  }
  if (!selector) throw new LokiError(400, 'only label matchers are supported');
  return selectorMatchers(query, selector);
}
