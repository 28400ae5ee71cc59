// Agent configuration: what `mesh init` / `mesh agent` flags resolve to.
import { hostname } from 'node:os';
import { join } from 'node:path';

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
  /** Docker daemon socket. */
  dockerSocket: string;
  /** Docker network the pod sandboxes join. */
  podNetwork: string;
  logLevel: string;
  /** Where pino writes; undefined = stdout. */
  logFile?: string;
}

export const DEFAULT_DATA_DIR = process.env.MESH_DATA_DIR ?? '/var/lib/mesh';
export const DEFAULT_API_PORT = 6443;

export function defaultConfig(overrides: Partial<AgentConfig> = {}): AgentConfig {
  const dataDir = overrides.dataDir ?? DEFAULT_DATA_DIR;
  return {
    dataDir,
    apiHost: '127.0.0.1',
    apiPort: DEFAULT_API_PORT,
    nodeName: hostname().toLowerCase(),
    nodeLabels: {},
    dockerSocket: process.env.DOCKER_HOST?.replace(/^unix:\/\//, '') ?? '/var/run/docker.sock',
    podNetwork: 'bridge',
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
  };
}
