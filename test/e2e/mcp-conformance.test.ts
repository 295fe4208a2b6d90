// The MCP conformance suite (server mode) against `serve --http`, as part of `npm test`.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, startHttp, type HttpServe } from '../support/bin.ts';

const exec = promisify(execFile);
const CONFORMANCE = join(import.meta.dirname, '..', '..', 'node_modules', '.bin', 'conformance');
const SCENARIOS = [
  'server-initialize',
  'ping',
  'logging-set-level',
  'tools-list',
  'dns-rebinding-protection',
];

let server: HttpServe;

beforeAll(async () => {
  server = await startHttp(cleanEnv());
});

afterAll(async () => {
  await server.kill();
});

describe('MCP conformance suite', () => {
  it.each(SCENARIOS)('passes %s', async scenario => {
    const result = await exec(CONFORMANCE, ['server', '--url', server.url, '--scenario', scenario], {
      env: cleanEnv(),
      timeout: 60_000,
    }).catch((error: unknown) => error as { stdout?: string; stderr?: string; code?: number });
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
    expect('code' in result ? result.code : 0, output).toBe(0);
    expect(output).toMatch(/passed/i);
    expect(output).not.toMatch(/[1-9]\d* failed/);
  });
});
