// Runs one command in a locked-down, throw-away container on the local Docker engine (dockerode). It knows
// nothing of MCP, repositories or receipts: those are the sandbox tool's and its policy's business.

import type Dockerode from 'dockerode';
import { PassThrough, Writable } from 'node:stream';
import { ToolError } from '../lib/errors.ts';

/** Every sandbox container carries it, so that leftovers of a crashed server can be found and removed. */
export const SANDBOX_LABEL = 'devops-mcp.sandbox';
/** host:pid of the server that made a container: another live server's runs are never reaped. */
export const OWNER_LABEL = 'devops-mcp.owner';
const SANDBOX_USER = '10001:10001';

export interface SandboxLimits {
  memoryBytes: number;
  /** CPUs, fractional allowed. */
  cpus: number;
  pids: number;
  timeoutMs: number;
  /** Output kept: half from the start, half from the end. */
  outputBytes: number;
  /** Size of the tmpfs holding the work tree, and of /tmp. */
  tmpfsBytes: number;
}

export interface SandboxFile {
  /** Relative POSIX path inside the work tree, already checked by policy. */
  path: string;
  content: Buffer;
  mode?: number;
}

export interface RunSpec {
  image: string;
  /** Shell command run in /work after the files are in place. */
  command: string;
  files: readonly SandboxFile[];
  limits: SandboxLimits;
  labels?: Record<string, string>;
  signal?: AbortSignal;
  /** Called about once a second while the command runs. */
  onProgress?: (elapsedMs: number) => void;
  /**
   * Called once the run has its place in the queue, just before its container is created: a run may wait there
   * for minutes, and what held when it was queued (the kill switch) may no longer. Throwing aborts the run with
   * that error, before anything exists on the engine.
   */
  beforeStart?: () => void | Promise<void>;
}

export interface CapturedOutput {
  head: string;
  tail: string;
  totalBytes: number;
  /** Bytes between head and tail that were read and dropped. */
  omittedBytes: number;
}

export interface RunResult {
  exitCode: number | null;
  timedOut: boolean;
  oomKilled: boolean;
  cancelled: boolean;
  durationMs: number;
  output: CapturedOutput;
}

export interface DockerClient {
  ping(): Promise<string>;
  hasImage(image: string): Promise<boolean>;
  run(spec: RunSpec): Promise<RunResult>;
  /**
   * Removes sandbox containers whose owner is gone — made by a server on this host that is no longer running,
   * or carrying no owner; returns how many.
   */
  reap(isAlive: (owner: string) => boolean): Promise<number>;
}

/** Keeps the first and the last bytes of a stream and counts the rest, without buffering it. */
export function createOutputCapture(limitBytes: number): { sink: Writable; result(): CapturedOutput } {
  const headLimit = Math.floor(limitBytes / 2);
  const tailLimit = limitBytes - headLimit;
  const head: Buffer[] = [];
  let headBytes = 0;
  let tail = Buffer.alloc(0);
  let total = 0;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      total += chunk.length;
      let rest = chunk;
      if (headBytes < headLimit) {
        const take = rest.subarray(0, headLimit - headBytes);
        head.push(take);
        headBytes += take.length;
        rest = rest.subarray(take.length);
      }
      if (rest.length > 0) {
        tail =
          rest.length >= tailLimit
            ? Buffer.from(rest.subarray(rest.length - tailLimit))
            : Buffer.concat([tail, rest]);
        if (tail.length > tailLimit) tail = Buffer.from(tail.subarray(tail.length - tailLimit));
      }
      done();
    },
  });
  return {
    sink,
    result: () => ({
      head: Buffer.concat(head).toString('utf8'),
      tail: tail.toString('utf8'),
      totalBytes: total,
      omittedBytes: Math.max(0, total - headBytes - tail.length),
    }),
  };
}

async function tarOf(files: readonly SandboxFile[]): Promise<Buffer> {
  const { pack } = (await import('tar-stream')).default;
  const archive = pack();
  const chunks: Buffer[] = [];
  archive.on('data', (chunk: unknown) => {
    chunks.push(chunk as Buffer);
  });
  const finished = new Promise<void>((resolve, reject) => {
    archive.on('end', resolve);
    archive.on('error', reject);
  });
  for (const file of files) {
    archive.entry({ name: file.path, mode: file.mode ?? 0o644, uid: 10001, gid: 10001 }, file.content);
  }
  archive.finalize();
  await finished;
  return Buffer.concat(chunks);
}

/** 0.01 CPUs, Docker's documented minimum: the engine gives the kernel a CFS quota of 1 ms per 100 ms period. */
const MIN_NANO_CPUS = 10_000_000;

/**
 * Refuses limits Docker would not enforce, and gives the CPU limit in the engine's NanoCpus. To Docker a Memory,
 * NanoCpus or PidsLimit of 0 means "no limit" (a negative PidsLimit too). A CPU limit under 0.00001 gives a quota
 * of 0, which switches the limit off as well; one under 0.01 is refused by the kernel only at start. So a tiny
 * positive limit is refused here, never rounded.
 */
