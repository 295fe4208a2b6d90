// How many PRs open_pr may open or update per repository per hour. In memory for now, behind an interface so the
// SQLite store can back it later.

export interface PrQuota {
  /**
   * Takes one slot for `repo` at `now` (unix seconds) if fewer than `perHour` were taken in the last hour, returning
   * a release function (for a call that ends up writing nothing); otherwise the seconds until a slot frees up.
   */
  take(repo: string, perHour: number, now: number): { release(): void } | { retryAfterSeconds: number };
}

export function createMemoryPrQuota(): PrQuota {
  const taken = new Map<string, number[]>();
  return {
    take(repo, perHour, now) {
      const key = repo.toLowerCase();
      const recent = (taken.get(key) ?? []).filter(at => at > now - 3600);
      if (recent.length >= perHour) {
        const oldest = recent[0] ?? now;
        taken.set(key, recent);
        return { retryAfterSeconds: Math.max(1, Math.ceil(oldest + 3600 - now)) };
      }
      recent.push(now);
      taken.set(key, recent);
      return {
        release() {
          const list = taken.get(key) ?? [];
          const at = list.indexOf(now);
          if (at >= 0) list.splice(at, 1);
        },
      };
    },
  };
}
