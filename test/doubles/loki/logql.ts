// LogQL for the Loki double: parsed with the same lezer grammar, evaluated over the double's streams.
// Only what the tests need is supported; anything else is an error Loki's way (400, plain text).

import { parser } from '@grafana/lezer-logql';
import type { SyntaxNode } from '@lezer/common';

export class LokiHttpError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

const unsupported = (what: string) =>
  new LokiHttpError(400, `not supported by the Loki test double: ${what}`);

export type Labels = Record<string, string>;
type Op = '=' | '!=' | '=~' | '!~';
interface Matcher {
  name: string;
  op: Op;
  value: string;
}
type Stage =
  | { type: 'line'; op: '|=' | '!=' | '|~' | '!~'; value: string }
  | { type: 'parser'; format: 'json' | 'logfmt' }
  | { type: 'label'; matcher: Matcher }
  | { type: 'number'; name: string; op: string; value: number };

export interface LogSelection {
  matchers: Matcher[];
  stages: Stage[];
}
export type MetricExpr =
  | {
      type: 'range';
      op: 'count_over_time' | 'rate' | 'bytes_over_time' | 'bytes_rate';
      selection: LogSelection;
      range: number;
    }
  | {
      type: 'vector';
      op: 'sum' | 'count' | 'max' | 'min' | 'avg';
      by?: string[];
      without?: string[];
      inner: MetricExpr;
    };
export type Query = { kind: 'logs'; selection: LogSelection } | { kind: 'metric'; expr: MetricExpr };

function text(query: string, node: SyntaxNode): string {
  return query.slice(node.from, node.to);
}

function unquote(literal: string): string {
  return literal.startsWith('`') ? literal.slice(1, -1) : (JSON.parse(literal) as string);
}

function child(node: SyntaxNode, name: string): SyntaxNode {
  const found = node.getChild(name);
  if (!found) throw unsupported(`a ${node.name} without ${name}`);
  return found;
}

const DURATION = /^(\d+)(ms|s|m|h|d|w|y)$/;
const UNIT: Record<string, number> = {
  ms: 0.001,
  s: 1,
  m: 60,
  h: 3600,
  d: 86_400,
  w: 604_800,
  y: 31_536_000,
};
export function durationSeconds(value: string): number {
  const match = DURATION.exec(value);
  if (!match) throw new LokiHttpError(400, `parse error : not a valid duration string: "${value}"`);
  return Number(match[1]) * (UNIT[match[2] ?? 's'] ?? 1);
}

function matcher(query: string, node: SyntaxNode): Matcher {
  const name = text(query, child(node, 'Identifier'));
  const opNode = node.getChild('Eq') ?? node.getChild('Neq') ?? node.getChild('Re') ?? node.getChild('Nre');
  if (!opNode) throw unsupported('this matcher');
  const op = ({ Eq: '=', Neq: '!=', Re: '=~', Nre: '!~' } as const)[
    opNode.name as 'Eq' | 'Neq' | 'Re' | 'Nre'
  ];
  return { name, op, value: unquote(text(query, child(node, 'String'))) };
}

function selection(query: string, selector: SyntaxNode, pipeline: SyntaxNode | null): LogSelection {
  const matchers: Matcher[] = [];
  const collect = (node: SyntaxNode) => {
    for (const m of node.getChildren('Matcher')) matchers.push(matcher(query, m));
    for (const nested of node.getChildren('Matchers')) collect(nested);
  };
  collect(child(selector, 'Matchers'));
  const positive = matchers.some(
    m => (m.op === '=' && m.value !== '') || (m.op === '=~' && !new RegExp(`^(?:${m.value})$`).test('')),
  );
  if (!positive) {
    throw new LokiHttpError(
      400,
      'parse error : queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~".*" does not meet this requirement, but app=~".+" will',
    );
  }
  const stages: Stage[] = [];
  const walk = (node: SyntaxNode | null) => {
    if (!node) return;
    if (node.name === 'PipelineExpr') {
      for (let c = node.firstChild; c; c = c.nextSibling) walk(c);
      return;
    }
    if (node.name !== 'PipelineStage') throw unsupported(node.name);
    const lines = node.getChild('LineFilters');
    if (lines) {
      const filters: SyntaxNode[] = [];
      const gather = (n: SyntaxNode) => {
        for (let c = n.firstChild; c; c = c.nextSibling) {
          if (c.name === 'LineFilter') filters.push(c);
          else if (c.name === 'LineFilters') gather(c);
        }
      };
      gather(lines);
      for (const filter of filters) {
        const op = child(filter, 'Filter').firstChild?.name;
        const ops = { PipeExact: '|=', Neq: '!=', PipeMatch: '|~', Nre: '!~' } as const;
        if (!op || !(op in ops)) throw unsupported('this line filter');
        stages.push({
          type: 'line',
          op: ops[op as keyof typeof ops],
          value: unquote(text(query, child(filter, 'String'))),
        });
      }
      return;
    }
    const parserNode = node.getChild('LabelParser') ?? node.getChild('LogfmtParser');
    if (parserNode) {
      if (parserNode.getChild('Json') && !parserNode.getChild('LabelExtractionExpressionList')) {
        stages.push({ type: 'parser', format: 'json' });
      } else if (parserNode.getChild('Logfmt') && parserNode.firstChild?.nextSibling === null) {
        stages.push({ type: 'parser', format: 'logfmt' });
      } else throw unsupported(`the parser ${text(query, parserNode)}`);
      return;
    }
    const labelFilter = node.getChild('LabelFilter');
    if (labelFilter) {
      const m = labelFilter.getChild('Matcher');
      const n = labelFilter.getChild('NumberFilter');
      if (m) stages.push({ type: 'label', matcher: matcher(query, m) });
      else if (n) {
        const opNode = n.getChild('Identifier')?.nextSibling;
        const value = Number(text(query, child(n, 'LiteralExpr')));
        if (!opNode || Number.isNaN(value)) throw unsupported('this number filter');
        stages.push({
          type: 'number',
          name: text(query, child(n, 'Identifier')),
          op: text(query, opNode),
          value,
        });
      } else throw unsupported(`the label filter ${text(query, labelFilter)}`);
      return;
    }
    throw unsupported(`the pipeline stage ${text(query, node)}`);
  };
  walk(pipeline);
  return { matchers, stages };
}

