// server.mjs as a process: configured by its environment, JSON lines on stdout, clean exit on SIGTERM.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { getJson, waitFor } from './helpers.mjs';

const SERVER = new URL('../server.mjs', import.meta.url).pathname;

function run(env) {
  const child = spawn(process.execPath, [SERVER], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', LOKI_URL: '', PREDICTOR_ADMIN: '', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = [];
  const entries = (async () => {
    for await (const line of createInterface({ input: child.stdout })) lines.push(JSON.parse(line));
  })();
  const exited = once(child, 'exit').then(([code]) => code);
  return { child, lines, entries, exited };
}

describe('server.mjs', () => {
  it('serves on the port it logs, with faults from the environment, and exits 0 on SIGTERM', async () => {
    const { child, lines, entries, exited } = run({
      PREDICTOR_ADMIN: '1',
      PREDICTOR_FAULTS: '{"latency_ms":1}',
    });
    try {
      await waitFor(() => lines.some(e => e.msg === 'market predictor listening'));
      const { url, port } = lines.find(e => e.msg === 'market predictor listening');
      assert.ok(port > 0);
      assert.equal(url, `http://127.0.0.1:${port}`);
      assert.equal((await getJson(`${url}/health`)).body.status, 'ok');
      assert.deepEqual((await getJson(`${url}/admin/faults`)).body, { latency_ms: 1 });
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0);
    await entries;
    assert.equal(lines.at(-1).msg, 'market predictor stopped');
    for (const entry of lines) {
      assert.ok(!Number.isNaN(Date.parse(entry.ts)));
      assert.equal(typeof entry.level, 'string');
      assert.equal(typeof entry.msg, 'string');
    }
  });

  it('refuses to start with an invalid PREDICTOR_FAULTS', async () => {
    const { lines, entries, exited } = run({ PREDICTOR_FAULTS: '{"error_rate":' });
    assert.equal(await exited, 1);
    await entries;
    assert.equal(lines[0].level, 'error');
    assert.equal(lines[0].msg, 'PREDICTOR_FAULTS is not valid JSON');
  });
});
