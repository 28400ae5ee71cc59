// A RaftNode without Raft, for unit tests of what runs on top of it: one
// in-process member that applies each proposal to its state machine at once
// (as a single-voter group would), with switches for losing quorum, losing
// leadership and leaving the group.
import type { LeadershipListener, RaftMemberStatus, RaftNode } from '../../src/consensus/raft-node.ts';
import type { ConfChange, NodeId } from '../../src/consensus/raft-types.ts';
import type { StateMachine } from '../../src/consensus/raft-node.ts';
import { NotLeader } from '../../src/agent/api/errors.ts';

export interface FakeRaftNode extends RaftNode {
  /** Every command committed, in order. */
  readonly proposals: string[];
  /** Without quorum, propose and read reject with NotLeader (as the driver does after its timeout). */
  setQuorum(quorum: boolean): void;
  /** Changes leadership (and the term, when given) and tells the listeners. */
  setLeading(leading: boolean, term?: number): void;
  /** Who leads when this member does not (undefined: nobody known). */
  setLeader(leader: NodeId | undefined): void;
  setInGroup(inGroup: boolean): void;
}

export interface FakeRaftNodeOptions {
  fsm: StateMachine;
  id?: NodeId;
  term?: number;
  leading?: boolean;
  inGroup?: boolean;
}

export function createFakeRaftNode(opts: FakeRaftNodeOptions): FakeRaftNode {
  const id = opts.id ?? 'node-a';
  let currentTerm = opts.term ?? 1;
  let leading = opts.leading ?? true;
  let otherLeader: NodeId | undefined;
  let quorum = true;
  let inGroup = opts.inGroup ?? true;
  let index = 0;
  const proposals: string[] = [];
  const listeners = new Set<LeadershipListener>();
  const noQuorum = () => new NotLeader('no Raft quorum (fake raft node)');

  return {
    proposals,
    async start() {},
    async stop() {},
    async propose(command) {
      if (!quorum) throw noQuorum();
      proposals.push(command);
      return opts.fsm.apply(command, { index: ++index, term: currentTerm });
    },
    async read<T>(read: () => T): Promise<T> {
      if (!inGroup) throw new NotLeader('not a member of the Raft group');
      if (!quorum) throw noQuorum();
      return read();
    },
    isLeading: () => leading && quorum,
    term: () => currentTerm,
    leader: () => (!quorum ? undefined : leading ? id : otherLeader),
    onLeadershipChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async changeMembership(_change: ConfChange) {},
    status(): RaftMemberStatus {
      const lead = !quorum ? undefined : leading ? id : otherLeader;
      return {
        id,
        role: leading ? 'leader' : 'follower',
        term: currentTerm,
        leader: lead,
        commit: index,
        applied: index,
        lastIndex: index,
        conf: { voters: inGroup ? [id] : [], learners: [] },
        leaseValid: leading && quorum,
        inGroup,
        quorum: quorum && lead !== undefined,
      };
    },
    setQuorum(q) {
      quorum = q;
    },
    setLeading(l, t) {
      if (t !== undefined) currentTerm = t;
      leading = l;
      for (const fn of [...listeners]) fn(l, currentTerm);
    },
    setLeader(l) {
      otherLeader = l;
    },
    setInGroup(g) {
      inGroup = g;
    },
  };
}
