// Registers this agent's Node object and keeps its Ready condition fresh with a
// heartbeat, as the kubelet's node status manager does.
import { arch, cpus, hostname, platform, release, totalmem } from 'node:os';
import { readFileSync, statfsSync } from 'node:fs';
import type { ObjectClient } from '../api/object-client.ts';
import type { KubeObject } from '../api/object-types.ts';
import { NotFound } from '../api/errors.ts';
import type { Logger } from '../logger.ts';
import { MESH_VERSION } from '../version.ts';
import type { RuntimeInfo } from './container-runtime.ts';
import { detectNodeAddress } from './node-address.ts';
import { countNvidiaGpus } from './gpu-detect.ts';
import type { Taint } from './taints.ts';
import { computeAllocatable, type ReservedResources } from './node-allocatable.ts';

export interface NodeStatusOptions {
  nodeName: string;
  client: ObjectClient;
  runtimeInfo: RuntimeInfo;
  /** Extra labels (`--node-labels`). */
  labels?: Record<string, string>;
  /** Taints the Node is registered with (`--register-with-taints`). */
  taints?: Taint[];
  /** GPUs to report as `nvidia.com/gpu`; detected from /dev when absent. */
  gpus?: number;
  /** Annotations this agent keeps on its Node (e.g. where its API answers). */
  annotations?: Record<string, string>;
  logger: Logger;
  nodeAddress?: string;
  heartbeatMs?: number;
  /** Subtracted from capacity for allocatable (--system-reserved, --kube-reserved, --eviction-hard). */
  reserved?: ReservedResources;
  /** The MemoryPressure condition, from the eviction manager. */
  memoryPressure?: () => boolean;
}

export interface NodeStatusReporter {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Writes the status now (the heartbeat calls this). */
  heartbeat(): Promise<void>;
}

interface NodeCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  lastHeartbeatTime: string;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

const GO_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' };

function osImage(): string {
  try {
    const text = readFileSync('/etc/os-release', 'utf8');
    const m = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(text);
    if (m) return m[1];
  } catch {
    // fall through
  }
  return `${platform()} ${release()}`;
}

function ephemeralStorageBytes(path: string | undefined): number {
  for (const p of [path, '/']) {
    if (!p) continue;
    try {
      const s = statfsSync(p);
      return s.blocks * s.bsize;
    } catch {
      // try the next candidate
    }
  }
  return 0;
}

export function createNodeStatus(opts: NodeStatusOptions): NodeStatusReporter {
  const log = opts.logger.child({ component: 'node-status', node: opts.nodeName });
  const address = opts.nodeAddress ?? detectNodeAddress();
  const heartbeatMs = opts.heartbeatMs ?? 5000;
  const goArch = GO_ARCH[arch()] ?? arch();
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> | undefined;
  const annotations = opts.annotations ?? {};

  const labels = {
    'kubernetes.io/hostname': opts.nodeName,
    'kubernetes.io/os': platform(),
    'kubernetes.io/arch': goArch,
    'beta.kubernetes.io/os': platform(),
    'beta.kubernetes.io/arch': goArch,
    ...(opts.labels ?? {}),
  };

  const gpus = opts.gpus ?? countNvidiaGpus();

  function resources(): Record<string, string> {
    return {
      cpu: String(cpus().length),
      memory: `${Math.floor(totalmem() / 1024)}Ki`,
      'ephemeral-storage': `${Math.floor(ephemeralStorageBytes(opts.runtimeInfo.dataRoot) / 1024)}Ki`,
      pods: '110',
      ...(gpus > 0 ? { 'nvidia.com/gpu': String(gpus) } : {}),
    };
  }

  function conditions(prev: NodeCondition[] | undefined, now: string): NodeCondition[] {
    const want: Omit<NodeCondition, 'lastHeartbeatTime' | 'lastTransitionTime'>[] = [
      opts.memoryPressure?.()
        ? { type: 'MemoryPressure', status: 'True', reason: 'KubeletHasInsufficientMemory', message: 'kubelet has insufficient memory available' }
        : { type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory', message: 'kubelet has sufficient memory available' },
      { type: 'DiskPressure', status: 'False', reason: 'KubeletHasNoDiskPressure', message: 'kubelet has no disk pressure' },
      { type: 'PIDPressure', status: 'False', reason: 'KubeletHasSufficientPID', message: 'kubelet has sufficient PID available' },
      { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' },
    ];
    return want.map((c) => {
      const old = prev?.find((p) => p.type === c.type);
      return {
        ...c,
        lastHeartbeatTime: now,
        lastTransitionTime: old && old.status === c.status ? old.lastTransitionTime : now,
      };
    });
  }

  function status(prev: { conditions?: NodeCondition[] } | undefined): Record<string, unknown> {
    const capacity = resources();
    return {
      capacity,
      allocatable: computeAllocatable(capacity, opts.reserved ?? {}),
      conditions: conditions(prev?.conditions, new Date().toISOString()),
      addresses: [
        { type: 'InternalIP', address },
        { type: 'Hostname', address: opts.nodeName || hostname() },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: '',
        systemUUID: '',
        bootID: '',
        kernelVersion: release(),
        osImage: osImage(),
        containerRuntimeVersion: `${opts.runtimeInfo.name}://${opts.runtimeInfo.version}`,
        kubeletVersion: MESH_VERSION.gitVersion,
        kubeProxyVersion: MESH_VERSION.gitVersion,
        operatingSystem: platform(),
        architecture: goArch,
      },
    };
  }

  async function register(): Promise<void> {
    const existing = opts.client.get<KubeObject>('nodes', '', opts.nodeName);
    if (!existing) {
      await opts.client.create<KubeObject>('nodes', {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: opts.nodeName, labels, annotations },
        // Like the kubelet, taints are applied when the Node registers; later
        // changes are the users' (kubectl taint).
        spec: opts.taints?.length ? { taints: opts.taints } : {},
        status: status(undefined),
      });
    } else if (
      Object.entries(labels).some(([k, v]) => existing.metadata.labels?.[k] !== v) ||
      Object.entries(annotations).some(([k, v]) => existing.metadata.annotations?.[k] !== v)
    ) {
      await opts.client.update<KubeObject>('nodes', {
        ...existing,
        metadata: {
          ...existing.metadata,
          labels: { ...(existing.metadata.labels ?? {}), ...labels },
          annotations: { ...(existing.metadata.annotations ?? {}), ...annotations },
        },
      });
    }
  }

  async function heartbeat(): Promise<void> {
    let node = opts.client.get<KubeObject>('nodes', '', opts.nodeName);
    if (!node) {
      // Deleted under us (e.g. by node-lifecycle): register again.
      await register();
      node = opts.client.get<KubeObject>('nodes', '', opts.nodeName);
      if (!node) throw new NotFound(`nodes "${opts.nodeName}" not found`);
    }
    await opts.client.updateStatus<KubeObject>('nodes', { ...node, status: status(node.status as { conditions?: NodeCondition[] }) });
  }

  function tick(): void {
    if (inFlight) return;
    inFlight = heartbeat()
      .catch((err) => {
        if (!(err instanceof NotFound)) log.warn({ err }, 'node heartbeat failed');
      })
      .finally(() => {
        inFlight = undefined;
      });
  }

  return {
    heartbeat,
    async start() {
      await register();
      await heartbeat();
      timer = setInterval(tick, heartbeatMs);
      log.info({ address }, 'node registered');
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await inFlight;
    },
  };
}
