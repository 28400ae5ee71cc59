// The cluster's network settings, kept in <dataDir>/net/cluster.json so an agent
// restarts into its cluster without the join token: the pre-shared key, the
// cluster's name and the addresses of peers it has known.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { Invalid } from '../agent/api/errors.ts';
import { PSK_LENGTH } from './join-token.ts';

export interface ClusterConfig {
  clusterName: string;
  /** The pre-shared key as 64 hex digits. */
  pskHex: string;
  /** Multiaddrs (with /p2p/<id>) of members this agent has heard of; dialled at start. */
  knownPeers: string[];
  /**
   * The node that founded the cluster: the Raft group's first voter. Every agent
   * starts Raft from {voters: [founder]} and learns later changes from the log.
   */
  founder: string;
  /** Raft voters the group keeps (3 or 5), set at `mesh init --voters`. */
  voters: number;
  /** LoadBalancer IP pool (`10.77.0.200/29` or `10.77.0.200-10.77.0.220`), set at `mesh init --lb-pool`; '' for none. */
  lbPool: string;
}

export const DEFAULT_VOTERS = 3;

const schema = z.object({
  clusterName: z.string().min(1),
  pskHex: z.string().regex(new RegExp(`^[0-9a-f]{${PSK_LENGTH * 2}}$`), 'must be 64 lower-case hex digits'),
  knownPeers: z.array(z.string()),
  founder: z.string().min(1),
  voters: z.union([z.literal(1), z.literal(3), z.literal(5)]).default(DEFAULT_VOTERS),
  lbPool: z.string().default(''),
});

/** Most addresses worth remembering; a restart only needs a few live ones. */
const MAX_KNOWN_PEERS = 64;

export function clusterConfigPath(dataDir: string): string {
  return join(dataDir, 'net', 'cluster.json');
}

export function hasClusterConfig(dataDir: string): boolean {
  return existsSync(clusterConfigPath(dataDir));
}

export async function loadClusterConfig(dataDir: string): Promise<ClusterConfig> {
  const path = clusterConfigPath(dataDir);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new Invalid(`cannot read ${path}: ${(err as Error).message}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Invalid(`${path}: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

export async function saveClusterConfig(dataDir: string, config: ClusterConfig): Promise<void> {
  const path = clusterConfigPath(dataDir);
  await mkdir(join(dataDir, 'net'), { recursive: true, mode: 0o700 });
  const knownPeers = [...new Set(config.knownPeers)].slice(-MAX_KNOWN_PEERS);
  const tmp = `${path}.tmp`;
  // The file holds the network key: owner-only.
  await writeFile(tmp, JSON.stringify({ ...config, knownPeers }, null, 2) + '\n', { mode: 0o600 });
  await rename(tmp, path);
}

/** Merges addresses into knownPeers (newest last). */
export async function rememberPeers(dataDir: string, addrs: string[]): Promise<void> {
  const config = await loadClusterConfig(dataDir);
  const merged = [...config.knownPeers.filter((a) => !addrs.includes(a)), ...addrs];
  if (merged.length === config.knownPeers.length && merged.every((a, i) => a === config.knownPeers[i])) return;
  await saveClusterConfig(dataDir, { ...config, knownPeers: merged });
}

export function pskFromConfig(config: ClusterConfig): Uint8Array {
  return new Uint8Array(Buffer.from(config.pskHex, 'hex'));
}
