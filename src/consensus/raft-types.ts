// The contract of the pure Raft core (raft-core.ts), shared by the driver
// (raft-driver.ts), the seeded simulations (test/sim/raft*.ts) and the paper
// tests. The shape follows etcd's raft: the core takes ticks, messages and
// proposals, and hands back a Ready (what to persist, send and apply); the
// caller persists, then sends, then applies, then calls advance().

export type NodeId = string;

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

/** Persisted before any message of the same Ready is sent. */
export interface HardState {
  term: number;
  /** Who this node voted for in `term`; '' for nobody. */
  vote: NodeId;
  commit: number;
}

/** Voters decide elections and commits; learners only receive the log. */
export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
}

export type ConfChange =
  | { type: 'add-learner'; node: NodeId }
  /** A learner becomes a voter. */
  | { type: 'promote'; node: NodeId }
  /** A voter or learner leaves the group. */
  | { type: 'remove'; node: NodeId };

export type Entry =
  | { index: number; term: number; type: 'normal'; data: string }
  /** Takes effect when appended (single-server change, Raft dissertation §4.1); at most one uncommitted. */
  | { index: number; term: number; type: 'conf'; change: ConfChange }
  /** Appended by every new leader, so it can commit entries of earlier terms (§5.4.2, §8). */
  | { index: number; term: number; type: 'empty' };

export interface Snapshot {
  /** The last index the snapshot covers, and that entry's term. */
  index: number;
  term: number;
  conf: ConfState;
  /** The state machine's own encoding, opaque to the core. */
  data: string;
}

export type MessageType =
  | 'pre-vote'
  | 'pre-vote-resp'
  | 'vote'
  | 'vote-resp'
  | 'append'
  | 'append-resp'
  | 'heartbeat'
  | 'heartbeat-resp'
  | 'snapshot'
  | 'read-index'
  | 'read-index-resp'
  | 'timeout-now';

export interface Message {
  type: MessageType;
  from: NodeId;
  to: NodeId;
  /** The sender's term (for pre-vote: the term it would campaign in). */
  term: number;
  /**
   * append: index and term of the entry before `entries`. vote/pre-vote: the candidate's last log index/term.
   * append-resp with reject: the rejected append's logIndex, and the follower's term at `hint`
   * (hint is then at most the follower's last index: the newest index whose term is <= the rejected logTerm).
   */
  logIndex?: number;
  logTerm?: number;
  entries?: Entry[];
  /** append/heartbeat: leader's commit index. */
  commit?: number;
  /** vote-resp/pre-vote-resp/append-resp: refused. */
  reject?: boolean;
  /** append-resp: a hint (the follower's last index) to back up quickly after a rejection; or the matched index on success. */
  hint?: number;
  snapshot?: Snapshot;
  /** read-index / read-index-resp / heartbeat: the read request's context, echoed back. */
  context?: string;
  /** read-index-resp: the index the read must wait for; absent with reject. */
  readIndex?: number;
  /**
   * vote: sent because the leader handed over leadership (timeout-now), so
   * followers answer it even while they still hear from that leader.
   */
  transfer?: boolean;
  /**
   * append/heartbeat/snapshot: the leader's tick count when it sent them; the
   * answer (append-resp/heartbeat-resp) echoes it, so the leader's lease runs
   * from when it sent, however long the answer took (slow disk, slow network).
   */
  sentAt?: number;
}

/** A linearizable read is safe once the state machine has applied `index`. */
export interface ReadState {
  context: string;
  index: number;
}

export interface SoftState {
  leader: NodeId | undefined;
  role: Role;
}

export interface Ready {
  /** Present when it changed since the last Ready: persist it. */
  hardState?: HardState;
  /**
   * New log entries to persist. If entries[0].index is at or below the last
   * stored index, the stored log from that index on is replaced.
   */
  entries: Entry[];
  /** A snapshot received from the leader: persist it, drop the log it covers, restore the state machine. */
  snapshot?: Snapshot;
  /** Send these only after the above are durable. */
  messages: Message[];
  /** Committed entries to apply, in order (after the snapshot, if any). */
  committedEntries: Entry[];
  /** Reads that became safe: answer each once `index` is applied. */
  readStates: ReadState[];
  /** Present when the leader or this node's role changed. */
  softState?: SoftState;
}

export interface RaftConfig {
  id: NodeId;
  /** A follower that hears no leader for a random count in [electionTicks, 2*electionTicks) starts a pre-vote. */
  electionTicks: number;
  /** The leader sends heartbeats every heartbeatTicks. */
  heartbeatTicks: number;
  /** Randomness from outside (seeded in tests): returns [0, 1). */
  random: () => number;
  /** Most entries in one append message. */
  maxEntriesPerMessage?: number;
}

/** What the core starts from: the persisted state of a restarted node, or a new group's configuration. */
export interface RaftStart {
  hardState: HardState;
  /** The newest snapshot, if any. Its conf is the configuration unless later conf entries change it. */
  snapshot?: Snapshot;
  /** Log entries after the snapshot (or from index 1). */
  entries: Entry[];
  /** The configuration before any snapshot or conf entry: the founding voters. */
  initialConf: ConfState;
  /**
   * Entries up to here are already in the state machine (restored from the
   * snapshot, or kept durably by it); default: the snapshot's index. Committed
   * entries after it are handed out again in the first Readies.
   */
  applied?: number;
}

export interface RaftStatus {
  id: NodeId;
  role: Role;
  term: number;
  leader: NodeId | undefined;
  commit: number;
  applied: number;
  lastIndex: number;
  conf: ConfState;
  /**
   * Leader only: true while a quorum acknowledged this leader within the last
   * electionTicks minus a margin. Followers refuse votes for electionTicks after
   * hearing from a leader, so no new leader can exist while this is true:
   * leader-only work and lease reads run only while it holds.
   */
  leaseValid: boolean;
  /** Leader only: each peer's match index. */
  progress?: Record<NodeId, { match: number; next: number; /** How the leader replicates to it. */ state?: 'probe' | 'replicate' | 'snapshot' }>;
}

export type ProposeResult = { ok: true; index: number; term: number } | { ok: false; reason: 'not-leader' | 'conf-change-pending' | 'transferring'; leader: NodeId | undefined };

export interface RaftCore {
  tick(): void;
  step(msg: Message): void;
  /** Leader only. The entry is committed once `index` is applied with the same term. */
  propose(data: string): ProposeResult;
  proposeConfChange(change: ConfChange): ProposeResult;
  /** Asks for a linearizable read point; the answer arrives as a ReadState in a later Ready (forwarded to the leader if needed). */
  readIndex(context: string): void;
  /**
   * Starts an election now (pre-vote first). A no-op while this node heard from
   * a leader within electionTicks, or restarted less than electionTicks ago
   * (that leader's lease), unless it is the group's only voter.
   */
  campaign(): void;
  /** Leader only: hands leadership to an up-to-date voter. */
  transferLeadership(to: NodeId): void;
  hasReady(): boolean;
  ready(): Ready;
  /** Acknowledges the last Ready: it was persisted, sent, and its committed entries applied. */
  advance(): void;
  /** The state machine snapshotted up to `index` (already applied): drop the log up to there, keep the snapshot for slow followers. */
  compact(index: number, data: string): void;
  status(): RaftStatus;
  /** The snapshot the core holds (made by compact() or received from the leader): what the driver stores after compact(). */
  latestSnapshot?(): Snapshot | undefined;
}
