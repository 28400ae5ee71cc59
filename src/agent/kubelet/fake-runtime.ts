// An in-memory ContainerRuntime for unit tests. Containers do nothing by
// themselves: a test scripts what each one does (exit code, delay, log lines,
// whether it traps SIGTERM) through behave(), or ends it with exit().
import { existsSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import type {
  ContainerCreateSpec,
  ContainerEvent,
  ContainerInfo,
  ContainerLogOptions,
  ContainerRuntime,
  RuntimeInfo,
} from './container-runtime.ts';
import { ExecTimeoutError } from './container-runtime.ts';

export interface FakeBehaviour {
  /** Lines the container writes when it starts. */
  logs?: string[];
  /** Exits by itself this long after start (with exitCode, default 0). */
  exitAfterMs?: number;
  exitCode?: number;
  oomKilled?: boolean;
  /** SIGTERM is ignored, so stop waits the full timeout and then kills (137). */
  ignoreSigterm?: boolean;
  /** start() fails with this message. */
  startError?: string;
  /** What stats() reports while running: CPU grows at cpuNanoCores from start. */
  usage?: { cpuNanoCores: number; memoryWorkingSetBytes: number };
}

interface LogLine {
  at: number;
  text: string;
}

interface FakeContainer {
  spec: ContainerCreateSpec;
  info: ContainerInfo;
  behaviour: FakeBehaviour;
  log: LogLine[];
  followers: Set<PassThrough>;
  waiters: ((code: number) => void)[];
  exitTimer?: NodeJS.Timeout;
}

export interface FakeRuntimeCall {
  op: 'create' | 'start' | 'stop' | 'remove' | 'pull' | 'exec';
  id: string;
  timeoutSeconds?: number;
  /** The command, for exec. */
  cmd?: string[];
}

/** What a scripted exec does: its result, after delayMs (a timeout when longer than the exec's). */
export interface FakeExecResult {
  exitCode: number;
  output?: string;
  delayMs?: number;
}

export interface FakeRuntime extends ContainerRuntime {
  addImage(ref: string): void;
  /** Makes pullImage(ref) succeed (adding the image); otherwise pulls fail with pullError. */
  allowPull(ref: string): void;
  pullError: string;
  /** Decides the behaviour of each created container; undefined means run forever. */
  behave(fn: (spec: ContainerCreateSpec) => FakeBehaviour | undefined): void;
  /** Decides what exec(cmd) in a container does; the default exits 0 with no output. */
  onExec(fn: (container: ContainerInfo, cmd: string[]) => FakeExecResult | undefined): void;
  /** Ends a running container. */
  exit(id: string, exitCode: number, opts?: { oomKilled?: boolean }): void;
  writeLog(id: string, text: string): void;
  /** Every create/start/stop/remove/pull, in order. */
  readonly calls: FakeRuntimeCall[];
  /** Snapshot of all containers. */
  all(): ContainerInfo[];
  /** The spec a container was created with. */
  specOf(id: string): ContainerCreateSpec | undefined;
}

function formatTs(ms: number): string {
  // RFC3339 with nanoseconds, as Docker prints it.
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
}

export function createFakeRuntime(): FakeRuntime {
  const containers = new Map<string, FakeContainer>();
  const images = new Map<string, string>();
  const pullable = new Set<string>();
  const handlers = new Set<(e: ContainerEvent) => void>();
  const calls: FakeRuntimeCall[] = [];
  let behaviourFn: (spec: ContainerCreateSpec) => FakeBehaviour | undefined = () => undefined;
  let execFn: (container: ContainerInfo, cmd: string[]) => FakeExecResult | undefined = () => undefined;
  let nextId = 1;
  let nextIp = 2;

  function emit(type: ContainerEvent['type'], c: FakeContainer): void {
    const event = { type, id: c.info.id, labels: { ...c.info.labels } };
    // Asynchronous like a real engine's event stream.
    queueMicrotask(() => {
      for (const h of handlers) h(event);
    });
  }

  function get(id: string): FakeContainer | undefined {
    const direct = containers.get(id);
    if (direct) return direct;
    for (const c of containers.values()) if (c.info.name === id || c.info.id.startsWith(id)) return c;
    return undefined;
  }

  function append(c: FakeContainer, text: string): void {
    for (const raw of text.split('\n')) {
      const line = { at: Date.now(), text: raw };
      c.log.push(line);
      for (const f of c.followers) f.write(render(line, f));
    }
  }

  const timestampsOf = new WeakMap<PassThrough, boolean>();
  function render(line: LogLine, stream: PassThrough): string {
    return timestampsOf.get(stream) ? `${formatTs(line.at)} ${line.text}\n` : `${line.text}\n`;
  }

  function finish(c: FakeContainer, exitCode: number, oomKilled = false): void {
    if (c.info.state !== 'running') return;
    if (c.exitTimer) clearTimeout(c.exitTimer);
    c.info = { ...c.info, state: 'exited', exitCode, oomKilled, finishedAt: new Date().toISOString(), ipAddresses: {} };
    for (const f of c.followers) f.end();
    c.followers.clear();
    for (const w of c.waiters.splice(0)) w(exitCode);
    emit('die', c);
  }

  const runtime: FakeRuntime = {
    calls,
    pullError: 'Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host',

    async info(): Promise<RuntimeInfo> {
      return { name: 'fake', version: '0.0.0' };
    },

    async createContainer(spec) {
      if (!images.has(spec.image)) throw new Error(`No such image: ${spec.image}`);
      for (const c of containers.values()) {
        if (c.info.name === spec.name) throw new Error(`Conflict. The container name "/${spec.name}" is already in use`);
      }
      // As Docker: a joined network namespace comes with its owner's resolv.conf.
      if (spec.dns && spec.networkMode?.startsWith('container:')) {
        throw new Error('conflicting options: dns and the network mode');
      }
      // As Docker with Mounts: the source must exist, targets are absolute and unique.
      const targets = new Set<string>();
      for (const m of spec.mounts ?? []) {
        if (!isAbsolute(m.containerPath)) throw new Error(`invalid mount config: mount path must be absolute: ${m.containerPath}`);
        if (targets.has(m.containerPath)) throw new Error(`Duplicate mount point: ${m.containerPath}`);
        targets.add(m.containerPath);
        if (!isAbsolute(m.hostPath) || !existsSync(m.hostPath)) {
          throw new Error(`invalid mount config for type "bind": bind source path does not exist: ${m.hostPath}`);
        }
      }
      const id = `fake${String(nextId++).padStart(12, '0')}`;
      calls.push({ op: 'create', id });
      containers.set(id, {
        spec,
        behaviour: behaviourFn(spec) ?? {},
        log: [],
        followers: new Set(),
        waiters: [],
        info: {
          id,
          name: spec.name,
          image: spec.image,
          imageID: images.get(spec.image)!,
          labels: { ...spec.labels },
          state: 'created',
          oomKilled: false,
          createdAt: new Date().toISOString(),
          ipAddresses: {},
          tty: spec.tty ?? false,
          // Empty settings are no settings, as Docker reports them.
          ...(spec.dns && Object.values(spec.dns).some((v) => v.length) ? { dns: structuredClone(spec.dns) } : {}),
          ...(spec.mounts?.length ? { mounts: structuredClone(spec.mounts) } : {}),
        },
      });
      return id;
    },

    async startContainer(id) {
      const c = get(id);
      if (!c) throw new Error(`No such container: ${id}`);
      calls.push({ op: 'start', id: c.info.id });
      if (c.info.state === 'running') return;
      if (c.behaviour.startError) {
        c.info = { ...c.info, state: 'exited', exitCode: 128, error: c.behaviour.startError };
        throw new Error(c.behaviour.startError);
      }
      const mode = c.spec.networkMode ?? 'bridge';
      const ipAddresses: Record<string, string> = {};
      if (!mode.startsWith('container:') && mode !== 'host' && mode !== 'none') ipAddresses[mode] = `10.244.0.${nextIp++}`;
      c.info = { ...c.info, state: 'running', startedAt: new Date().toISOString(), finishedAt: undefined, exitCode: undefined, ipAddresses };
      emit('start', c);
      if (c.behaviour.logs) append(c, c.behaviour.logs.join('\n'));
      if (c.behaviour.exitAfterMs !== undefined) {
        c.exitTimer = setTimeout(() => finish(c, c.behaviour.exitCode ?? 0, c.behaviour.oomKilled), c.behaviour.exitAfterMs);
      }
    },

    async stopContainer(id, timeoutSeconds) {
      const c = get(id);
      if (!c) return;
      calls.push({ op: 'stop', id: c.info.id, timeoutSeconds });
      if (c.info.state !== 'running') return;
      if (c.behaviour.ignoreSigterm) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, timeoutSeconds * 1000);
          c.waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
        finish(c, 137);
      } else {
        finish(c, 143);
      }
    },

    async removeContainer(id) {
      const c = get(id);
      if (!c) return;
      calls.push({ op: 'remove', id: c.info.id });
      finish(c, 137);
      containers.delete(c.info.id);
    },

    async inspectContainer(id) {
      const c = get(id);
      return c ? structuredClone(c.info) : undefined;
    },

    async listContainers(labels) {
      return [...containers.values()]
        .filter((c) => Object.entries(labels).every(([k, v]) => c.info.labels[k] === v))
        .map((c) => structuredClone(c.info));
    },

    async waitContainer(id) {
      const c = get(id);
      if (!c) throw new Error(`No such container: ${id}`);
      if (c.info.state === 'exited') return c.info.exitCode ?? 0;
      return new Promise((resolve) => c.waiters.push(resolve));
    },

    async imageId(ref) {
      return images.get(ref);
    },

    async pullImage(ref) {
      calls.push({ op: 'pull', id: ref });
      if (!pullable.has(ref)) throw new Error(runtime.pullError);
      runtime.addImage(ref);
    },

    async logs(id, opts: ContainerLogOptions) {
      const c = get(id);
      if (!c) throw new Error(`No such container: ${id}`);
      const out = new PassThrough();
      timestampsOf.set(out, opts.timestamps ?? false);
      let lines = c.log;
      if (opts.sinceSeconds) lines = lines.filter((l) => l.at >= Date.now() - opts.sinceSeconds! * 1000);
      if (opts.tail !== undefined) lines = opts.tail === 0 ? [] : lines.slice(-opts.tail);
      for (const l of lines) out.write(render(l, out));
      if (opts.follow && c.info.state === 'running') {
        c.followers.add(out);
        out.on('close', () => c.followers.delete(out));
      } else {
        out.end();
      }
      return out as Readable;
    },

    async exec(id, cmd, timeoutMs) {
      const c = get(id);
      if (!c) throw new Error(`No such container: ${id}`);
      calls.push({ op: 'exec', id: c.info.id, cmd: [...cmd] });
      if (c.info.state !== 'running') throw new Error(`Container ${c.info.id} is not running`);
      const r = execFn(structuredClone(c.info), cmd) ?? { exitCode: 0 };
      const delay = r.delayMs ?? 0;
      if (delay > timeoutMs) {
        await new Promise((resolve) => setTimeout(resolve, timeoutMs));
        throw new ExecTimeoutError(cmd, timeoutMs);
      }
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      return { exitCode: r.exitCode, output: r.output ?? '' };
    },

    async stats(id) {
      const c = get(id);
      if (!c || c.info.state !== 'running') return undefined;
      const now = Date.now();
      const usage = c.behaviour.usage ?? { cpuNanoCores: 0, memoryWorkingSetBytes: 0 };
      const runningSeconds = Math.max(0, now - Date.parse(c.info.startedAt ?? new Date(now).toISOString())) / 1000;
      return { timestampMs: now, cpuUsageNanoSeconds: Math.round(usage.cpuNanoCores * runningSeconds), memoryWorkingSetBytes: usage.memoryWorkingSetBytes };
    },

    onEvent(handler) {
      handlers.add(handler);
      return () => {
        handlers.delete(handler);
      };
    },

    async close() {
      handlers.clear();
      for (const c of containers.values()) if (c.exitTimer) clearTimeout(c.exitTimer);
    },

    addImage(ref) {
      if (!images.has(ref)) images.set(ref, `sha256:${Buffer.from(ref).toString('hex').padEnd(64, '0').slice(0, 64)}`);
    },
    allowPull(ref) {
      pullable.add(ref);
    },
    behave(fn) {
      behaviourFn = fn;
    },
    onExec(fn) {
      execFn = fn;
    },
    exit(id, exitCode, opts = {}) {
      const c = get(id);
      if (c) finish(c, exitCode, opts.oomKilled);
    },
    writeLog(id, text) {
      const c = get(id);
      if (c) append(c, text);
    },
    specOf(id) {
      const c = get(id);
      return c ? structuredClone(c.spec) : undefined;
    },
    all() {
      return [...containers.values()].map((c) => structuredClone(c.info));
    },
  };
  return runtime;
}
