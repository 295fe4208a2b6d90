// explore_loki against the Loki double: a list cut to the output cap says so and how to narrow it, and a `match`
// that is more than a stream selector is refused before Loki is asked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLokiDouble, type LokiDouble } from '../../doubles/loki/index.ts';
import { connect, textOf, type Connected } from '../../support/mcp.ts';

let loki: LokiDouble;
let mcp: Connected;

beforeAll(async () => {
  loki = await startLokiDouble();
  const at = `${Math.floor(Date.now() / 1000) - 600}000000000`;
  // 3000 pods of one app: far more values than fit the output cap.
  loki.push(
    Array.from({ length: 3000 }, (_, i) => ({
      stream: { app: 'web', pod: `web-7d9f8b6c5-${String(i).padStart(5, '0')}` },
      values: [[at, 'GET /health 200']] as Array<[string, string]>,
    })),
  );
  loki.push([{ stream: { app: 'api', pod: 'api-0' }, values: [[at, 'ready']] }]);
  mcp = await connect({ LOKI_URL: loki.url });
});

afterAll(async () => {
  await mcp.close();
  await loki.close();
});

describe('explore_loki', () => {
  it('says how many values a cut list leaves out and how to narrow it', async () => {
    const result = await mcp.call('explore_loki', { list: 'values', label: 'pod' });
    expect(result.isError, textOf(result)).toBeFalsy();
    const out = result.structuredContent as {
      values: string[];
      total: number;
      truncated: boolean;
      note?: string;
    };
    expect(out.total).toBe(3001);
    expect(out.truncated).toBe(true);
    expect(out.values.length).toBeLessThan(3001);
    expect(out.note).toBe(
      `${3001 - out.values.length} more not shown to fit 8.0 KiB; narrow with \`match\` or a shorter window (start, end).`,
    );
    expect(Buffer.byteLength(textOf(result))).toBeLessThanOrEqual(8192);
  });

  it('refuses a match with line filters or a metric query, naming the selector to give instead', async () => {
    for (const match of ['{app="api"} |= "ready"', 'sum(count_over_time({app="api"}[5m]))']) {
      const result = await mcp.call('explore_loki', { list: 'values', label: 'pod', match });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toBe(
        'INVALID_ARGUMENT: `match` takes a stream selector alone, not line filters, parsers or a metric query.\n' +
          'Hint: Give only the selector, e.g. match {app="api"}; search_loki runs the whole query.',
      );
    }
    const selected = await mcp.call('explore_loki', { list: 'values', label: 'pod', match: '{app="api"}' });
    expect((selected.structuredContent as { values: string[] }).values).toEqual(['api-0']);
  });

  it('sends label values as printable text, scrubbed of secrets before that', async () => {
    // A Loki password holding a control character: made printable first, it would no longer read as the secret.
    const secret = 'hunter\u0007two-password';
    const at = `${Math.floor(Date.now() / 1000) - 600}000000000`;
    loki.push([
      {
        stream: { app: 'odd', pod: 'api-\u001b[2J\u001b]0;pwned\u0007\u202eexe.txt' },
        values: [[at, 'ready']],
      },
      { stream: { app: 'odd', pod: `leak-${secret}` }, values: [[at, 'ready']] },
    ]);
    const url = new URL(loki.url);
    const keyed = await connect({
      LOKI_URL: `${url.protocol}//reader:${encodeURIComponent(secret)}@${url.host}`,
    });
    const result = await keyed.call('explore_loki', { list: 'values', label: 'pod', match: '{app="odd"}' });
    await keyed.close();
    expect(result.isError, textOf(result)).toBeFalsy();
    expect([...(result.structuredContent as { values: string[] }).values].sort()).toEqual([
      'api-␛[2J␛]0;pwned␇\ufffdexe.txt',
      'leak-[REDACTED]',
    ]);
    expect(textOf(result)).not.toContain('hunter');
  });
});
