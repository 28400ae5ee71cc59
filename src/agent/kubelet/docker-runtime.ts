// ContainerRuntime on Docker Engine through dockerode (API 1.41).
import { writeFile } from 'node:fs/promises';
import Docker from 'dockerode';
import { PassThrough, type Readable } from 'node:stream';
import type { Logger } from '../logger.ts';
import type {
  ContainerCreateSpec,
  ContainerDnsConfig,
  ContainerEvent,
  ContainerInfo,
  ContainerLogOptions,
  ContainerMount,
  ContainerRuntime,
  ContainerStateName,
  RuntimeInfo,
} from './container-runtime.ts';
import { ExecTimeoutError } from './container-runtime.ts';
import { detectStorageQuota } from './storage-quota.ts';
import { toContainerStats, type DockerStatsDoc } from './docker-stats.ts';

export interface DockerRuntimeOptions {
  socketPath?: string;
  logger: Logger;
}

const ZERO_TIME = '0001-01-01T00:00:00Z';

function statusCode(err: unknown): number | undefined {
  return (err as { statusCode?: number } | null)?.statusCode;
}

function errorText(err: unknown): string {
  const e = err as { json?: { message?: string }; message?: string };
  return e?.json?.message ?? e?.message ?? String(err);
}

function mapState(status: string | undefined): ContainerStateName {
  if (status === 'running' || status === 'paused' || status === 'restarting') return 'running';
  if (status === 'exited' || status === 'dead') return 'exited';
  if (status === 'created') return 'created';
  return 'unknown';
}

function realTime(t: string | undefined): string | undefined {
  return t && !t.startsWith('0001-') && t !== ZERO_TIME ? t : undefined;
}

/** resolv.conf text for these settings. */
export function renderResolvConf(dns: ContainerDnsConfig): string {
  const lines = dns.nameservers.map((n) => `nameserver ${n}`);
  if (dns.searches.length) lines.push(`search ${dns.searches.join(' ')}`);
  if (dns.options.length) lines.push(`options ${dns.options.join(' ')}`);
  return lines.join('\n') + '\n';
}

function mountsOf(mounts: { Type?: string; Source?: string; Destination?: string; RW?: boolean }[] | undefined): ContainerMount[] | undefined {
  const binds = (mounts ?? []).filter((m) => m.Type === 'bind');
  return binds.length ? binds.map((m) => ({ hostPath: m.Source ?? '', containerPath: m.Destination ?? '', readOnly: m.RW === false })) : undefined;
}

function dnsOf(hc: { Dns?: string[] | null; DnsSearch?: string[] | null; DnsOptions?: string[] | null } | undefined): ContainerDnsConfig | undefined {
  const dns = { nameservers: hc?.Dns ?? [], searches: hc?.DnsSearch ?? [], options: hc?.DnsOptions ?? [] };
  return dns.nameservers.length || dns.searches.length || dns.options.length ? dns : undefined;
}

/**
 * Splits Docker's multiplexed (non-TTY) log format: frames of an 8-byte header
 * (stream type, 3 zero bytes, big-endian length) followed by the payload.
 */
export function createDemuxer(): PassThrough & { feed(chunk: Buffer): void } {
  const out = new PassThrough() as PassThrough & { feed(chunk: Buffer): void };
  let pending: Buffer = Buffer.alloc(0);
  out.feed = (chunk: Buffer) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (pending.length >= 8) {
      const size = pending.readUInt32BE(4);
      if (pending.length < 8 + size) break;
      out.write(pending.subarray(8, 8 + size));
      pending = pending.subarray(8 + size);
    }
  };
  return out;
}

