// Errors the double answers with. Loki writes every error as a plain-text body with its status code, so
// an error here is just that pair; the messages are Loki's own wherever Loki has one.

export class LokiError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** A 400 for what real Loki would accept but this double does not implement, so a test fails loudly. */
export function unsupported(feature: string): LokiError {
  return new LokiError(400, `not supported by the Loki test double: ${feature}`);
}

/** Loki's ParseError without a position ("parse error : <msg>"), used for its semantic checks. */
export function parseError(message: string): LokiError {
  return new LokiError(400, `parse error : ${message}`);
}

/** Go's %q for the ASCII values these messages quote. */
export function goQuote(value: string): string {
  return JSON.stringify(value);
}
