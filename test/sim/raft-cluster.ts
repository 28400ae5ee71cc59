// A deterministic discrete-event simulation of a Raft group built from the
// pure core (raft-core.ts): N cores, each with simulated durable storage, on a
// network that loses, duplicates, delays (so reorders) and partitions
// messages, with crashes that lose whatever was not yet persisted. Clients run
// put/get/cas against a KV state machine; the run then checks the Raft safety
// properties (election safety, log matching, leader completeness, state
// machine safety), the linearizability of the client history, and liveness
// after the last heal. One seed is one run: every random choice comes from it.

import { createRaftCore } from '../../src/consensus/raft-core.ts';
import type { ConfChange, ConfState, Entry, HardState, Message, RaftConfig, RaftCore, RaftStart, RaftStatus, Ready, Role, Snapshot } from '../../src/consensus/raft-types.ts';
import { checkLinearizable, type KvHistoryOp, type KvOp, type KvResult } from '../support/linearizability.ts';
import { pick, seededRandom, type Random } from '../support/seeded-random.ts';

/** 'unsafe-local' reads whatever node it reaches, unchecked: the self-tests use it to show stale reads are caught. */
export type ReadMode = 'read-index' | 'lease' | 'unsafe-local';

export interface RaftSimOptions {
  seed: number;
  /** Founding voters: 3 or 5. */
  voters: number;
  /** Add a learner, promote it, then remove a founding voter, all under faults. */
  membership: boolean;
  readMode: ReadMode;
  /** Found the group as the driver does: the configuration as committed conf entries at the head of the founders' logs, initialConf empty. */
  bootstrapInLog: boolean;
  /** Ticks with faults; then everything heals and the quiet phase runs. */
  faultTicks: number;
  /** Ticks after the last heal in which a leader must commit a final write (10 election timeouts by default). */
  livenessTicks: number;
  /** Most ticks one Ready may wait for its (slow) disk write; 0: the disk is instant. */
  maxDiskDelayTicks: number;
  loss: number;
  duplicate: number;
  /** Message delay is uniform in [0, maxDelayTicks]: later messages overtake earlier ones. */
  maxDelayTicks: number;
  /** This fraction of messages is delayed by up to lateTicks more than maxDelayTicks. */
  lateRate: number;
  lateTicks: number;
  partitions: boolean;
  crashes: boolean;
  /** Chance per tick that the leader starts a leadership transfer. */
  transferRate: number;
  clients: number;
  keys: number;
  electionTicks: number;
  heartbeatTicks: number;
  maxEntriesPerMessage: number;
  /**
   * Each node's tick period is off by up to this fraction (default 0). The
   * lease assumes ticks run at one rate everywhere; the self-tests use drift
   * to show that a broken lease is caught.
   */
  clockDrift?: number;
  /** Keep the last this-many trace lines and put them in a failure's message. */
  traceLines: number;
  /**
   * Check each Ready's hard state against the disk and each vote or ack
   * against what is durable (default true). The self-tests turn this off to
   * show that the end-to-end checks catch the same broken core on their own.
   */
  persistenceChecks?: boolean;
  /** A broken driver for the self-tests: a slow Ready's messages leave before its disk write. */
  unsafeSendBeforePersist?: boolean;
  /** Builds each node's core (default createRaftCore): the self-tests pass deliberately broken ones. */
  createCore?: (config: RaftConfig, start: RaftStart) => RaftCore;
}

export interface RaftSimStats {
  sent: number;
  delivered: number;
  lost: number;
  duplicated: number;
  /** Dropped because a partition separated the ends (at send or at delivery) or the receiver was down. */
  cut: number;
  partitions: number;
  crashes: number;
  snapshotsSent: number;
  /** Distinct (term, leader) pairs seen. */
  leaders: number;
  compactions: number;
  /** Conf entries committed (membership runs only; bootstrap entries included). */
  confChanges: number;
  /** 1 when the learner was added and promoted and the voter removed (all committed). */
  membershipDone: number;
  transfers: number;
  opsOk: number;
  opsUnknown: number;
  leaseReads: number;
  readIndexReads: number;
  /** Ticks from the last heal until the final write committed. */
  livenessTicks: number;
}

export interface RaftSimResult {
  options: RaftSimOptions;
  stats: RaftSimStats;
  history: KvHistoryOp[];
  /** The last traceLines events (empty unless traceLines > 0). */
  trace: string[];
}

/** A violated check: `check` names which one. */
export class RaftSimFailure extends Error {
  readonly check: string;
  constructor(check: string, message: string) {
    super(`${check}: ${message}`);
    this.name = 'RaftSimFailure';
    this.check = check;
  }
}

export function defaultSimOptions(seed: number, overrides: Partial<RaftSimOptions> = {}): RaftSimOptions {
  return {
    seed,
    voters: 3,
    membership: false,
    readMode: 'read-index',
    bootstrapInLog: false,
    faultTicks: 200,
    livenessTicks: 100,
    maxDiskDelayTicks: 0,
    loss: 0.1,
    duplicate: 0.05,
    maxDelayTicks: 1.5,
    lateRate: 0,
    lateTicks: 0,
    partitions: true,
    crashes: true,
    transferRate: 0.01,
    clients: 3,
    keys: 3,
    electionTicks: 10,
    heartbeatTicks: 1,
    maxEntriesPerMessage: 4,
    traceLines: 0,
    ...overrides,
  };
}

/**
 * The mix the CI and nightly runs use: every seed picks its own variant
 * (3 or 5 voters, membership changes, read-index or lease reads, a slow disk,
 * fault rates), so one seed number names one whole run.
 */
export function simOptionsForSeed(seed: number): RaftSimOptions {
  const r = seededRandom(Math.imul(seed, 0x9e3779b1) >>> 0);
  const membership = seed % 4 === 0;
  return defaultSimOptions(seed, {
    voters: r() < 0.3 ? 5 : 3,
    membership,
    readMode: seed % 2 === 0 ? 'lease' : 'read-index',
    bootstrapInLog: r() < 0.5,
    maxDiskDelayTicks: r() < 0.35 ? 0.5 + r() * 2.5 : 0,
    loss: r() * 0.25,
    duplicate: r() * 0.15,
    maxDelayTicks: 0.3 + r() * 2.2,
    lateRate: r() < 0.3 ? 0.03 : 0,
    lateTicks: 5 + r() * 30,
    partitions: r() < 0.9,
    crashes: r() < 0.9,
    clients: 2 + Math.floor(r() * 3),
    keys: 1 + Math.floor(r() * 4),
    electionTicks: 6 + Math.floor(r() * 7),
    heartbeatTicks: 1 + Math.floor(r() * 3),
    maxEntriesPerMessage: 1 + Math.floor(r() * 8),
  });
}

