// Runs one command in a locked-down, throw-away container on the local Docker engine (dockerode). It knows
// nothing of MCP, repositories or receipts: those are the sandbox tool's and its policy's business.

import type Dockerode from 'dockerode';
import { PassThrough, Writable } from 'node:stream';
import { ToolError } from '../lib/errors.ts';
import { printable } from '../lib/terminal.ts';

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

/** A symbolic link of the work tree, written as a link: it leads wherever it leads inside the container. */
export interface SandboxLink {
  /** Relative POSIX path inside the work tree, already checked by policy. */
  path: string;
  target: string;
}

export interface RunSpec {
  image: string;
  /** Shell command run in /work after the files are in place. */
  command: string;
  files: readonly SandboxFile[];
  links?: readonly SandboxLink[];
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
  /** Printable text: UTF-8 bytes of head and tail together are at most the output limit. */
  head: string;
  tail: string;
  totalBytes: number;
  /** Bytes of the output that neither head nor tail shows: the middle, read and dropped. */
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
  /**
   * Stops every run: those under way end as cancelled and their containers are removed; queued and later ones are
   * refused. Resolves once the containers are gone, or after a bounded wait.
   */
  close(): Promise<void>;
}

/**
 * Keeps the first and the last bytes of a stream and counts the rest, without buffering it. What it gives back is
 * text a client can show as it is: decoded, control characters escaped, and cut on character boundaries so that
 * head and tail together stay within `limitBytes` of UTF-8 whatever the command wrote.
 */
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
    result: () => capturedText(Buffer.concat(head), tail, total, headLimit, tailLimit),
  };
}

/** A unit of output text: what it shows as, and how many bytes of the output it stands for. */
interface Piece {
  text: string;
  bytes: number;
}

/**
 * The pieces of UTF-8 `bytes`: a character as itself, or as lib/terminal.ts's printable() shows it (a control
 * character other than tab and newline as its Unicode control picture, ESC as ␛; C1 and bidi controls as U+FFFD), so
 * that no terminal sequence (colours, a window title, a screen clear) reaches a client raw and JSON has nothing to
 * escape in it; each invalid sequence as one U+FFFD, split as TextDecoder splits them. When `cut`, the bytes are
 * a cut stream's first part, and a character left incomplete at their end is not given.
 */
function piecesOf(bytes: Buffer, cut: boolean): Piece[] {
  const pieces: Piece[] = [];
  let at = 0;
  while (at < bytes.length) {
    const lead = bytes[at] ?? 0;
    let need = 0;
    let low = 0x80;
    let high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) need = 1;
    else if (lead >= 0xe0 && lead <= 0xef) {
      need = 2;
      if (lead === 0xe0) low = 0xa0;
      if (lead === 0xed) high = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      need = 3;
      if (lead === 0xf0) low = 0x90;
      if (lead === 0xf4) high = 0x8f;
    }
    let length = 1;
    for (; length <= need; length++) {
      const next = bytes[at + length];
      if (next === undefined && cut) return pieces;
      if (next === undefined || next < (length === 1 ? low : 0x80) || next > (length === 1 ? high : 0xbf))
        break;
    }
    let text: string;
    if (lead < 0x80 || length === need + 1) {
      text = printable(bytes.toString('utf8', at, at + length), { newlines: true });
    } else text = '\ufffd';
    pieces.push({ text, bytes: length });
    at += length;
  }
  return pieces;
}

