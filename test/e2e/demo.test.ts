// `npm run demo` as a user runs it: the whole loop on one machine (Docker engine and the sandbox image needed, as
// for agent-loop.test.ts). Its store is in memory, so the audit log it promises is the one it prints.

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const DEMO = join(import.meta.dirname, '..', '..', 'scripts', 'demo.ts');

describe('npm run demo', () => {
  it('ends with its own audit rows, one per tool call the agent made, as `audit tail` prints them', async () => {
    const { stdout } = await run(process.execPath, [DEMO], { timeout: 180_000, maxBuffer: 1 << 24 });
    const [, tail = ''] = stdout.split(
      'Every tool call audited, as `devops-mcp audit tail` prints the log:\n',
    );
    const rows = tail
      .trimEnd()
      .split('\n')
      .map(line => /^ {3}#(\d+) \S+Z (\w+) (ok|error \w+) /.exec(line)?.slice(1, 3));
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every(row => row !== undefined)).toBe(true);
    const tools = rows.map(row => row?.[1]);
    // What the investigation called, then the act step's sandbox run, PR and finding.
    expect(tools).toEqual(
      expect.arrayContaining(['read_repo', 'run_sandbox_test', 'open_pr', 'annotate_incident']),
    );
    const calls = /(\d+) tool calls/.exec(stdout)?.[1];
    expect(tools.length).toBeGreaterThanOrEqual(Number(calls));
  }, 200_000);
});