/** Sub-tick time resolution: one tick is TICK time units. */
const TICK = 16;

interface Disk {
  hardState: HardState;
  snapshot: Snapshot | undefined;
  entries: Entry[];
}

interface ProposalWaiter {
  client: Client;
  attempt: number;
  term: number;
  tag: string;
}

interface ReadWaiter {
  client: Client;
  attempt: number;
  index: number;
}

interface SimNode {
  id: string;
  up: boolean;
  /** Bumped by every crash and restart: events of an older life are ignored. */
  life: number;
  core: RaftCore | undefined;
  random: Random;
  disk: Disk;
  kv: Map<string, string>;
  applied: number;
  readyInFlight: boolean;
  proposals: Map<number, ProposalWaiter[]>;
  /** readIndex requests sent, by context. */
  readRequests: Map<string, { client: Client; attempt: number }>;
  /** Reads that know their index and wait for it to be applied. */
  reads: ReadWaiter[];
  /** Left the group for good (removed, then stopped). */
  gone: boolean;
  /** Its tick period, in ticks (1 without clock drift). */
  tickRate: number;
  /** The role its last soft state showed. */
  role: Role;
}

interface ClientOp {
  h: KvHistoryOp;
  attempt: number;
  /** Give up (unknown for writes, dropped for reads) after this time. */
  deadline: number;
}

interface Client {
  id: string;
  count: number;
  cur: ClientOp | undefined;
  leaderHint: string | undefined;
}

interface LeaderLog {
  node: string;
  term: number;
  snapIndex: number;
  /** Digest of each entry by index (above snapIndex). */
  log: Map<number, string>;
}

interface Ev {
  at: number;
  seq: number;
  fn: () => void;
}

interface KvCommand {
  tag: string;
  op: 'put' | 'cas';
  key: string;
  value: string;
  expected?: string | null;
}

const entryDigest = (e: Entry): string => {
  if (e.type === 'normal') return `${e.term}:n:${e.data}`;
  if (e.type === 'conf') return `${e.term}:c:${e.change.type}:${e.change.node}`;
  return `${e.term}:e`;
};

const kvEncode = (kv: Map<string, string>): string => JSON.stringify([...kv.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));

function cloneEntry(e: Entry): Entry {
  return e.type === 'conf' ? { ...e, change: { ...e.change } } : { ...e };
}

function cloneSnapshot(s: Snapshot): Snapshot {
  return { ...s, conf: { voters: [...s.conf.voters], learners: [...s.conf.learners] } };
}

/** What the network carries: a copy, as if serialized, so no two cores share an object. */
function cloneMessage(m: Message): Message {
  const c: Message = { ...m };
  if (m.entries) c.entries = m.entries.map(cloneEntry);
  if (m.snapshot) c.snapshot = cloneSnapshot(m.snapshot);
  return c;
}

function applyConfChange(conf: ConfState, change: ConfChange): ConfState {
  const voters = conf.voters.filter((v) => v !== change.node);
  const learners = conf.learners.filter((v) => v !== change.node);
  if (change.type === 'add-learner') learners.push(change.node);
  else if (change.type === 'promote') voters.push(change.node);
  return { voters, learners };
}

