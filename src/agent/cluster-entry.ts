// How an agent enters its cluster at start: found one (init), join one through
// a member with a token (join), or come back as the member its data directory
// says it is (agent). Leaves the cluster config and the PKI files in place.
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentConfig } from './config.ts';
import type { Logger } from './logger.ts';
import { BadRequest } from './api/errors.ts';
import { hasClusterConfig, loadClusterConfig, type ClusterConfig } from '../net/cluster-config.ts';
import { clusterToken, initCluster, joinCluster } from '../net/join.ts';

export interface ClusterEntry {
  cluster: ClusterConfig;
  /** The token that admits more machines (every member can hand it out). */
  token: string;
}

/** Written by `mesh leave`, so a later `mesh agent` does not quietly found a new cluster. */
export function leftMarkerPath(dataDir: string): string {
  return join(dataDir, 'net', 'left');
}

export async function enterCluster(config: AgentConfig, logger: Logger): Promise<ClusterEntry> {
  const { dataDir } = config;
  const member = hasClusterConfig(dataDir);
  switch (config.membership.mode) {
    case 'init':
      if (!member) logger.info({ dataDir }, 'founding a new cluster');
      await rm(leftMarkerPath(dataDir), { force: true });
      await initCluster(dataDir, { founder: config.nodeName, voters: config.voters, lbPool: config.lbPool });
      break;
    case 'join':
      if (member) {
        // Running the same `mesh join` again restarts the member it already is.
        logger.info({ dataDir }, 'already a member of a cluster: rejoining from the data directory');
      } else {
        await joinCluster({
          dataDir,
          token: config.membership.token,
          address: config.membership.address,
          nodeName: config.nodeName,
          logger,
        });
      }
      await rm(leftMarkerPath(dataDir), { force: true });
      break;
    case 'agent':
      if (existsSync(leftMarkerPath(dataDir))) {
        throw new BadRequest(
          `this machine left its cluster ("mesh leave"); run "mesh join <address> --token <token>" to join one, or "mesh init" to found a new one`,
        );
      }
      if (!member) await initCluster(dataDir, { founder: config.nodeName, voters: config.voters, lbPool: config.lbPool });
      break;
  }
  return { cluster: await loadClusterConfig(dataDir), token: await clusterToken(dataDir) };
}

export async function markLeft(dataDir: string): Promise<void> {
  await writeFile(leftMarkerPath(dataDir), `${new Date().toISOString()}\n`);
}
