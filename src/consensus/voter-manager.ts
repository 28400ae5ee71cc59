// Keeps the Raft group at the right size as agents come and go. The planner is
// pure: from the configuration, the mesh membership and the leader's progress
// it picks at most one change. The shell runs it on the leader only, every
// second and on membership changes, and proposes the change.
//
// Sizing: the target is the desired count (3, or 5 with `--voters 5`), capped
// by the number of agents that count, and always odd: an even group tolerates
// no more failures than the odd group one smaller, and needs one more member
// for every commit. So 1 agent -> 1 voter, 2 -> 1, 3 or 4 -> 3, 5+ -> 5 (when
// 5 are desired). An agent counts unless it left or has been dead for longer
// than voterDownTimeoutMs, so a short outage does not shrink the group.
//
// Rules, in order (one change per round):
//  1. A voter that left, or was dead for voterDownTimeoutMs, is removed, when
//     the voters that remain still hold a quorum of live members (else wait:
//     the change could not commit anyway). Never the leader.
//  2. Such a learner is removed.
//  3. More voters than the target: remove one (unhealthy first, then the
//     highest name), keeping a live quorum.
//  4. Fewer voters than the target, and enough healthy candidates to reach
//     the next odd size: add healthy non-members (lowest name first) as
//     learners until there are as many as the next odd size needs, then
//     promote them once they have all caught up (match within maxLearnerLag
//     of the leader's last index), so the group is even only briefly.
//  5. Enough voters: a remaining learner is not needed and is removed.
// Names sort by code unit, so every leader picks the same members.
import type { Logger } from '../agent/logger.ts';
import type { Member, Membership } from '../net/membership.ts';
import type { RaftNode } from './raft-node.ts';
import type { ConfChange, ConfState, NodeId, RaftStatus } from './raft-types.ts';

export const DEFAULT_DESIRED_VOTERS = 3;
export const DEFAULT_VOTER_DOWN_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_LEARNER_LAG = 10;

export type MemberView = Pick<Member, 'nodeName' | 'status' | 'lastSeen'>;

