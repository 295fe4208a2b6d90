// Per-investigation budgets: model calls, tool calls, tokens (from each answer's usage_metadata), wall clock,
// and corrections of a misbehaving model. Hitting one ends the investigation with a partial diagnosis.

import type { Config } from '../config.ts';

// `context`: the model's context window, which the conversation outgrew (the endpoint said so).
export type BudgetName = 'model_calls' | 'tool_calls' | 'tokens' | 'wall_clock' | 'corrections' | 'context';

export class BudgetExceeded extends Error {
  override readonly name = 'BudgetExceeded';
  readonly budget: BudgetName;
  constructor(budget: BudgetName, detail: string) {
    super(`${budget} budget reached (${detail})`);
    this.budget = budget;
  }
}

export interface Limits {
  maxModelCalls: number;
  maxToolCalls: number;
  maxTokens: number;
  maxSeconds: number;
  maxCorrections: number;
}

export interface Usage {
  modelCalls: number;
  toolCalls: number;
  tokens: number;
  corrections: Array<{ kind: 'no_diagnosis' | 'unknown_tool' | 'invalid_arguments'; detail: string }>;
}

export interface Budget {
  limits: Limits;
  usage: Usage;
  /** Throws BudgetExceeded when another model call would pass a budget. */
  beforeModelCall(): void;
  afterModelCall(tokens: number): void;
  /** Whether another tool call fits; counts it when it does. */
  takeToolCall(): boolean;
  /** Counts a correction; throws BudgetExceeded past the limit. */
  correct(kind: Usage['corrections'][number]['kind'], detail: string): void;
}

export function limitsOf(config: Config): Limits {
  const { maxModelCalls, maxToolCalls, maxTokens, maxSeconds, maxCorrections } = config.agent;
  return { maxModelCalls, maxToolCalls, maxTokens, maxSeconds, maxCorrections };
}

export function createBudget(limits: Limits): Budget {
  const usage: Usage = { modelCalls: 0, toolCalls: 0, tokens: 0, corrections: [] };
  return {
    limits,
    usage,
    beforeModelCall() {
      if (usage.modelCalls >= limits.maxModelCalls)
        throw new BudgetExceeded('model_calls', `${usage.modelCalls} of ${limits.maxModelCalls}`);
      if (usage.tokens >= limits.maxTokens)
        throw new BudgetExceeded('tokens', `${usage.tokens} of ${limits.maxTokens}`);
    },
    afterModelCall(tokens) {
      usage.modelCalls += 1;
      usage.tokens += tokens;
    },
    takeToolCall() {
      if (usage.toolCalls >= limits.maxToolCalls) return false;
      usage.toolCalls += 1;
      return true;
    },
    correct(kind, detail) {
      usage.corrections.push({ kind, detail });
      if (usage.corrections.length > limits.maxCorrections)
        throw new BudgetExceeded('corrections', `${usage.corrections.length - 1} corrections, then ${kind}`);
    },
  };
}