export function runRaftSim(options: RaftSimOptions): RaftSimResult {
  const o = options;
  const rnd = seededRandom(o.seed);
  const netRnd = seededRandom((o.seed ^ 0x9e3779b9) >>> 0);
  const founders = Array.from({ length: o.voters }, (_, i) => `n${i}`);
  const joiner = `n${o.voters}`;
  const ids = o.membership ? [...founders, joiner] : founders;
  // Founding: either every node starts from the founding voters as its
  // initialConf, or (as the driver does) the founders' logs start with the
  // configuration as committed conf entries of term 1 and initialConf is empty.
  const initialConf: ConfState = o.bootstrapInLog ? { voters: [], learners: [] } : { voters: founders, learners: [] };
  const bootEntries: Entry[] = o.bootstrapInLog
    ? [...founders].sort().flatMap((v) => [{ type: 'add-learner', node: v } as const, { type: 'promote', node: v } as const]).map((change, i) => ({ index: i + 1, term: 1, type: 'conf', change }))
    : [];
  const stats: RaftSimStats = {
    sent: 0, delivered: 0, lost: 0, duplicated: 0, cut: 0, partitions: 0, crashes: 0, snapshotsSent: 0, leaders: 0,
    compactions: 0, confChanges: 0, membershipDone: 0, transfers: 0, opsOk: 0, opsUnknown: 0, leaseReads: 0, readIndexReads: 0, livenessTicks: -1,
  };

  // ---- the event queue (a binary heap on (at, seq)) ----
  const heap: Ev[] = [];
  let seq = 0;
  let now = 0;
  const before = (a: Ev, b: Ev) => a.at < b.at || (a.at === b.at && a.seq < b.seq);
  function schedule(at: number, fn: () => void): void {
    const ev: Ev = { at: Math.max(at, now), seq: seq++, fn };
    heap.push(ev);
    let i = heap.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(heap[i], heap[p])) break;
      [heap[i], heap[p]] = [heap[p], heap[i]];
      i = p;
    }
  }
  function popEvent(): Ev | undefined {
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last !== undefined) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && before(heap[l], heap[m])) m = l;
        if (r < heap.length && before(heap[r], heap[m])) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m], heap[i]];
        i = m;
      }
    }
    return top;
  }

  // ---- tracing (only when asked: it costs) ----
  const trace: string[] = [];
  const tracing = o.traceLines > 0;
  function log(line: () => string): void {
    if (!tracing) return;
    trace.push(`[t${(now / TICK).toFixed(2)}] ${line()}`);
    if (trace.length > o.traceLines) trace.shift();
  }
  function fail(check: string, message: string): never {
    const tail = tracing ? `\n--- last ${trace.length} events ---\n${trace.join('\n')}` : '';
    throw new RaftSimFailure(check, `${message}${tail}`);
  }
  function strict(check: string, message: string): void {
    if (o.persistenceChecks !== false) fail(check, message);
  }

  // ---- the history clock: simulated time in ticks, nudged so it strictly increases ----
  let lastStamp = 0;
  const stamp = () => (lastStamp = Math.max(lastStamp + 0.0001, now / TICK));

  // ---- global observations for the checks ----
  const leaderOfTerm = new Map<number, string>();
  let maxLeaderTerm = 0;
  const leaderLogs: LeaderLog[] = [];
  /** Digest of the entry committed at each index (applied by some node). */
  const committed = new Map<number, string>();
  /**
   * The term in which each index became committed: the term of the first
   * leader seen with its commit index there (or, if no leader was seen doing
   * it, the term of the first node to apply it, which is no earlier).
   */
  const commitTerm = new Map<number, number>();
  let leaderCommitSeen = 0;
  /** KV encoding after each index, from compactions and applies that checked it. */
  const stateAt = new Map<number, string>();
  /** Index each command tag was committed at. */
  const tagIndex = new Map<string, number>();

  const nodes = new Map<string, SimNode>();
  for (const [i, id] of ids.entries()) {
    nodes.set(id, {
      id, up: false, life: 0, core: undefined, random: seededRandom((o.seed * 7919 + i * 104729 + 1) >>> 0),
      disk: founders.includes(id) && bootEntries.length > 0
        ? { hardState: { term: 1, vote: '', commit: bootEntries.length }, snapshot: undefined, entries: bootEntries.map(cloneEntry) }
        : { hardState: { term: 0, vote: '', commit: 0 }, snapshot: undefined, entries: [] },
      kv: new Map(), applied: 0, readyInFlight: false, proposals: new Map(), readRequests: new Map(), reads: [], gone: false,
      tickRate: 1 + (o.clockDrift ?? 0) * (2 * rnd() - 1),
      role: 'follower',
    });
  }
  const nodeList = [...nodes.values()];
  const node = (id: string): SimNode => {
    const n = nodes.get(id);
    if (!n) fail('harness', `message to unknown node ${id}`);
    return n;
  };

  // ---- network ----
  /** Partition group of each node; all 0 when healed. */
  let group = new Map<string, number>();
  let faultsOn = true;
  /** A one-way partition cuts only the messages from side 1 to side 0. */
  let oneWay = false;
  const reachable = (a: string, b: string) => {
    const ga = group.get(a) ?? 0;
    const gb = group.get(b) ?? 0;
    return ga === gb || (oneWay && ga === 0);
  };
  function send(m: Message): void {
    stats.sent++;
    if (m.type === 'snapshot') stats.snapshotsSent++;
    if (!nodes.has(m.to)) fail('harness', `${m.from} sent ${m.type} to unknown node ${m.to}`);
    if (!reachable(m.from, m.to)) {
      stats.cut++;
      return;
    }
    if (faultsOn && netRnd() < o.loss) {
      stats.lost++;
      return;
    }
    const copies = faultsOn && netRnd() < o.duplicate ? 2 : 1;
    if (copies === 2) stats.duplicated++;
    for (let c = 0; c < copies; c++) {
      // A few messages are held up for long (a congested link, a stalled socket): they arrive very late, far out of order.
      const late = faultsOn && o.lateRate > 0 && netRnd() < o.lateRate;
      const delay = late ? (o.maxDelayTicks + netRnd() * o.lateTicks) * TICK : faultsOn ? netRnd() * o.maxDelayTicks * TICK : netRnd() * 0.3 * TICK;
      const copy = cloneMessage(m);
      schedule(now + delay, () => deliver(copy));
    }
  }
  function deliver(m: Message): void {
    const to = node(m.to);
    if (!to.up || !reachable(m.from, m.to)) {
      stats.cut++;
      return;
    }
    stats.delivered++;
    log(() => `${m.from}->${m.to} ${describeMessage(m)}`);
    to.core!.step(m);
    pump(to);
  }

  // ---- nodes: start, crash, the Ready loop ----
  function start(n: SimNode): void {
    n.up = true;
    n.life++;
    n.readyInFlight = false;
    n.role = 'follower';
    const snap = n.disk.snapshot;
    n.kv = snap ? new Map(JSON.parse(snap.data) as [string, string][]) : new Map();
    n.applied = snap?.index ?? 0;
    n.core = (o.createCore ?? createRaftCore)(
      { id: n.id, electionTicks: o.electionTicks, heartbeatTicks: o.heartbeatTicks, random: n.random, maxEntriesPerMessage: o.maxEntriesPerMessage },
      {
        hardState: { ...n.disk.hardState },
        snapshot: snap ? cloneSnapshot(snap) : undefined,
        entries: n.disk.entries.map(cloneEntry),
        initialConf: { voters: [...initialConf.voters], learners: [...initialConf.learners] },
      },
    );
    log(() => `${n.id} starts: term ${n.disk.hardState.term} vote '${n.disk.hardState.vote}' commit ${n.disk.hardState.commit} snap ${snap?.index ?? 0} last ${lastIndex(n.disk)}`);
    const life = n.life;
    const period = TICK * n.tickRate;
    const tick = () => {
      if (n.life !== life || !n.up) return;
      n.core!.tick();
      pump(n);
      schedule(now + period, tick);
    };
    schedule(now + n.random() * TICK, tick);
    pump(n);
  }

  function crash(n: SimNode): void {
    log(() => `${n.id} CRASHES (persisted: term ${n.disk.hardState.term} commit ${n.disk.hardState.commit} last ${lastIndex(n.disk)})`);
    stats.crashes++;
    stop(n);
  }

  /** The process ends: only the disk survives. */
  function stop(n: SimNode): void {
    n.up = false;
    n.life++;
    n.core = undefined;
    n.readyInFlight = false;
    // A proposal the node accepted may still commit through the others: its outcome is unknown.
    for (const ws of n.proposals.values()) for (const w of ws) if (current(w.client, w.attempt)) finishUnknown(w.client);
    n.proposals.clear();
    const readers = [...n.readRequests.values(), ...n.reads];
    n.readRequests.clear();
    n.reads = [];
    for (const r of readers) if (current(r.client, r.attempt)) retry(r.client, 0.5);
  }

  function pump(n: SimNode): void {
    while (n.up && !n.readyInFlight && n.core!.hasReady()) {
      const rd = n.core!.ready();
      observeReady(n, rd);
      const delay = o.maxDiskDelayTicks > 0 && rnd() < 0.5 ? rnd() * o.maxDiskDelayTicks * TICK : 0;
      if (delay === 0) {
        complete(n, rd);
        continue;
      }
      n.readyInFlight = true;
      const life = n.life;
      if (o.unsafeSendBeforePersist) {
        for (const m of rd.messages) {
          checkSentAfterPersist(n, m);
          send(m);
        }
        rd.messages = [];
      }
      schedule(now + delay, () => {
        if (n.life !== life) return; // crashed while the disk was writing: nothing of it survives
        n.readyInFlight = false;
        complete(n, rd);
        pump(n);
      });
      return;
    }
  }

  /** What the Ready shows before anything of it is durable. */
  function observeReady(n: SimNode, rd: Ready): void {
    // A leader's commit advancing shows as a hard state change; a new role as a soft state.
    if (rd.hardState || rd.softState) {
      const st = n.core!.status();
      if (rd.softState) n.role = rd.softState.role;
      if (rd.softState?.role === 'leader') noteLeader(n.id, st.term, 'became leader');
      if (st.role === 'leader') {
        for (let i = leaderCommitSeen + 1; i <= st.commit; i++) if (!commitTerm.has(i)) commitTerm.set(i, st.term);
        leaderCommitSeen = Math.max(leaderCommitSeen, st.commit);
      }
      if (rd.softState) log(() => `${n.id} soft state: ${rd.softState!.role}, leader ${rd.softState!.leader ?? '-'} (term ${st.term})`);
    }
    for (const m of rd.messages) {
      if (m.from !== n.id) fail('harness', `${n.id} emitted a message from ${m.from}`);
      if (m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot') noteLeader(n.id, m.term, `sent ${m.type}`);
    }
  }

  /**
   * Lease safety, the promise behind lease reads: while a leader's lease
   * holds, no leader of a later term exists (terms are elected in order, so a
   * later one seen at all was elected during this lease).
   */
  function checkLease(n: SimNode, st: RaftStatus): void {
    if (st.role === 'leader' && st.leaseValid && maxLeaderTerm > st.term) {
      fail('lease safety', `${n.id} (leader of term ${st.term}) holds a valid lease, but ${leaderOfTerm.get(maxLeaderTerm)} already leads term ${maxLeaderTerm}`);
    }
  }

  function noteLeader(id: string, term: number, why: string): void {
    if (term > maxLeaderTerm) maxLeaderTerm = term;
    const prev = leaderOfTerm.get(term);
    if (prev === undefined) {
      leaderOfTerm.set(term, id);
      stats.leaders++;
      log(() => `LEADER ${id} term ${term}`);
      // The moment a lease would be broken: an older leader still holding one.
      for (const n of nodeList) if (n.up && n.id !== id && (n.role === 'leader' || n.readyInFlight)) checkLease(n, n.core!.status());
    } else if (prev !== id) {
      fail('election safety', `term ${term} has two leaders: ${prev} and ${id} (${id} ${why})`);
    }
  }

  /** The Ready's disk write finished: persist, send, apply, advance. */
  function complete(n: SimNode, rd: Ready): void {
    persist(n, rd);
    // The disk now holds the log the core had when it handed out this Ready, as leader.
    if (rd.softState?.role === 'leader') recordLeaderLog(n);
    for (const m of rd.messages) {
      checkSentAfterPersist(n, m);
      send(m);
    }
    if (rd.snapshot) restoreSnapshot(n, rd.snapshot);
    for (const e of rd.committedEntries) apply(n, e);
    for (const rs of rd.readStates) {
      const req = n.readRequests.get(rs.context);
      if (!req) continue; // timed out and retried elsewhere
      n.readRequests.delete(rs.context);
      n.reads.push({ client: req.client, attempt: req.attempt, index: rs.index });
      log(() => `${n.id} read state ${rs.context} at ${rs.index}`);
    }
    n.core!.advance();
    serveReads(n);
    if (o.membership && !n.gone && n.id !== joiner) {
      // An operator stops a removed member once it has applied its own removal.
      const conf = n.core!.status().conf;
      if (removalApplied(n) && !conf.voters.includes(n.id) && !conf.learners.includes(n.id)) {
        log(() => `${n.id} leaves the group and stops`);
        stop(n);
        n.gone = true;
      }
    }
  }

  function removalApplied(n: SimNode): boolean {
    return removedAt > 0 && n.applied >= removedAt;
  }

  function persist(n: SimNode, rd: Ready): void {
    const d = n.disk;
    if (rd.snapshot) {
      const s = rd.snapshot;
      const at = d.entries.find((e) => e.index === s.index);
      d.entries = at && at.term === s.term ? d.entries.filter((e) => e.index > s.index) : [];
      d.snapshot = cloneSnapshot(s);
    }
    if (rd.entries.length > 0) {
      const first = rd.entries[0].index;
      const snapIndex = d.snapshot?.index ?? 0;
      if (first <= snapIndex) fail('storage', `${n.id}: Ready entry ${first} is covered by the snapshot at ${snapIndex}`);
      if (first > lastIndex(d) + 1) fail('storage', `${n.id}: Ready entry ${first} leaves a gap after ${lastIndex(d)}`);
      for (let i = 1; i < rd.entries.length; i++) if (rd.entries[i].index !== first + i) fail('storage', `${n.id}: Ready entries not contiguous at ${rd.entries[i].index}`);
      d.entries = [...d.entries.filter((e) => e.index < first), ...rd.entries.map(cloneEntry)];
    }
    if (rd.hardState) {
      const h = rd.hardState;
      const old = d.hardState;
      if (h.term < old.term) strict('persistent state', `${n.id}: term went back from ${old.term} to ${h.term}`);
      if (h.term === old.term && old.vote !== '' && h.vote !== old.vote) strict('persistent state', `${n.id}: voted for ${old.vote} and then ${h.vote} in term ${h.term}`);
      if (h.commit < old.commit) strict('persistent state', `${n.id}: commit went back from ${old.commit} to ${h.commit}`);
      d.hardState = { ...h };
    }
    if (d.hardState.commit > lastIndex(d)) strict('persistent state', `${n.id}: commit ${d.hardState.commit} beyond the persisted log (last ${lastIndex(d)})`);
  }

  /** Votes and acknowledgements may only leave once what they promise is durable. */
  function checkSentAfterPersist(n: SimNode, m: Message): void {
    const h = n.disk.hardState;
    // A pre-vote (and its answer) carries the term the candidate would campaign in, which nobody persisted.
    if (m.term > h.term && m.type !== 'pre-vote' && m.type !== 'pre-vote-resp') strict('persist before send', `${n.id} sent ${m.type} in term ${m.term} but has persisted only term ${h.term}`);
    if (m.type === 'vote-resp' && !m.reject && m.term === h.term && h.vote !== m.to) {
      strict('persist before send', `${n.id} granted its vote in term ${m.term} to ${m.to} but persisted a vote for '${h.vote}'`);
    }
    // An ack from an older term than the one now durable may name entries a newer leader has since
    // replaced: it was true when made, and is no different from an ack the network delayed.
    if (m.type === 'append-resp' && !m.reject && m.hint !== undefined && m.term === h.term && m.hint > lastIndex(n.disk)) {
      strict('persist before send', `${n.id} acknowledged index ${m.hint} but persisted only up to ${lastIndex(n.disk)}`);
    }
  }

  function recordLeaderLog(n: SimNode): void {
    const d = n.disk;
    const log = new Map<number, string>();
    for (const e of d.entries) log.set(e.index, entryDigest(e));
    const l: LeaderLog = { node: n.id, term: d.hardState.term, snapIndex: d.snapshot?.index ?? 0, log };
    leaderLogs.push(l);
    for (const [index, digest] of committed) checkLeaderHas(l, index, digest, commitTerm.get(index)!);
  }

  /** Leader completeness: an entry committed in a term is in the log of every leader of a later term. */
  function checkLeaderHas(l: LeaderLog, index: number, digest: string, committedIn: number): void {
    if (l.term <= committedIn || index <= l.snapIndex) return;
    const has = l.log.get(index);
    if (has !== digest) fail('leader completeness', `entry ${index} (${digest}) committed in term ${committedIn}, but ${l.node}, leader of later term ${l.term}, had ${has ?? 'nothing'} there`);
  }

  function restoreSnapshot(n: SimNode, s: Snapshot): void {
    if (s.index <= n.applied) fail('state machine safety', `${n.id} was handed a snapshot at ${s.index}, but has applied ${n.applied} already`);
    log(() => `${n.id} restores snapshot at ${s.index} (term ${s.term})`);
    const known = stateAt.get(s.index);
    if (known !== undefined && known !== s.data) fail('state machine safety', `${n.id} got a snapshot at ${s.index} that differs from the state another node had at ${s.index}:\n  ${s.data}\n  ${known}`);
    stateAt.set(s.index, s.data);
    n.kv = new Map(JSON.parse(s.data) as [string, string][]);
    n.applied = s.index;
    // Proposals the snapshot covers: whether they are the entries committed there is unknown here.
    for (const [index, ws] of n.proposals) {
      if (index > s.index) continue;
      for (const w of ws) if (current(w.client, w.attempt)) finishUnknown(w.client);
      n.proposals.delete(index);
    }
  }

  function apply(n: SimNode, e: Entry): void {
    if (e.index !== n.applied + 1) fail('state machine safety', `${n.id} applied entry ${e.index} after ${n.applied} (a gap or a repeat)`);
    const digest = entryDigest(e);
    const prev = committed.get(e.index);
    if (prev === undefined) {
      committed.set(e.index, digest);
      if (!commitTerm.has(e.index)) commitTerm.set(e.index, n.core!.status().term);
      for (const l of leaderLogs) checkLeaderHas(l, e.index, digest, commitTerm.get(e.index)!);
    } else if (prev !== digest) {
      fail('state machine safety', `${n.id} applied ${digest} at index ${e.index}, another node applied ${prev}`);
    }
    n.applied = e.index;
    let result: KvResult | undefined;
    let tag: string | undefined;
    if (e.type === 'normal') {
      const c = JSON.parse(e.data) as KvCommand;
      tag = c.tag;
      const at = tagIndex.get(c.tag);
      if (at === undefined) tagIndex.set(c.tag, e.index);
      else if (at !== e.index) fail('state machine safety', `command ${c.tag} committed twice, at ${at} and ${e.index}`);
      if (c.op === 'put') {
        n.kv.set(c.key, c.value);
        result = { type: 'put' };
      } else {
        const swapped = (n.kv.get(c.key) ?? null) === (c.expected ?? null);
        if (swapped) n.kv.set(c.key, c.value);
        result = { type: 'cas', swapped };
      }
      if (c.key === FINAL_KEY && stats.livenessTicks < 0 && !faultsOn) stats.livenessTicks = Math.ceil((now - quietFrom) / TICK);
    } else if (e.type === 'conf') {
      committedConf.set(e.index, e.change);
    }
    const known = stateAt.get(e.index);
    if (known !== undefined && known !== kvEncode(n.kv)) fail('state machine safety', `${n.id}'s state after ${e.index} differs from another node's:\n  ${kvEncode(n.kv)}\n  ${known}`);
    const ws = n.proposals.get(e.index);
    if (ws) {
      n.proposals.delete(e.index);
      for (const w of ws) {
        if (!current(w.client, w.attempt)) continue;
        if (e.term !== w.term) {
          // Another leader's entry won this index: this attempt never commits.
          log(() => `${w.client.id} ${w.tag}: index ${e.index} committed with term ${e.term}, not ${w.term}; retry`);
          retry(w.client, 0.5);
        } else if (tag !== w.tag) {
          fail('state machine safety', `propose returned index ${e.index} term ${w.term} for ${w.tag}, but ${n.id} committed ${digest} there`);
        } else {
          finishOk(w.client, result!);
        }
      }
    }
  }

  function serveReads(n: SimNode): void {
    if (n.reads.length === 0) return;
    const waiting: ReadWaiter[] = [];
    for (const r of n.reads) {
      if (!current(r.client, r.attempt)) continue;
      if (n.applied < r.index) {
        waiting.push(r);
        continue;
      }
      finishOk(r.client, { type: 'get', value: n.kv.get(r.client.cur!.h.op.key) });
    }
    n.reads = waiting;
  }

  // ---- compaction ----
  function compact(n: SimNode): void {
    const d = n.disk;
    const snapIndex = d.snapshot?.index ?? 0;
    if (!n.up || n.applied <= snapIndex || n.readyInFlight) return;
    const index = n.applied;
    const at = d.entries.find((e) => e.index === index);
    if (!at) fail('harness', `${n.id} applied ${index} but has no such entry on disk`);
    let conf: ConfState = d.snapshot ? d.snapshot.conf : initialConf;
    for (const e of d.entries) if (e.index <= index && e.type === 'conf') conf = applyConfChange(conf, e.change);
    const data = kvEncode(n.kv);
    const known = stateAt.get(index);
    if (known !== undefined && known !== data) fail('state machine safety', `${n.id}'s state at ${index} differs from another node's:\n  ${data}\n  ${known}`);
    stateAt.set(index, data);
    d.snapshot = { index, term: at.term, conf: { voters: [...conf.voters], learners: [...conf.learners] }, data };
    d.entries = d.entries.filter((e) => e.index > index);
    n.core!.compact(index, data);
    // The core keeps its own copy for slow followers: it must describe the same point.
    const mine = n.core!.latestSnapshot?.();
    if (mine && (mine.index !== index || mine.term !== at.term || !sameConf(mine.conf, conf))) {
      fail('snapshot', `${n.id} compacted to ${index} (term ${at.term}, conf ${JSON.stringify(conf)}), but the core's snapshot is at ${mine.index} (term ${mine.term}, conf ${JSON.stringify(mine.conf)})`);
    }
    stats.compactions++;
    log(() => `${n.id} compacts to ${index}`);
    pump(n);
  }

  // ---- clients ----
  const FINAL_KEY = '__final';
  const keys = Array.from({ length: o.keys }, (_, i) => `k${i}`);
  const lastValue = new Map<string, string>();
  const history: KvHistoryOp[] = [];
  const clients: Client[] = Array.from({ length: o.clients }, (_, i) => ({ id: `c${i}`, count: 0, cur: undefined, leaderHint: undefined }));
  const attemptTicks = 3 * o.electionTicks;
  const opTicks = 6 * o.electionTicks;
  let clientsStopAt = Infinity;

  /** Attempt ids are unique over the run, so a late answer to an old attempt is never taken for the current one. */
  let attempts = 0;
  const current = (c: Client, attempt: number) => c.cur !== undefined && c.cur.attempt === attempt;

  function startOp(c: Client): void {
    if (now >= clientsStopAt) return;
    const key = pick(rnd, keys);
    const x = rnd();
    const value = `${c.id}.${++c.count}`;
    let op: KvOp;
    if (x < 0.35) op = { type: 'put', key, value };
    else if (x < 0.75) op = { type: 'get', key };
    else op = { type: 'cas', key, expected: rnd() < 0.7 ? lastValue.get(key) : undefined, value };
    c.cur = { h: { id: `${c.id}#${c.count}`, client: c.id, op, invokedAt: stamp() }, attempt: ++attempts, deadline: now + opTicks * TICK };
    attempt(c);
  }

  function finishOk(c: Client, result: KvResult): void {
    const cur = c.cur!;
    cur.h.returnedAt = stamp();
    cur.h.result = result;
    history.push(cur.h);
    stats.opsOk++;
    if (cur.h.op.type !== 'get') lastValue.set(cur.h.op.key, cur.h.op.value);
    else if (result.type === 'get' && result.value !== undefined) lastValue.set(cur.h.op.key, result.value);
    log(() => `${c.id} DONE ${cur.h.id} ${JSON.stringify(cur.h.op)} -> ${JSON.stringify(result)}`);
    next(c);
  }

  function finishUnknown(c: Client): void {
    const cur = c.cur!;
    if (cur.h.op.type !== 'get') {
      history.push(cur.h);
      stats.opsUnknown++;
    }
    log(() => `${c.id} UNKNOWN ${cur.h.id}`);
    next(c);
  }

  function next(c: Client): void {
    c.cur = undefined;
    schedule(now + rnd() * 3 * TICK, () => startOp(c));
  }

  /** The attempt failed with no effect: try again (elsewhere) after `ticks`, or give up at the deadline. */
  function retry(c: Client, ticks: number): void {
    const cur = c.cur!;
    const a = (cur.attempt = ++attempts);
    if (now + ticks * TICK >= cur.deadline) {
      // Nothing of this op took effect (every attempt definitely failed): it leaves no trace.
      log(() => `${c.id} gives up ${cur.h.id}`);
      next(c);
      return;
    }
    schedule(now + ticks * TICK, () => {
      if (current(c, a)) attempt(c);
    });
  }

  function pickTarget(c: Client): SimNode {
    if (c.leaderHint !== undefined && nodes.has(c.leaderHint) && rnd() < 0.8) return node(c.leaderHint);
    return pick(rnd, nodeList);
  }

  function attempt(c: Client): void {
    const cur = c.cur!;
    const a = cur.attempt;
    const n = pickTarget(c);
    c.leaderHint = undefined;
    if (!n.up) {
      retry(c, 0.5); // connection refused: nothing happened
      return;
    }
    const op = cur.h.op;
    const tag = `${cur.h.id}/a${a}`;
    if (op.type === 'get') {
      if (o.readMode === 'unsafe-local') {
        finishOk(c, { type: 'get', value: n.kv.get(op.key) });
        return;
      }
      if (o.readMode === 'lease') {
        const st = n.core!.status();
        if (st.role !== 'leader') {
          c.leaderHint = st.leader;
          retry(c, 0.25);
          return;
        }
        if (st.leaseValid && termAt(n.disk, st.commit) === st.term) {
          // Lease read: no round trip; the commit index is current because an entry of this term committed.
          stats.leaseReads++;
          checkLease(n, st);
          n.reads.push({ client: c, attempt: a, index: st.commit });
          log(() => `${c.id} ${tag} lease read at ${n.id} index ${st.commit}`);
          serveReads(n);
          return;
        }
      }
      stats.readIndexReads++;
      n.readRequests.set(tag, { client: c, attempt: a });
      log(() => `${c.id} ${tag} readIndex at ${n.id}`);
      n.core!.readIndex(tag);
      pump(n);
      schedule(now + attemptTicks * TICK, () => {
        if (!current(c, a)) return;
        n.readRequests.delete(tag);
        n.reads = n.reads.filter((r) => !(r.client === c && r.attempt === a));
        retry(c, 0);
      });
      return;
    }
    const cmd: KvCommand = op.type === 'put' ? { tag, op: 'put', key: op.key, value: op.value } : { tag, op: 'cas', key: op.key, value: op.value, expected: op.expected ?? null };
    const r = n.core!.propose(JSON.stringify(cmd));
    pump(n);
    if (!r.ok) {
      c.leaderHint = r.leader;
      log(() => `${c.id} ${tag} refused by ${n.id}: ${r.reason} (leader ${r.leader ?? '-'})`);
      retry(c, r.reason === 'not-leader' ? 0.25 : 1);
      return;
    }
    log(() => `${c.id} ${tag} proposed at ${n.id}: index ${r.index} term ${r.term}`);
    let ws = n.proposals.get(r.index);
    if (!ws) n.proposals.set(r.index, (ws = []));
    ws.push({ client: c, attempt: a, term: r.term, tag });
    schedule(now + attemptTicks * TICK, () => {
      if (current(c, a)) finishUnknown(c);
    });
  }

  // ---- membership: add a learner, promote it, remove a founding voter ----
  const victim = o.membership ? pick(rnd, founders) : '';
  let removedAt = 0;
  const committedConf = new Map<number, ConfChange>();
  function operator(): void {
    const leaders = nodeList.filter((n) => n.up && n.core!.status().role === 'leader');
    if (leaders.length === 0) return;
    const l = pick(rnd, leaders);
    const st = l.core!.status();
    let change: ConfChange | undefined;
    if (!st.conf.voters.includes(joiner) && !st.conf.learners.includes(joiner)) {
      if (!everJoined) change = { type: 'add-learner', node: joiner };
    } else if (st.conf.learners.includes(joiner)) {
      const p = st.progress?.[joiner];
      if (p && p.match >= st.commit - 2) change = { type: 'promote', node: joiner };
    } else if (st.conf.voters.includes(victim)) {
      change = { type: 'remove', node: victim };
    }
    if (!change) return;
    const r = l.core!.proposeConfChange(change);
    log(() => `operator: ${change.type} ${change.node} at ${l.id}: ${r.ok ? `index ${r.index}` : r.reason}`);
    pump(l);
  }
  let everJoined = false;
  function trackConf(): void {
    for (const [index, ch] of committedConf) {
      if (ch.type === 'add-learner' && ch.node === joiner) everJoined = true;
      if (ch.type === 'remove' && ch.node === victim && removedAt === 0) removedAt = index;
    }
    stats.confChanges = committedConf.size;
    stats.membershipDone = everJoined && removedAt > 0 && [...committedConf.values()].some((c) => c.type === 'promote' && c.node === joiner) ? 1 : 0;
  }

  // ---- faults ----
  let partitionedUntil = 0;
  function partition(): void {
    const live = ids.filter((id) => !node(id).gone);
    const leaders = live.filter((id) => node(id).up && node(id).core!.status().role === 'leader');
    const g = new Map<string, number>();
    // Some links fail in one direction only: a leader that still hears but cannot speak, or the reverse.
    oneWay = rnd() < 0.25;
    const arrow = oneWay ? ' -/-> ' : ' | ';
    if (leaders.length > 0 && rnd() < 0.35) {
      const l = pick(rnd, leaders);
      const side = rnd() < 0.5 ? 1 : 0;
      for (const id of ids) g.set(id, id === l ? side : 1 - side);
      log(() => `PARTITION: leader ${l} isolated${oneWay ? (side === 1 ? ' (it hears, but is not heard)' : ' (it is heard, but hears nothing)') : ''}`);
    } else {
      for (const id of ids) g.set(id, rnd() < 0.5 ? 1 : 0);
      log(() => `PARTITION: ${ids.filter((id) => g.get(id) === 1).join(',')}${arrow}${ids.filter((id) => g.get(id) !== 1).join(',')}`);
    }
    group = g;
    stats.partitions++;
    partitionedUntil = now + (5 + rnd() * 40) * TICK;
  }
  function heal(): void {
    group = new Map();
    log(() => 'HEAL');
  }

  function transfer(): void {
    const leaders = nodeList.filter((n) => n.up && n.core!.status().role === 'leader');
    if (leaders.length === 0) return;
    const l = pick(rnd, leaders);
    const voters = l.core!.status().conf.voters.filter((v) => v !== l.id);
    if (voters.length === 0) return;
    const to = pick(rnd, voters);
    log(() => `${l.id} transfers leadership to ${to}`);
    stats.transfers++;
    l.core!.transferLeadership(to);
    pump(l);
  }

  // ---- the periodic driver: one step per tick ----
  let quietFrom = Infinity;
  const downUntil = new Map<string, number>();
  const finalProposed = new Set<string>();
  function driver(t: number): void {
    if (t < o.faultTicks) {
      if (o.partitions) {
        if (group.size > 0 && now >= partitionedUntil) heal();
        else if (group.size === 0 && rnd() < 0.03) partition();
      }
      if (o.crashes && rnd() < 0.03) {
        const live = nodeList.filter((n) => n.up && !n.gone);
        if (live.length > 0) {
          const n = pick(rnd, live);
          crash(n);
          downUntil.set(n.id, now + (1 + rnd() * 30) * TICK);
        }
      }
      if (rnd() < o.transferRate) transfer();
    } else if (t === o.faultTicks) {
      // The last heal: no more faults from here on.
      faultsOn = false;
      heal();
      quietFrom = now;
      clientsStopAt = now + (o.livenessTicks - attemptTicks - 2) * TICK;
    }
    for (const n of nodeList) {
      if (!n.up && !n.gone && (now >= (downUntil.get(n.id) ?? 0) || !faultsOn)) {
        if (n.id === joiner && t < 20) continue; // the joiner starts a little before it is added
        start(n);
      }
    }
    if (o.membership && t >= 15) {
      trackConf();
      // At random moments, so the changes land among the faults rather than all at the start.
      if (rnd() < 0.06) operator();
    }
    for (const n of nodeList) if (n.up && rnd() < 0.03) compact(n);
    if (!faultsOn && stats.livenessTicks < 0) {
      // The liveness probe: any leader proposes the final write, once per term.
      for (const n of nodeList) {
        if (!n.up) continue;
        const st = n.core!.status();
        const k = `${n.id}@${st.term}`;
        if (st.role === 'leader' && !finalProposed.has(k)) {
          // Refused while a transfer is under way: try again next tick.
          if (n.core!.propose(JSON.stringify({ tag: `final/${k}`, op: 'put', key: FINAL_KEY, value: k } satisfies KvCommand)).ok) finalProposed.add(k);
          pump(n);
        }
      }
    }
    if (t % 25 === 0) checkLogs();
    for (const n of nodeList) if (n.up && (n.role === 'leader' || n.readyInFlight)) checkLease(n, n.core!.status());
  }

  // ---- run ----
  for (const n of nodeList) if (n.id !== joiner) start(n);
  for (const c of clients) schedule(rnd() * 5 * TICK, () => startOp(c));
  const totalTicks = o.faultTicks + o.livenessTicks;
  for (let t = 0; t <= totalTicks; t++) {
    const at = t * TICK;
    schedule(at, () => driver(t));
  }
  const endAt = totalTicks * TICK + TICK / 2;
  for (;;) {
    const ev = heap[0];
    if (ev === undefined || ev.at > endAt) break;
    popEvent();
    now = ev.at;
    ev.fn();
  }

  // Outstanding client ops: a write may still have happened.
  for (const c of clients) if (c.cur) finishUnknown(c);

  // ---- final checks ----
  if (o.membership) trackConf();
  checkLogs();
  if (stats.livenessTicks < 0) {
    const leaders = nodeList.filter((n) => n.up && n.core!.status().role === 'leader').map((n) => `${n.id} (term ${n.core!.status().term})`);
    fail('liveness', `no final write committed within ${o.livenessTicks} ticks of the last heal; leaders now: ${leaders.join(', ') || 'none'}; status: ${nodeList.filter((n) => n.up).map((n) => { const s = n.core!.status(); return `${n.id} ${s.role} t${s.term} c${s.commit} last${s.lastIndex}`; }).join('; ')}`);
  }
  const lin = checkLinearizable(history);
  if (!lin.ok) fail('linearizability', lin.message);
  return { options: o, stats, history, trace };

  // ---- helpers for the checks ----
  function checkLogs(): void {
    // Log matching over the persisted logs (every log that ever existed is one
    // of the group's logs at some time), and every committed index agrees
    // with what was applied.
    const logs = nodeList.map((n) => ({ id: n.id, byIndex: new Map(n.disk.entries.map((e) => [e.index, e])), commit: n.disk.hardState.commit, d: n.disk }));
    for (const l of logs) {
      for (const [index, e] of l.byIndex) {
        if (index > l.commit) continue;
        const c = committed.get(index);
        if (c !== undefined && c !== entryDigest(e)) fail('log matching', `${l.id} holds ${entryDigest(e)} at committed index ${index}, but ${c} was applied there`);
      }
    }
    for (let i = 0; i < logs.length; i++) {
      for (let j = i + 1; j < logs.length; j++) {
        const a = logs[i];
        const b = logs[j];
        // The highest index where both hold an entry of the same term: below it all must agree.
        let top = 0;
        for (const [index, e] of a.byIndex) {
          const f = b.byIndex.get(index);
          if (f && f.term === e.term && index > top) top = index;
        }
        for (const [index, e] of a.byIndex) {
          if (index > top) continue;
          const f = b.byIndex.get(index);
          if (f && entryDigest(f) !== entryDigest(e)) {
            fail('log matching', `${a.id} and ${b.id} both hold term ${a.byIndex.get(top)!.term} at index ${top}, but differ at ${index}: ${entryDigest(e)} vs ${entryDigest(f)}`);
          }
        }
      }
    }
  }

}

