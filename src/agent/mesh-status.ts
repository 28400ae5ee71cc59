// The shape of `/mesh/v1/status` and `/mesh/v1/leave`, shared by the agent
// that serves them and the CLI that prints them.

export interface MeshMemberStatus {
  nodeName: string;
  peerId: string;
  addresses: string[];
  /** alive, suspect, dead or left (as this agent's failure detector sees it). */
  status: string;
  /** ISO time of the last heartbeat received; undefined for this agent. */
  lastContact?: string;
  /** How many changes this agent has that the member had not reported yet. */
  behind: number;
  self: boolean;
}

export interface MeshStatus {
  clusterName: string;
  nodeName: string;
  peerId: string;
  /** Changes this agent's store knows (the figure `behind` is measured against). */
  knownChanges: number;
  members: MeshMemberStatus[];
  raft: RaftGroupStatus;
}

/** The Raft subgroup as this agent sees it. */
export interface RaftGroupStatus {
  /** This agent's role: leader, follower, candidate, pre-candidate. */
  role: string;
  /** voter, learner, or member (outside the group). */
  membership: 'voter' | 'learner' | 'member';
  term: number;
  leader?: string;
  commit: number;
  applied: number;
  voters: string[];
  learners: string[];
  /** A leader is known and answering: leader-only work runs (on the leader). */
  quorum: boolean;
}

export interface LeaveResult {
  nodeName: string;
  podsDeleted: number;
}
