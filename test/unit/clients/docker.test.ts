// The sandbox runner against a stand-in engine that fails halfway: what a real one does when it restarts or its
// socket drops mid-run, which the real engine in the integration tests cannot be made to do on cue.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerClient } from '../../../src/clients/docker.ts';

const dir = mkdtempSync(join(tmpdir(), 'devops-mcp-engine-'));
const socketPath = join(dir, 'docker.sock');
const limits = {
  memoryBytes: 64 * 1024 * 1024,
  cpus: 1,
  pids: 64,
  timeoutMs: 5000,
  outputBytes: 1024,
  tmpfsBytes: 8 * 1024 * 1024,
};
/** How the stand-in answers POST /start, after its /wait has failed: 500 late (while the wait is long gone), or 204. */
let startAnswer: 500 | 204 = 500;
const seen: string[] = [];
let engine: Server;
const sockets = new Set<Socket>();

beforeAll(async () => {
  engine = createServer((request, response) => {
    request.resume();
    const path = (request.url ?? '').replace(/^\/v[0-9.]+/, '').split('?')[0] ?? '';
    seen.push(`${request.method ?? ''} ${path}`);
    const json = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    if (path === '/containers/create') json(201, { Id: 'c1', Warnings: [] });
    else if (path === '/containers/c1/wait') json(500, { message: 'engine is shutting down' });
    else if (path === '/containers/c1/start') {
      if (startAnswer === 204) json(204, {});
      else {
        setTimeout(() => {
          json(500, { message: 'engine is shutting down' });
        }, 200);
      }
    } else if (request.method === 'DELETE') json(204, {});
    else json(404, { message: 'not here' });
  });
  // The attach stream: upgraded, then never closed by the engine.
  engine.on('upgrade', (_request, socket) => {
    seen.push('attach');
    socket.write(
      'HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n',
    );
  });
  engine.on('connection', socket => {
    sockets.add(socket);
  });
  await new Promise<void>(resolve => engine.listen(socketPath, resolve));
});

afterAll(async () => {
  const closed = new Promise(resolve => engine.close(resolve));
  // Upgraded sockets are the stand-in's to end: the server no longer tracks them.
  for (const socket of sockets) socket.destroy();
  await closed;
  rmSync(dir, { recursive: true, force: true });
});

async function runWatchingRejections(): Promise<{ error: unknown; unhandled: unknown[] }> {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  seen.length = 0;
  try {
    const docker = createDockerClient({ socketPath });
    const error = await docker.run({ image: 'x', command: 'true', files: [], limits }).then(
      () => undefined,
      (failure: unknown) => failure,
    );
    // A rejection nobody handles is reported once the microtasks have run.
    await new Promise(resolve => setTimeout(resolve, 50));
    return { error, unhandled };
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
}

describe('a Docker engine failing mid-run', () => {
  it('answers a wait that fails while start is in flight as a tool error, not a crash, and removes the container', async () => {
    startAnswer = 500;
    const { error, unhandled } = await runWatchingRejections();
    expect(unhandled).toEqual([]);
    expect(error).toMatchObject({
      code: 'BACKEND_ERROR',
      message: 'The Docker engine could not start the sandbox container: engine is shutting down.',
    });
    expect(seen).toContain('DELETE /containers/c1');
  });

  it('answers a wait that failed before a successful start as a tool error, and removes the container', async () => {
    startAnswer = 204;
    const { error, unhandled } = await runWatchingRejections();
    expect(unhandled).toEqual([]);
    expect(error).toMatchObject({
      code: 'BACKEND_ERROR',
      message: 'The Docker engine lost track of the sandbox container: engine is shutting down.',
    });
    expect(seen).toContain('DELETE /containers/c1');
  });
});
