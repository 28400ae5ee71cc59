// The pure Raft core, in the style of etcd's raft: it steps messages, ticks
// and proposals and hands back a Ready (persist, then send, then apply). No
// clocks, timers, I/O or Math.random: time is tick(), randomness is
// config.random, so the simulations in test/sim replay exactly.
//
// Beyond the Raft paper it has pre-vote and check-quorum with leader
// stickiness (dissertation §9.6), single-server membership changes with
// learners (§4.1), leadership transfer (§3.10), read index and a leader
// lease (§6.4).
import { Invalid } from '../agent/api/errors.ts';
import type {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  Message,
  MessageType,
  NodeId,
  ProposeResult,
  RaftConfig,
  RaftCore,
  RaftStart,
  RaftStatus,
  ReadState,
  Ready,
  Role,
  Snapshot,
  SoftState,
} from './raft-types.ts';

const DEFAULT_MAX_ENTRIES_PER_MESSAGE = 100;
/** Appends in flight to one follower before the leader waits for acks (pipelining bound). */
const MAX_INFLIGHT = 256;
/** Ticks a lease keeps short of electionTicks: covers tick boundaries that differ between nodes. */
const LEASE_MARGIN_TICKS = 2;

type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** The leader's view of one follower or learner (etcd's Progress). */
interface Progress {
  match: number;
  next: number;
  /** probe: one append at a time until a match is found; replicate: pipelined; snapshot: waiting for one. */
  state: ProgressState;
  /** probe: an append is out; wait for its answer or the next heartbeat answer. */
  probeSent: boolean;
  /** replicate: the last index of each append in flight, oldest first. */
  inflight: number[];
  pendingSnapshot: number;
  snapshotSentAt: number;
  /** Heard from since the last check-quorum round. */
  recentActive: boolean;
  /** The leader's tick count when it sent the newest message this peer answered in this term. */
  lastAck: number;
  /** The commit index last sent to it, so a commit change reaches it without waiting for a heartbeat. */
  commitSent: number;
}

interface PendingRead {
  context: string;
  /** Commit index when the read arrived: the read point. */
  index: number;
  /** Who asked: this node (a ReadState) or a follower (a read-index-resp). */
  from: NodeId;
  acks: Set<NodeId>;
}

const copyConf = (c: ConfState): ConfState => ({ voters: [...c.voters], learners: [...c.learners] });

/** The configuration after one change; a change that does not apply is a no-op so every member replays the log alike. */
function applyConfChange(conf: ConfState, change: ConfChange): ConfState {
  const voters = conf.voters.filter((v) => v !== change.node);
  const learners = conf.learners.filter((l) => l !== change.node);
  switch (change.type) {
    case 'add-learner':
      if (conf.voters.includes(change.node) || conf.learners.includes(change.node)) return conf;
      return { voters: [...conf.voters], learners: [...conf.learners, change.node] };
    case 'promote':
      if (!conf.learners.includes(change.node)) return conf;
      return { voters: [...voters, change.node], learners };
    case 'remove':
      if (!conf.voters.includes(change.node) && !conf.learners.includes(change.node)) return conf;
      return { voters, learners };
  }
}

function validateConfChange(conf: ConfState, change: ConfChange): void {
  const node = change.node;
  if (typeof node !== 'string' || node === '') throw new Invalid('conf change: node must be a non-empty node id');
  const isVoter = conf.voters.includes(node);
  const isLearner = conf.learners.includes(node);
  switch (change.type) {
    case 'add-learner':
      if (isVoter || isLearner) throw new Invalid(`conf change: node ${node} is already a ${isVoter ? 'voter' : 'learner'}`);
      return;
    case 'promote':
      if (!isLearner) throw new Invalid(`conf change: node ${node} is not a learner, so it cannot be promoted`);
      return;
    case 'remove':
      if (!isVoter && !isLearner) throw new Invalid(`conf change: node ${node} is not in the group`);
      if (isVoter && conf.voters.length === 1) throw new Invalid(`conf change: node ${node} is the last voter`);
      return;
    default:
      throw new Invalid(`conf change: type must be add-learner, promote or remove`);
  }
}

