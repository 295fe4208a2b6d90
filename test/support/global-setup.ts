// Builds dist/ before the suites when it is missing or older than the sources, so `npm test` alone works; after
// the whole run, fails it if any sandbox container is left on the engine.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SANDBOX_LABEL } from '../../src/clients/docker.ts';

const root = join(import.meta.dirname, '..', '..');

function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

export default function setup(): () => Promise<void> {
  const bundle = join(root, 'dist', 'cli.js');
  const sources = Math.max(newest(join(root, 'src')), statSync(join(root, 'package.json')).mtimeMs);
  if (!existsSync(bundle) || statSync(bundle).mtimeMs < sources) {
    execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { stdio: 'inherit' });
  }
  return async function teardown() {
    const { default: Docker } = await import('dockerode');
    const left = await new Docker()
      .listContainers({ all: true, filters: { label: [SANDBOX_LABEL] } })
      .catch(() => []);
    if (left.length > 0) {
      throw new Error(
        `${left.length} sandbox container(s) left after the suite: ${left.map(c => c.Names.join(',')).join(' ')}`,
      );
    }
  };
}