/** The captured bytes as text within the limits; what it leaves out is counted as omitted. */
function capturedText(
  head: Buffer,
  tail: Buffer,
  total: number,
  headLimit: number,
  tailLimit: number,
): CapturedOutput {
  // With nothing dropped between them, the tail goes on where the head stopped, maybe in the middle of a character.
  const whole = total === head.length + tail.length;
  const first = whole ? piecesOf(Buffer.concat([head, tail]), false) : piecesOf(head, true);
  let headText = '';
  let headSize = 0;
  let shown = 0;
  let taken = 0;
  for (const piece of first) {
    const size = Buffer.byteLength(piece.text);
    if (headSize + size > headLimit) break;
    headText += piece.text;
    headSize += size;
    shown += piece.bytes;
    taken++;
  }
  let last: Piece[];
  if (whole) last = first.slice(taken);
  else {
    // A cut tail may begin inside a character: its continuation bytes (at most three) belong to the dropped middle.
    let start = 0;
    while (start < 3 && start < tail.length && ((tail[start] ?? 0) & 0xc0) === 0x80) start++;
    last = piecesOf(tail.subarray(start), false);
  }
  const tailParts: string[] = [];
  let tailSize = 0;
  for (let i = last.length - 1; i >= 0; i--) {
    const piece = last[i];
    if (piece === undefined) break;
    const size = Buffer.byteLength(piece.text);
    // What the head left unused is the tail's: a character on the split of an output that fits is not lost.
    if (tailSize + size > headLimit + tailLimit - headSize) break;
    tailParts.push(piece.text);
    tailSize += size;
    shown += piece.bytes;
  }
  return {
    head: headText,
    tail: tailParts.reverse().join(''),
    totalBytes: total,
    omittedBytes: total - shown,
  };
}

async function tarOf(files: readonly SandboxFile[], links: readonly SandboxLink[]): Promise<Buffer> {
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
  // After the files: tar then never writes a file through one of them.
  for (const link of links) {
    archive.entry({
      name: link.path,
      type: 'symlink',
      linkname: link.target,
      mode: 0o777,
      uid: 10001,
      gid: 10001,
    });
  }
  archive.finalize();
  await finished;
  return Buffer.concat(chunks);
}