function metric(query: string, node: SyntaxNode): MetricExpr {
  if (node.name === 'MetricExpr') {
    const inner = node.firstChild;
    if (!inner) throw unsupported('an empty metric expression');
    return metric(query, inner);
  }
  if (node.name === 'RangeAggregationExpr') {
    const op = text(query, child(node, 'RangeOp'));
    if (op !== 'count_over_time' && op !== 'rate' && op !== 'bytes_over_time' && op !== 'bytes_rate') {
      throw unsupported(`the range aggregation ${op}`);
    }
    const logRange = child(node, 'LogRangeExpr');
    const range = durationSeconds(text(query, child(child(logRange, 'Range'), 'Duration')));
    return {
      type: 'range',
      op,
      selection: selection(query, child(logRange, 'Selector'), logRange.getChild('PipelineExpr')),
      range,
    };
  }
  if (node.name === 'VectorAggregationExpr') {
    const op = text(query, child(node, 'VectorOp'));
    if (op !== 'sum' && op !== 'count' && op !== 'max' && op !== 'min' && op !== 'avg') {
      throw unsupported(`the aggregation ${op}`);
    }
    const grouping = node.getChild('Grouping');
    const labels = grouping
      ? (grouping
          .getChild('Labels')
          ?.getChildren('Identifier')
          .map(n => text(query, n)) ?? [])
      : undefined;
    const inner = metric(query, child(node, 'MetricExpr'));
    if (grouping?.getChild('Without')) return { type: 'vector', op, without: labels ?? [], inner };
    return { type: 'vector', op, ...(labels ? { by: labels } : {}), inner };
  }
  throw unsupported(node.name);
}

export function parseQuery(query: string): Query {
  const tree = parser.parse(query);
  let error: number | undefined;
  tree.iterate({
    enter(node) {
      if (error !== undefined) return false;
      if (node.type.isError) error = node.from;
      return undefined;
    },
  });
  if (error !== undefined) {
    const near = query.slice(error, error + 10);
    throw new LokiHttpError(
      400,
      `parse error at line 1, col ${error + 1}: syntax error: unexpected ${near === '' ? '$end' : JSON.stringify(near)}`,
    );
  }
  const expr = tree.topNode.firstChild?.firstChild;
  if (!expr) throw new LokiHttpError(400, 'parse error : empty query');
  if (expr.name === 'LogExpr') {
    return {
      kind: 'logs',
      selection: selection(query, child(expr, 'Selector'), expr.getChild('PipelineExpr')),
    };
  }
  return { kind: 'metric', expr: metric(query, expr) };
}

function matches(m: Matcher, value: string | undefined): boolean {
  const v = value ?? '';
  switch (m.op) {
    case '=':
      return v === m.value;
    case '!=':
      return v !== m.value;
    case '=~':
      return new RegExp(`^(?:${m.value})$`).test(v);
    case '!~':
      return !new RegExp(`^(?:${m.value})$`).test(v);
  }
}

export function selects(matchers: readonly Matcher[], labels: Labels): boolean {
  return matchers.every(m => matches(m, labels[m.name]));
}

function flatten(value: unknown, prefix: string, out: Labels): void {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}_${k}` : k, out);
  } else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
    out[prefix.replace(/[^a-zA-Z0-9_]/g, '_')] = String(value);
  }
}

function parseLogfmt(line: string): Labels {
  const out: Labels = {};
  for (const match of line.matchAll(/([a-zA-Z_][\w.-]*)=("(?:[^"\\]|\\.)*"|\S*)/g)) {
    const [, key = '', raw = ''] = match;
    out[key.replace(/[^a-zA-Z0-9_]/g, '_')] = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
  }
  return out;
}

/** The labels of an entry after the pipeline, or undefined when the pipeline drops it. */
export function runPipeline(stages: readonly Stage[], labels: Labels, line: string): Labels | undefined {
  let current: Labels = labels;
  for (const stage of stages) {
    switch (stage.type) {
      case 'line': {
        const hit =
          stage.op === '|=' || stage.op === '!='
            ? line.includes(stage.value)
            : new RegExp(stage.value).test(line);
        if ((stage.op === '|=' || stage.op === '|~') !== hit) return undefined;
        break;
      }
      case 'parser': {
        const extracted: Labels = {};
        if (stage.format === 'json') {
          try {
            flatten(JSON.parse(line), '', extracted);
          } catch {
            extracted.__error__ = 'JSONParserErr';
          }
        } else Object.assign(extracted, parseLogfmt(line));
        current = { ...current, ...extracted };
        break;
      }
      case 'label':
        if (!matches(stage.matcher, current[stage.matcher.name])) return undefined;
        break;
      case 'number': {
        const value = Number(current[stage.name]);
        if (Number.isNaN(value)) return undefined;
        const ok = {
          '>': value > stage.value,
          '>=': value >= stage.value,
          '<': value < stage.value,
          '<=': value <= stage.value,
          '==': value === stage.value,
          '!=': value !== stage.value,
        }[stage.op];
        if (!ok) return undefined;
        break;
      }
    }
  }
  return current;
}
