// The shape of a route of the double and small readers for request bodies, shared by the route modules.

import { unprocessable } from './errors.ts';
import type { Repo, State, Token } from './state.ts';

export interface Reply {
  status: number;
  json?: unknown;
  raw?: Buffer;
  headers?: Record<string, string>;
}

export interface Request {
  method: string;
  /** Decoded path parameters captured by the route's pattern. */
  params: string[];
  query: URLSearchParams;
  body: unknown;
  /** The Accept header ('' when absent). */
  accept: string;
  token: Token;
  state: State;
}

export interface RepoRequest extends Request {
  repo: Repo;
}

export interface Route<R extends Request = Request> {
  method: string;
  /** Matched against the raw (still percent-encoded) path; captures are decoded afterwards. */
  path: RegExp;
  /** OAuth scopes GitHub lists in X-Accepted-OAuth-Scopes for this route. */
  accepted?: string;
  write?: boolean;
  run(request: R): Promise<Reply> | Reply;
}

export const json = (value: unknown, status = 200, headers?: Record<string, string>): Reply => ({
  status,
  json: value,
  headers,
});

export function bodyObject(body: unknown): Record<string, unknown> {
  return body !== null && typeof body === 'object' && !Array.isArray(body)
    ? (body as Record<string, unknown>)
    : {};
}

/**
 * GitHub's schema validation of a request body: a missing required key or a wrong type answers 422 with
 * "Invalid request.\n\n"key" wasn't supplied." or "... is not a string." (the wording of its JSON-schema
 * validator).
 */
export function requireString(body: Record<string, unknown>, key: string, documentationUrl?: string): string {
  const value = body[key];
  if (value === undefined)
    throw unprocessable(`Invalid request.\n\n"${key}" wasn't supplied.`, documentationUrl);
  if (typeof value !== 'string') {
    throw unprocessable(
      `Invalid request.\n\nFor 'properties/${key}', ${JSON.stringify(value)} is not a string.`,
      documentationUrl,
    );
  }
  return value;
}

export function optionalString(body: Record<string, unknown>, key: string): string | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    throw unprocessable(
      `Invalid request.\n\nFor 'properties/${key}', ${JSON.stringify(value)} is not a string.`,
    );
  }
  return value;
}

export function optionalBoolean(body: Record<string, unknown>, key: string): boolean | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') {
    throw unprocessable(
      `Invalid request.\n\nFor 'properties/${key}', ${JSON.stringify(value)} is not a boolean.`,
    );
  }
  return value;
}