export function createDockerRuntime(opts: DockerRuntimeOptions): ContainerRuntime {
  const docker = new Docker({ socketPath: opts.socketPath ?? '/var/run/docker.sock', version: 'v1.41' });
  const log = opts.logger.child({ component: 'docker-runtime' });
  const handlers = new Set<(e: ContainerEvent) => void>();
  let eventStream: (NodeJS.ReadableStream & { destroy?: () => void }) | undefined;
  let closed = false;
  let reconnectTimer: NodeJS.Timeout | undefined;

  function toInfo(c: Docker.ContainerInspectInfo): ContainerInfo {
    const networks = (c.NetworkSettings?.Networks ?? {}) as Record<string, { IPAddress?: string }>;
    const ipAddresses: Record<string, string> = {};
    for (const [name, n] of Object.entries(networks)) if (n.IPAddress) ipAddresses[name] = n.IPAddress;
    // A process that could not be started leaves its container "created" with an
    // error: for a pod that is an exit (ContainerCannotRun), restarted by policy.
    const cannotRun = mapState(c.State?.Status) === 'created' && Boolean(c.State?.Error);
    const state = cannotRun ? 'exited' : mapState(c.State?.Status);
    const mounts = mountsOf(c.Mounts);
    return {
      id: c.Id,
      name: c.Name.replace(/^\//, ''),
      image: c.Config?.Image ?? '',
      imageID: c.Image,
      labels: c.Config?.Labels ?? {},
      state,
      exitCode: state === 'exited' ? c.State.ExitCode || (cannotRun ? 128 : 0) : undefined,
      oomKilled: Boolean(c.State?.OOMKilled),
      error: c.State?.Error || undefined,
      createdAt: c.Created,
      startedAt: realTime(c.State?.StartedAt),
      finishedAt: state === 'exited' ? (realTime(c.State?.FinishedAt) ?? (cannotRun ? c.Created : undefined)) : undefined,
      ipAddresses,
      tty: Boolean(c.Config?.Tty),
      dns: dnsOf(c.HostConfig),
      ...(mounts ? { mounts } : {}),
    };
  }

  async function inspect(id: string): Promise<ContainerInfo | undefined> {
    try {
      return toInfo(await docker.getContainer(id).inspect());
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw err;
    }
  }

  function connectEvents(): void {
    if (closed || handlers.size === 0 || eventStream) return;
    docker
      .getEvents({ filters: { type: ['container'], event: ['start', 'die'] } })
      .then((stream) => {
        if (closed) {
          (stream as unknown as Readable).destroy();
          return;
        }
        eventStream = stream;
        let buf = '';
        stream.on('data', (chunk: Buffer) => {
          buf += chunk.toString('utf8');
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (!line) continue;
            try {
              const ev = JSON.parse(line) as { Action?: string; id?: string; Actor?: { ID?: string; Attributes?: Record<string, string> } };
              if (ev.Action !== 'start' && ev.Action !== 'die') continue;
              const event: ContainerEvent = { type: ev.Action, id: ev.Actor?.ID ?? ev.id ?? '', labels: ev.Actor?.Attributes ?? {} };
              for (const h of handlers) h(event);
            } catch (err) {
              log.warn({ err }, 'unparseable docker event');
            }
          }
        });
        const again = () => {
          eventStream = undefined;
          if (!closed) reconnectTimer = setTimeout(connectEvents, 1000);
        };
        stream.on('end', again);
        stream.on('error', again);
      })
      .catch((err) => {
        log.warn({ err }, 'docker events unavailable; retrying');
        if (!closed) reconnectTimer = setTimeout(connectEvents, 1000);
      });
  }

  /**
   * On a user-defined network Docker writes its embedded resolver (127.0.0.11)
   * into resolv.conf, forwarding to the servers it was given. Pods should see the
   * cluster DNS itself, so the file is rewritten once the container runs, as
   * Kubernetes' dockershim did; containers that join this one's network share it.
   */
  // Containers made with DNS settings on a user-defined network: only they need pinResolvConf.
  const needsResolvConf = new Set<string>();
  const onUserNetwork = (mode: string | undefined) => mode !== undefined && !['default', 'bridge', 'host', 'none'].includes(mode) && !mode.startsWith('container:');

  async function pinResolvConf(id: string): Promise<void> {
    if (!needsResolvConf.delete(id)) return;
    let c: Awaited<ReturnType<ReturnType<typeof docker.getContainer>['inspect']>>;
    try {
      c = await docker.getContainer(id).inspect();
    } catch {
      return;
    }
    const dns = dnsOf(c.HostConfig);
    if (!dns || !c.ResolvConfPath) return;
    try {
      await writeFile(c.ResolvConfPath, renderResolvConf(dns));
    } catch (err) {
      // A Docker whose files this agent cannot reach: its embedded resolver still forwards to the cluster DNS.
      log.warn({ err, container: id }, 'could not point the container resolv.conf at the cluster DNS');
    }
  }

  return {
    async info(): Promise<RuntimeInfo> {
      const [version, info] = await Promise.all([docker.version(), docker.info() as Promise<Parameters<typeof detectStorageQuota>[0]>]);
      return { name: 'docker', version: version.Version, dataRoot: info.DockerRootDir, storageQuota: detectStorageQuota(info) };
    },

    async createContainer(spec: ContainerCreateSpec): Promise<string> {
      const container = await docker.createContainer({
        name: spec.name,
        Image: spec.image,
        Entrypoint: spec.entrypoint,
        Cmd: spec.cmd,
        Env: spec.env,
        WorkingDir: spec.workingDir,
        Labels: spec.labels,
        Hostname: spec.hostname,
        Tty: spec.tty ?? false,
        OpenStdin: spec.stdin ?? false,
        HostConfig: {
          NetworkMode: spec.networkMode,
          Memory: spec.memoryBytes,
          NanoCpus: spec.nanoCpus,
          MemorySwap: spec.memorySwapBytes,
          CpuShares: spec.cpuShares,
          CpuQuota: spec.cpuQuota,
          CpuPeriod: spec.cpuPeriod,
          ...(spec.storageSizeBytes ? { StorageOpt: { size: String(spec.storageSizeBytes) } } : {}),
          // Mounts, not Binds: a missing source is an error instead of a directory Docker creates as root.
          ...(spec.mounts?.length
            ? { Mounts: spec.mounts.map((m) => ({ Type: 'bind' as const, Source: m.hostPath, Target: m.containerPath, ReadOnly: m.readOnly })) }
            : {}),
          ...(spec.dns ? { Dns: spec.dns.nameservers, DnsSearch: spec.dns.searches, DnsOptions: spec.dns.options } : {}),
          ...(spec.deviceRequests?.length
            ? {
                DeviceRequests: spec.deviceRequests.map((d) => ({
                  Driver: d.driver,
                  Count: d.count,
                  DeviceIDs: d.deviceIDs,
                  Capabilities: d.capabilities,
                })),
              }
            : {}),
        },
      });
      if (spec.dns && onUserNetwork(spec.networkMode)) needsResolvConf.add(container.id);
      return container.id;
    },

    async startContainer(id) {
      try {
        await docker.getContainer(id).start();
      } catch (err) {
        if (statusCode(err) === 304) return;
        throw new Error(errorText(err));
      }
      await pinResolvConf(id);
    },

    async stopContainer(id, timeoutSeconds) {
      try {
        await docker.getContainer(id).stop({ t: Math.max(0, Math.floor(timeoutSeconds)) });
      } catch (err) {
        const code = statusCode(err);
        if (code === 304 || code === 404) return;
        throw err;
      }
    },

    async removeContainer(id) {
      needsResolvConf.delete(id);
      try {
        await docker.getContainer(id).remove({ force: true });
      } catch (err) {
        const code = statusCode(err);
        // 409: removal already in progress.
        if (code === 404 || code === 409) return;
        throw err;
      }
    },

    inspectContainer: inspect,

    async listContainers(labels) {
      const filters = { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
      const summaries = await docker.listContainers({ all: true, filters });
      const infos = await Promise.all(summaries.map((s) => inspect(s.Id)));
      return infos.filter((i): i is ContainerInfo => i !== undefined);
    },

    async waitContainer(id) {
      const res = (await docker.getContainer(id).wait()) as { StatusCode: number };
      return res.StatusCode;
    },

    async imageId(ref) {
      try {
        const img = await docker.getImage(ref).inspect();
        return img.Id;
      } catch (err) {
        if (statusCode(err) === 404) return undefined;
        throw err;
      }
    },

    async pullImage(ref) {
      let stream: NodeJS.ReadableStream;
      try {
        stream = await docker.pull(ref);
      } catch (err) {
        throw new Error(errorText(err));
      }
      await new Promise<void>((resolve, reject) => {
        docker.modem.followProgress(stream, (err: Error | null, output: { error?: string }[]) => {
          const failed = err ?? output?.find((o) => o.error);
          if (failed) reject(new Error(err ? errorText(err) : String((failed as { error?: string }).error)));
          else resolve();
        });
      });
    },

    async logs(id, lo: ContainerLogOptions) {
      const container = docker.getContainer(id);
      const info = await inspect(id);
      if (!info) throw new Error(`container ${id} not found`);
      const base = {
        stdout: true,
        stderr: true,
        timestamps: lo.timestamps ?? false,
        tail: lo.tail ?? ('all' as unknown as number),
        since: lo.sinceSeconds ? Math.floor(Date.now() / 1000) - lo.sinceSeconds : 0,
      };
      if (!lo.follow) {
        const buf = await container.logs({ ...base, follow: false });
        const out = createDemuxer();
        if (info.tty) out.end(buf);
        else {
          out.feed(buf);
          out.end();
        }
        return out;
      }
      const raw = (await container.logs({ ...base, follow: true })) as unknown as Readable;
      if (info.tty) return raw;
      const out = createDemuxer();
      raw.on('data', (chunk: Buffer) => out.feed(chunk));
      raw.on('end', () => out.end());
      raw.on('error', (err) => out.destroy(err));
      // The consumer going away must release the HTTP stream to Docker.
      out.on('close', () => raw.destroy());
      return out;
    },

    async exec(id, cmd, timeoutMs) {
      let stream: Readable;
      let execution: Docker.Exec;
      try {
        execution = await docker.getContainer(id).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
        stream = (await execution.start({ hijack: true, stdin: false })) as unknown as Readable;
      } catch (err) {
        throw new Error(errorText(err));
      }
      const out = createDemuxer();
      let output = '';
      out.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
      stream.on('data', (chunk: Buffer) => out.feed(chunk));
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          new Promise<void>((resolve, reject) => {
            stream.on('end', resolve);
            stream.on('close', resolve);
            stream.on('error', reject);
          }),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new ExecTimeoutError(cmd, timeoutMs)), timeoutMs);
          }),
        ]);
      } finally {
        clearTimeout(timer);
        stream.destroy();
      }
      const drained = new Promise<void>((resolve) => out.once('end', resolve));
      out.end();
      await drained;
      // The stream can end a moment before the engine records the exit code.
      for (let i = 0; i < 50; i++) {
        const state = (await execution.inspect()) as { Running?: boolean; ExitCode?: number | null };
        if (!state.Running && state.ExitCode !== null && state.ExitCode !== undefined) return { exitCode: state.ExitCode, output };
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error(`exec of ${JSON.stringify(cmd.join(' '))} reported no exit code`);
    },

    async stats(id) {
      try {
        // one-shot: the counters now, without Docker's second read a second later.
        const doc = (await docker.getContainer(id).stats({ stream: false, 'one-shot': true })) as DockerStatsDoc;
        return toContainerStats(doc, Date.now());
      } catch (err) {
        if (statusCode(err) === 404) return undefined;
        throw err;
      }
    },

    onEvent(handler) {
      handlers.add(handler);
      connectEvents();
      return () => {
        handlers.delete(handler);
      };
    },

    async close() {
      closed = true;
      if (reconnectTimer) clearTimeout(reconnectTimer);
      const s = eventStream as unknown as Readable | undefined;
      eventStream = undefined;
      s?.destroy();
    },
  };
}
