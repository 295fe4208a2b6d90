// Validation receipts: HMAC-signed proof that a change set passed a repository's tests in the sandbox.
// open_pr accepts a change only with a receipt for the same repository, base commit, changes and command.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ToolError } from '../lib/errors.ts';

export interface ReceiptClaims {
  repo: string;
  baseCommit: string;
  changesHash: string;
  command: string;
}

interface Payload extends ReceiptClaims {
  v: 1;
  /** Issued at, unix seconds. */
  iat: number;
  exp: number;
}

export interface Receipts {
  issue(claims: ReceiptClaims): string;
  /**
   * The claims of a valid receipt that matches `expected`; throws RECEIPT_MISMATCH otherwise. A list of commands
   * accepts a receipt for any one of them (open_pr: any command the repository's policy names).
   */
  verify(
    token: string,
    expected: Omit<ReceiptClaims, 'command'> & { command: string | readonly string[] },
  ): ReceiptClaims;
}

export function createReceipts(options: {
  key: string | undefined;
  ttlSeconds: number;
  now: () => number;
}): Receipts {
  // Without a configured key, receipts are good for this process only.
  const key = options.key ?? randomBytes(32).toString('hex');
  const sign = (body: string) => createHmac('sha256', key).update(body).digest('base64url');
  const refuse = (why: string) =>
    new ToolError(
      'RECEIPT_MISMATCH',
      `The validation receipt ${why}.`,
      'Run run_sandbox_test on exactly this change and use the receipt it returns.',
    );
  return {
    issue(claims) {
      const iat = Math.floor(options.now());
      const payload: Payload = { v: 1, ...claims, iat, exp: iat + options.ttlSeconds };
      const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
      return `dmr1.${body}.${sign(body)}`;
    },
    verify(token, expected) {
      const [prefix, body, mac] = token.split('.');
      if (prefix !== 'dmr1' || !body || !mac) throw refuse('is malformed');
      const good = Buffer.from(sign(body));
      const given = Buffer.from(mac);
      if (good.length !== given.length || !timingSafeEqual(good, given))
        throw refuse('is not signed by this server');
      const payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Payload;
      if (payload.exp < options.now()) throw refuse('has expired');
      for (const field of ['repo', 'baseCommit', 'changesHash'] as const) {
        if (payload[field] !== expected[field]) throw refuse(`was issued for another ${field}`);
      }
      const commands = typeof expected.command === 'string' ? [expected.command] : expected.command;
      if (!commands.includes(payload.command)) throw refuse('was issued for another command');
      return {
        repo: payload.repo,
        baseCommit: payload.baseCommit,
        changesHash: payload.changesHash,
        command: payload.command,
      };
    },
  };
}
