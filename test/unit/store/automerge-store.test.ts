import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../src/agent/logger.ts';
import { createAutomergeStore } from '../../../src/agent/store/automerge-store.ts';
import { runObjectStoreContract } from './object-store-contract.ts';

runObjectStoreContract('automerge', async (opts) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'mesh-store-'));
  return {
    store: createAutomergeStore({ dataDir, agentId: 'agent-a', logger: silentLogger(), historyLimit: opts?.historyLimit }),
    async cleanup() {
      await rm(dataDir, { recursive: true, force: true });
    },
  };
});
