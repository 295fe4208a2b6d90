import { describe, expect, it } from 'vitest';
import { createRedactor, REDACTED } from '../../../src/lib/redact.ts';

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

  it('leaves text alone when there are no secrets, and ignores ones too short to scrub safely', () => {
    expect(createRedactor([])('anything')).toBe('anything');
    expect(createRedactor(['abc'])('abc abc')).toBe('abc abc');
  });
});
