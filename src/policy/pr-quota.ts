// How many PRs open_pr may open or update per repository per hour, counted in the store (store.agent.take), so the
// quota holds across processes sharing the file and across restarts.

import type { Store } from '../store/index.ts';

const HOUR = 3600;

export interface PrQuota {
  /**
   * Takes one slot for `repo` at `now` (unix seconds) if fewer than `perHour` were taken in the last hour, returning
   * a release function (for a call that ends up writing nothing); otherwise the seconds until a slot frees up.
   */
  take(
    repo: string,
    perHour: number,
    now: number,
  ): Promise<{ release(): void } | { retryAfterSeconds: number }>;
}

/** The counter of a repository's PRs; names are case-insensitive on GitHub. */
export const prCounter = (repo: string): string => `open_pr:${repo.toLowerCase()}`;

export function createStorePrQuota(store: () => Promise<Store>): PrQuota {
  return {
    async take(repo, perHour, now) {
      const { agent } = await store();
      const counter = prCounter(repo);
      const slot = agent.take(counter, perHour, HOUR, now);
      if (!slot.ok) return { retryAfterSeconds: slot.retryAfterSeconds };
      return {
        release() {
          agent.release(counter, now);
        },
      };
    },
  };
}