function enforceableLimits(limits: SandboxLimits): number {
  const refuse = (what: string) =>
    new ToolError(
      'INVALID_ARGUMENT',
      `The sandbox ${what} cannot be enforced by Docker.`,
      'Use a CPU limit of at least 0.01, and positive whole numbers for memory and pids.',
    );
  const nanoCpus = Math.round(limits.cpus * 1e9);
  if (!Number.isFinite(limits.cpus) || nanoCpus < MIN_NANO_CPUS) throw refuse(`CPU limit ${limits.cpus}`);
  if (!Number.isSafeInteger(limits.memoryBytes) || limits.memoryBytes < 1)
    throw refuse(`memory limit ${limits.memoryBytes} bytes`);
  if (!Number.isSafeInteger(limits.pids) || limits.pids < 1) throw refuse(`pids limit ${limits.pids}`);
  return nanoCpus;
}

/** Docker's own words from an API error (dockerode puts the response body in `json`). */
function engineMessage(error: unknown): string {
  const message = (error as { json?: { message?: unknown } }).json?.message;
  return (typeof message === 'string' ? message : (error as Error).message).trim();
}

/** At most `limit` tasks at once; the rest wait in order. */
function createQueue(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: Array<() => void> = [];
  return async task => {
    if (running >= limit) await new Promise<void>(resolve => waiting.push(resolve));
    running++;
    try {
      return await task();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}

export function createDockerClient(
  options: { socketPath?: string; maxConcurrent?: number; owner?: string | undefined } = {},
): DockerClient {
  // This machine has two cores: queue runs rather than oversubscribe them.
  const queue = createQueue(options.maxConcurrent ?? 2);
  let engine: Promise<Dockerode> | undefined;
  const docker = () =>
    (engine ??= import('dockerode').then(
      ({ default: Docker }) => new Docker({ socketPath: options.socketPath ?? '/var/run/docker.sock' }),
    ));

  const unreachable = (error: unknown) =>
    new ToolError(
      'BACKEND_UNREACHABLE',
      `The Docker engine is unreachable: ${(error as { code?: string }).code ?? (error as Error).message}.`,
      'Start dockerd (see the README) and check that this process may use its socket.',
    );

  async function run(spec: RunSpec, nanoCpus: number): Promise<RunResult> {
    const d = await docker();
    const archive = await tarOf(spec.files);
    const { limits } = spec;
    const tmpfs = `rw,nosuid,nodev,size=${limits.tmpfsBytes}`;
    // Last before the create: nothing slow lies between what the hook checks and the container.
    await spec.beforeStart?.();
    let container: Dockerode.Container;
    try {
      container = await d.createContainer({
        Image: spec.image,
        // The work tree arrives on stdin as a tar, because a read-only root cannot take files before start.
        // `timeout -s KILL` is a backstop inside the container; the host timer below is the deadline.
        Cmd: [
          'sh',
          '-c',
          `tar -x -C /work && exec timeout -s KILL ${Math.ceil(limits.timeoutMs / 1000) + 5} sh -c "$DEVOPS_MCP_COMMAND"`,
        ],
        Env: [`DEVOPS_MCP_COMMAND=${spec.command}`, 'HOME=/home/sandbox', 'CI=true'],
        WorkingDir: '/work',
        User: SANDBOX_USER,
        OpenStdin: true,
        StdinOnce: true,
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
        Tty: false,
        NetworkDisabled: true,
        Labels: {
          ...spec.labels,
          [SANDBOX_LABEL]: '1',
          ...(options.owner ? { [OWNER_LABEL]: options.owner } : {}),
        },
        HostConfig: {
          // docker-init as PID 1 reaps every child, so nothing outlives the command.
          Init: true,
          // The engine's json-file log would grow unbounded on the host disk; the attached streams are read instead.
          LogConfig: { Type: 'none', Config: {} },
          NetworkMode: 'none',
          Memory: limits.memoryBytes,
          MemorySwap: limits.memoryBytes,
          NanoCpus: nanoCpus,
          PidsLimit: limits.pids,
          ReadonlyRootfs: true,
          Tmpfs: { '/work': `${tmpfs},uid=10001,gid=10001,mode=0755`, '/tmp': `${tmpfs},mode=1777` },
          CapDrop: ['ALL'],
          SecurityOpt: ['no-new-privileges'],
          Privileged: false,
          IpcMode: 'private',
          Binds: [],
          Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 1024 }],
        },
      });
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) {
        throw new ToolError(
          'NOT_CONFIGURED',
          `The sandbox image ${spec.image} is not on this Docker engine.`,
          'Build it with scripts/build-sandbox-image.sh.',
        );
      }
      // 400 is the engine refusing a parameter, nearly always a limit it cannot apply ("Minimum memory limit
      // allowed is 6MB"): the caller's to change, not a sign that the engine is down.
      if ((error as { statusCode?: number }).statusCode === 400) {
        throw new ToolError(
          'INVALID_ARGUMENT',
          `The Docker engine refused the sandbox container: ${engineMessage(error)}.`,
          'Raise the lowered limits (memoryMb, cpus, pids) or leave them out.',
        );
      }
      throw unreachable(error);
    }

    const capture = createOutputCapture(limits.outputBytes);
    // Set from timer and abort callbacks, hence an object rather than two lets (flow analysis would narrow them).
    const ended = { timedOut: false, cancelled: false };
    const started = performance.now();
    const kill = () => container.kill().catch(() => undefined);
    const timer = setTimeout(() => {
      ended.timedOut = true;
      void kill();
    }, limits.timeoutMs);
    const onAbort = () => {
      ended.cancelled = true;
      void kill();
    };
    spec.signal?.addEventListener('abort', onAbort, { once: true });
    const progress = spec.onProgress
      ? setInterval(() => spec.onProgress?.(performance.now() - started), 1000)
      : undefined;
    // The hijacked connection: a socket, though typed as a bare ReadWriteStream.
    let attached: (NodeJS.ReadWriteStream & { destroy?: () => void }) | undefined;
    try {
      const stream = await container.attach({
        stream: true,
        stdin: true,
        stdout: true,
        stderr: true,
        hijack: true,
      });
      attached = stream;
      const both = new PassThrough();
      both.pipe(capture.sink);
      d.modem.demuxStream(stream, both, both);
      const drained = new Promise<void>(resolve => {
        stream.on('end', resolve);
        stream.on('close', resolve);
        stream.on('error', () => {
          resolve();
        });
      });
      // Waiting for the next exit before start cannot miss a command that ends at once.
      const exited = container.wait({ condition: 'next-exit' }) as Promise<{ StatusCode: number }>;
      // The wait can fail while start is still in flight (the engine restarting, its socket dropped): unhandled
      // until it is awaited below, that rejection would end the whole server. It is still awaited there.
      exited.catch(() => undefined);
      try {
        await container.start();
      } catch (error) {
        // The engine took the container but cannot run it (a limit its kernel cannot apply, no memory left): the
        // engine's own words, not an internal error. The wait ends when the container is removed below.
        throw new ToolError(
          'BACKEND_ERROR',
          `The Docker engine could not start the sandbox container: ${engineMessage(error)}.`,
          'Retry with the default limits; if it persists, ask the operator to check the engine (docker info).',
        );
      }
      if (spec.signal?.aborted) onAbort();
      stream.end(archive);
      const status = await exited.catch((error: unknown) => {
        throw new ToolError(
          'BACKEND_ERROR',
          `The Docker engine lost track of the sandbox container: ${engineMessage(error)}.`,
          'Retry; if it persists, ask the operator to check the engine (docker info).',
        );
      });
      await Promise.race([drained, new Promise(resolve => setTimeout(resolve, 2000))]);
      both.end();
      const state = (await container.inspect()).State;
      return {
        exitCode: ended.timedOut || ended.cancelled ? null : status.StatusCode,
        timedOut: ended.timedOut,
        // Some engines do not set OOMKilled: a SIGKILL we did not send is the memory limit's.
        oomKilled: state.OOMKilled || (status.StatusCode === 137 && !ended.timedOut && !ended.cancelled),
        cancelled: ended.cancelled,
        durationMs: Math.round(performance.now() - started),
        output: capture.result(),
      };
    } finally {
      clearTimeout(timer);
      if (progress) clearInterval(progress);
      spec.signal?.removeEventListener('abort', onAbort);
      await container.remove({ force: true, v: true }).catch(() => undefined);
      // Removing the container ends its attach stream; an engine that failed halfway may not, and the socket stays.
      attached?.destroy?.();
    }
  }

  return {
    async ping() {
      try {
        const d = await docker();
        const version = await d.version();
        return `Docker ${version.Version}`;
      } catch (error) {
        throw unreachable(error);
      }
    },
    async hasImage(image) {
      try {
        await (await docker()).getImage(image).inspect();
        return true;
      } catch (error) {
        if ((error as { statusCode?: number }).statusCode === 404) return false;
        throw unreachable(error);
      }
    },
    async run(spec) {
      // Checked before the queue: a bad limit should not wait minutes to be refused.
      const nanoCpus = enforceableLimits(spec.limits);
      return queue(() => run(spec, nanoCpus));
    },
    async reap(isAlive) {
      const d = await docker();
      const found = await d.listContainers({ all: true, filters: { label: [SANDBOX_LABEL] } });
      const orphans = found.filter(c => {
        const owner = c.Labels[OWNER_LABEL];
        return owner === undefined || !isAlive(owner);
      });
      await Promise.all(
        orphans.map(c =>
          d
            .getContainer(c.Id)
            .remove({ force: true, v: true })
            .catch(() => undefined),
        ),
      );
      return orphans.length;
    },
  };
}
