// Choice of a range query's resolution: automatic when absent, raised when it would exceed the point budget.

import { formatDuration } from './time.ts';

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
