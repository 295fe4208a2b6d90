// Rate limits: the x-ratelimit-* headers every response carries, GET /rate_limit, and injected primary and
// secondary rate-limit answers shaped the way @octokit/plugin-throttling tells them apart (403/429 with a
// message matching /\bsecondary rate\b/i → onSecondaryRateLimit with retry-after; x-ratelimit-remaining
// "0" → onRateLimit, waiting until x-ratelimit-reset; plugin-throttling src/index.ts).

import { randomBytes } from 'node:crypto';
import { GithubError } from './errors.ts';
import type { Reply } from './route.ts';
import { USER, type State, type Token } from './state.ts';

export const LIMIT = 5000;

export interface RateLimitFault {
  kind: 'primary' | 'secondary';
  count?: number;
  match?: { method?: string; path?: RegExp };
  retryAfterSeconds?: number;
  /** GitHub answers rate limits with 403 or 429 (docs "Rate limits for the REST API"); 403 by default. */
  status?: 403 | 429;
  /** A secondary limit without retry-after, as some of GitHub's are (hub4j/github-api#2009). */
  withoutRetryAfter?: boolean;
}

interface Pending extends RateLimitFault {
  left: number;
}

export interface RateLimiter {
  add(fault: RateLimitFault): void;
  clear(): void;
  /** The fault this request meets, consuming one of its count, or null. */
  take(method: string, path: string): Pending | null;
}

export function createRateLimiter(): RateLimiter {
  let pending: Pending[] = [];
  return {
    add(fault) {
      pending.push({ ...fault, left: fault.count ?? 1 });
    },
    clear() {
      pending = [];
    },
    take(method, path) {
      const hit = pending.find(
        f =>
          (f.match?.method === undefined || f.match.method.toUpperCase() === method) &&
          (f.match?.path === undefined ||
            new RegExp(f.match.path.source, f.match.path.flags.replace('g', '')).test(path)),
      );
      if (!hit) return null;
      hit.left -= 1;
      if (hit.left <= 0) pending = pending.filter(f => f !== hit);
      return hit;
    },
  };
}

export function rateHeaders(state: State, token: Token): Record<string, string> {
  return {
    'x-ratelimit-limit': String(LIMIT),
    'x-ratelimit-remaining': String(Math.max(LIMIT - token.used, 0)),
    'x-ratelimit-reset': String(state.resetAt),
    'x-ratelimit-used': String(Math.min(token.used, LIMIT)),
    'x-ratelimit-resource': 'core',
  };
}

/** GitHub's request id shape, e.g. E3C6:7719:348039:3757C4:62BA44B2. */
export const requestId = (): string =>
  [2, 2, 3, 3, 4].map(n => randomBytes(n).toString('hex').toUpperCase()).join(':');

/** The error a fault answers with. */
export function faultError(fault: Pending): GithubError {
  const status = fault.status ?? 403;
  const now = Math.floor(Date.now() / 1000);
  if (fault.kind === 'primary') {
    const reset = now + (fault.retryAfterSeconds ?? 60);
    const stamp = new Date()
      .toISOString()
      .replace('T', ' ')
      .replace(/\.\d{3}Z$/, ' UTC');
    // The message as GitHub words it (reported e.g. in zerocracy/judges-action#589).
    return new GithubError(
      status,
      `API rate limit exceeded for user ID ${USER.id}. If you reach out to GitHub Support for help, please include the request ID ${requestId()} and timestamp ${stamp}.`,
      {
        documentationUrl: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api',
        headers: {
          'x-ratelimit-limit': String(LIMIT),
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset': String(reset),
          'x-ratelimit-used': String(LIMIT),
          'x-ratelimit-resource': 'core',
        },
      },
    );
  }
  // A secondary limit leaves the primary budget alone (scala-steward-org/scala-steward#2355 hit one with
  // x-ratelimit-remaining 4290), so the usual headers stay; retry-after says when to come back.
  return new GithubError(
    status,
    'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
    {
      documentationUrl:
        'https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits',
      headers: fault.withoutRetryAfter ? {} : { 'retry-after': String(fault.retryAfterSeconds ?? 60) },
    },
  );
}

/** GET /rate_limit (not counted against the limit, as on GitHub). */
export function rateLimitReply(state: State, token: Token): Reply {
  const core = {
    limit: LIMIT,
    used: Math.min(token.used, LIMIT),
    remaining: Math.max(LIMIT - token.used, 0),
    reset: state.resetAt,
  };
  const fresh = (limit: number) => ({ limit, used: 0, remaining: limit, reset: state.resetAt });
  return {
    status: 200,
    json: {
      resources: {
        core,
        search: fresh(30),
        graphql: fresh(5000),
        integration_manifest: fresh(5000),
        source_import: fresh(100),
        code_scanning_upload: fresh(1000),
        actions_runner_registration: fresh(10000),
        scim: fresh(15000),
        dependency_snapshots: fresh(100),
        code_search: fresh(10),
      },
      rate: core,
    },
  };
}
