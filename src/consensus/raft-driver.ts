// The Raft driver: the shell around the pure core. It owns the clock, the disk
// and the network: ticks the core on a timer, steps the messages the transport
// delivers, and handles every Ready strictly in order (persist -> send -> apply
// -> answer reads -> advance). On top it gives the agent propose (forwarded to
// the leader from a follower), linearizable reads, the leader lease as
// isLeading()/onLeadershipChange, membership changes and log compaction.
//
// Every input to the core (tick, message, proposal, read) goes through one
// queue that a single pump drains, so nothing reaches the core between ready()
// and advance(), and messages that arrive together share one fsync.
import { randomBytes } from 'node:crypto';
import type { Logger } from '../agent/logger.ts';
import { Invalid, NotLeader } from '../agent/api/errors.ts';
import { RequestTimeout } from '../net/errors.ts';
import { createRaftCore } from './raft-core.ts';
import { UnknownRequestKind, type LeadershipListener, type RaftMemberStatus, type RaftNode, type RaftTransport, type StateMachine } from './raft-node.ts';
import type { RaftStorage } from './raft-storage.ts';
import { applyConfChange, confChangesFor } from './conf-change.ts';
import type { OutsideView } from './outside-view.ts';
import type { ConfChange, ConfState, Entry, NodeId, ProposeResult, RaftConfig, RaftCore, RaftStart, ReadState, Snapshot, SoftState } from './raft-types.ts';

export interface RaftClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface RaftNodeOptions {
  id: NodeId;
  storage: RaftStorage;
  transport: RaftTransport;
  stateMachine: StateMachine;
  /**
   * The founding configuration: { voters: [self] } for the agent that creates
   * the cluster, { voters: [], learners: [] } for every joiner (it learns the
   * real one from the leader's log or snapshot). Used only when the storage is
   * empty: it is written as committed conf entries at indexes 1..n, so it is
   * part of the log every member replays; later starts ignore it.
   */
  initialConf: ConfState;
  logger: Logger;
  /** Default 50 ms: with electionTicks 10 a follower times out after 0.5-1 s, inside the 2 s failover goal. */
  tickMs?: number;
  electionTicks?: number;
  heartbeatTicks?: number;
  /** Randomness for election timeouts (seeded in tests); Math.random by default. */
  random?: () => number;
  /** Take a snapshot and compact the log every this many applied entries (default 1000). */
  snapshotEvery?: number;
  /** Default deadline of propose/read/changeMembership (default 5000 ms). */
  timeoutMs?: number;
  maxEntriesPerMessage?: number;
  clock?: RaftClock;
  /**
   * The group as the mesh reports it (outside-view.ts), for an agent outside the
   * group: it forwards proposals to that leader and shows that group in status.
   */
  outsideView?: () => OutsideView | undefined;
  /** The core factory (default createRaftCore); tests may wrap it. */
  createCore?: (config: RaftConfig, start: RaftStart) => RaftCore;
}

/** A RaftNode with the driver's extras. */
export interface DriverRaftNode extends RaftNode {
  changeMembership(change: ConfChange, opts?: { timeoutMs?: number }): Promise<void>;
  /** The configuration as of the last applied entry (what a snapshot taken now would record). */
  appliedConf(): ConfState;
}

/** The request kinds this driver serves on the transport. */
export const PROPOSE_REQUEST = 'propose';
export const CONF_REQUEST = 'conf';

const realClock: RaftClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

type Proposal = { kind: 'normal'; data: string } | { kind: 'conf'; change: ConfChange };

type Outcome =
  | { kind: 'applied'; result: unknown }
  /** The state machine threw on this command (a bug in it): the command is consumed. */
  | { kind: 'failed'; message: string }
  /** Another term's entry took the index: this proposal will never commit, so retrying is safe. */
  | { kind: 'lost' }
  /** The core refused it (not leader, a conf change pending, a transfer running): nothing was appended. */
  | { kind: 'refused'; leader: NodeId | undefined }
  /** The core found it invalid (e.g. promoting a node that is not a learner): retrying cannot help. */
  | { kind: 'invalid'; message: string }
  /** A snapshot covered the index before this node applied it: it may or may not have committed. */
  | { kind: 'unknown' }
  | { kind: 'timeout' }
  | { kind: 'stopped' };

