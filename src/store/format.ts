// `devops-mcp audit tail`: one line per audit row, for a terminal.

import { escapeControls } from '../lib/terminal.ts';
import { toRfc3339 } from '../lib/time.ts';
import type { AuditRow } from './audit.ts';

export function formatAuditRows(rows: readonly AuditRow[]): string {
  if (rows.length === 0) return 'the audit log is empty\n';
  return rows
    .map(row => {
      const outcome = row.outcome === 'ok' ? 'ok' : `error ${row.code ?? ''}`.trim();
      const who = [row.client ?? '-', row.session ?? '-'].join(' ');
      // A client names itself and the tools it calls: a newline there would print a row that was never written,
      // and an escape sequence could rewrite what the terminal shows. The arguments are JSON, whose escapes leave
      // DEL and the C1 controls as they are. Written as JSON writes the others: \u001b.
      return escapeControls(
        `#${row.id} ${toRfc3339(row.at)} ${row.tool} ${outcome} ${row.ms} ms ${who} ${row.args} ${row.hash.slice(0, 12)}`,
      );
    })
    .join('\n')
    .concat('\n');
}
