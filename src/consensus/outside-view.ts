// How an agent outside the Raft group (a plain member) knows the group: every
// group member puts its view into its mesh heartbeat, and the outsider takes the
// newest term whose leader vouches for itself. It uses this only to forward
// proposals and reads and to show `mesh status`; it never votes on it.
import type { NodeId } from './raft-types.ts';

export interface OutsideView {
  term: number;
  leader: NodeId;
  voters: NodeId[];
  learners: NodeId[];
}

export interface HintingMember {
  nodeName: string;
  status: string;
  raft?: { term: number; leader?: string; voters: string[]; learners: string[] };
}

export function outsideViewFrom(members: HintingMember[]): OutsideView | undefined {
  let best: OutsideView | undefined;
  let bestSelfClaimed = false;
  for (const m of members) {
    if (m.status !== 'alive' || !m.raft?.leader) continue;
    const selfClaimed = m.raft.leader === m.nodeName;
    const better = !best || m.raft.term > best.term || (m.raft.term === best.term && selfClaimed && !bestSelfClaimed);
    if (!better) continue;
    best = { term: m.raft.term, leader: m.raft.leader, voters: m.raft.voters, learners: m.raft.learners };
    bestSelfClaimed = selfClaimed;
  }
  return best;
}
