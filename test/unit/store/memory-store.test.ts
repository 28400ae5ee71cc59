import { createMemoryStore } from '../../../src/agent/store/memory-store.ts';
import { runObjectStoreContract } from './object-store-contract.ts';

runObjectStoreContract('memory', async (opts) => ({
  store: createMemoryStore({ historyLimit: opts?.historyLimit }),
  async cleanup() {},
}));
