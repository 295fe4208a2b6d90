// The ledger of an investigation: every tool call made (by the model or by the loop), what it returned, how
// big it was. Citations are checked against it, and refused attempts are read from it.

export interface LedgerEntry {
  /** The model's tool call id (the loop's own calls get `loop_<n>`). */
  id: string;
  tool: string;
  args: unknown;
  by: 'model' | 'loop';
  ok: boolean;
  /** The tool's error code (`REPO_NOT_ALLOWED`, …) when it refused or failed. */
  code?: string | undefined;
  /**
   * The call never reached a tool: refused by the loop (arguments not JSON, the tool-call budget spent, its policy)
   * or naming no tool there is. Nothing was done; the record says so.
   */
  heldBack?: true;
  /** Bytes of the result text the model saw. */
  bytes: number;
  ms: number;
  at: number;
  /** The result text, as the model saw it (bounded by the tools' own caps). */
  result: string;
}

export interface Ledger {
  entries: LedgerEntry[];
  record(entry: Omit<LedgerEntry, 'bytes'>): LedgerEntry;
  get(id: string): LedgerEntry | undefined;
  /** A fresh id for a call the loop itself makes. */
  loopId(): string;
}

export function createLedger(): Ledger {
  const entries: LedgerEntry[] = [];
  let loopCalls = 0;
  return {
    entries,
    record(entry) {
      const full = { ...entry, bytes: Buffer.byteLength(entry.result) };
      entries.push(full);
      return full;
    },
    get: id => entries.find(e => e.id === id),
    loopId: () => `loop_${++loopCalls}`,
  };
}

/**
 * Codes open_pr answers only before it writes anything (checks of the input, the policy, the receipt, the pause,
 * the mode): a PR refused with one of them left nothing behind, so the loop's PR slot and cooldown it took go
 * back. Any other failure — cancelled, timed out, a GitHub error half-way, a rate limit mid-write — may have left
 * a branch or even a PR, and the slot stays spent.
 */
const REFUSED_BEFORE_WRITING = new Set([
  'INVALID_ARGUMENT',
  'NOT_CONFIGURED',
  'REPO_NOT_ALLOWED',
  'PATH_INVALID',
  'TOO_LARGE',
  'BRANCH_NOT_ALLOWED',
  'PROTECTED_PATH',
  'STALE_SHA',
  'PR_EXISTS',
  'PAUSED',
  'RECEIPT_REQUIRED',
  'RECEIPT_MISMATCH',
  'MODE_NOT_ALLOWED',
]);

export function refusedBeforeWriting(code: string | undefined): boolean {
  return code !== undefined && REFUSED_BEFORE_WRITING.has(code);
}

/** The stable code at the start of a devops-mcp tool error (`CODE: message`), wherever the text carries it. */
export function errorCodeOf(text: string): string | undefined {
  return /(?:^|: |\n)([A-Z][A-Z_]{2,}): /.exec(text)?.[1];
}
