// What the kubelet needs from a container engine. Docker implements it for real
// (docker-runtime.ts), the fake for unit tests (fake-runtime.ts); both run the
// contract suite in test/unit/kubelet/runtime-contract.ts.
import type { Readable } from 'node:stream';

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
  nanoCpus?: number;
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

export interface RuntimeInfo {
  /** `docker`, `fake`: the scheme of containerIDs (`docker://<id>`). */
  name: string;
  version: string;
  /** Where the engine keeps its data (for ephemeral-storage capacity). */
  dataRoot?: string;
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

  /** Container start/die events; returns an unsubscribe function. */
  onEvent(handler: (event: ContainerEvent) => void): () => void;

  /** Releases event streams. */
  close(): Promise<void>;
}
