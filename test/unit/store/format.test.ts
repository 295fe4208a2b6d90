// `audit tail` prints what callers chose (client and tool names, arguments) to a terminal: one row, one line.
import { describe, expect, it } from 'vitest';
import type { AuditRow } from '../../../src/store/audit.ts';
import { formatAuditRows } from '../../../src/store/format.ts';

const row = (fields: Partial<AuditRow>): AuditRow => ({
  id: 7,
  at: Date.UTC(2026, 0, 31, 14) / 1000,
  tool: 'query_prometheus',
  client: 'claude-ai/1.0',
  session: undefined,
  args: '{"query":"up"}',
  outcome: 'ok',
  code: undefined,
  ms: 1.5,
  prev_hash: '0'.repeat(64),
  hash: 'ab'.repeat(32),
  ...fields,
});

describe('formatAuditRows', () => {
  it('prints a row as one line', () => {
    expect(formatAuditRows([row({})])).toBe(
      '#7 2026-01-31T14:00:00Z query_prometheus ok 1.5 ms claude-ai/1.0 - {"query":"up"} abababababab\n',
    );
  });

  it('writes control characters in names, codes and arguments as \\uXXXX, so no row can forge another', () => {
    const forged = '#1 2026-01-01T00:00:00.000Z open_pr ok 1 ms claude-ai/0.1.0';
    const text = formatAuditRows([
      row({
        tool: `x\n${forged}`,
        client: `evil\r\u001b[2K${forged}`,
        session: 'a\u009b2K',
        outcome: 'error',
        code: 'UNKNOWN\u0007',
        args: '{"q":"\u007f\u0085"}',
      }),
    ]);
    const controls = Array.from(text).filter(char => {
      const code = char.charCodeAt(0);
      return code < 0x20 || (code >= 0x7f && code <= 0x9f);
    });
    // Only the newline that ends the row.
    expect(controls).toEqual(['\n']);
    expect(text).toContain(`x\\u000a${forged}`);
    expect(text).toContain(`evil\\u000d\\u001b[2K${forged}`);
    expect(text).toContain('a\\u009b2K');
    expect(text).toContain('error UNKNOWN\\u0007');
    expect(text).toContain('{"q":"\\u007f\\u0085"}');
  });
});
