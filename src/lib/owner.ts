// Who made a thing that outlives a call (a sandbox container, an investigation in the store): `host:pid:nonce` of the
// process, so that a later process can tell one left by a process that died from one a live process still owns.

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

// A container restarted after a crash has the same host name and, as pid 1, the same pid: this tells the processes
// apart.
const NONCE = randomUUID().slice(0, 8);

/** `host:pid:nonce` of this process. */
export function processOwner(): string {
  return `${hostname()}:${process.pid}:${NONCE}`;
}

/**
 * False only for an owner on this host whose process is gone: its pid runs nothing, or runs this process, which is
 * not it. Another host's owner counts as alive (its processes are not ours to see); a pid we may not signal (EPERM)
 * is alive.
 */
export function ownerAlive(owner: string): boolean {
  const [host, pid] = owner.split(':');
  if (host !== hostname()) return true;
  if (Number(pid) === process.pid) return owner === processOwner();
  try {
    process.kill(Number(pid), 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
}