function sameConf(a: ConfState, b: ConfState): boolean {
  const same = (x: string[], y: string[]) => x.length === y.length && [...x].sort().join() === [...y].sort().join();
  return same(a.voters, b.voters) && same(a.learners, b.learners);
}

function lastIndex(d: Disk): number {
  return d.entries.length > 0 ? d.entries[d.entries.length - 1].index : (d.snapshot?.index ?? 0);
}

function termAt(d: Disk, index: number): number | undefined {
  if (d.snapshot && d.snapshot.index === index) return d.snapshot.term;
  const first = d.entries[0]?.index;
  if (first === undefined || index < first) return undefined;
  return d.entries[index - first]?.term;
}

function describeMessage(m: Message): string {
  const parts: string[] = [`${m.type} t${m.term}`];
  if (m.logIndex !== undefined) parts.push(`li${m.logIndex}/lt${m.logTerm}`);
  if (m.entries?.length) parts.push(`[${m.entries.map((e) => `${e.index}:${e.term}${e.type === 'normal' ? '' : e.type[0]}`).join(' ')}]`);
  if (m.commit !== undefined) parts.push(`c${m.commit}`);
  if (m.reject) parts.push('REJECT');
  if (m.hint !== undefined) parts.push(`h${m.hint}`);
  if (m.snapshot) parts.push(`snap@${m.snapshot.index}`);
  if (m.context !== undefined) parts.push(`ctx=${m.context}`);
  if (m.readIndex !== undefined) parts.push(`ri${m.readIndex}`);
  return parts.join(' ');
}
