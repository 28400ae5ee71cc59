// A tiny hand-driven network of Raft cores for the paper tests: nothing moves
// unless the test ticks a node or delivers messages, so each test shows the
// rule it checks. Every node has a "disk" (what its Readies persisted) and a
// state machine (the data of the normal entries it applied), and the network
// checks election safety and state machine safety after every Ready.
import assert from 'node:assert/strict';
import { createRaftCore } from '../../../src/consensus/raft-core.ts';
import type { ConfState, Entry, HardState, Message, NodeId, RaftCore, RaftStart, ReadState, Ready, Snapshot } from '../../../src/consensus/raft-types.ts';
import { seededRandom } from '../../support/seeded-random.ts';

export interface NodeDisk {
  hardState: HardState;
  snapshot?: Snapshot;
  entries: Entry[];
}

export interface TestNode {
  id: NodeId;
  core: RaftCore;
  disk: NodeDisk;
  initialConf: ConfState;
  /** The state machine: the normal entries applied, by index. */
  state: Array<{ index: number; data: string }>;
  appliedIndex: number;
  readStates: ReadState[];
  readies: Ready[];
}

export interface TestNetOptions {
  voters: NodeId[];
  learners?: NodeId[];
  /** Nodes started with the founding configuration but outside it (joiners, outsiders). */
  outsiders?: NodeId[];
  electionTicks?: number;
  heartbeatTicks?: number;
  maxEntriesPerMessage?: number;
  /**
   * Found the group as the driver does: the configuration is written as
   * committed conf entries of term 1 at the head of every founder's log, and
   * initialConf is empty.
   */
  bootstrapInLog?: boolean;
  /** Each node's randomness; default: seeded per node. `() => 0` makes every election timeout exactly electionTicks. */
  random?: (id: NodeId) => () => number;
}

export interface TestNet {
  nodes: Map<NodeId, TestNode>;
  node(id: NodeId): TestNode;
  core(id: NodeId): RaftCore;
  /** Messages produced but not yet delivered. */
  pending: Message[];
  /** Every message ever produced, in order. */
  sent: Message[];
  /** Drains every node's Ready: persist, queue messages, apply. */
  collect(): void;
  /** Removes and returns the pending messages that match. */
  take(match?: (m: Message) => boolean): Message[];
  /** Steps the messages into their targets, dropping those across a cut link. */
  deliver(msgs: Message[]): void;
  /** collect + deliver everything until quiet (or `rounds`); returns how many messages moved. */
  stabilize(rounds?: number): number;
  /** Drops traffic between a and b in both directions. */
  cut(a: NodeId, b: NodeId): void;
  isolate(id: NodeId): void;
  heal(): void;
  tick(id: NodeId, n?: number): void;
  /** Ticks every node n times, stabilizing after each tick. */
  tickAll(n: number): void;
  /** campaign() on id and stabilize; asserts it leads. */
  elect(id: NodeId): void;
  /** Replaces the node's core by one started from its disk (a crash and restart: volatile state is lost). */
  restart(id: NodeId): void;
  /** Proposes on id and asserts it was accepted. */
  propose(id: NodeId, data: string): number;
  /** The node that thinks it leads (among `among`, default all) with the highest term. */
  leaderOf(among?: NodeId[]): NodeId | undefined;
  /** The data of the state machine of id. */
  data(id: NodeId): string[];
}

const ETICKS = 10;

