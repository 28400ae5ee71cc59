// Agent configuration: what `mesh init` / `mesh agent` flags resolve to.
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Taint } from './kubelet/taints.ts';
import type { EvictionHard } from './kubelet/resource-flags.ts';

export interface AgentConfig {
  /** Where the store, PKI and kubeconfig live. */
  dataDir: string;
  /** Address the HTTPS API listens on. */
  apiHost: string;
  apiPort: number;
  /** This agent's Node name. */
  nodeName: string;
  /** Extra labels for this node (`--node-labels k=v,...`). */
  nodeLabels: Record<string, string>;
  /** Taints the Node registers with (`--register-with-taints k=v:Effect,...`). */
  registerTaints: Taint[];
  /** Address the peer-to-peer (libp2p) listener binds and announces. */
  listenAddress: string;
  /** libp2p TCP port; 0 picks a free one. */
  p2pPort: number;
  /**
   * How this agent enters a cluster: found a new one (`init`), join one through
   * a member's address with a token (`join`), or restart as the member its data
   * directory says it is (`agent`; founds a cluster when the directory is new).
   */
  membership: { mode: 'init' } | { mode: 'agent' } | { mode: 'join'; address: string; token: string };
  /** Docker daemon socket. */
  dockerSocket: string;
  /**
   * Docker network the pod sandboxes join: `mesh` (the default) is the managed
   * pod network (a bridge on this node's pod CIDR, routes to the other nodes'); any
   * other name is used as it is (no routes, no CIDR).
   */
  podNetwork: string;
  /** Service routing: `iptables` (default) programs this node's rules; `none` leaves them to someone else. */
  proxyMode: 'iptables' | 'none';
  /** Cluster DNS for this node's pods: `on` (default) or `none`. */
  clusterDns: 'on' | 'none';
  logLevel: string;
  /** Kept back from allocatable for the OS (`--system-reserved cpu=500m,memory=1Gi`). */
  systemReserved?: Record<string, string>;
  /** Kept back from allocatable for Mesh itself (`--kube-reserved cpu=500m,memory=1Gi`). */
  kubeReserved?: Record<string, string>;
  /** Hard eviction threshold (`--eviction-hard memory.available<100Mi`); default memory.available<100Mi. */
  evictionHard?: EvictionHard;
  /** Time between usage samples for `kubectl top` (`--metrics-interval`); default 10 s. */
  metricsIntervalMs?: number;
  /** Where pino writes; undefined = stdout. */
  logFile?: string;
  /** Raft voters of a new cluster (`mesh init --voters 3|5`); later agents take the cluster's. */
  voters?: number;
  /** LoadBalancer IP pool of a new cluster (`mesh init --lb-pool`). */
  lbPool?: string;
  /** Pods on a node unreachable this long are deleted so their controllers replace them (`--pod-eviction-timeout`); default 5 s. */
  podEvictionGraceMs?: number;
  /** A voter down this long is replaced by a healthy agent (`--voter-down-timeout`); default 30 s. */
  voterDownTimeoutMs?: number;
}

/** The --pod-network value that means Mesh's own pod network. */
export const MANAGED_POD_NETWORK = 'mesh';
export const DEFAULT_DATA_DIR = process.env.MESH_DATA_DIR ?? '/var/lib/mesh';
export const DEFAULT_API_PORT = 6443;
export const DEFAULT_P2P_PORT = 7946;

export function defaultConfig(overrides: Partial<AgentConfig> = {}): AgentConfig {
  const dataDir = overrides.dataDir ?? DEFAULT_DATA_DIR;
  return {
    dataDir,
    apiHost: '127.0.0.1',
    apiPort: DEFAULT_API_PORT,
    nodeName: hostname().toLowerCase(),
    nodeLabels: {},
    registerTaints: [],
    listenAddress: '127.0.0.1',
    p2pPort: DEFAULT_P2P_PORT,
    membership: { mode: 'agent' },
    dockerSocket: process.env.DOCKER_HOST?.replace(/^unix:\/\//, '') ?? '/var/run/docker.sock',
    podNetwork: MANAGED_POD_NETWORK,
    proxyMode: 'iptables',
    clusterDns: 'on',
    logLevel: process.env.MESH_LOG_LEVEL ?? 'info',
    ...overrides,
  };
}

/** Files an agent keeps in its data directory. */
export function dataPaths(dataDir: string) {
  return {
    pki: join(dataDir, 'pki'),
    store: join(dataDir, 'store'),
    adminKubeconfig: join(dataDir, 'admin.kubeconfig'),
    log: join(dataDir, 'agent.log'),
    pid: join(dataDir, 'agent.pid'),
    joinToken: join(dataDir, 'join-token'),
  };
}
