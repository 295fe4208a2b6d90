// Scrubbing of known secret values from any text that leaves the process.

export const REDACTED = '[REDACTED]';

export type Redactor = (text: string) => string;

export function createRedactor(secrets: readonly string[]): Redactor {
  const unique = [...new Set(secrets)]
    .filter(secret => secret.length >= 4)
    .sort((a, b) => b.length - a.length);
  if (unique.length === 0) return text => text;
  return text => {
    let out = text;
    for (const secret of unique) if (out.includes(secret)) out = out.replaceAll(secret, REDACTED);
    return out;
  };
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
