// Builds dist/ before the suites when it is missing or older than the sources, so `npm test` alone works; after
// the whole run, fails it if the run left a sandbox container on the engine.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerInfo } from 'dockerode';
import { OWNER_LABEL, SANDBOX_LABEL } from '../../src/clients/docker.ts';

const root = join(import.meta.dirname, '..', '..');

function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

/** The sandbox containers on the engine when a run started, and when that was. */
export interface SandboxSnapshot {
  ids: ReadonlySet<string>;
  startedMs: number;
}

async function sandboxContainers(): Promise<ContainerInfo[]> {
  const { default: Docker } = await import('dockerode');
  // No engine, no containers: the suites that need one say so themselves.
  return new Docker().listContainers({ all: true, filters: { label: [SANDBOX_LABEL] } }).catch(() => []);
}

export async function sandboxSnapshot(): Promise<SandboxSnapshot> {
  const startedMs = Date.now();
  return { ids: new Set((await sandboxContainers()).map(c => c.Id)), startedMs };
}

/**
 * Whether this run made a container, by its owner label: `host:pid:nonce` of a server or a test worker, or a
 * test's own `name:pid`. Every process of the run that made one (a worker, a server it spawned) has exited by
 * teardown, and this process's pid (worker threads share it) is the run's too; a pid still running is someone
 * else's, such as a server a developer runs or a suite running beside this one. The pid is looked up on this
 * machine whatever the host part says, since the test labels name made-up hosts. A container whose label names no
 * pid (none, or a word) was made by a tool outside the suite: every server and test helper labels its own.
 */
function madeByThisRun(owner: string | undefined): boolean {
  const pid = Number(owner?.split(':')[1]);
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as { code?: string }).code !== 'EPERM';
  }
}

/**
 * The sandbox containers this run left: made since it started (not there then, and created no earlier than its
 * start; the engine counts whole seconds) by one of its processes.
 */
export async function leftSince(snapshot: SandboxSnapshot): Promise<ContainerInfo[]> {
  const since = Math.floor(snapshot.startedMs / 1000);
  return (await sandboxContainers()).filter(
    c => !snapshot.ids.has(c.Id) && c.Created >= since && madeByThisRun(c.Labels[OWNER_LABEL]),
  );
}

export default async function setup(): Promise<() => Promise<void>> {
  const snapshot = await sandboxSnapshot();
  const bundle = join(root, 'dist', 'cli.js');
  const sources = Math.max(newest(join(root, 'src')), statSync(join(root, 'package.json')).mtimeMs);
  if (!existsSync(bundle) || statSync(bundle).mtimeMs < sources) {
    execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { stdio: 'inherit' });
  }
  return async function teardown() {
    const left = await leftSince(snapshot);
    if (left.length > 0) {
      const named = left.map(c => `${c.Names.join(',')} (owner ${c.Labels[OWNER_LABEL] ?? 'none'})`);
      throw new Error(`${left.length} sandbox container(s) left after the suite: ${named.join(' ')}`);
    }
  };
}
