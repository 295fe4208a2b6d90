// The per-investigation budgets at their limits: a limit reached exactly ends the investigation before the next
// model call, one short of it does not.
import { describe, expect, it } from 'vitest';
import { BudgetExceeded, createBudget, type Limits } from '../../../src/agent/budgets.ts';

const limits: Limits = {
  maxModelCalls: 10,
  maxToolCalls: 2,
  maxTokens: 1000,
  maxSeconds: 100,
  maxCorrections: 1,
};

/** The budget a model call before the next one would break, or undefined when it may go ahead. */
function refusal(budget: ReturnType<typeof createBudget>): string | undefined {
  try {
    budget.beforeModelCall();
    return undefined;
  } catch (error) {
    if (!(error instanceof BudgetExceeded)) throw error;
    return `${error.budget}: ${error.message}`;
  }
}

describe('the token budget', () => {
  it('ends the investigation once usage lands exactly on maxTokens', () => {
    const budget = createBudget(limits);
    budget.afterModelCall(1000);
    expect(refusal(budget)).toBe('tokens: tokens budget reached (1000 of 1000)');
  });

  it('lets another model call go while a token is left', () => {
    const budget = createBudget(limits);
    budget.afterModelCall(600);
    budget.afterModelCall(399);
    expect(refusal(budget)).toBeUndefined();
    expect(budget.usage).toMatchObject({ modelCalls: 2, tokens: 999 });
  });
});

describe('the model call budget', () => {
  it('refuses the call past maxModelCalls, and not the last one within it', () => {
    const budget = createBudget({ ...limits, maxModelCalls: 2 });
    budget.afterModelCall(1);
    expect(refusal(budget)).toBeUndefined();
    budget.afterModelCall(1);
    expect(refusal(budget)).toBe('model_calls: model_calls budget reached (2 of 2)');
  });
});
