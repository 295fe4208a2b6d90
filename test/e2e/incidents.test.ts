// Incidents and the audit log through the built bin, as an operator runs it: a store file that outlives the
// process, two processes on one file, `audit verify` after a hand edit, and a bad store file at start.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAYLOAD } from '../support/alertmanager.ts';
import { BIN, cleanEnv, run, start, startHttp, type HttpServe } from '../support/bin.ts';
import { startPrometheus, type PrometheusServer } from '../support/prometheus.ts';
import { waitFor } from '../support/wait.ts';

const TOKEN = 'e2e-incidents-token-0123456789';
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'devops-mcp-e2e-incidents-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function httpClient(server: HttpServe): Promise<Client> {
  const client = new Client({ name: 'e2e', version: '1' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(server.url), {
      requestInit: { headers: { authorization: `Bearer ${TOKEN}` } },
    }),
  );
  return client;
}

async function webhook(server: HttpServe, payload: unknown): Promise<any> {
  const response = await fetch(`http://127.0.0.1:${server.port}/alerts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(payload),
  });
  return { http: response.status, ...((await response.json()) as object) };
}

const read = async (client: Client, uri: string): Promise<any> => {
  const first = (await client.readResource({ uri })).contents[0];
  return JSON.parse(first && 'text' in first ? first.text : '{}');
};

describe('incidents in a store file', () => {
  it('survive a restart of the server', async () => {
    const env = cleanEnv({ DEVOPS_MCP_DB: join(dir, 'restart.db'), DEVOPS_MCP_HTTP_TOKEN: TOKEN });
    const first = await startHttp(env);
    try {
      expect(await webhook(first, PAYLOAD)).toMatchObject({ http: 200, status: 'ok', incidents: [1] });
    } finally {
      await first.kill();
    }
    const second = await startHttp(env);
    try {
      const client = await httpClient(second);
      const listed = await client.callTool({ name: 'list_incidents', arguments: {} });
      expect(listed.structuredContent).toMatchObject({
        total: 1,
        incidents: [
          { id: 1, title: 'HighErrorRate on service=checkout', severity: 'critical', status: 'open' },
        ],
      });
      const incident = await read(client, 'incident://1');
      expect(incident.alerts).toMatchObject([
        { name: 'HighErrorRate', state: 'firing', source: 'alertmanager' },
      ]);
      expect(incident.timeline.map((e: any) => e.kind)).toEqual(['opened', 'alert_firing']);
      await client.close();
    } finally {
      await second.kill();
    }
  });

  it('resolve after a restart when their quiet period was still running, with no further notification', async () => {
    const config = join(dir, 'quiet.json');
    writeFileSync(config, JSON.stringify({ incidents: { quietSeconds: 2 } }));
    const env = cleanEnv({
      DEVOPS_MCP_DB: join(dir, 'quiet.db'),
      DEVOPS_MCP_HTTP_TOKEN: TOKEN,
      DEVOPS_MCP_CONFIG: config,
    });
    const first = await startHttp(env);
    try {
      expect(await webhook(first, PAYLOAD)).toMatchObject({ http: 200, incidents: [1] });
      // Alertmanager sends "resolved" once; the process stops before the quiet period is over.
      const resolved = {
        ...PAYLOAD,
        status: 'resolved',
        alerts: [{ ...PAYLOAD.alerts[0], status: 'resolved', endsAt: new Date().toISOString() }],
      };
      expect(await webhook(first, resolved)).toMatchObject({ http: 200, incidents: [1] });
    } finally {
      await first.kill();
    }
    const second = await startHttp(env);
    try {
      const client = await httpClient(second);
      const listed = await waitFor(async () => {
        const result = await client.callTool({ name: 'list_incidents', arguments: { status: 'resolved' } });
        const content = result.structuredContent as { total: number } | undefined;
        return content !== undefined && content.total === 1 && content;
      }, 10_000);
      expect(listed).toMatchObject({ incidents: [{ id: 1, status: 'resolved' }] });
      await client.close();
    } finally {
      await second.kill();
    }
  });

  it('reach a subscriber of one process when another process on the same file changes them', async () => {
    const config = join(dir, 'fast-poll.json');
    writeFileSync(config, JSON.stringify({ store: { changePollMs: 100 } }));
    const env = cleanEnv({
      DEVOPS_MCP_DB: join(dir, 'shared-http.db'),
      DEVOPS_MCP_HTTP_TOKEN: TOKEN,
      DEVOPS_MCP_CONFIG: config,
    });
    const [a, b] = await Promise.all([startHttp(env), startHttp(env)]);
    try {
      expect(await webhook(b, PAYLOAD)).toMatchObject({ http: 200, status: 'ok', incidents: [1] });
      const client = await httpClient(a);
      const updated: string[] = [];
      client.setNotificationHandler(ResourceUpdatedNotificationSchema, n => {
        updated.push(n.params.uri);
      });
      await client.subscribeResource({ uri: 'incident://1' });
      const second = {
        ...PAYLOAD,
        alerts: [{ ...PAYLOAD.alerts[0], labels: { alertname: 'HighLatency', service: 'checkout' } }],
      };
      expect(await webhook(b, second)).toMatchObject({ http: 200, status: 'ok', incidents: [1] });
      await waitFor(() => updated.includes('incident://1'));
      expect((await read(client, 'incident://1')).alerts).toHaveLength(2);
      await client.close();
    } finally {
      await Promise.all([a.kill(), b.kill()]);
    }
  });
});

describe('two sessions of one server', () => {
  it("hear each other's changes, and each call is audited with its session", async () => {
    const env = cleanEnv({ DEVOPS_MCP_DB: join(dir, 'sessions.db'), DEVOPS_MCP_HTTP_TOKEN: TOKEN });
    const server = await startHttp(env);
    try {
      expect(await webhook(server, PAYLOAD)).toMatchObject({ http: 200, incidents: [1] });
      const [writer, watcher] = await Promise.all([httpClient(server), httpClient(server)]);
      const updated: string[] = [];
      watcher.setNotificationHandler(ResourceUpdatedNotificationSchema, n => {
        updated.push(n.params.uri);
      });
      await watcher.subscribeResource({ uri: 'incident://1' });
      const annotated = await writer.callTool({
        name: 'annotate_incident',
        arguments: { id: 1, note: 'checkout deploy at 10:02 is the suspect', status: 'acknowledged' },
      });
      expect(annotated.structuredContent).toMatchObject({ status: 'acknowledged' });
      await waitFor(() => updated.includes('incident://1'));
      const incident = await read(watcher, 'incident://1');
      expect(incident.timeline.at(-1)).toMatchObject({
        kind: 'status',
        summary: 'open → acknowledged: annotate_incident',
      });
      const tail = await waitFor(async () => {
        const result = await run(['audit', 'tail'], env);
        return result.stdout.includes('annotate_incident') ? result.stdout : undefined;
      });
      expect(tail).toMatch(/ annotate_incident ok [\d.]+ ms e2e\/1 [0-9a-f-]{36} /);
      await Promise.all([writer.close(), watcher.close()]);
    } finally {
      await server.kill();
    }
  });
});

describe('two watchers on one database file', () => {
  let prometheus: PrometheusServer;
  beforeAll(async () => {
    prometheus = await startPrometheus({
      scrapeInterval: '200ms',
      rules: `groups:
  - name: always
    rules:
      - alert: AlwaysFiring
        expr: vector(1)
        labels: { service: shared, severity: warning }
`,
    });
  });
  afterAll(async () => {
    await prometheus.stop();
  });

  it('make one incident, with one alert, opened once', async () => {
    const db = join(dir, 'watchers.db');
    const config = join(dir, 'watch.json');
    writeFileSync(config, JSON.stringify({ incidents: { pollSeconds: 0.1 } }));
    const env = cleanEnv({ DEVOPS_MCP_DB: db, PROMETHEUS_URL: prometheus.url, DEVOPS_MCP_CONFIG: config });
    const watchers = [start(['serve', '--watch'], env), start(['serve', '--watch'], env)];
    try {
      const seen = new DatabaseSync(db, { timeout: 5000 });
      // Both have polled many times (every 100 ms) once the alert has been seen firing for a second after the
      // incident opened.
      await waitFor(() => {
        try {
          const row = seen
            .prepare(
              "SELECT (SELECT max(last_seen) FROM alerts) - (SELECT min(at) FROM events WHERE kind = 'opened') AS age",
            )
            .get() as { age: number | null };
          return (row.age ?? 0) > 1;
        } catch {
          return false; // the schema is not there yet
        }
      });
      expect(seen.prepare('SELECT id, group_key, status FROM incidents').all()).toEqual([
        { id: 1, group_key: 'service=shared', status: 'open' },
      ]);
      expect(seen.prepare('SELECT count(*) AS n FROM alerts').get()).toEqual({ n: 1 });
      expect(seen.prepare("SELECT count(*) AS n FROM events WHERE kind = 'opened'").get()).toEqual({ n: 1 });
      seen.close();
      for (const w of watchers) expect(w.child.exitCode).toBeNull();
    } finally {
      await Promise.all(watchers.map(w => w.kill()));
    }
  });
});

describe('the audit log', () => {
  it('records every tool call, and `audit verify` finds a row edited with plain SQL', async () => {
    const db = join(dir, 'audit.db');
    const env = cleanEnv({ DEVOPS_MCP_DB: db, DEVOPS_MCP_HTTP_TOKEN: TOKEN });
    const client = new Client({ name: 'e2e-auditor', version: '2.0' });
    await client.connect(
      new StdioClientTransport({ command: process.execPath, args: [BIN, 'serve'], env, stderr: 'ignore' }),
    );
    await client.callTool({ name: 'list_incidents', arguments: { status: 'all' } });
    await client.callTool({ name: 'annotate_incident', arguments: { id: 99, note: 'nothing here' } });
    await client.callTool({ name: 'query_prometheus', arguments: { query: 'up', token: 'hunter2-hunter2' } });
    await client.close();

    const tail = await run(['audit', 'tail', '-n', '5'], env);
    expect(tail.code).toBe(0);
    const lines = tail.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(
      /^#1 \S+ list_incidents ok [\d.]+ ms e2e-auditor\/2\.0 - \{"status":"all"\} [0-9a-f]{12}$/,
    );
    expect(lines[1]).toMatch(/^#2 \S+ annotate_incident error NOT_FOUND /);
    expect(lines[2]).toMatch(/^#3 \S+ query_prometheus error INVALID_ARGUMENT .*"token":"\[REDACTED\]"/);
    expect(tail.stdout).not.toContain('hunter2');

    const intact = await run(['audit', 'verify'], env);
    expect(intact.code).toBe(0);
    expect(intact.stdout).toMatch(/^audit log intact: 3 rows in .*audit\.db; head [0-9a-f]{64}\n$/);

    const edit = new DatabaseSync(db);
    edit.exec("UPDATE audit SET outcome = 'ok', code = NULL WHERE id = 2");
    edit.close();
    const altered = await run(['audit', 'verify'], env);
    expect(altered.code).toBe(1);
    expect(altered.stdout).toContain(
      'audit log ALTERED at row 2: row 2 was altered: its content no longer matches its hash',
    );

    // The newest row removed leaves a valid, shorter chain: the anchor file beside the database tells.
    const cut = new DatabaseSync(db);
    cut.exec("UPDATE audit SET outcome = 'error', code = 'NOT_FOUND' WHERE id = 2");
    cut.exec('DELETE FROM audit WHERE id = 3');
    cut.close();
    const truncated = await run(['audit', 'verify'], env);
    expect(truncated.code).toBe(1);
    expect(truncated.stdout).toContain('audit log ALTERED at row 3: row 3 was removed from the end');
  });
});

describe('a store file that cannot be used', () => {
  it('stops the start with a message naming the file and what to do, without a stack trace', async () => {
    const path = join(dir, 'not-a-db.txt');
    writeFileSync(path, 'plain text, not SQLite\n'.repeat(100));
    const http = await run(['serve', '--http', '--port', '0'], cleanEnv({ DEVOPS_MCP_DB: path }));
    expect(http.code).toBe(1);
    expect(http.stderr).toContain(
      `devops-mcp: DEVOPS_MCP_DB: ${path} is not a devops-mcp database (not SQLite at all); move it away or set DEVOPS_MCP_DB to another file`,
    );
    expect(http.stderr).not.toMatch(/\n\s+at /);

    // Plain stdio `serve` opens the store right after the handshake, and stops the same way.
    const init = {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    };
    const stdio = start(['serve'], cleanEnv({ DEVOPS_MCP_DB: path }));
    stdio.child.stdin.write(
      `${JSON.stringify(init)}\n${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`,
    );
    expect(await stdio.exited).toBe(1);
    expect(stdio.stderr()).toContain(`DEVOPS_MCP_DB: ${path} is not a devops-mcp database`);
    const audit = await run(['audit', 'verify'], cleanEnv({ DEVOPS_MCP_DB: path }));
    expect(audit.code).toBe(1);
    expect(audit.stderr).toContain('is not a devops-mcp database');
  });
});