/** How long close() waits for the engine to remove the containers of runs under way. */
const CLOSE_WAIT_MS = 3000;

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

  /** Containers of the runs under way, each with what ends its run as cancelled. */
  const active = new Map<Dockerode.Container, () => void>();
  const inFlight = new Set<Promise<unknown>>();
  let closing: Promise<void> | undefined;
  let shutDown = false;
  // A function, not the flag itself: close() comes while a run awaits, which flow analysis would not see.
  const closed = () => shutDown;
  const shuttingDown = () =>
    new ToolError('CANCELLED', 'devops-mcp is shutting down; the sandbox run was not started.');

  const unreachable = (error: unknown) =>
    new ToolError(
      'BACKEND_UNREACHABLE',
      `The Docker engine is unreachable: ${(error as { code?: string }).code ?? (error as Error).message}.`,
      'Start dockerd (see the README) and check that this process may use its socket.',
    );

  async function run(spec: RunSpec, nanoCpus: number): Promise<RunResult> {
    if (closed()) throw shuttingDown();
    const d = await docker();
    const archive = await tarOf(spec.files, spec.links ?? []);
    const { limits } = spec;
    // Docker mounts a tmpfs noexec unless told otherwise. The work tree needs exec: test runners start its scripts
    // (./run.sh, ./gradlew). /tmp gets it too: runners unpack native libraries and build test binaries there (JNA,
    // `go test`), and with an executable work tree beside it a noexec /tmp would stop nothing. nosuid and nodev
    // stay: no file there can gain privileges or reach a device.
    const tmpfs = `rw,exec,nosuid,nodev,size=${limits.tmpfsBytes}`;
    // Last before the create: nothing slow lies between what the hook checks and the container.
    await spec.beforeStart?.();
    if (closed()) throw shuttingDown();
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
        // A CPU limit above what the engine has is refused the same way, but nobody lowered it: the configuration
        // asks for more CPUs than there are.
        const available = await d.info().then(
          (info: { NCPU?: unknown }) => (typeof info.NCPU === 'number' ? info.NCPU : undefined),
          () => undefined,
        );
        if (available !== undefined && limits.cpus > available) {
          throw new ToolError(
            'NOT_CONFIGURED',
            `The sandbox CPU limit of ${limits.cpus} exceeds what the Docker engine has: ${available} CPUs.`,
            `Ask the operator to set sandbox.limits.cpus (and any repository's limits.cpus) to at most ${available}; until then, pass limits.cpus of at most ${available}.`,
          );
        }
        throw new ToolError(
          'INVALID_ARGUMENT',
          `The Docker engine refused the sandbox container: ${engineMessage(error)}.`,
          'Raise the lowered limits (memoryMb, cpus, pids) or leave them out.',
        );
      }
      throw unreachable(error);
    }
    // Closed while the engine was creating it: close() could not know of it, and it is not started.
    if (closed()) {
      await container.remove({ force: true, v: true }).catch(() => undefined);
      throw shuttingDown();
    }

    const capture = createOutputCapture(limits.outputBytes);
    // Set from timer and abort callbacks, hence an object rather than two lets (flow analysis would narrow them).
    const ended = { timedOut: false, cancelled: false };
    const started = performance.now();
    // A kill before the container has started fails (it is not running yet): the flags are checked again after start.
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
    // close() ends the run as a cancelled one and removes the container itself.
    active.set(container, () => {
      ended.cancelled = true;
    });
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
        // Removed by close() before it could start.
        if (closed()) throw shuttingDown();
        // The engine took the container but cannot run it (a limit its kernel cannot apply, no memory left): the
        // engine's own words, not an internal error. The wait ends when the container is removed below.
        throw new ToolError(
          'BACKEND_ERROR',
          `The Docker engine could not start the sandbox container: ${engineMessage(error)}.`,
          'Retry with the default limits; if it persists, ask the operator to check the engine (docker info).',
        );
      }
      if (spec.signal?.aborted) onAbort();
      // A deadline, a cancel or a close that came while start was in flight: its kill found nothing running.
      if (ended.timedOut || ended.cancelled) void kill();
      stream.end(archive);
      const status = await exited.catch((error: unknown) => {
        // close() removed the container: the run is cancelled, whatever the wait says.
        if (ended.cancelled) return undefined;
        throw new ToolError(
          'BACKEND_ERROR',
          `The Docker engine lost track of the sandbox container: ${engineMessage(error)}.`,
          'Retry; if it persists, ask the operator to check the engine (docker info).',
        );
      });
      await Promise.race([drained, new Promise(resolve => setTimeout(resolve, 2000))]);
      both.end();
      // A cancelled run's container may be gone already (close() removes it), and its verdict is "cancelled".
      const state = ended.cancelled ? undefined : (await container.inspect()).State;
      return {
        exitCode: ended.timedOut || ended.cancelled || !status ? null : status.StatusCode,
        timedOut: ended.timedOut,
        // The engine's word only: a command may exit with 137 itself, or SIGKILL a child of its own.
        oomKilled: state?.OOMKilled ?? false,
        cancelled: ended.cancelled,
        durationMs: Math.round(performance.now() - started),
        output: capture.result(),
      };
    } finally {
      clearTimeout(timer);
      if (progress) clearInterval(progress);
      spec.signal?.removeEventListener('abort', onAbort);
      await container.remove({ force: true, v: true }).catch(() => undefined);
      active.delete(container);
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
      if (closed()) throw shuttingDown();
      const running = queue(() => run(spec, nanoCpus));
      inFlight.add(running);
      return running.finally(() => inFlight.delete(running));
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
    close() {
      shutDown = true;
      return (closing ??= (async () => {
        for (const cancel of active.values()) cancel();
        // Removed here rather than left to each run: a run's own removal comes after it has read the exit and the
        // last output, and a process that exits right after close() would outrun it.
        const removed = [...active.keys()].map(container =>
          container.remove({ force: true, v: true }).catch(() => undefined),
        );
        await Promise.race([
          Promise.allSettled([...removed, ...inFlight]),
          new Promise(resolve => setTimeout(resolve, CLOSE_WAIT_MS).unref()),
        ]);
      })());
    },
  };
}
