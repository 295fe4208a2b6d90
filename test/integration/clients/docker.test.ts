// The sandbox runner against the real Docker engine and the locally built sandbox image: each hostile case
// is contained and reported, and no container is left behind.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  createDockerClient,
  OWNER_LABEL,
  SANDBOX_LABEL,
  type SandboxLimits,
} from '../../../src/clients/docker.ts';
import { waitFor } from '../../support/wait.ts';
import { createdSince } from '../../support/containers.ts';

const IMAGE = 'devops-mcp-sandbox:node24';
const OWNER = `docker-test:${process.pid}`;
const docker = createDockerClient({ owner: OWNER });
const limits: SandboxLimits = {
  memoryBytes: 128 * 1024 * 1024,
  cpus: 1,
  pids: 64,
  timeoutMs: 20_000,
  outputBytes: 16 * 1024,
  tmpfsBytes: 32 * 1024 * 1024,
};
const run = (
  command: string,
  extra: Partial<SandboxLimits> = {},
  files = [] as Array<{ path: string; content: Buffer; mode?: number }>,
) =>
  docker.run({
    image: IMAGE,
    command,
    files,
    limits: { ...limits, ...extra },
    labels: { 'devops-mcp.test': 'docker' },
  });

/** This suite's sandbox containers; other suites run beside it (the global teardown checks the whole run). */
async function sandboxContainers(label?: string): Promise<number> {
  const { default: Docker } = await import('dockerode');
  const filters = { label: [SANDBOX_LABEL, `${OWNER_LABEL}=${OWNER}`, ...(label ? [label] : [])] };
  return (await new Docker().listContainers({ all: true, filters })).length;
}

