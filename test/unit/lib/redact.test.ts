import { describe, expect, it } from 'vitest';
import { createRedactor, REDACTED, redactJson } from '../../../src/lib/redact.ts';
import { printable } from '../../../src/lib/terminal.ts';

describe('createRedactor', () => {
  it('scrubs a secret from plain text and from JSON, where quotes and backslashes in it are escaped', () => {
    const secret = 'Tok"en\\2f8a9c1d5e7b3a6f';
    const redact = createRedactor([secret, 'plain-secret-value']);
    const json = JSON.stringify({ content: `HTTP_TOKEN=${secret}\n`, other: 'plain-secret-value' });
    const scrubbed = redact(json);
    expect(scrubbed).not.toContain('2f8a9c1d5e7b3a6f');
    expect(JSON.parse(scrubbed)).toEqual({ content: `HTTP_TOKEN=${REDACTED}\n`, other: REDACTED });
    expect(redact(`token ${secret} in a log line`)).toBe(`token ${REDACTED} in a log line`);
  });

  it('scrubs a secret holding a control character from text made printable before it is scrubbed', () => {
    const redact = createRedactor(['hunter\u0007two-password']);
    expect(redact(printable('login as hunter\u0007two-password failed'))).toBe(`login as ${REDACTED} failed`);
    expect(redact(JSON.stringify({ detail: 'hunter\u0007two-password' }))).toBe(`{"detail":"${REDACTED}"}`);
  });

  it('leaves text alone when there are no secrets, and ignores ones too short to scrub safely', () => {
    expect(createRedactor([])('anything')).toBe('anything');
    expect(createRedactor(['abc'])('abc abc')).toBe('abc abc');
  });

  it('scrubs a secret of four characters, the shortest it takes', () => {
    expect(createRedactor(['s3cr'])('pw=s3cr; again s3cr')).toBe(`pw=${REDACTED}; again ${REDACTED}`);
  });

  it('scrubs the longer of two secrets that overlap whole, leaving no tail of it behind', () => {
    // Given shorter first: scrubbed in that order, the long one would leave `[REDACTED]1234efgh`.
    const redact = createRedactor(['ghp_abcd', 'ghp_abcd1234efgh']);
    expect(redact('token=ghp_abcd1234efgh, old=ghp_abcd')).toBe(`token=${REDACTED}, old=${REDACTED}`);
  });
});

describe('redactJson', () => {
  it('scrubs a secret that is an object key, and keeps the value and its text the same JSON', () => {
    const { value, text } = redactJson(
      { labels: { ghp_abcd1234efgh: 'x', app: 'api' } },
      createRedactor(['ghp_abcd1234efgh']),
    );
    expect(value).toEqual({ labels: { [REDACTED]: 'x', app: 'api' } });
    expect(JSON.parse(text)).toEqual(value);
  });

  it('leaves a number alone even when its digits are a secret, so the text stays valid JSON', () => {
    // Only strings are scrubbed: scrubbing the text instead would write {"id":[REDACTED]}, which is not JSON.
    const redact = createRedactor(['1234']);
    const { value, text } = redactJson({ id: 1234, note: 'pin 1234' }, redact);
    expect(value).toEqual({ id: 1234, note: `pin ${REDACTED}` });
    expect(JSON.parse(text)).toEqual({ id: 1234, note: `pin ${REDACTED}` });
  });

  it('gives back the very value and its text when nothing in it is a secret', () => {
    const input = { id: 1, labels: ['a'] };
    const { value, text } = redactJson(input, createRedactor(['ghp_abcd1234efgh']));
    expect(value).toBe(input);
    expect(text).toBe(JSON.stringify(input));
  });
});