export function createTestNet(opts: TestNetOptions): TestNet {
  const electionTicks = opts.electionTicks ?? ETICKS;
  const heartbeatTicks = opts.heartbeatTicks ?? 1;
  const initialConf: ConfState = { voters: [...opts.voters], learners: [...(opts.learners ?? [])] };
  const nodes = new Map<NodeId, TestNode>();
  const cuts = new Set<string>();
  const leaders = new Map<number, NodeId>();
  const committed = new Map<number, { term: number; node: NodeId }>();
  const pending: Message[] = [];
  const sent: Message[] = [];
  let seq = 0;

  const randomFor = (id: NodeId): (() => number) => (opts.random ? opts.random(id) : seededRandom(1000 + seq++));

  function startFrom(id: NodeId, disk: NodeDisk, conf: ConfState): RaftCore {
    const start: RaftStart = {
      hardState: { ...disk.hardState },
      entries: disk.entries.map((e) => ({ ...e })),
      initialConf: { voters: [...conf.voters], learners: [...conf.learners] },
    };
    if (disk.snapshot) start.snapshot = disk.snapshot;
    const cfg = { id, electionTicks, heartbeatTicks, random: randomFor(id), ...(opts.maxEntriesPerMessage ? { maxEntriesPerMessage: opts.maxEntriesPerMessage } : {}) };
    return createRaftCore(cfg, start);
  }

  const bootEntries: Entry[] = [];
  if (opts.bootstrapInLog) {
    for (const v of initialConf.voters) bootEntries.push({ index: 0, term: 1, type: 'conf', change: { type: 'add-learner', node: v } }, { index: 0, term: 1, type: 'conf', change: { type: 'promote', node: v } });
    for (const l of initialConf.learners) bootEntries.push({ index: 0, term: 1, type: 'conf', change: { type: 'add-learner', node: l } });
    bootEntries.forEach((e, i) => (e.index = i + 1));
  }
  for (const id of [...opts.voters, ...(opts.learners ?? []), ...(opts.outsiders ?? [])]) {
    const founder = !(opts.outsiders ?? []).includes(id);
    const boot = opts.bootstrapInLog === true && founder;
    const disk: NodeDisk = boot ? { hardState: { term: 1, vote: '', commit: bootEntries.length }, entries: bootEntries.map((e) => ({ ...e })) } : { hardState: { term: 0, vote: '', commit: 0 }, entries: [] };
    const conf: ConfState = opts.bootstrapInLog ? { voters: [], learners: [] } : initialConf;
    nodes.set(id, { id, core: startFrom(id, disk, conf), disk, initialConf: conf, state: [], appliedIndex: 0, readStates: [], readies: [] });
  }

  function node(id: NodeId): TestNode {
    const n = nodes.get(id);
    assert.ok(n, `no node ${id}`);
    return n;
  }

  function persist(n: TestNode, rd: Ready): void {
    if (rd.snapshot) {
      const s = rd.snapshot;
      const at = n.disk.entries.find((e) => e.index === s.index);
      n.disk.entries = at && at.term === s.term ? n.disk.entries.filter((e) => e.index > s.index) : [];
      n.disk.snapshot = s;
    }
    if (rd.entries.length > 0) {
      const first = rd.entries[0]!.index;
      n.disk.entries = [...n.disk.entries.filter((e) => e.index < first), ...rd.entries];
      for (let i = 1; i < n.disk.entries.length; i++) assert.equal(n.disk.entries[i]!.index, n.disk.entries[i - 1]!.index + 1, `${n.id}: persisted log has a gap`);
    }
    if (rd.hardState) n.disk.hardState = { ...rd.hardState };
  }

  function apply(n: TestNode, rd: Ready): void {
    if (rd.snapshot) {
      n.state = JSON.parse(rd.snapshot.data) as TestNode['state'];
      n.appliedIndex = rd.snapshot.index;
    }
    for (const e of rd.committedEntries) {
      assert.equal(e.index, n.appliedIndex + 1, `${n.id}: applied out of order`);
      n.appliedIndex = e.index;
      // State machine safety: no two nodes apply different entries at one index.
      const seen = committed.get(e.index);
      if (seen) assert.equal(e.term, seen.term, `${n.id} applied index ${e.index} term ${e.term}, ${seen.node} applied term ${seen.term}`);
      else committed.set(e.index, { term: e.term, node: n.id });
      if (e.type === 'normal') n.state.push({ index: e.index, data: e.data });
    }
    n.readStates.push(...rd.readStates);
  }

  function collect(): void {
    for (const n of nodes.values()) {
      while (n.core.hasReady()) {
        const rd = n.core.ready();
        n.readies.push(rd);
        persist(n, rd);
        pending.push(...rd.messages);
        sent.push(...rd.messages);
        apply(n, rd);
        n.core.advance();
      }
      const st = n.core.status();
      if (st.role === 'leader') {
        // Election safety: at most one leader per term.
        const other = leaders.get(st.term);
        if (other !== undefined) assert.equal(st.id, other, `two leaders in term ${st.term}`);
        leaders.set(st.term, st.id);
      }
    }
  }

  function take(match: (m: Message) => boolean = () => true): Message[] {
    const out: Message[] = [];
    for (let i = 0; i < pending.length; ) {
      if (match(pending[i]!)) out.push(...pending.splice(i, 1));
      else i++;
    }
    return out;
  }

  const linkKey = (a: NodeId, b: NodeId): string => (a < b ? `${a}|${b}` : `${b}|${a}`);

  function deliver(msgs: Message[]): void {
    for (const m of msgs) {
      if (cuts.has(linkKey(m.from, m.to))) continue;
      const target = nodes.get(m.to);
      if (target) target.core.step(structuredClone(m));
    }
  }

  function stabilize(rounds = 1000): number {
    let moved = 0;
    for (let r = 0; r < rounds; r++) {
      collect();
      if (pending.length === 0) return moved;
      const batch = take();
      moved += batch.length;
      deliver(batch);
    }
    collect();
    return moved;
  }

  const net: TestNet = {
    nodes,
    node,
    core: (id) => node(id).core,
    pending,
    sent,
    collect,
    take,
    deliver,
    stabilize,
    cut(a, b) {
      cuts.add(linkKey(a, b));
    },
    isolate(id) {
      for (const other of nodes.keys()) if (other !== id) cuts.add(linkKey(id, other));
    },
    heal() {
      cuts.clear();
    },
    tick(id, n = 1) {
      for (let i = 0; i < n; i++) node(id).core.tick();
    },
    tickAll(n) {
      for (let i = 0; i < n; i++) {
        for (const x of nodes.values()) x.core.tick();
        stabilize();
      }
    },
    elect(id) {
      node(id).core.campaign();
      stabilize();
      assert.equal(node(id).core.status().role, 'leader', `${id} should have won the election`);
    },
    restart(id) {
      const n = node(id);
      // Messages of the dead process are gone.
      take((m) => m.from === id || m.to === id);
      n.core = startFrom(id, n.disk, n.initialConf);
      n.state = n.disk.snapshot ? (JSON.parse(n.disk.snapshot.data) as TestNode['state']) : [];
      n.appliedIndex = n.disk.snapshot?.index ?? 0;
      n.readStates = [];
    },
    propose(id, data) {
      const r = node(id).core.propose(data);
      assert.ok(r.ok, `propose on ${id}: ${JSON.stringify(r)}`);
      return r.index;
    },
    leaderOf(among) {
      let best: { id: NodeId; term: number } | undefined;
      for (const n of nodes.values()) {
        if (among && !among.includes(n.id)) continue;
        const st = n.core.status();
        if (st.role === 'leader' && (!best || st.term > best.term)) best = { id: n.id, term: st.term };
      }
      return best?.id;
    },
    data(id) {
      return node(id).state.map((s) => s.data);
    },
  };
  return net;
}

/** A snapshot payload for a test node's state machine, as of `index`. */
export function snapshotData(n: TestNode, index: number): string {
  return JSON.stringify(n.state.filter((s) => s.index <= index));
}

export const messagesOf = (msgs: Message[], type: Message['type'], to?: NodeId): Message[] => msgs.filter((m) => m.type === type && (to === undefined || m.to === to));
