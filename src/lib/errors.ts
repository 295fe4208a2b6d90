// Errors a tool reports to its caller. They carry a stable code and a hint written for the model.

/** Stable codes; later tools add their own. Keep the README's error table in step. */
export type ToolErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NOT_CONFIGURED'
  | 'BACKEND_UNREACHABLE'
  | 'BACKEND_TIMEOUT'
  | 'BACKEND_ERROR'
  | 'QUERY_ERROR'
  | 'RESULT_TOO_LARGE'
  | 'CANCELLED'
  | 'INTERNAL_ERROR'
  | (string & {});

export class ToolError extends Error {
  override readonly name = 'ToolError';
  readonly code: ToolErrorCode;
  readonly hint: string | undefined;

  constructor(code: ToolErrorCode, message: string, hint?: string) {
    super(message);
    this.code = code;
    this.hint = hint;
  }
}

export function notConfigured(what: string, envVar: string): ToolError {
  return new ToolError(
    'NOT_CONFIGURED',
    `${what} is not configured: set ${envVar}`,
    `Ask the operator to set ${envVar} (or the matching key in the DEVOPS_MCP_CONFIG file) and restart devops-mcp.`,
  );
}

export function invalidArgument(message: string, hint?: string): ToolError {
  return new ToolError('INVALID_ARGUMENT', message, hint);
}

const ECHO_CHARS = 64;

/**
 * A value the caller sent, quoted for an error message and cut to 64 characters: an error names what was wrong
 * without sending a megabyte argument back into the model's context.
 */
export function quoted(value: string | number): string {
  const text = String(value);
  const chars = Array.from(text);
  return chars.length <= ECHO_CHARS
    ? `"${text}"`
    : `"${chars.slice(0, ECHO_CHARS).join('')}…" (${chars.length} characters)`;
}
