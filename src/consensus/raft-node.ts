// The contract between the Raft driver (raft-driver.ts) and the rest of the
// agent: what a state machine implements, how Raft messages travel, and what
// the agent asks of its Raft member. The driver owns the I/O; the core
// (raft-core.ts) stays pure.
import type { ConfChange, Message, NodeId, RaftStatus } from './raft-types.ts';

/** A deterministic state machine replicated by the Raft log (cluster-fsm.ts is Mesh's). */
export interface StateMachine {
  /**
   * Applies one committed command (the string given to propose) and returns the
   * result handed back to the proposer. Must be deterministic; must not throw for
   * a well-formed command: refusals are results, e.g. `{ ok: false, reason }`.
   */
  apply(command: string, meta: { index: number; term: number }): unknown;
  /** The whole state, encoded (used for log compaction and for slow followers). */
  snapshot(): string;
  /** Replaces the whole state with a snapshot's. */
  restore(data: string): void;
}

/** Raft traffic between group members, addressed by node name. */
export interface RaftTransport {
  /** Best effort, unordered; the core tolerates loss, duplication and reordering. */
  send(msg: Message): void;
  onMessage(handler: (msg: Message) => void): () => void;
  /**
   * One request to a member that answers it with the handler registered by
   * onRequest (proposal forwarding to the leader, secret fetches). Rejects on
   * timeout or when the peer is unreachable.
   */
  request(to: NodeId, kind: string, body: string, opts?: { timeoutMs?: number }): Promise<string>;
  onRequest(handler: (from: NodeId, kind: string, body: string) => Promise<string>): () => void;
  stop(): Promise<void>;
}

export interface RaftMemberStatus extends RaftStatus {
  /** This agent is a voter or learner of the group (false: a plain member, outside the group). */
  inGroup: boolean;
  /** A leader is known and was heard from within the election timeout. */
  quorum: boolean;
}

export type LeadershipListener = (leading: boolean, term: number) => void;

/** One agent's member of the Raft group, as the rest of the agent uses it. */
export interface RaftNode {
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Commits a command and resolves with the state machine's result once it is
   * applied here. A follower forwards it to the leader. Rejects with
   * NotLeader/Unavailable (src/agent/api/errors.ts) when there is no quorum
   * within the timeout.
   */
  propose(command: string, opts?: { timeoutMs?: number }): Promise<unknown>;
  /**
   * A linearizable read: waits until this member has applied everything
   * committed before the call (read index), then runs `read` on the state
   * machine. Members outside the group forward nothing: they reject.
   */
  read<T>(read: () => T, opts?: { timeoutMs?: number }): Promise<T>;
  /** True only while this member leads with a valid lease: gate leader-only work on it. */
  isLeading(): boolean;
  /** The current Raft term (fences leader writes). */
  term(): number;
  leader(): NodeId | undefined;
  onLeadershipChange(listener: LeadershipListener): () => void;
  /** Proposes one membership change (the voter manager calls this on the leader). */
  changeMembership(change: ConfChange): Promise<void>;
  status(): RaftMemberStatus;
}

/**
 * Thrown by an onRequest handler for a kind it does not serve: the transport
 * then offers the request to the next handler (several components share one
 * transport, e.g. the driver for 'propose'/'conf' and the FSM for secrets).
 */
export class UnknownRequestKind extends Error {
  constructor(kind: string) {
    super(`no handler for raft request kind "${kind}"`);
    this.name = 'UnknownRequestKind';
  }
}
