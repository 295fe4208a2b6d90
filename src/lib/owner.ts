// Who made a thing that outlives a call (a sandbox container, an investigation in the store): `host:pid` of the
// process, so that a later process can tell one left by a process that died from one a live process still owns.

import { hostname } from 'node:os';

export function processOwner(): string {
  return `${hostname()}:${process.pid}`;
}

/**
 * False only for an owner on this host whose process is gone. Another host's owner counts as alive (its processes are
 * not ours to see); a pid we may not signal (EPERM) is alive.
 */
export function ownerAlive(owner: string): boolean {
  const [host, pid] = owner.split(':');
  if (host !== hostname()) return true;
  try {
    process.kill(Number(pid), 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
}