export interface VoterPlanInput {
  conf: ConfState;
  /** The leader running the plan (this agent). */
  leader: NodeId;
  desiredVoters: number;
  /** Every known agent (this one included). A group member missing here is neither live nor gone. */
  members: readonly MemberView[];
  now: number;
  voterDownTimeoutMs: number;
  /** The leader's last log index and its followers' match indexes. */
  lastIndex: number;
  progress?: RaftStatus['progress'];
  maxLearnerLag?: number;
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The odd group size for `agents` agents when `desired` voters are wanted. */
export function targetVoterCount(desired: number, agents: number): number {
  let d = Math.max(1, Math.floor(desired));
  if (d % 2 === 0) d--;
  let n = Math.min(d, Math.max(1, agents));
  if (n % 2 === 0) n--;
  return n;
}

export function planVoterChange(input: VoterPlanInput): ConfChange | undefined {
  const { conf, leader, now } = input;
  const maxLag = input.maxLearnerLag ?? DEFAULT_MAX_LEARNER_LAG;
  const members = new Map(input.members.map((m) => [m.nodeName, m]));
  const voters = [...new Set([...conf.voters])].sort(byName);
  const learners = conf.learners.filter((n) => !voters.includes(n)).sort(byName);
  const inConf = new Set([...voters, ...learners]);

  const gone = (n: NodeId) => {
    if (n === leader) return false;
    const m = members.get(n);
    if (!m) return false;
    return m.status === 'left' || (m.status === 'dead' && now - m.lastSeen >= input.voterDownTimeoutMs);
  };
  const healthy = (n: NodeId) => n === leader || members.get(n)?.status === 'alive';
  const keepsQuorum = (group: NodeId[]) => group.filter(healthy).length >= Math.floor(group.length / 2) + 1;
  const without = (group: NodeId[], n: NodeId) => group.filter((x) => x !== n);

  const agents = new Set<NodeId>([leader]);
  for (const m of input.members) if (!gone(m.nodeName)) agents.add(m.nodeName);
  const target = targetVoterCount(input.desiredVoters, agents.size);

  // 1. Voters that are gone for good.
  for (const v of voters) {
    if (gone(v) && keepsQuorum(without(voters, v))) return { type: 'remove', node: v };
  }
  // 2. Learners that are gone.
  const goneLearner = learners.find(gone);
  if (goneLearner) return { type: 'remove', node: goneLearner };

  // 3. Too many voters.
  if (voters.length > target) {
    const candidates = voters.filter((v) => v !== leader).sort((a, b) => Number(healthy(a)) - Number(healthy(b)) || byName(b, a));
    const pick = candidates.find((v) => keepsQuorum(without(voters, v)));
    return pick ? { type: 'remove', node: pick } : undefined;
  }

  // 4. Too few voters.
  if (voters.length < target) {
    const caughtUp = (n: NodeId) => {
      const match = input.progress?.[n]?.match;
      return match !== undefined && match >= input.lastIndex - maxLag;
    };
    const outsiders = input.members
      .map((m) => m.nodeName)
      .filter((n) => !inConf.has(n) && healthy(n))
      .sort(byName);
    // Grow only when the next odd size is within reach, so the group does not park at an even size.
    const nextOdd = voters.length % 2 === 1 ? voters.length + 2 : voters.length + 1;
    if (voters.length + learners.filter(healthy).length + outsiders.length < nextOdd) return undefined;
    // Growing from an odd size passes through an even one, where losing any one
    // voter loses the quorum: first make every learner the next odd size needs,
    // and promote only once all of them have caught up, so that window is short.
    const needed = nextOdd - voters.length;
    const healthyLearners = learners.filter(healthy);
    if (healthyLearners.length < needed) return outsiders[0] ? { type: 'add-learner', node: outsiders[0] } : undefined;
    const ready = healthyLearners.filter(caughtUp);
    return ready.length >= needed ? { type: 'promote', node: ready[0]! } : undefined;
  }

  // 5. Enough voters: spare learners go.
  if (learners.length > 0) return { type: 'remove', node: learners[learners.length - 1]! };
  return undefined;
}

export interface VoterManagerClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface VoterManagerOptions {
  raft: Pick<RaftNode, 'isLeading' | 'status' | 'changeMembership'>;
  membership: Pick<Membership, 'members' | 'onChange'>;
  logger: Logger;
  /** 3 by default; 5 with `--voters 5`. */
  desiredVoters?: number;
  voterDownTimeoutMs?: number;
  intervalMs?: number;
  maxLearnerLag?: number;
  clock?: VoterManagerClock;
}

export interface VoterManager {
  start(): void;
  stop(): Promise<void>;
  /** Plans and proposes one change now if this agent leads; resolves with the change it made (or undefined). */
  reconcile(): Promise<ConfChange | undefined>;
}

const realClock: VoterManagerClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export function createVoterManager(opts: VoterManagerOptions): VoterManager {
  const log = opts.logger.child({ component: 'voter-manager' });
  const clock = opts.clock ?? realClock;
  const intervalMs = opts.intervalMs ?? 1_000;
  const desired = opts.desiredVoters ?? DEFAULT_DESIRED_VOTERS;
  const downTimeoutMs = opts.voterDownTimeoutMs ?? DEFAULT_VOTER_DOWN_TIMEOUT_MS;
  // Group members the membership does not know at all: down since we first noticed.
  const missingSince = new Map<NodeId, number>();
  let timer: unknown;
  let soon: unknown;
  let offMembership: (() => void) | undefined;
  let running = false;
  let inFlight: Promise<ConfChange | undefined> | undefined;

  function view(conf: ConfState): MemberView[] {
    const now = clock.now();
    const out: MemberView[] = opts.membership.members().map((m) => ({ nodeName: m.nodeName, status: m.status, lastSeen: m.lastSeen }));
    const known = new Set(out.map((m) => m.nodeName));
    for (const n of [...conf.voters, ...conf.learners]) {
      if (known.has(n)) {
        missingSince.delete(n);
        continue;
      }
      const since = missingSince.get(n) ?? now;
      missingSince.set(n, since);
      out.push({ nodeName: n, status: 'dead', lastSeen: since });
    }
    return out;
  }

  async function round(): Promise<ConfChange | undefined> {
    if (!opts.raft.isLeading()) {
      missingSince.clear();
      return undefined;
    }
    const st = opts.raft.status();
    const input: VoterPlanInput = {
      conf: st.conf,
      leader: st.id,
      desiredVoters: desired,
      members: view(st.conf),
      now: clock.now(),
      voterDownTimeoutMs: downTimeoutMs,
      lastIndex: st.lastIndex,
      maxLearnerLag: opts.maxLearnerLag ?? DEFAULT_MAX_LEARNER_LAG,
    };
    if (st.progress) input.progress = st.progress;
    const change = planVoterChange(input);
    if (!change) return undefined;
    log.info({ change, conf: st.conf }, 'changing the raft group');
    try {
      await opts.raft.changeMembership(change);
      return change;
    } catch (err) {
      log.warn({ err, change }, 'raft membership change failed; will retry');
      return undefined;
    }
  }

  function reconcile(): Promise<ConfChange | undefined> {
    // One change at a time: a caller during a round waits for that round.
    if (!inFlight) inFlight = round().finally(() => (inFlight = undefined));
    return inFlight;
  }

  function loop(): void {
    timer = undefined;
    if (!running) return;
    void reconcile().finally(() => {
      if (running) timer = clock.setTimeout(loop, intervalMs);
    });
  }

  return {
    start() {
      if (running) return;
      running = true;
      offMembership = opts.membership.onChange(() => {
        if (!running || soon !== undefined) return;
        soon = clock.setTimeout(() => {
          soon = undefined;
          if (running) void reconcile();
        }, 0);
      });
      timer = clock.setTimeout(loop, intervalMs);
    },
    async stop() {
      running = false;
      offMembership?.();
      if (timer !== undefined) clock.clearTimeout(timer);
      if (soon !== undefined) clock.clearTimeout(soon);
      timer = soon = undefined;
      await inFlight?.catch(() => undefined);
    },
    reconcile,
  };
}
