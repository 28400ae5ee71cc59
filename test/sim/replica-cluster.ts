// N real Automerge stores (in-memory SQLite), each with a replicator, on one
// simulated network. Shared by the replication simulations and the benchmark.

import { silentLogger } from '../../src/agent/logger.ts';
import { createAutomergeStore, type AutomergeObjectStore } from '../../src/agent/store/automerge-store.ts';
import type { Authorize } from '../../src/agent/store/replication-seam.ts';
import { createReplicator, type Replicator } from '../../src/agent/store/replicator.ts';
import { createSimNetwork, type Faults, type SimNetwork } from '../support/sim-transport.ts';
import type { Random } from '../support/seeded-random.ts';

export interface Replica {
  id: string;
  store: AutomergeObjectStore;
  replicator: Replicator;
}

export interface Cluster {
  net: SimNetwork;
  replicas: Replica[];
  add(id: string, skewMs?: number): Promise<Replica>;
  stop(): Promise<void>;
}

export const T0 = Date.UTC(2025, 0, 1);

export async function createCluster(opts: {
  ids: string[];
  random: Random;
  faults?: Partial<Faults>;
  authorize?: Authorize;
  /** Per-replica clock skew, ms. */
  skew?: (id: string) => number;
  seedTag?: string;
}): Promise<Cluster> {
  const net = createSimNetwork(opts.random, opts.faults);
  const replicas: Replica[] = [];
  async function add(id: string, skewMs = opts.skew?.(id) ?? 0): Promise<Replica> {
    const store = createAutomergeStore({
      dataDir: '',
      inMemory: true,
      databaseId: `${opts.seedTag ?? 'sim'}/${id}`,
      agentId: id,
      logger: silentLogger(),
      now: () => T0 + Math.floor(net.now()) + skewMs,
    });
    await store.start();
    const replicator = createReplicator({
      store,
      transport: net.join(id),
      logger: silentLogger(),
      authorize: opts.authorize,
      antiEntropyIntervalMs: 0,
      requestTimeoutMs: 500,
      random: opts.random,
    });
    replicator.start();
    const r = { id, store, replicator };
    replicas.push(r);
    return r;
  }
  for (const id of opts.ids) await add(id);
  return {
    net,
    replicas,
    add,
    async stop() {
      for (const r of replicas) {
        await r.replicator.stop();
        await r.store.stop();
      }
    },
  };
}

/** Everything a replica serves plus its incarnation index, resourceVersions aside, in a stable order. */
export function snapshot(store: AutomergeObjectStore, resources: string[]): { objects: string[]; incarnations: string[] } {
  const objects: string[] = [];
  for (const r of resources) {
    for (const o of store.list(r).items) {
      const c = structuredClone(o);
      delete c.metadata.resourceVersion;
      objects.push(canonical(c));
    }
  }
  objects.sort();
  const incarnations = [...store.incarnations()].map((i) => `${i.uid} ${i.live ? 'live' : 'tomb'} ${i.heads.join(',')}`).sort();
  return { objects, incarnations };
}

/** JSON with sorted keys: key order is not part of an object's state. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** Anti-entropy rounds between every ordered pair until all replicas hold the same state. */
export async function converge(c: Cluster, resources: string[], maxRounds = 6): Promise<number> {
  for (let round = 1; round <= maxRounds; round++) {
    await c.net.run();
    for (const a of c.replicas) {
      for (const b of c.replicas) {
        if (a === b) continue;
        await c.net.run(a.replicator.syncWith(b.id).catch(() => undefined));
      }
    }
    await c.net.run();
    const first = JSON.stringify(snapshot(c.replicas[0].store, resources));
    if (c.replicas.every((r) => JSON.stringify(snapshot(r.store, resources)) === first)) return round;
  }
  return -1;
}