/** What the leader answers a forwarded proposal with. */
type ForwardAnswer =
  | { ok: true; result?: unknown }
  | { ok: false; reason: 'not-leader'; leader?: NodeId }
  | { ok: false; reason: 'timeout' | 'unknown' | 'stopped' }
  | { ok: false; reason: 'failed' | 'invalid'; message: string };

interface PendingEntry {
  term: number;
  deadline: number;
  settle(o: Outcome): void;
}

interface PendingRead {
  deadline: number;
  askedAt: number;
  index: number | undefined;
  run(): void;
  fail(err: Error): void;
}

const CONF_CHANGE_TYPES = new Set(['add-learner', 'promote', 'remove']);

export function createRaftNode(opts: RaftNodeOptions): DriverRaftNode {
  const id = opts.id;
  const log = opts.logger.child({ component: 'raft', node: id });
  const clock = opts.clock ?? realClock;
  const tickMs = opts.tickMs ?? 50;
  const electionTicks = opts.electionTicks ?? 10;
  const heartbeatTicks = opts.heartbeatTicks ?? 1;
  const snapshotEvery = opts.snapshotEvery ?? 1000;
  const defaultTimeoutMs = opts.timeoutMs ?? 5_000;
  const electionMs = electionTicks * tickMs;
  const retryMs = Math.max(tickMs, 5);
  // A leader's lease is counted in ticks, and the core keeps it two ticks short
  // of the followers' window. When the next tick is overdue by more than half
  // a tick (the event loop stalled), the count cannot be trusted until the
  // missed ticks are caught up.
  const leaseSlackMs = tickMs / 2;
  // Catching up more ticks than this would not change anything more.
  const maxCatchUpTicks = 4 * electionTicks;
  const { storage, transport, stateMachine } = opts;

  let core: RaftCore | undefined;
  let started = false;
  let stopped = false;
  let failed = false;

  let applied = 0;
  let appliedTerm = 0;
  let appliedConf: ConfState = { voters: [], learners: [] };
  let snapshotIndex = 0;

  let tickEpoch = 0;
  let ticksDone = 0;
  let tickTimer: unknown;

  let leading = false;
  let soft: SoftState = { leader: undefined, role: 'follower' };
  const leaderContact = new Map<NodeId, number>();

  const pendingEntries = new Map<number, PendingEntry[]>();
  /** Proposals still in the input queue (stop() settles them). */
  const queuedProposals = new Set<(o: Outcome) => void>();
  const pendingReads = new Map<string, PendingRead>();
  const leadershipListeners = new Set<LeadershipListener>();
  const changeWaiters = new Set<() => void>();
  const unsubscribe: (() => void)[] = [];
  let readSeq = 0;
  // Read contexts must not repeat across restarts: a late answer to an old read must not satisfy a new one.
  const readPrefix = `${id}:${randomBytes(6).toString('hex')}`;

  const inbox: (() => void)[] = [];
  let pumpScheduled = false;
  let pumping = false;

  function mustCore(): RaftCore {
    if (!core) throw new NotLeader(`raft node ${id} is not started`);
    return core;
  }

  function enqueue(fn: () => void): void {
    inbox.push(fn);
    schedulePump();
  }

  function schedulePump(): void {
    if (pumpScheduled || pumping || stopped) return;
    pumpScheduled = true;
    setImmediate(pump);
  }

  function pump(): void {
    pumpScheduled = false;
    if (stopped || !core) return;
    pumping = true;
    try {
      // A leader catches up on missed ticks before it believes any ack.
      if (soft.role === 'leader') catchUpTicks();
      for (let round = 0; round < 64; round++) {
        while (inbox.length > 0) {
          for (const fn of inbox.splice(0)) {
            try {
              fn();
            } catch (err) {
              log.error({ err }, 'raft input failed');
            }
          }
        }
        drainReady();
        maybeCompact();
        if (inbox.length === 0) break;
      }
      serveReads();
    } catch (err) {
      failStop(err);
    } finally {
      pumping = false;
    }
    checkLeadership();
    if (inbox.length > 0) schedulePump();
  }

  function drainReady(): void {
    const c = mustCore();
    while (!stopped && c.hasReady()) {
      const rd = c.ready();
      if (rd.snapshot || rd.entries.length > 0 || rd.hardState) storage.save(rd);
      for (const m of rd.messages) {
        try {
          transport.send(m);
        } catch (err) {
          log.debug({ err, to: m.to, type: m.type }, 'raft send failed');
        }
      }
      if (rd.softState) onSoftState(rd.softState);
      if (rd.snapshot) applySnapshot(rd.snapshot);
      for (const e of rd.committedEntries) applyEntry(e);
      for (const rs of rd.readStates) onReadState(rs);
      c.advance();
    }
  }

  /** A member that cannot persist must not go on: it could vote or ack twice. */
  function failStop(err: unknown): void {
    if (failed) return;
    failed = true;
    log.fatal({ err }, 'raft driver failed; stopping this member');
    void node.stop();
  }

  function onSoftState(s: SoftState): void {
    const changed = s.leader !== soft.leader || s.role !== soft.role;
    if (s.leader !== soft.leader) log.info({ leader: s.leader, role: s.role, term: core?.status().term }, 'raft leader changed');
    else if (s.role !== soft.role) log.info({ role: s.role, term: core?.status().term }, 'raft role changed');
    soft = { ...s };
    if (!changed) return;
    // Reads asked of the old leader may never be answered: ask again.
    for (const r of pendingReads.values()) if (r.index === undefined) r.askedAt = Number.NEGATIVE_INFINITY;
    wakeWaiters();
  }

  function wakeWaiters(): void {
    for (const w of [...changeWaiters]) w();
  }

  function applySnapshot(snap: Snapshot): void {
    stateMachine.restore(snap.data);
    applied = snap.index;
    appliedTerm = snap.term;
    appliedConf = structuredClone(snap.conf);
    snapshotIndex = snap.index;
    log.info({ index: snap.index, term: snap.term }, 'restored a snapshot from the leader');
    for (const [index, list] of pendingEntries) {
      if (index > snap.index) continue;
      pendingEntries.delete(index);
      for (const p of list) p.settle({ kind: 'unknown' });
    }
  }

  function applyEntry(e: Entry): void {
    if (e.index <= applied) return;
    let outcome: Outcome = { kind: 'applied', result: undefined };
    if (e.type === 'normal') {
      try {
        outcome = { kind: 'applied', result: stateMachine.apply(e.data, { index: e.index, term: e.term }) };
      } catch (err) {
        log.error({ err, index: e.index }, 'state machine threw on a committed command');
        outcome = { kind: 'failed', message: (err as Error).message ?? String(err) };
      }
    } else if (e.type === 'conf') {
      appliedConf = applyConfChange(appliedConf, e.change);
      log.info({ index: e.index, change: e.change, conf: appliedConf }, 'raft membership change applied');
    }
    applied = e.index;
    appliedTerm = e.term;
    const list = pendingEntries.get(e.index);
    if (!list) return;
    pendingEntries.delete(e.index);
    for (const p of list) p.settle(p.term === e.term ? outcome : { kind: 'lost' });
  }

  function onReadState(rs: ReadState): void {
    const r = pendingReads.get(rs.context);
    if (r && r.index === undefined) r.index = rs.index;
  }

  function serveReads(): void {
    for (const [ctx, r] of pendingReads) {
      if (r.index === undefined || applied < r.index) continue;
      pendingReads.delete(ctx);
      r.run();
    }
  }

  function maybeCompact(): void {
    if (applied - snapshotIndex < snapshotEvery) return;
    const data = stateMachine.snapshot();
    const c = mustCore();
    c.compact(applied, data);
    // The core's own snapshot records its view of the term and configuration at that index.
    const made = c.latestSnapshot?.();
    const snap: Snapshot = made && made.index === applied ? made : { index: applied, term: appliedTerm, conf: structuredClone(appliedConf), data };
    storage.compact(snap);
    snapshotIndex = applied;
    log.info({ index: applied, bytes: data.length }, 'raft log compacted');
  }

  function isLeaderRole(): boolean {
    return core !== undefined && core.status().role === 'leader';
  }

  function catchUpTicks(): void {
    const due = Math.floor((clock.now() - tickEpoch) / tickMs);
    let n = due - ticksDone;
    if (n <= 0) return;
    // Only a leader needs every missed tick (its lease must lapse in real time);
    // a follower that ticked late merely times out late, which is safe.
    if (!isLeaderRole()) n = 1;
    ticksDone = due;
    const c = mustCore();
    for (let i = 0; i < Math.min(n, maxCatchUpTicks); i++) c.tick();
  }

  function onTickTimer(): void {
    tickTimer = undefined;
    if (stopped) return;
    enqueue(() => {
      catchUpTicks();
      expireAndRetry();
    });
    scheduleTick();
  }

  function scheduleTick(): void {
    if (stopped) return;
    const next = tickEpoch + (ticksDone + 1) * tickMs;
    tickTimer = clock.setTimeout(onTickTimer, Math.max(1, next - clock.now()));
  }

  function expireAndRetry(): void {
    const now = clock.now();
    for (const [index, list] of pendingEntries) {
      const keep = list.filter((p) => {
        if (p.deadline > now) return true;
        p.settle({ kind: 'timeout' });
        return false;
      });
      if (keep.length === 0) pendingEntries.delete(index);
      else pendingEntries.set(index, keep);
    }
    const c = mustCore();
    for (const [ctx, r] of pendingReads) {
      if (r.deadline <= now) {
        pendingReads.delete(ctx);
        r.fail(new NotLeader(`no Raft leader (quorum lost?): read not confirmed in time on ${id}`));
      } else if (r.index === undefined && now - r.askedAt >= electionMs) {
        r.askedAt = now;
        c.readIndex(ctx);
      }
    }
  }

  function leaseHolds(): boolean {
    if (!core || stopped) return false;
    const st = core.status();
    if (st.role !== 'leader' || !st.leaseValid) return false;
    return clock.now() - (tickEpoch + (ticksDone + 1) * tickMs) <= leaseSlackMs;
  }

  function checkLeadership(): void {
    const now = leaseHolds();
    if (now === leading) return;
    leading = now;
    const term = core?.status().term ?? 0;
    log.info({ leading, term }, leading ? 'leading with a valid lease' : 'no longer leading');
    for (const l of [...leadershipListeners]) {
      try {
        l(leading, term);
      } catch (err) {
        log.warn({ err }, 'leadership listener failed');
      }
    }
  }

  /** Resolves on a leader or role change, or after ms, whichever is first (never past the deadline). */
  function waitForChange(deadline: number, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let handle: unknown;
      const done = () => {
        changeWaiters.delete(done);
        clock.clearTimeout(handle);
        resolve();
      };
      changeWaiters.add(done);
      handle = clock.setTimeout(done, Math.max(1, Math.min(ms, deadline - clock.now())));
    });
  }

  /** Appends one proposal through the local core and waits for its fate. */
  function proposeHere(p: Proposal, deadline: number): Promise<Outcome> {
    return new Promise((resolve) => {
      if (stopped) return resolve({ kind: 'stopped' });
      queuedProposals.add(resolve);
      enqueue(() => {
        queuedProposals.delete(resolve);
        const c = mustCore();
        let r: ProposeResult;
        try {
          r = p.kind === 'normal' ? c.propose(p.data) : c.proposeConfChange(p.change);
        } catch (err) {
          return resolve({ kind: 'invalid', message: (err as Error).message ?? String(err) });
        }
        if (!r.ok) return resolve({ kind: 'refused', leader: r.leader });
        const list = pendingEntries.get(r.index) ?? [];
        list.push({ term: r.term, deadline, settle: resolve });
        pendingEntries.set(r.index, list);
      });
    });
  }

  /** On this node only (no forwarding): what the leader does for itself and for forwarded proposals. */
  async function proposeAsLeader(p: Proposal, deadline: number): Promise<ForwardAnswer> {
    for (;;) {
      if (stopped) return { ok: false, reason: 'stopped' };
      if (!isLeaderRole()) return { ok: false, reason: 'not-leader', leader: core?.status().leader };
      if (clock.now() >= deadline) return { ok: false, reason: 'timeout' };
      const out = await proposeHere(p, deadline);
      switch (out.kind) {
        case 'applied':
          return { ok: true, result: out.result };
        case 'failed':
        case 'invalid':
          return { ok: false, reason: out.kind, message: out.message };
        case 'timeout':
        case 'unknown':
        case 'stopped':
          return { ok: false, reason: out.kind };
        case 'lost':
        case 'refused':
          // Nothing of this proposal can commit: try again (here while leading, else the caller forwards).
          await waitForChange(deadline, retryMs);
      }
    }
  }

  function noLeader(what: string, timeoutMs: number): NotLeader {
    return new NotLeader(`no Raft leader (quorum lost?): ${what} not committed within ${timeoutMs} ms`);
  }

  /** Proposes here when leading, else forwards to the leader; retries across leader changes until the deadline. */
  async function submit(p: Proposal, timeoutMs: number): Promise<unknown> {
    mustCore();
    const deadline = clock.now() + timeoutMs;
    const what = p.kind === 'normal' ? 'proposal' : `membership change ${p.change.type} ${p.change.node}`;
    for (;;) {
      if (stopped) throw new NotLeader(`raft node ${id} stopped`);
      if (clock.now() >= deadline) throw noLeader(what, timeoutMs);
      const st = mustCore().status();
      let answer: ForwardAnswer | undefined;
      const leader = st.leader ?? (inGroup(st.conf) ? undefined : opts.outsideView?.()?.leader);
      if (st.role === 'leader') answer = await proposeAsLeader(p, deadline);
      else if (leader !== undefined && leader !== id) answer = await forward(leader, p, deadline);
      if (answer?.ok) return answer.result;
      if (answer && !answer.ok) {
        if (answer.reason === 'failed') throw new Error(`state machine failed on the ${what}: ${answer.message}`);
        if (answer.reason === 'invalid') throw new Invalid(answer.message);
        if (answer.reason === 'timeout') throw noLeader(what, timeoutMs);
        if (answer.reason === 'unknown') throw new NotLeader(`no Raft leader (quorum lost?): the outcome of the ${what} is unknown (leadership changed)`);
        if (answer.reason === 'stopped' && stopped) throw new NotLeader(`raft node ${id} stopped`);
      }
      await waitForChange(deadline, retryMs);
    }
  }

  async function forward(leader: NodeId, p: Proposal, deadline: number): Promise<ForwardAnswer | undefined> {
    const remaining = deadline - clock.now();
    const body = JSON.stringify(p.kind === 'normal' ? { command: p.data, timeoutMs: remaining } : { change: p.change, timeoutMs: remaining });
    try {
      const answer = await transport.request(leader, p.kind === 'normal' ? PROPOSE_REQUEST : CONF_REQUEST, body, { timeoutMs: remaining });
      return JSON.parse(answer) as ForwardAnswer;
    } catch (err) {
      // A timed-out forward may still commit on the leader: do not send it again.
      if (err instanceof RequestTimeout) return { ok: false, reason: 'timeout' };
      log.debug({ err, leader }, 'forwarding to the raft leader failed; retrying');
      return undefined;
    }
  }

  async function serveRequest(from: NodeId, kind: string, body: string): Promise<string> {
    if (kind !== PROPOSE_REQUEST && kind !== CONF_REQUEST) throw new UnknownRequestKind(kind);
    if (!core) return JSON.stringify({ ok: false, reason: 'not-leader' } satisfies ForwardAnswer);
    const req = JSON.parse(body) as { command?: unknown; change?: unknown; timeoutMs?: unknown };
    const timeoutMs = typeof req.timeoutMs === 'number' && req.timeoutMs > 0 ? Math.min(req.timeoutMs, 60_000) : defaultTimeoutMs;
    let p: Proposal;
    if (kind === PROPOSE_REQUEST) {
      if (typeof req.command !== 'string') throw new Error('propose: command must be a string');
      p = { kind: 'normal', data: req.command };
    } else p = { kind: 'conf', change: validateChange(req.change) };
    const answer = await proposeAsLeader(p, clock.now() + timeoutMs);
    log.debug({ from, kind, ok: answer.ok }, 'served a forwarded proposal');
    try {
      return JSON.stringify(answer);
    } catch (err) {
      return JSON.stringify({ ok: false, reason: 'failed', message: `result is not JSON: ${(err as Error).message}` } satisfies ForwardAnswer);
    }
  }

  function validateChange(v: unknown): ConfChange {
    const c = v as Partial<ConfChange> | undefined;
    if (typeof c !== 'object' || c === null || typeof c.type !== 'string' || !CONF_CHANGE_TYPES.has(c.type)) {
      throw new Invalid('change.type: must be one of add-learner, promote, remove');
    }
    if (typeof c.node !== 'string' || c.node === '') throw new Invalid('change.node: must be a non-empty node name');
    return { type: c.type, node: c.node } as ConfChange;
  }

  function inGroup(conf: ConfState): boolean {
    return conf.voters.includes(id) || conf.learners.includes(id);
  }

  const node: DriverRaftNode = {
    async start() {
      if (started) return;
      started = true;
      let stored = storage.load();
      const fresh = stored.hardState.term === 0 && stored.entries.length === 0 && !stored.snapshot;
      if (fresh && opts.initialConf.voters.length + opts.initialConf.learners.length > 0) {
        // Bootstrap (as etcd does): the founding configuration becomes committed
        // conf entries at the head of the log, so a joiner that starts with an
        // empty configuration learns all of it by replaying the leader's log.
        const entries: Entry[] = confChangesFor(opts.initialConf).map((change, i) => ({ index: i + 1, term: 1, type: 'conf', change }));
        storage.save({ hardState: { term: 1, vote: '', commit: entries.length }, entries });
        stored = storage.load();
        log.info({ conf: opts.initialConf }, 'bootstrapped a new raft group');
      }
      const start: RaftStart = { hardState: stored.hardState, entries: stored.entries, initialConf: { voters: [], learners: [] } };
      if (stored.snapshot) start.snapshot = stored.snapshot;
      const config: RaftConfig = { id, electionTicks, heartbeatTicks, random: opts.random ?? Math.random };
      if (opts.maxEntriesPerMessage !== undefined) config.maxEntriesPerMessage = opts.maxEntriesPerMessage;
      core = (opts.createCore ?? createRaftCore)(config, start);
      if (stored.snapshot) {
        stateMachine.restore(stored.snapshot.data);
        applied = snapshotIndex = stored.snapshot.index;
        appliedTerm = stored.snapshot.term;
        appliedConf = structuredClone(stored.snapshot.conf);
      } else appliedConf = { voters: [], learners: [] };
      const st = core.status();
      soft = { leader: st.leader, role: st.role };
      log.info({ term: st.term, commit: st.commit, lastIndex: st.lastIndex, snapshot: snapshotIndex, conf: st.conf }, 'raft member started');

      unsubscribe.push(
        transport.onMessage((msg) => {
          if (msg.to !== id || stopped) return;
          enqueue(() => {
            if (msg.type === 'append' || msg.type === 'heartbeat' || msg.type === 'snapshot') leaderContact.set(msg.from, clock.now());
            mustCore().step(msg);
          });
        }),
        transport.onRequest(serveRequest),
      );
      tickEpoch = clock.now();
      ticksDone = 0;
      scheduleTick();
      // A group of one need not wait out an election timeout.
      if (st.conf.voters.length === 1 && st.conf.voters[0] === id && st.role !== 'leader') enqueue(() => mustCore().campaign());
      schedulePump();
    },

    async stop() {
      if (!started || stopped) return;
      stopped = true;
      if (tickTimer !== undefined) clock.clearTimeout(tickTimer);
      for (const u of unsubscribe.splice(0)) u();
      inbox.length = 0;
      if (leading) {
        leading = false;
        const term = core?.status().term ?? 0;
        for (const l of [...leadershipListeners]) {
          try {
            l(false, term);
          } catch (err) {
            log.warn({ err }, 'leadership listener failed');
          }
        }
      }
      for (const settle of queuedProposals) settle({ kind: 'stopped' });
      queuedProposals.clear();
      for (const list of pendingEntries.values()) for (const p of list) p.settle({ kind: 'stopped' });
      pendingEntries.clear();
      for (const r of pendingReads.values()) r.fail(new NotLeader(`raft node ${id} stopped`));
      pendingReads.clear();
      wakeWaiters();
      log.info('raft member stopped');
    },

    propose(command, o = {}) {
      if (typeof command !== 'string') return Promise.reject(new Invalid('command: must be a string'));
      return submit({ kind: 'normal', data: command }, o.timeoutMs ?? defaultTimeoutMs);
    },

    read<T>(read: () => T, o: { timeoutMs?: number } = {}): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        if (stopped || !core) return reject(new NotLeader(`raft node ${id} is not running`));
        if (!inGroup(core.status().conf)) return reject(new NotLeader(`${id} is not a member of the Raft group: no linearizable reads here`));
        const ctx = `${readPrefix}:${++readSeq}`;
        const timeoutMs = o.timeoutMs ?? defaultTimeoutMs;
        pendingReads.set(ctx, {
          deadline: clock.now() + timeoutMs,
          askedAt: clock.now(),
          index: undefined,
          run() {
            try {
              resolve(read());
            } catch (err) {
              reject(err as Error);
            }
          },
          fail: reject,
        });
        enqueue(() => mustCore().readIndex(ctx));
      });
    },

    isLeading: leaseHolds,

    term() {
      return core?.status().term ?? 0;
    },

    leader() {
      const st = core?.status();
      if (!st) return undefined;
      return st.leader ?? (inGroup(st.conf) ? undefined : opts.outsideView?.()?.leader);
    },

    onLeadershipChange(listener) {
      leadershipListeners.add(listener);
      return () => leadershipListeners.delete(listener);
    },

    async changeMembership(change, o = {}) {
      const c = validateChange(change);
      await submit({ kind: 'conf', change: c }, o.timeoutMs ?? defaultTimeoutMs);
    },

    appliedConf() {
      return structuredClone(appliedConf);
    },

    status(): RaftMemberStatus {
      if (!core) {
        return {
          id,
          role: 'follower',
          term: 0,
          leader: undefined,
          commit: 0,
          applied: 0,
          lastIndex: 0,
          conf: { voters: [], learners: [] },
          leaseValid: false,
          inGroup: false,
          quorum: false,
        };
      }
      const st = core.status();
      if (!inGroup(st.conf)) {
        // Outside the group the mesh's heartbeats tell who leads (a dead leader's hint stops with its heartbeats).
        const view = opts.outsideView?.();
        if (view) return { ...st, term: Math.max(st.term, view.term), leader: view.leader, conf: { voters: view.voters, learners: view.learners }, inGroup: false, quorum: true };
        return { ...st, inGroup: false, quorum: false };
      }
      const contact = st.leader !== undefined ? leaderContact.get(st.leader) : undefined;
      const quorum = st.role === 'leader' ? leaseHolds() : contact !== undefined && clock.now() - contact <= electionMs;
      return { ...st, inGroup: true, quorum };
    },
  };
  return node;
}
