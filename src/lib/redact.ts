// Scrubbing of known secret values from any text that leaves the process.

import { printable } from './terminal.ts';

export const REDACTED = '[REDACTED]';

export type Redactor = (text: string) => string;

export function createRedactor(secrets: readonly string[]): Redactor {
  // Most text scrubbed here is JSON (tool results, log lines, audit arguments), where a secret holding `"`, `\`
  // or a control character appears escaped: scrub that spelling too. A backend's or a service's text may also have
  // been made printable before it is scrubbed (a /health check's detail is, in lib/health.ts), which writes a
  // control character as its picture: that spelling too.
  const spellings = [...new Set(secrets.flatMap(secret => [secret, printable(secret)]))].flatMap(secret => [
    secret,
    JSON.stringify(secret).slice(1, -1),
  ]);
  const unique = [...new Set(spellings)]
    .filter(secret => secret.length >= 4)
    .sort((a, b) => b.length - a.length);
  if (unique.length === 0) return text => text;
  return text => {
    let out = text;
    for (const secret of unique) if (out.includes(secret)) out = out.replaceAll(secret, REDACTED);
    return out;
  };
}

/** The first of `secrets` that `text` holds, in any spelling createRedactor scrubs. */
export function secretIn<S extends { value: string }>(text: string, secrets: readonly S[]): S | undefined {
  return secrets.find(secret => createRedactor([secret.value])(text) !== text);
}

/**
 * A JSON value with the secrets scrubbed from every string in it (keys included), so that what is serialised
 * afterwards is still valid JSON: scrubbing the serialised text would turn a secret that is also a number
 * (`{"id":1234}`) into `{"id":[REDACTED]}`.
 */
export function redactDeep(value: unknown, redact: Redactor): unknown {
  if (typeof value === 'string') return redact(value);
  if (Array.isArray(value)) return value.map(item => redactDeep(item, redact));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [redact(key), redactDeep(item, redact)]),
    );
  }
  return value;
}

/**
 * A JSON value scrubbed of secrets, and its JSON text. Nearly always no secret is in it and the value and its text
 * go out as they are; otherwise every string is scrubbed (redactDeep) and the text made anew from that.
 */
export function redactJson<T>(value: T, redact: Redactor): { value: T; text: string } {
  const text = JSON.stringify(value);
  if (redact(text) === text) return { value, text };
  const scrubbed = redactDeep(value, redact) as T;
  return { value: scrubbed, text: JSON.stringify(scrubbed) };
}

/** A URL without its user name, password and query string, safe to print. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname.replace(/\/+$/, '')}`;
  } catch {
    return '(invalid URL)';
  }
}
