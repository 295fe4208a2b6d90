// Runs the built `devops-mcp` bin as a user would: as a child process, over stdio or HTTP.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from './ports.ts';

export const BIN = join(import.meta.dirname, '..', '..', 'bin', 'devops-mcp.js');

/**
 * The environment of a child: PATH and HOME only, plus what the test gives — never the developer's settings. The
 * store is in memory unless the test names a file, so no suite writes to the user's state directory.
 */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    DEVOPS_MCP_DB: ':memory:',
    ...extra,
  };
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the bin to completion. */
export function run(args: string[], env: Record<string, string>, input?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

export interface Running {
  child: ChildProcessWithoutNullStreams;
  stderr(): string;
  /** Resolves with the exit code once the process has ended. */
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

export function start(args: string[], env: Record<string, string>): Running {
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: 'pipe' });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>(resolve =>
    child.once('exit', code => {
      resolve(code);
    }),
  );
  return {
    child,
    stderr: () => stderr,
    exited,
    async kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export interface HttpServe extends Running {
  port: number;
  url: string;
}

/** `serve --http` on a free loopback port, once /healthz answers. */
export async function startHttp(env: Record<string, string>, extraArgs: string[] = []): Promise<HttpServe> {
  const port = await freePort();
  const running = start(['serve', '--http', '--port', String(port), ...extraArgs], env);
  const headers: Record<string, string> = env.DEVOPS_MCP_HTTP_TOKEN
    ? { authorization: `Bearer ${env.DEVOPS_MCP_HTTP_TOKEN}` }
    : {};
  for (let i = 0; i < 200; i++) {
    if (running.child.exitCode !== null) throw new Error(`serve --http exited: ${running.stderr()}`);
    try {
      const response = await fetch(`http://127.0.0.1:${port}/healthz`, { headers });
      if (response.ok) return { ...running, port, url: `http://127.0.0.1:${port}/mcp` };
    } catch {
      // not listening yet
    }
    await new Promise(resolve => setTimeout(resolve, 50));
  }
  await running.kill('SIGKILL');
  throw new Error(`serve --http did not come up: ${running.stderr()}`);
}
