// `devops-mcp serve` stopped while a sandbox run is under way: the container goes with the server, whether the
// client closes stdin or the operator sends SIGTERM.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, start, type Running } from '../../support/bin.ts';
import { waitFor } from '../../support/wait.ts';

const LABEL = 'devops-mcp.repo=acme/shutdown';
let dir: string;
let configFile: string;

async function containers(status?: string): Promise<string[]> {
  const { default: Docker } = await import('dockerode');
  const found = await new Docker().listContainers({
    all: true,
    filters: { label: [LABEL], ...(status ? { status: [status] } : {}) },
  });
  return found.map(c => c.Id);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'devops-mcp-sandbox-shutdown-'));
  writeFileSync(join(dir, 'a.txt'), 'a\n');
  configFile = join(dir, 'config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      allowedRepos: ['acme/shutdown'],
      // Deaf to SIGTERM, as a test runner stuck in a handler is.
      repos: { 'acme/shutdown': { source: { path: dir }, commands: { slow: "trap '' TERM; sleep 120" } } },
      sandbox: {
        limits: { memoryMb: 128, cpus: 1, pids: 64, timeoutSeconds: 120, outputKb: 4, tmpfsMb: 16 },
      },
    }),
  );
});

afterEach(async () => {
  // What a failed run left: removed, so that the next test and the suite's teardown start clean.
  const { default: Docker } = await import('dockerode');
  const engine = new Docker();
  for (const id of await containers()) await engine.getContainer(id).remove({ force: true });
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** What the audit log of `serve`'s store file holds once it has exited. */
function auditRows(): Array<{ tool: string; outcome: string; code: string | null }> {
  const db = new DatabaseSync(join(dir, 'devops-mcp.db'), { readOnly: true });
  try {
    return db.prepare('SELECT tool, outcome, code FROM audit ORDER BY id').all() as Array<{
      tool: string;
      outcome: string;
      code: string | null;
    }>;
  } finally {
    db.close();
  }
}

/** `serve` over stdio, with a sandbox run of the slow command under way. */
async function serveWithRun(): Promise<Running> {
  rmSync(join(dir, 'devops-mcp.db'), { force: true });
  const server = start(
    ['serve'],
    cleanEnv({ DEVOPS_MCP_CONFIG: configFile, LOG_LEVEL: 'warn', DEVOPS_MCP_DB: join(dir, 'devops-mcp.db') }),
  );
  const send = (message: Record<string, unknown>) =>
    server.child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', ...message })}\n`);
  send({
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'test', version: '1' } },
  });
  send({ method: 'notifications/initialized' });
  send({
    id: 2,
    method: 'tools/call',
    params: {
      name: 'run_sandbox_test',
      arguments: {
        repo: 'acme/shutdown',
        command: 'slow',
        changes: [{ path: 'n.txt', action: 'create', content: 'x' }],
      },
    },
  });
  await waitFor(async () => (await containers('running')).length === 1 || server.child.exitCode !== null);
  expect(server.child.exitCode, server.stderr()).toBeNull();
  return server;
}

describe('serve stopping during a sandbox run', () => {
  it('removes the container on SIGTERM before it exits', async () => {
    const server = await serveWithRun();
    await server.kill('SIGTERM');
    expect(await containers(), server.stderr()).toEqual([]);
    // The cancelled call is in the audit log, as every call is.
    expect(auditRows()).toEqual([{ tool: 'run_sandbox_test', outcome: 'error', code: 'CANCELLED' }]);
  });

  it('removes the container when the client closes stdin', async () => {
    const server = await serveWithRun();
    server.child.stdin.end();
    await server.exited;
    expect(await containers(), server.stderr()).toEqual([]);
    expect(auditRows()).toEqual([{ tool: 'run_sandbox_test', outcome: 'error', code: 'CANCELLED' }]);
  });
});
