// What the kubelet needs from a container engine. Docker implements it for real
// (docker-runtime.ts), the fake for unit tests (fake-runtime.ts); both run the
// contract suite in test/unit/kubelet/runtime-contract.ts.
import type { Readable } from 'node:stream';
import type { DeviceRequest } from './container-resources.ts';

export interface ContainerCreateSpec {
  /** Engine-level name; unique per engine. */
  name: string;
  image: string;
  /** Replaces the image's entrypoint when set (Kubernetes `command`). */
  entrypoint?: string[];
  /** Replaces the image's cmd when set (Kubernetes `args`). */
  cmd?: string[];
  /** `NAME=value` entries. */
  env?: string[];
  workingDir?: string;
  labels: Record<string, string>;
  /** A network name, `host`, `none` or `container:<id>`. */
  networkMode?: string;
  /** Only valid when the container owns its network namespace. */
  hostname?: string;
  tty?: boolean;
  stdin?: boolean;
  memoryBytes?: number;
  /** Memory plus swap; equal to memoryBytes means no swap. */
  memorySwapBytes?: number;
  nanoCpus?: number;
  /** Relative CPU weight (from requests.cpu). */
  cpuShares?: number;
  /** CFS quota per cpuPeriod, microseconds (from limits.cpu). */
  cpuQuota?: number;
  cpuPeriod?: number;
  /** Writable-layer size limit; only where RuntimeInfo.storageQuota is true. */
  storageSizeBytes?: number;
  /** Devices such as GPUs (Docker DeviceRequests). */
  deviceRequests?: DeviceRequest[];
  /**
   * The resolv.conf settings; only for a container that owns its network
   * namespace (the pod sandbox): containers joined to it share its resolv.conf.
   */
  dns?: ContainerDnsConfig;
  /** Host paths bound into the container (pod volumes); the kubelet resolves subPaths into hostPath. */
  mounts?: ContainerMount[];
}

/** A bind mount: hostPath must exist (the engine does not create it). */
export interface ContainerMount {
  /** Absolute path on the host (a directory or a file). */
  hostPath: string;
  /** Absolute path inside the container. */
  containerPath: string;
  readOnly: boolean;
}

export interface ContainerDnsConfig {
  nameservers: string[];
  searches: string[];
  /** `ndots:5`, `edns0`. */
  options: string[];
}

export type ContainerStateName = 'created' | 'running' | 'exited' | 'unknown';

export interface ContainerInfo {
  id: string;
  name: string;
  /** The image reference the container was created from. */
  image: string;
  /** The engine's image id (`sha256:...`). */
  imageID: string;
  labels: Record<string, string>;
  state: ContainerStateName;
  exitCode?: number;
  oomKilled: boolean;
  /** Engine error text, e.g. why start failed. */
  error?: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  /** IPv4 address per attached network. */
  ipAddresses: Record<string, string>;
  tty: boolean;
  /** The resolver settings it was created with, when any. */
  dns?: ContainerDnsConfig;
  /** Its bind mounts, when any. */
  mounts?: ContainerMount[];
}

export interface ContainerLogOptions {
  follow?: boolean;
  /** Only the last N lines. */
  tail?: number;
  /** Prefix each line with an RFC3339Nano timestamp and a space. */
  timestamps?: boolean;
  /** Only lines newer than this many seconds. */
  sinceSeconds?: number;
}

export interface ContainerEvent {
  /** `start` or `die`. */
  type: 'start' | 'die';
  id: string;
  labels: Record<string, string>;
}

/** Resource usage counters of one running container (metrics-collector.ts turns two into rates). */
export interface ContainerStats {
  /** When the engine read the counters, ms since the epoch. */
  timestampMs: number;
  /** Cumulative CPU time, nanoseconds. */
  cpuUsageNanoSeconds: number;
  /** Memory usage minus inactive file cache, as the kubelet (cAdvisor) reports it. */
  memoryWorkingSetBytes: number;
}

export interface ExecResult {
  exitCode: number;
  /** stdout and stderr interleaved. */
  output: string;
}

/** An exec that did not finish in time (the command may still be running). */
export class ExecTimeoutError extends Error {
  constructor(cmd: string[], timeoutMs: number) {
    super(`command ${JSON.stringify(cmd.join(' '))} timed out after ${timeoutMs / 1000}s`);
    this.name = 'ExecTimeoutError';
  }
}

export interface RuntimeInfo {
  /** `docker`, `fake`: the scheme of containerIDs (`docker://<id>`). */
  name: string;
  version: string;
  /** Where the engine keeps its data (for ephemeral-storage capacity). */
  dataRoot?: string;
  /** Whether the engine can cap a container's writable layer (ephemeral-storage limits). */
  storageQuota?: boolean;
}

export interface ContainerRuntime {
  info(): Promise<RuntimeInfo>;

  createContainer(spec: ContainerCreateSpec): Promise<string>;
  startContainer(id: string): Promise<void>;
  /** SIGTERM, then SIGKILL after timeoutSeconds. No error when already stopped. */
  stopContainer(id: string, timeoutSeconds: number): Promise<void>;
  /** Removes (killing it if running). No error when already gone. */
  removeContainer(id: string): Promise<void>;
  /** undefined when the container does not exist. */
  inspectContainer(id: string): Promise<ContainerInfo | undefined>;
  /** All containers (running or not) carrying every given label. */
  listContainers(labels: Record<string, string>): Promise<ContainerInfo[]>;
  /** Resolves with the exit code once the container has stopped. */
  waitContainer(id: string): Promise<number>;

  /** The image id when the image is present locally, else undefined. */
  imageId(ref: string): Promise<string | undefined>;
  /** Pulls from the registry; rejects with the registry's message on failure. */
  pullImage(ref: string): Promise<void>;

  /** stdout and stderr interleaved, as plain text lines. */
  logs(id: string, opts: ContainerLogOptions): Promise<Readable>;

  /** Usage counters of a running container; undefined when it is gone or not running. */
  stats(id: string): Promise<ContainerStats | undefined>;

  /**
   * Runs a command inside a running container (probes, lifecycle hooks).
   * Resolves with its exit code and stdout+stderr; rejects when the container
   * is not running, or with ExecTimeoutError once timeoutMs passes.
   */
  exec(id: string, cmd: string[], timeoutMs: number): Promise<ExecResult>;

  /** Container start/die events; returns an unsubscribe function. */
  onEvent(handler: (event: ContainerEvent) => void): () => void;

  /** Releases event streams. */
  close(): Promise<void>;
}
