// In-process Raft clusters for the driver tests: real drivers and cores, real
// SQLite storage in a temp directory, the memory network, and a small
// key-value state machine. Everything made here is released by cleanup().
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../src/agent/logger.ts';
import { createMemoryRaftNetwork, type MemoryRaftNetwork } from '../../../src/consensus/memory-raft-transport.ts';
import { createRaftNode, type DriverRaftNode, type RaftNodeOptions } from '../../../src/consensus/raft-driver.ts';
import type { RaftTransport, StateMachine } from '../../../src/consensus/raft-node.ts';
import { createSqliteRaftStorage, type RaftStorage } from '../../../src/consensus/raft-storage.ts';
import type { ConfState, NodeId } from '../../../src/consensus/raft-types.ts';
import { seededRandom } from '../../support/seeded-random.ts';

export const SEED = Number(process.env.SEED ?? Date.now() % 1_000_000);

/** Test timing: 20 ms ticks, elections after 200-400 ms. */
export const TICK_MS = 20;
export const ELECTION_TICKS = 10;

export interface KvMachine extends StateMachine {
  data: Map<string, string>;
  restores: number;
  applies: number;
}

/** Commands are {"k": key, "v": value}; the result is the previous value and the index. */
export function createKvMachine(): KvMachine {
  const m: KvMachine = {
    data: new Map(),
    restores: 0,
    applies: 0,
    apply(command, meta) {
      m.applies++;
      const c = JSON.parse(command) as { k: string; v: string };
      const prev = m.data.get(c.k) ?? null;
      m.data.set(c.k, c.v);
      return { prev, index: meta.index };
    },
    snapshot() {
      return JSON.stringify([...m.data]);
    },
    restore(s) {
      m.restores++;
      m.data = new Map(JSON.parse(s) as [string, string][]);
    },
  };
  return m;
}

export const set = (k: string, v: string) => JSON.stringify({ k, v });

export interface Member {
  id: NodeId;
  node: DriverRaftNode;
  sm: KvMachine;
  storage: RaftStorage;
  transport: RaftTransport;
  initialConf: ConfState;
}

export interface LeadershipEvent {
  seq: number;
  node: NodeId;
  leading: boolean;
  term: number;
}

export interface Cluster {
  net: MemoryRaftNetwork;
  members: Map<NodeId, Member>;
  events: LeadershipEvent[];
  member(id: NodeId): Member;
  /** Creates and starts a member (its database lives at <dir>/<id>.sqlite). */
  add(id: NodeId, initialConf: ConfState, extra?: Partial<RaftNodeOptions>): Promise<Member>;
  /** Stops a member and closes its storage; its database stays. */
  stop(id: NodeId): Promise<void>;
  /** Starts a stopped member again from its database, with a fresh state machine. */
  restart(id: NodeId, extra?: Partial<RaftNodeOptions>): Promise<Member>;
  /** The members that lead with a valid lease right now. */
  leading(): Member[];
  running(): Member[];
  describe(): unknown;
  cleanup(): Promise<void>;
}

export async function createCluster(ids: NodeId[], opts: { voters?: NodeId[]; extra?: Partial<RaftNodeOptions> } = {}): Promise<Cluster> {
  const dir = await mkdtemp(join(tmpdir(), 'mesh-raft-driver-'));
  const rnd = seededRandom(SEED);
  const net = createMemoryRaftNetwork({ random: seededRandom(SEED + 1) });
  const members = new Map<NodeId, Member>();
  const stopped = new Set<NodeId>();
  const events: LeadershipEvent[] = [];
  let seq = 0;

  async function start(id: NodeId, initialConf: ConfState, extra: Partial<RaftNodeOptions>): Promise<Member> {
    const storage = createSqliteRaftStorage({ path: join(dir, `${id}.sqlite`) });
    const sm = createKvMachine();
    const transport = net.transport(id);
    const node = createRaftNode({
      id,
      storage,
      transport,
      stateMachine: sm,
      initialConf,
      logger: silentLogger(),
      tickMs: TICK_MS,
      electionTicks: ELECTION_TICKS,
      random: seededRandom(Math.floor(rnd() * 2 ** 31)),
      ...opts.extra,
      ...extra,
    });
    node.onLeadershipChange((leading, term) => events.push({ seq: ++seq, node: id, leading, term }));
    const m: Member = { id, node, sm, storage, transport, initialConf };
    members.set(id, m);
    stopped.delete(id);
    await node.start();
    return m;
  }

  const cluster: Cluster = {
    net,
    members,
    events,
    member(id) {
      const m = members.get(id);
      if (!m) throw new Error(`no member ${id}`);
      return m;
    },
    add: (id, initialConf, extra = {}) => start(id, initialConf, extra),
    async stop(id) {
      const m = cluster.member(id);
      if (stopped.has(id)) return;
      stopped.add(id);
      await m.node.stop();
      m.storage.close();
    },
    async restart(id, extra = {}) {
      const m = cluster.member(id);
      await cluster.stop(id);
      return start(id, m.initialConf, extra);
    },
    leading: () => cluster.running().filter((m) => m.node.isLeading()),
    running: () => [...members.values()].filter((m) => !stopped.has(m.id)),
    describe: () =>
      [...members.values()].map((m) => {
        const { progress: _p, ...st } = m.node.status();
        return { ...st, stopped: stopped.has(m.id), keys: m.sm.data.size, seed: SEED };
      }),
    async cleanup() {
      for (const id of members.keys()) await cluster.stop(id).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };

  const voters = opts.voters ?? ids;
  for (const id of ids) await start(id, { voters: voters.includes(id) ? [...voters] : [], learners: [] }, {});
  return cluster;
}