export function createRaftCore(config: RaftConfig, start: RaftStart): RaftCore {
  const id = config.id;
  const electionTicks = config.electionTicks;
  const heartbeatTicks = config.heartbeatTicks;
  const random = config.random;
  const maxEntries = config.maxEntriesPerMessage ?? DEFAULT_MAX_ENTRIES_PER_MESSAGE;
  if (!id) throw new Invalid('raft config: id must be a non-empty node id');
  if (!Number.isInteger(heartbeatTicks) || heartbeatTicks < 1) throw new Invalid('raft config: heartbeatTicks must be an integer >= 1');
  if (!Number.isInteger(electionTicks) || electionTicks <= heartbeatTicks || electionTicks < 3) {
    throw new Invalid('raft config: electionTicks must be an integer > heartbeatTicks and >= 3');
  }
  if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new Invalid('raft config: maxEntriesPerMessage must be an integer >= 1');

  // ---- the log: entries[i] has index offset + 1 + i; offset/offsetTerm are the snapshot's ----
  let snapshot: Snapshot | undefined = start.snapshot;
  let offset = snapshot?.index ?? 0;
  let offsetTerm = snapshot?.term ?? 0;
  let log: Entry[] = [];
  for (const e of start.entries) {
    if (e.index <= offset) continue;
    if (e.index !== offset + log.length + 1) throw new Invalid(`raft start: entries must be contiguous after ${offset + log.length} (got index ${e.index})`);
    log.push(e);
  }

  const lastIndex = (): number => offset + log.length;
  const lastTerm = (): number => (log.length > 0 ? log[log.length - 1]!.term : offsetTerm);
  /** The term of entry i; undefined when i is compacted away or beyond the log. */
  function termAt(i: number): number | undefined {
    if (i === offset) return offsetTerm;
    if (i < offset || i > offset + log.length) return undefined;
    return log[i - offset - 1]!.term;
  }
  /** Entries lo..hi inclusive (callers keep them within the log). */
  const slice = (lo: number, hi: number): Entry[] => log.slice(lo - offset - 1, hi - offset);

  // ---- configuration: a conf entry takes effect when appended, so keep one per conf entry in the log ----
  let confBase: ConfState = copyConf(snapshot?.conf ?? start.initialConf);
  let confLog: Array<{ index: number; conf: ConfState }> = [];
  for (const e of log) if (e.type === 'conf') confLog.push({ index: e.index, conf: applyConfChange(confLog.at(-1)?.conf ?? confBase, e.change) });
  const conf = (): ConfState => (confLog.length > 0 ? confLog[confLog.length - 1]!.conf : confBase);
  const lastConfIndex = (): number => (confLog.length > 0 ? confLog[confLog.length - 1]!.index : 0);
  const isVoter = (n: NodeId): boolean => conf().voters.includes(n);
  const isMember = (n: NodeId): boolean => isVoter(n) || conf().learners.includes(n);
  const quorum = (): number => Math.floor(conf().voters.length / 2) + 1;
  /** The configuration as of the commit index (the latest one may still be uncommitted). */
  function committedConf(): ConfState {
    for (let i = confLog.length - 1; i >= 0; i--) if (confLog[i]!.index <= commit) return confLog[i]!.conf;
    return confBase;
  }
  /**
   * Only voters campaign: learners and removed nodes never do. A voter whose
   * removal is appended but not yet committed still may: it can hold the
   * newest log, and the voters of the older configuration may then need it
   * to lead (and so commit its removal) to make progress. Votes are still
   * counted in the latest configuration, so this changes no safety argument.
   */
  const promotable = (): boolean => isVoter(id) || committedConf().voters.includes(id);
  function countVoters(pred: (v: NodeId) => boolean): number {
    let n = 0;
    for (const v of conf().voters) if (pred(v)) n++;
    return n;
  }

  // ---- persistent and volatile state ----
  let term = start.hardState.term;
  let vote = start.hardState.vote;
  let commit = Math.min(Math.max(start.hardState.commit, offset), lastIndex());
  let applied = Math.min(Math.max(start.applied ?? offset, offset), commit);
  /** The last index handed out in committedEntries (applied catches up at advance()). */
  let handedApplied = applied;
  let appliedAtAdvance = applied;
  /** The first index not yet handed out for persistence. */
  let unstableFrom = lastIndex() + 1;
  let snapshotForReady: Snapshot | undefined;

  let role: Role = 'follower';
  let lead: NodeId | undefined;
  let now = 0;
  let electionElapsed = 0;
  let heartbeatElapsed = 0;
  let randomizedTimeout = electionTicks;
  // Ticks since this node last heard from a leader of its term. A node that
  // restarts with history may have acked a leader just before it stopped, so
  // it counts as having heard one just now (that keeps the leader's lease
  // sound); a new group's members have heard from nobody.
  let sinceLeader = term > 0 ? 0 : Number.POSITIVE_INFINITY;
  const votes = new Map<NodeId, boolean>();

  // Leader-only state.
  const progress = new Map<NodeId, Progress>();
  let pendingBcast = false;
  let transferee: NodeId | undefined;
  let transferElapsed = 0;
  let timeoutNowSent = false;
  /** Answers to messages sent before this tick do not count for the lease (see leaseHolds). */
  let leaseAckFloor = 0;
  let readsBeforeCommit: Array<{ context: string; from: NodeId }> = [];
  let readQueue: PendingRead[] = [];
  const readByContext = new Map<string, PendingRead>();

  let msgs: Message[] = [];
  let readStates: ReadState[] = [];
  let prevHard: HardState = { term, vote, commit };
  let prevSoft: SoftState = { leader: undefined, role: 'follower' };

  resetRandomizedTimeout();

  function resetRandomizedTimeout(): void {
    randomizedTimeout = electionTicks + Math.floor(random() * electionTicks);
    if (randomizedTimeout >= 2 * electionTicks) randomizedTimeout = 2 * electionTicks - 1;
  }

  function send(m: Omit<Message, 'from'>): void {
    msgs.push({ ...m, from: id });
  }

  // ---- log mutation ----

  /** Appends entries whose first index is <= lastIndex()+1, replacing the log from there on. */
  function appendToLog(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    if (first <= commit) throw new Error(`raft ${id}: refusing to overwrite committed entry ${first} (commit ${commit})`);
    if (first <= lastIndex()) {
      log.length = first - offset - 1;
      let reverted = false;
      while (confLog.length > 0 && confLog[confLog.length - 1]!.index >= first) {
        confLog.pop();
        reverted = true;
      }
      if (reverted) onConfChanged();
    }
    unstableFrom = Math.min(unstableFrom, first);
    let changed = false;
    for (const e of entries) {
      log.push(e);
      if (e.type === 'conf') {
        confLog.push({ index: e.index, conf: applyConfChange(conf(), e.change) });
        changed = true;
      }
    }
    if (changed) onConfChanged();
  }

  /** The follower's hint after a rejection: the newest index <= index whose term is <= t (terms never decrease along a log). */
  function findConflictByTerm(index: number, t: number): number {
    let hi = Math.min(index, lastIndex());
    let lo = offset;
    if ((termAt(hi) ?? 0) <= t) return hi;
    // Invariant: term(lo) <= t (or lo is the snapshot: nothing older is known), term(hi) > t.
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1;
      if ((termAt(mid) ?? 0) <= t) lo = mid;
      else hi = mid;
    }
    return lo;
  }

  // ---- role changes ----

  function resetLeaderState(): void {
    progress.clear();
    pendingBcast = false;
    transferee = undefined;
    timeoutNowSent = false;
    readsBeforeCommit = [];
    readQueue = [];
    readByContext.clear();
  }

  function reset(t: number): void {
    if (t !== term) {
      term = t;
      vote = '';
    }
    lead = undefined;
    electionElapsed = 0;
    heartbeatElapsed = 0;
    resetRandomizedTimeout();
    votes.clear();
    resetLeaderState();
  }

  function becomeFollower(t: number, leader: NodeId | undefined): void {
    reset(t);
    role = 'follower';
    lead = leader;
    if (leader !== undefined) sinceLeader = 0;
  }

  function becomePreCandidate(): void {
    // The term and vote stay: a pre-vote only asks whether an election could succeed.
    votes.clear();
    resetLeaderState();
    lead = undefined;
    electionElapsed = 0;
    resetRandomizedTimeout();
    role = 'pre-candidate';
  }

  function becomeCandidate(): void {
    reset(term + 1);
    vote = id;
    role = 'candidate';
  }

  function becomeLeader(): void {
    reset(term);
    role = 'leader';
    lead = id;
    leaseAckFloor = now;
    const next = lastIndex() + 1;
    for (const n of [...conf().voters, ...conf().learners]) if (n !== id) progress.set(n, newProgress(next));
    // An entry of the new term lets the leader commit everything before it (§5.4.2).
    appendToLog([{ index: lastIndex() + 1, term, type: 'empty' }]);
    pendingBcast = true;
    maybeCommit();
  }

  function newProgress(next: number): Progress {
    return {
      match: 0,
      next,
      state: 'probe',
      probeSent: false,
      inflight: [],
      pendingSnapshot: 0,
      snapshotSentAt: 0,
      recentActive: false,
      lastAck: Number.NEGATIVE_INFINITY,
      commitSent: 0,
    };
  }

  /** Keeps the leader's progress in line with the configuration after a conf entry is appended or reverted. */
  function onConfChanged(): void {
    if (role !== 'leader') return;
    const members = new Set([...conf().voters, ...conf().learners]);
    for (const n of members) if (n !== id && !progress.has(n)) progress.set(n, newProgress(lastIndex() + 1));
    pruneRemoved();
    if (transferee !== undefined && !isVoter(transferee)) abortTransfer();
    // A smaller quorum may already hold entries the larger one did not.
    maybeCommit();
  }

  /**
   * A removed node keeps getting the log until its removal commits: the
   * removal takes effect on it when appended, so it learns it is out and
   * stops campaigning.
   */
  function pruneRemoved(): void {
    if (lastConfIndex() > commit) return;
    for (const n of [...progress.keys()]) if (!isMember(n)) progress.delete(n);
  }

  // ---- elections ----

  function campaign(kind: 'pre-vote' | 'vote' | 'transfer'): void {
    if (!promotable() || role === 'leader') return;
    if (kind === 'pre-vote') becomePreCandidate();
    else becomeCandidate();
    const voteTerm = kind === 'pre-vote' ? term + 1 : term;
    votes.set(id, true);
    if (electionWon()) {
      if (kind === 'pre-vote') campaign('vote');
      else becomeLeader();
      return;
    }
    const type: MessageType = kind === 'pre-vote' ? 'pre-vote' : 'vote';
    for (const v of conf().voters) {
      if (v === id) continue;
      const m: Omit<Message, 'from'> = { type, to: v, term: voteTerm, logIndex: lastIndex(), logTerm: lastTerm() };
      if (kind === 'transfer') m.transfer = true;
      send(m);
    }
  }

  const electionWon = (): boolean => countVoters((v) => votes.get(v) === true) >= quorum();
  const electionLost = (): boolean => countVoters((v) => votes.get(v) === false) > conf().voters.length - quorum();

  const logUpToDate = (index: number, t: number): boolean => t > lastTerm() || (t === lastTerm() && index >= lastIndex());

  /**
   * Leader stickiness: while this node hears from a leader (or leads), it
   * ignores (pre-)votes, so a node that rejoins after a partition cannot
   * unseat a healthy leader, and a leader's lease is safe (see leaseHolds).
   */
  const stickToLeader = (): boolean => role === 'leader' || sinceLeader < electionTicks;

  function handleVoteRequest(m: Message): void {
    const isPre = m.type === 'pre-vote';
    const respType: MessageType = isPre ? 'pre-vote-resp' : 'vote-resp';
    const canVote = vote === m.from || (vote === '' && lead === undefined) || (isPre && m.term > term);
    if (canVote && logUpToDate(m.logIndex ?? 0, m.logTerm ?? 0)) {
      // The grant carries the candidate's term, so the candidate counts it.
      send({ type: respType, to: m.from, term: m.term, reject: false });
      if (!isPre) {
        electionElapsed = 0;
        vote = m.from;
      }
    } else {
      send({ type: respType, to: m.from, term, reject: true });
    }
  }

  function handleVoteResponse(m: Message): void {
    if (role === 'pre-candidate' && m.type === 'pre-vote-resp') {
      // A grant answers the term we would campaign in; a refusal carries the voter's term.
      if (m.reject ? m.term !== term : m.term !== term + 1) return;
    } else if (!(role === 'candidate' && m.type === 'vote-resp' && m.term === term)) {
      return;
    }
    votes.set(m.from, !m.reject);
    if (electionWon()) {
      if (role === 'pre-candidate') campaign('vote');
      else becomeLeader();
    } else if (electionLost()) {
      becomeFollower(term, undefined);
    }
  }

  // ---- replication (leader) ----

  function becomeProbe(pr: Progress): void {
    pr.next = pr.state === 'snapshot' ? Math.max(pr.match + 1, pr.pendingSnapshot + 1) : pr.match + 1;
    pr.state = 'probe';
    pr.probeSent = false;
    pr.inflight = [];
  }

  function becomeReplicate(pr: Progress): void {
    pr.state = 'replicate';
    pr.next = pr.match + 1;
    pr.probeSent = false;
    pr.inflight = [];
  }

  function isPaused(pr: Progress): boolean {
    if (pr.state === 'probe') return pr.probeSent;
    if (pr.state === 'replicate') return pr.inflight.length >= MAX_INFLIGHT;
    return true;
  }

  /** Sends one append (or the snapshot, if the follower needs compacted entries); returns whether it sent. */
  function sendAppend(to: NodeId, pr: Progress, sendIfEmpty: boolean): boolean {
    if (isPaused(pr)) return false;
    if (pr.next > lastIndex() + 1) pr.next = lastIndex() + 1;
    const prevIndex = pr.next - 1;
    const prevTerm = termAt(prevIndex);
    if (prevTerm === undefined) return sendSnapshot(to, pr);
    const entries = pr.next <= lastIndex() ? slice(pr.next, Math.min(lastIndex(), pr.next + maxEntries - 1)) : [];
    if (entries.length === 0 && !sendIfEmpty) return false;
    send({ type: 'append', to, term, logIndex: prevIndex, logTerm: prevTerm, entries, commit, sentAt: now });
    pr.commitSent = commit;
    if (pr.state === 'probe') {
      pr.probeSent = true;
    } else if (entries.length > 0) {
      const lastSent = entries[entries.length - 1]!.index;
      pr.next = lastSent + 1;
      pr.inflight.push(lastSent);
    }
    return true;
  }

  /** Sends what the follower lacks: pipelined appends up to the inflight bound when replicating, one probe otherwise. */
  function sendAppends(to: NodeId, pr: Progress, sendIfEmpty: boolean): void {
    if (!sendAppend(to, pr, sendIfEmpty)) return;
    while (pr.state === 'replicate' && pr.next <= lastIndex() && sendAppend(to, pr, false)) {
      // keep filling the pipeline
    }
  }

  function sendSnapshot(to: NodeId, pr: Progress): boolean {
    if (!snapshot) return false; // cannot happen: entries are only ever dropped under a snapshot
    send({ type: 'snapshot', to, term, snapshot, sentAt: now });
    pr.state = 'snapshot';
    pr.pendingSnapshot = snapshot.index;
    pr.snapshotSentAt = now;
    pr.inflight = [];
    return true;
  }

  /** Proposals and commit changes only mark the followers stale; ready() sends one batch per follower. */
  function bcastAppend(): void {
    pendingBcast = false;
    for (const [to, pr] of progress) sendAppends(to, pr, pr.commitSent < commit);
    pruneRemoved();
  }

  function bcastHeartbeat(): void {
    const context = readQueue.length > 0 ? readQueue[readQueue.length - 1]!.context : undefined;
    for (const [to, pr] of progress) {
      const m: Omit<Message, 'from'> = { type: 'heartbeat', to, term, commit: Math.min(pr.match, commit), sentAt: now };
      if (context !== undefined) m.context = context;
      send(m);
    }
  }

  function maybeCommit(): boolean {
    const voters = conf().voters;
    if (voters.length === 0) return false;
    const matches = voters.map((v) => (v === id ? lastIndex() : (progress.get(v)?.match ?? 0)));
    matches.sort((a, b) => b - a);
    const q = matches[quorum() - 1]!;
    // Only an entry of the leader's own term is committed by counting replicas (§5.4.2).
    if (q <= commit || termAt(q) !== term) return false;
    commit = q;
    onLeaderCommit();
    return true;
  }

  function onLeaderCommit(): void {
    pendingBcast = true;
    if (readsBeforeCommit.length > 0) {
      const waiting = readsBeforeCommit;
      readsBeforeCommit = [];
      for (const r of waiting) leaderRead(r.context, r.from);
    }
    // A leader that is no longer a member leads until its removal commits, then hands over and steps down.
    if (!isVoter(id) && commit >= lastConfIndex()) {
      bcastAppend();
      let best: NodeId | undefined;
      for (const [n, pr] of progress) if (isVoter(n) && pr.match === lastIndex() && best === undefined) best = n;
      if (best !== undefined) send({ type: 'timeout-now', to: best, term });
      becomeFollower(term, undefined);
    }
  }

  function handleAppendResponse(m: Message): void {
    const pr = progress.get(m.from);
    if (!pr) return;
    noteAck(pr, m);
    const hint = m.hint ?? 0;
    if (m.reject) {
      const rejected = m.logIndex ?? 0;
      if (pr.state === 'replicate') {
        if (rejected <= pr.match) return; // stale
        becomeProbe(pr);
      } else if (pr.state === 'probe') {
        if (rejected !== pr.next - 1) return; // stale: answers an older probe
        // Skip the follower's whole conflicting term in one step (etcd's findConflictByTerm, on our side).
        let probe = Math.min(hint, lastIndex());
        if (m.logTerm !== undefined && m.logTerm > 0) probe = leaderConflictByTerm(probe, m.logTerm);
        pr.next = Math.max(Math.min(rejected, probe + 1), pr.match + 1);
        pr.probeSent = false;
      } else {
        return;
      }
      sendAppends(m.from, pr, true);
      return;
    }
    if (hint > pr.match) {
      pr.match = hint;
      if (pr.state === 'replicate') {
        while (pr.inflight.length > 0 && pr.inflight[0]! <= hint) pr.inflight.shift();
      }
      if (pr.state === 'probe') becomeReplicate(pr);
      else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) becomeReplicate(pr);
      maybeCommit();
      if (role !== 'leader') return; // stepped down after its own removal committed
    } else if (pr.state === 'probe') {
      // The follower holds everything up to match, so pipelining may start from there.
      becomeReplicate(pr);
    }
    if (pr.next < pr.match + 1) pr.next = pr.match + 1;
    if (m.from === transferee && pr.match === lastIndex()) sendTimeoutNow(m.from);
    sendAppends(m.from, pr, false);
  }

  /** Any answer in this term: the peer is alive (check-quorum) and stuck to us since we sent what it answers (lease). */
  function noteAck(pr: Progress, m: Message): void {
    pr.recentActive = true;
    if (m.sentAt !== undefined && m.sentAt <= now && m.sentAt > pr.lastAck) pr.lastAck = m.sentAt;
  }

  /** The newest index <= index in the leader's log whose term is <= t (or the index itself if compacted). */
  function leaderConflictByTerm(index: number, t: number): number {
    if (index <= offset) return index;
    return findConflictByTerm(index, t);
  }

  function handleHeartbeatResponse(m: Message): void {
    const pr = progress.get(m.from);
    if (!pr) return;
    noteAck(pr, m);
    pr.probeSent = false;
    // A lost append would otherwise stall a full pipeline for good.
    if (pr.state === 'replicate' && pr.inflight.length >= MAX_INFLIGHT) pr.inflight.shift();
    // A snapshot that got lost is sent again once the follower is evidently alive without it.
    if (pr.state === 'snapshot' && now - pr.snapshotSentAt >= electionTicks) becomeProbe(pr);
    // Even an empty append helps: if an append in flight was lost, the follower rejects this one and the leader backs up.
    if (pr.match < lastIndex()) sendAppends(m.from, pr, true);
    if (m.context !== undefined) readAck(m.context, m.from);
  }

  // ---- replication (follower) ----

  function heardFromLeader(from: NodeId): void {
    if (role !== 'follower') becomeFollower(term, from);
    lead = from;
    electionElapsed = 0;
    sinceLeader = 0;
  }

  function handleAppend(m: Message): void {
    const prevIndex = m.logIndex ?? 0;
    const prevTerm = m.logTerm ?? 0;
    const entries = m.entries ?? [];
    if (prevIndex < commit) {
      // Everything up to commit is settled; tell the leader how far that is.
      answer(m, { type: 'append-resp', to: m.from, term, hint: commit });
      return;
    }
    if (termAt(prevIndex) !== prevTerm) {
      const hint = findConflictByTerm(Math.min(prevIndex, lastIndex()), prevTerm);
      answer(m, { type: 'append-resp', to: m.from, term, reject: true, logIndex: prevIndex, hint, logTerm: termAt(hint) ?? 0 });
      return;
    }
    // Keep what already matches: a delayed, shorter append must not cut off a newer tail.
    let i = 0;
    while (i < entries.length && termAt(entries[i]!.index) === entries[i]!.term) i++;
    if (i < entries.length) appendToLog(i === 0 ? entries : entries.slice(i));
    const lastNew = prevIndex + entries.length;
    const newCommit = Math.min(m.commit ?? 0, lastNew);
    if (newCommit > commit) commit = newCommit;
    answer(m, { type: 'append-resp', to: m.from, term, hint: lastNew });
  }

  /** Answers a leader's message, echoing when it was sent (see sentAt). */
  function answer(to: Message, resp: Omit<Message, 'from'>): void {
    if (to.sentAt !== undefined) resp.sentAt = to.sentAt;
    send(resp);
  }

  function handleHeartbeat(m: Message): void {
    // The leader sends min(our match, its commit), so this is within the agreed prefix.
    const c = Math.min(m.commit ?? 0, lastIndex());
    if (c > commit) commit = c;
    const resp: Omit<Message, 'from'> = { type: 'heartbeat-resp', to: m.from, term };
    if (m.context !== undefined) resp.context = m.context;
    answer(m, resp);
  }

  function handleSnapshot(m: Message): void {
    const s = m.snapshot;
    if (!s) return;
    if (s.index <= commit) {
      answer(m, { type: 'append-resp', to: m.from, term, hint: commit });
      return;
    }
    if (termAt(s.index) === s.term) {
      // Our log already holds the snapshot's last entry: only the commit moves.
      commit = s.index;
      answer(m, { type: 'append-resp', to: m.from, term, hint: commit });
      return;
    }
    // Replace the whole log by the snapshot.
    snapshot = s;
    offset = s.index;
    offsetTerm = s.term;
    log = [];
    confBase = copyConf(s.conf);
    confLog = [];
    commit = s.index;
    handedApplied = s.index;
    unstableFrom = s.index + 1;
    snapshotForReady = s;
    answer(m, { type: 'append-resp', to: m.from, term, hint: s.index });
  }

  // ---- transfer ----

  function abortTransfer(): void {
    transferee = undefined;
    transferElapsed = 0;
    timeoutNowSent = false;
  }

  function sendTimeoutNow(to: NodeId): void {
    if (timeoutNowSent) return;
    timeoutNowSent = true;
    send({ type: 'timeout-now', to, term });
    // The target's votes bypass stickiness, and a delayed timeout-now may
    // start its election at any time in this term: no lease for the rest of it.
    leaseAckFloor = Number.POSITIVE_INFINITY;
  }

  // ---- reads ----

  const committedInTerm = (): boolean => termAt(commit) === term;

  function respondRead(context: string, from: NodeId, index: number): void {
    if (from === id) readStates.push({ context, index });
    else send({ type: 'read-index-resp', to: from, term, context, readIndex: index });
  }

  function leaderRead(context: string, from: NodeId): void {
    // Until an entry of this term commits, the leader may not know the latest commit index (§8).
    if (!committedInTerm()) {
      readsBeforeCommit.push({ context, from });
      return;
    }
    if (readByContext.has(context)) return;
    const req: PendingRead = { context, index: commit, from, acks: new Set() };
    if (isVoter(id)) req.acks.add(id);
    if (countVoters((v) => req.acks.has(v)) >= quorum()) {
      respondRead(context, from, commit);
      return;
    }
    readQueue.push(req);
    readByContext.set(context, req);
    bcastHeartbeat();
  }

  function readAck(context: string, from: NodeId): void {
    const req = readByContext.get(context);
    if (!req) return;
    if (isVoter(from)) req.acks.add(from);
    if (countVoters((v) => req.acks.has(v)) < quorum()) return;
    // A quorum answered a heartbeat sent after every older request, so those are confirmed too.
    const at = readQueue.indexOf(req);
    const done = readQueue.splice(0, at + 1);
    for (const r of done) {
      readByContext.delete(r.context);
      respondRead(r.context, r.from, r.index);
    }
  }

  // ---- ticks ----

  function tickLeader(): void {
    heartbeatElapsed++;
    electionElapsed++;
    if (electionElapsed >= electionTicks) {
      electionElapsed = 0;
      // Check-quorum: a leader cut off from a quorum steps down instead of serving stale reads forever.
      const active = countVoters((v) => v === id || progress.get(v)?.recentActive === true);
      if (active < quorum()) {
        becomeFollower(term, undefined);
        return;
      }
      for (const pr of progress.values()) pr.recentActive = false;
    }
    if (transferee !== undefined && ++transferElapsed >= electionTicks) abortTransfer();
    if (transferee === undefined && leaseAckFloor === Number.POSITIVE_INFINITY) {
      // A timeout-now went out and the transfer ended without us losing the
      // term: this term can have no lease again, so step down for a new one.
      becomeFollower(term, undefined);
      return;
    }
    if (heartbeatElapsed >= heartbeatTicks) {
      heartbeatElapsed = 0;
      bcastHeartbeat();
    }
  }

  // ---- stepping messages ----

  function step(m: Message): void {
    if (m.to !== id) return;
    if (m.term > term) {
      if ((m.type === 'vote' || m.type === 'pre-vote') && !m.transfer && stickToLeader()) return;
      if (m.type === 'pre-vote') {
        // A pre-vote never changes our term.
      } else if (m.type === 'pre-vote-resp' && !m.reject) {
        // A grant carries the term we would campaign in.
      } else {
        const fromLeader = m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot';
        becomeFollower(m.term, fromLeader ? m.from : undefined);
      }
    } else if (m.term < term) {
      if (m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot') {
        // A stale leader learns our term from this and steps down.
        send({ type: 'append-resp', to: m.from, term, reject: true });
      } else if (m.type === 'pre-vote') {
        send({ type: 'pre-vote-resp', to: m.from, term, reject: true });
      }
      return;
    }

    switch (m.type) {
      case 'vote':
      case 'pre-vote':
        handleVoteRequest(m);
        return;
      case 'vote-resp':
      case 'pre-vote-resp':
        handleVoteResponse(m);
        return;
      case 'append':
        if (role === 'leader') return;
        heardFromLeader(m.from);
        handleAppend(m);
        return;
      case 'heartbeat':
        if (role === 'leader') return;
        heardFromLeader(m.from);
        handleHeartbeat(m);
        return;
      case 'snapshot':
        if (role === 'leader') return;
        heardFromLeader(m.from);
        handleSnapshot(m);
        return;
      case 'append-resp':
        if (role === 'leader') handleAppendResponse(m);
        return;
      case 'heartbeat-resp':
        if (role === 'leader') handleHeartbeatResponse(m);
        return;
      case 'timeout-now':
        if (role === 'follower') campaign('transfer');
        return;
      case 'read-index':
        if (role === 'leader') leaderRead(m.context ?? '', m.from);
        return;
      case 'read-index-resp':
        if (role !== 'leader' && !m.reject && m.readIndex !== undefined) readStates.push({ context: m.context ?? '', index: m.readIndex });
        return;
    }
  }

  // ---- Ready ----

  const hardChanged = (): boolean => prevHard.term !== term || prevHard.vote !== vote || prevHard.commit !== commit;
  const softChanged = (): boolean => prevSoft.leader !== lead || prevSoft.role !== role;

  function proposeEntry(make: (index: number) => Entry): ProposeResult {
    if (role !== 'leader') return { ok: false, reason: 'not-leader', leader: lead };
    if (transferee !== undefined) return { ok: false, reason: 'transferring', leader: lead };
    const index = lastIndex() + 1;
    appendToLog([make(index)]);
    pendingBcast = true;
    if (progress.size === 0 || conf().voters.length === 1) maybeCommit();
    return { ok: true, index, term };
  }

  return {
    tick() {
      now++;
      if (sinceLeader < Number.POSITIVE_INFINITY) sinceLeader++;
      if (role === 'leader') {
        tickLeader();
        return;
      }
      electionElapsed++;
      if (promotable() && electionElapsed >= randomizedTimeout) campaign('pre-vote');
    },

    step,

    propose(data) {
      return proposeEntry((index) => ({ index, term, type: 'normal', data }));
    },

    proposeConfChange(change) {
      if (role === 'leader' && transferee === undefined) {
        // At most one change in flight (single-server changes, dissertation §4.1), and none before
        // this leader committed an entry of its term: otherwise a change from an older term that
        // never committed could combine with this one into two non-overlapping quorums (the
        // single-server bug Ongaro described on raft-dev in 2015).
        if (lastConfIndex() > commit || !committedInTerm()) return { ok: false, reason: 'conf-change-pending', leader: lead };
        validateConfChange(conf(), change);
      }
      return proposeEntry((index) => ({ index, term, type: 'conf', change: { ...change } }));
    },

    readIndex(context) {
      if (role === 'leader') leaderRead(context, id);
      else if (lead !== undefined) send({ type: 'read-index', to: lead, term, context });
      // Without a leader the read is dropped; the caller times out and retries.
    },

    campaign() {
      // A node that still sticks to a leader may have acked it just now, and
      // its own vote counts like anyone's: campaigning would void that
      // leader's lease. Timeouts only fire after electionTicks without a
      // leader; planned hand-offs use transferLeadership. A lone voter (in
      // the committed configuration too) has no other leader's lease to respect.
      const onlyMe = (c: ConfState): boolean => c.voters.length === 1 && c.voters[0] === id;
      const alone = onlyMe(conf()) && onlyMe(committedConf());
      if (role !== 'leader' && stickToLeader() && !alone) return;
      campaign('pre-vote');
    },

    transferLeadership(to) {
      if (role !== 'leader' || to === id || !isVoter(to)) return;
      if (transferee === to) return;
      abortTransfer();
      transferee = to;
      const pr = progress.get(to);
      if (!pr) return;
      if (pr.match === lastIndex()) sendTimeoutNow(to);
      else sendAppends(to, pr, true);
    },

    hasReady() {
      return (
        msgs.length > 0 ||
        pendingBcast ||
        readStates.length > 0 ||
        snapshotForReady !== undefined ||
        unstableFrom <= lastIndex() ||
        commit > handedApplied ||
        hardChanged() ||
        softChanged()
      );
    },

    ready() {
      if (pendingBcast && role === 'leader') bcastAppend();
      pendingBcast = false;
      const rd: Ready = {
        entries: unstableFrom <= lastIndex() ? slice(unstableFrom, lastIndex()) : [],
        messages: msgs,
        committedEntries: commit > handedApplied ? slice(handedApplied + 1, commit) : [],
        readStates,
      };
      if (hardChanged()) {
        prevHard = { term, vote, commit };
        rd.hardState = { ...prevHard };
      }
      if (softChanged()) {
        prevSoft = { leader: lead, role };
        rd.softState = { ...prevSoft };
      }
      if (snapshotForReady) rd.snapshot = snapshotForReady;
      snapshotForReady = undefined;
      unstableFrom = lastIndex() + 1;
      handedApplied = Math.max(handedApplied, commit);
      appliedAtAdvance = handedApplied;
      msgs = [];
      readStates = [];
      return rd;
    },

    advance() {
      applied = Math.max(applied, appliedAtAdvance);
    },

    compact(index, data) {
      if (index <= offset) return;
      if (index > handedApplied) throw new Invalid(`raft compact: index ${index} is beyond the applied index ${handedApplied}`);
      let at = confBase;
      let keep = 0;
      while (keep < confLog.length && confLog[keep]!.index <= index) at = confLog[keep++]!.conf;
      const t = termAt(index)!;
      snapshot = { index, term: t, conf: copyConf(at), data };
      log = log.slice(index - offset);
      offset = index;
      offsetTerm = t;
      confBase = at;
      confLog = confLog.slice(keep);
    },

    status(): RaftStatus {
      const st: RaftStatus = {
        id,
        role,
        term,
        leader: lead,
        commit,
        applied,
        lastIndex: lastIndex(),
        conf: copyConf(conf()),
        leaseValid: role === 'leader' && leaseHolds(),
      };
      if (role === 'leader') {
        const p: NonNullable<RaftStatus['progress']> = { [id]: { match: lastIndex(), next: lastIndex() + 1 } };
        for (const [n, pr] of progress) p[n] = { match: pr.match, next: pr.next, state: pr.state };
        st.progress = p;
      }
      return st;
    },

    latestSnapshot() {
      return snapshot;
    },
  };

  /**
   * The leader lease: why no other leader can exist while it holds.
   *
   * A voter that answers this leader's append/heartbeat/snapshot in this term
   * (1) had voted in no later term when it answered (it would have answered
   * with that term, and this leader would have stepped down), and (2) from
   * receiving the message on, ignores every (pre-)vote and starts no election
   * for electionTicks of its own ticks (stickToLeader, campaign()). The answer
   * echoes the tick at which the leader sent the message (sentAt), and the
   * voter received it after that tick, so its window ends no earlier than
   * sentAt + electionTicks - 1 leader ticks, whatever the delays, provided
   * ticks run at the same rate everywhere (the driver keeps ticks in step with
   * the wall clock and catches up missed ones).
   *
   * The lease holds while a quorum of voters answered messages sent within
   * the last electionTicks - LEASE_MARGIN_TICKS ticks, which ends before every
   * one of those windows. A new leader needs votes from a quorum, which shares
   * a voter with the quorum that answered; that voter refuses to vote, and
   * cannot campaign itself, until its window ends. Single-server membership
   * changes keep the quorums of consecutive configurations overlapping.
   * Two gaps are closed explicitly: a voter restarting with history counts as
   * having just heard from a leader (it may have answered one just before it
   * stopped), and votes caused by timeout-now bypass stickiness, so once it
   * is sent the lease is void for the rest of the term (leaseAckFloor), and a
   * leader whose transfer then times out steps down.
   */
  function leaseHolds(): boolean {
    // A leader outside its own configuration (its removal pending) is about to go: no lease.
    if (!isVoter(id)) return false;
    const window = electionTicks - LEASE_MARGIN_TICKS;
    const fresh = (v: NodeId): boolean => {
      if (v === id) return true;
      const pr = progress.get(v);
      return pr !== undefined && pr.lastAck >= leaseAckFloor && now - pr.lastAck < window;
    };
    return now >= leaseAckFloor && countVoters(fresh) >= quorum();
  }
}