/** Control characters a terminal would act on: all but tab and newline. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

beforeAll(async () => {
  expect(await docker.ping()).toMatch(/^Docker /);
  expect(await docker.hasImage(IMAGE), 'build it with scripts/build-sandbox-image.sh').toBe(true);
});

afterAll(async () => {
  expect(await sandboxContainers()).toBe(0);
});

describe('the sandbox runner on a real Docker engine', () => {
  it('runs a command on the files it was given, as an unprivileged user', async () => {
    const result = await run('id -u && node check.mjs', {}, [
      { path: 'check.mjs', content: Buffer.from('console.log("sum", [1, 2, 3].reduce((a, b) => a + b));') },
    ]);
    expect(result).toMatchObject({ exitCode: 0, timedOut: false, oomKilled: false, cancelled: false });
    expect(result.output.head).toBe('10001\nsum 6\n');
  });

  it('reports a failing exit code with the output', async () => {
    const result = await run('echo failing >&2; exit 3');
    expect(result.exitCode).toBe(3);
    expect(result.output.head).toContain('failing');
  });

  it('has no network: only its own loopback, which does not reach the host', async () => {
    // A server on the host's loopback stands for everything outside; no address beyond loopback is ever tried.
    const host = createServer(socket => socket.end('host\n'));
    await new Promise<void>(resolve => host.listen(0, '127.0.0.1', resolve));
    const { port } = host.address() as AddressInfo;
    try {
      const result = await run(
        `ls /sys/class/net; node -e "require('node:net').connect(${port}, '127.0.0.1').on('data', d => { console.log('reached', String(d)); process.exit(0) }).on('error', e => { console.log(e.code); process.exit(7) })"`,
      );
      // The interface list is just "lo", and the host's loopback service is refused.
      expect(result.output.head).toBe('lo\nECONNREFUSED\n');
      expect(result.exitCode).toBe(7);
    } finally {
      host.close();
    }
  });

  it('cannot write outside the work tree, see the Docker socket, or gain privileges', async () => {
    const result = await run(
      'touch /etc/owned 2>&1; touch /usr/local/bin/node 2>&1; ls /var/run/docker.sock 2>&1; cat /proc/1/status | grep -E "^CapEff|^NoNewPrivs"; echo ok > /work/fine && cat /work/fine',
    );
    expect(result.output.head).toContain('/etc/owned: Read-only file system');
    expect(result.output.head).toContain('/usr/local/bin/node: Read-only file system');
    expect(result.output.head).toContain('/var/run/docker.sock: No such file or directory');
    expect(result.output.head).toMatch(/CapEff:\s+0000000000000000/);
    expect(result.output.head).toMatch(/NoNewPrivs:\s+1/);
    expect(result.output.head).toContain('ok');
  });

  it('kills a memory hog and says so', async () => {
    const result = await run('node -e "const a = []; for (;;) a.push(Buffer.alloc(1e7, 1))"');
    expect(result.oomKilled).toBe(true);
    expect(result.exitCode).not.toBe(0);
  });

  it('contains a fork bomb within the pids limit', async () => {
    // At the limit fork fails with EAGAIN (not ENOMEM, not an OOM kill), and the script goes on with its builtins.
    const result = await run('bomb() { bomb | bomb & }; bomb; sleep 2; echo survived', { timeoutMs: 60_000 });
    const output = `${result.output.head}${result.output.tail}`;
    expect(output).toMatch(/can't fork: Resource temporarily unavailable/);
    expect(output).toMatch(/^survived$/m);
    expect(result).toMatchObject({ exitCode: 0, timedOut: false, oomKilled: false });
    expect(await docker.ping()).toMatch(/^Docker /);
  });

  it('runs executables of the work tree and of /tmp', async () => {
    const result = await run(
      "./run.sh; printf '#!/bin/sh\\necho tmp ran\\n' > /tmp/t.sh && chmod +x /tmp/t.sh && /tmp/t.sh",
      {},
      [{ path: 'run.sh', content: Buffer.from('#!/bin/sh\necho work ran\n'), mode: 0o755 }],
    );
    expect(result.output.head).toBe('work ran\ntmp ran\n');
    expect(result.exitCode).toBe(0);
  });

  it('lays out symbolic links as links', async () => {
    const result = await docker.run({
      image: IMAGE,
      command: 'cat config.json lib/a.txt; readlink config.json',
      files: [
        { path: 'conf/base.json', content: Buffer.from('{}\n') },
        { path: 'vendor/a.txt', content: Buffer.from('vendored\n') },
      ],
      links: [
        { path: 'config.json', target: 'conf/base.json' },
        { path: 'lib', target: 'vendor' },
      ],
      limits,
    });
    expect(result.output.head).toBe('{}\nvendored\nconf/base.json\n');
  });

  it('takes an exit status of 137 for what it is, not for the memory limit', async () => {
    for (const command of ['echo tests failed; exit 137', 'sh -c "kill -9 \\$\\$"; exit 137']) {
      const result = await run(command);
      expect(result, command).toMatchObject({ exitCode: 137, oomKilled: false, timedOut: false });
    }
  });

  it('kills a CPU spin at the wall-clock timeout', async () => {
    const result = await run('node -e "for (;;) {}"', { timeoutMs: 1500 });
    expect(result).toMatchObject({ timedOut: true, exitCode: null });
  });

  it('keeps the head and tail of an output flood of a gigabyte, and drops the middle', async () => {
    const result = await run('head -c 1073741824 /dev/zero | tr "\\0" "x"; echo; echo THE-END', {
      timeoutMs: 60_000,
    });
    expect(result.exitCode).toBe(0);
    expect(result.output.totalBytes).toBeGreaterThan(1_073_741_824);
    expect(result.output.head.length + result.output.tail.length).toBeLessThanOrEqual(limits.outputBytes);
    expect(result.output.tail.endsWith('THE-END\n')).toBe(true);
    expect(result.output.omittedBytes).toBeGreaterThan(1_000_000_000);
  });

  it('keeps binary and terminal output printable and within the byte limit', async () => {
    const outputBytes = 1024;
    for (const command of [
      'head -c 100000 /dev/urandom',
      'head -c 100000 /dev/zero',
      `node -e "process.stdout.write(Buffer.alloc(100000, 0x80))"`,
      `node -e "process.stdout.write('é'.repeat(100000))"`,
      "printf '\\033]0;pwned\\007\\033[2J\\033[31mred\\033[0m\\tok\\n'",
    ]) {
      const { output } = await run(command, { outputBytes });
      const text = `${output.head}${output.tail}`;
      expect(Buffer.byteLength(text), command).toBeLessThanOrEqual(outputBytes);
      expect(text, command).not.toMatch(CONTROL);
      expect(output.omittedBytes, command).toBeLessThanOrEqual(output.totalBytes);
    }
    const { output } = await run("printf '\\033[31mred\\033[0m\\tok\\n'");
    expect(output.head).toBe('␛[31mred␛[0m\tok\n');
    expect(output.omittedBytes).toBe(0);
  });

  it('fails cleanly when the work tree tmpfs fills up', async () => {
    const result = await run(
      "node -e \"require('node:fs').writeFileSync('/work/big', Buffer.alloc(64e6))\"",
      {
        tmpfsBytes: 8 * 1024 * 1024,
      },
    );
    expect(result.exitCode).not.toBe(0);
    expect(result.output.head).toContain('ENOSPC');
  });

  it('kills and removes the container when the caller cancels', async () => {
    const controller = new AbortController();
    setTimeout(() => {
      controller.abort();
    }, 800);
    const result = await docker.run({
      image: IMAGE,
      command: 'sleep 60',
      files: [],
      limits,
      signal: controller.signal,
    });
    expect(result).toMatchObject({ cancelled: true, exitCode: null });
    expect(await sandboxContainers()).toBe(0);
  });

  it('refuses limits Docker would not enforce, before the queue and before any container', async () => {
    // A CPU limit that rounds to no nano-CPUs, or to a CFS quota of 0, would be read as no CPU limit at all.
    for (const extra of [{ cpus: 1e-10 }, { cpus: 1e-6 }, { cpus: 0.001 }, { pids: 0 }, { memoryBytes: 0 }]) {
      const beforeStart = vi.fn();
      await expect(
        docker.run({
          image: IMAGE,
          command: 'true',
          files: [],
          limits: { ...limits, ...extra },
          beforeStart,
        }),
        JSON.stringify(extra),
      ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: /cannot be enforced by Docker/ });
      expect(beforeStart).not.toHaveBeenCalled();
    }
    // Docker's own minimum still runs, limited.
    const least = await run(
      'cat /sys/fs/cgroup/cpu.max 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us',
      {
        cpus: 0.01,
      },
    );
    expect(least.output.head).toMatch(/^1000\b/);
  });

  it('reports a container the engine cannot start in its own words, and leaves none behind', async () => {
    // A tmpfs size runc cannot mount: the engine creates the container, then fails to start it.
    await expect(run('true', { tmpfsBytes: Number.NaN })).rejects.toMatchObject({
      code: 'BACKEND_ERROR',
      message: /^The Docker engine could not start the sandbox container: .*tmpfs/,
    });
    expect(await sandboxContainers()).toBe(0);
  });

  it('names the configuration when its CPU limit is more than the engine has', async () => {
    const { default: Docker } = await import('dockerode');
    const available = ((await new Docker().info()) as { NCPU: number }).NCPU;
    const error: unknown = await run('true', { cpus: available + 1 }).catch((failure: unknown) => failure);
    expect(error).toMatchObject({
      code: 'NOT_CONFIGURED',
      message: `The sandbox CPU limit of ${available + 1} exceeds what the Docker engine has: ${available} CPUs.`,
    });
    expect((error as { hint: string }).hint).toMatch(`sandbox.limits.cpus`);
    expect((error as { hint: string }).hint).not.toMatch(/lowered/);
    expect(await sandboxContainers()).toBe(0);
  });

  it('kills a run whose deadline passed while the engine was still starting it', async () => {
    // A proxy to the engine that holds each start request past the deadline: an engine under load.
    const dir = mkdtempSync(join(tmpdir(), 'devops-mcp-slow-engine-'));
    const socketPath = join(dir, 'docker.sock');
    // Half-open both ways: the attach stream's stdin ends long before its output does.
    const proxy = createServer({ allowHalfOpen: true }, client => {
      const engine = connect({ path: '/var/run/docker.sock', allowHalfOpen: true });
      let forward = Promise.resolve();
      client.on('data', (chunk: Buffer) => {
        forward = forward.then(async () => {
          if (/^POST \S*\/containers\/\S+\/start/.test(chunk.toString('latin1')))
            await new Promise(resolve => setTimeout(resolve, 3000));
          engine.write(chunk);
        });
      });
      engine.pipe(client);
      client.on('end', () => engine.end());
      client.on('error', () => engine.destroy());
      engine.on('error', () => client.destroy());
    });
    await new Promise<void>(resolve => proxy.listen(socketPath, resolve));
    try {
      const slow = createDockerClient({ socketPath, owner: OWNER });
      // The backstop inside (the deadline + 5 s) would let the command finish its sleep and print.
      const result = await slow.run({
        image: IMAGE,
        command: 'echo started; sleep 4; echo still running',
        files: [],
        limits: { ...limits, timeoutMs: 2000 },
      });
      expect(result).toMatchObject({ timedOut: true, exitCode: null });
      expect(`${result.output.head}${result.output.tail}`).not.toContain('still running');
      expect(await sandboxContainers()).toBe(0);
    } finally {
      proxy.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('on close ends the runs under way as cancelled, removes their containers and starts no more', async () => {
    const closing = createDockerClient({ owner: OWNER, maxConcurrent: 1 });
    const since = Math.floor(Date.now() / 1000);
    const spec = (label: string) => ({
      image: IMAGE,
      // Deaf to SIGTERM, as a test runner stuck in a handler is.
      command: "trap '' TERM; sleep 60",
      files: [],
      limits: { ...limits, timeoutMs: 60_000 },
      labels: { 'devops-mcp.test': label },
    });
    const under = closing.run(spec('closed-running'));
    // Settled long before it is looked at: caught at once, or it would count as unhandled.
    const queued = closing.run(spec('closed-queued')).then(
      () => undefined,
      (error: unknown) => error,
    );
    const { default: Docker } = await import('dockerode');
    await waitFor(
      async () =>
        (
          await new Docker().listContainers({
            filters: { label: ['devops-mcp.test=closed-running'], status: ['running'] },
          })
        ).length === 1,
    );
    await closing.close();
    // Gone when close() resolves, not later: a process exits right after it.
    expect(await sandboxContainers('devops-mcp.test=closed-running')).toBe(0);
    await expect(under).resolves.toMatchObject({ cancelled: true, exitCode: null });
    expect(await queued).toMatchObject({ code: 'CANCELLED' });
    await expect(closing.run(spec('closed-later'))).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(await createdSince(since, 'devops-mcp.test=closed-queued')).toBe(0);
    expect(await createdSince(since, 'devops-mcp.test=closed-later')).toBe(0);
  });

  it("reports the engine's refusal of a limit as INVALID_ARGUMENT, not as an unreachable engine", async () => {
    await expect(run('true', { memoryBytes: 1024 * 1024 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: /refused the sandbox container: Minimum memory limit allowed is \d+MB\.$/,
    });
    expect(await sandboxContainers()).toBe(0);
  });

  it('calls beforeStart once a queued run has its slot, and creates nothing when it throws', async () => {
    const single = createDockerClient({ owner: OWNER, maxConcurrent: 1 });
    const since = Math.floor(Date.now() / 1000);
    const started = performance.now();
    const first = single.run({ image: IMAGE, command: 'sleep 2', files: [], limits });
    let calledAfter: number | undefined;
    const second = single.run({
      image: IMAGE,
      command: 'echo must not run',
      files: [],
      limits,
      labels: { 'devops-mcp.test': 'queued-refused' },
      beforeStart: () => {
        calledAfter = performance.now() - started;
        throw new Error('paused while queued');
      },
    });
    await expect(second).rejects.toThrow('paused while queued');
    expect((await first).exitCode).toBe(0);
    // Called only once the first run (two seconds of sleep) gave up the one slot.
    expect(calledAfter).toBeGreaterThanOrEqual(2000);
    expect(await createdSince(since, 'devops-mcp.test=queued-refused')).toBe(0);
    expect(await sandboxContainers()).toBe(0);
  });

  it('reaps containers a crashed server left behind, and never those of a live one', async () => {
    const { default: Docker } = await import('dockerode');
    const engine = new Docker();
    const make = async (owner: string) => {
      const container = await engine.createContainer({
        Image: IMAGE,
        Cmd: ['sleep', '60'],
        Labels: { [SANDBOX_LABEL]: '1', [OWNER_LABEL]: owner },
        HostConfig: { NetworkMode: 'none' },
      });
      await container.start();
      return container;
    };
    const live = await make('here:1');
    const dead = await make('here:2');
    // Only 'here:2' is gone; everything else (other suites' runs included) is alive.
    expect(await docker.reap(owner => owner !== 'here:2')).toBeGreaterThanOrEqual(1);
    await expect(dead.inspect()).rejects.toThrow(/no such container/i);
    expect((await live.inspect()).State.Running).toBe(true);
    await live.remove({ force: true });
  });
});
