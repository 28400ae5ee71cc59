// Cluster membership from gossip heartbeats. Every agent publishes a heartbeat
// each second on mesh/heartbeat/1; every agent tracks the others from them.
// Heartbeats are signed (gossipsub StrictSign), so a heartbeat is only believed
// for the peer that signed it. Discovery: addresses members announce (and the
// seeds from the join bundle / cluster.json) are dialled when not connected,
// with bounded retries and back-off; nothing else is ever dialled.
import type { Logger } from '../agent/logger.ts';
import type { MeshHost } from './mesh-host.ts';

export const HEARTBEAT_TOPIC = 'mesh/heartbeat/1';

export type MemberStatus = 'alive' | 'suspect' | 'dead' | 'left';

export interface StateDigest {
  /** How many store changes this agent knows. */
  changes: number;
}

/** What a Raft group member tells everyone: plain members learn the leader and the group from it. */
export interface RaftHint {
  term: number;
  leader?: string;
  voters: string[];
  learners: string[];
}

export interface Heartbeat {
  raft?: RaftHint;
  nodeName: string;
  peerId: string;
  addrs: string[];
  stateDigest: StateDigest;
  /** Sender's clock, ms since the epoch; informational only (clocks differ). */
  sentAt: number;
  leaving?: boolean;
}

export interface Member {
  nodeName: string;
  peerId: string;
  addrs: string[];
  /** Local time (ms since the epoch) the last heartbeat arrived. */
  lastSeen: number;
  stateDigest: StateDigest;
  /** The Raft view in the member's last heartbeat, if it is in the group. */
  raft?: RaftHint;
  status: MemberStatus;
  /** True for this agent's own entry. */
  self: boolean;
}

export type MemberListener = (member: Member, previous: MemberStatus | undefined) => void;

export interface MembershipOptions {
  host: MeshHost;
  nodeName: string;
  logger: Logger;
  stateDigest: () => StateDigest;
  /** This agent's Raft view, sent with every heartbeat while it is in the group. */
  raftHint?: () => RaftHint | undefined;
  /** Multiaddrs to dial at start: the join bundle's members or cluster.json's known peers. */
  seeds?: string[];
  /** Called (at most once per check) when the set of member addresses worth remembering changes. */
  onKnownAddrs?: (addrs: string[]) => void;
  heartbeatMs?: number;
  /** Without a heartbeat for this long, a member is suspect. */
  suspectAfterMs?: number;
  /** Without a heartbeat for this long and with no connection to it, a member is dead. */
  deadAfterMs?: number;
  /** Without a heartbeat for this long a member is dead even if a connection is still open. */
  silentDeadAfterMs?: number;
  checkMs?: number;
  maxDialAttempts?: number;
  now?: () => number;
}

export interface Membership {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Every member known, this agent included. */
  members(): Member[];
  nodeNameOf(peerId: string): string | undefined;
  peerIdOf(nodeName: string): string | undefined;
  onChange(listener: MemberListener): () => void;
  /** Tells the others this agent is leaving on purpose, then stops heartbeating. */
  announceLeave(): Promise<void>;
}

interface DialState {
  attempts: number;
  nextAt: number;
  inFlight: boolean;
}

const DIAL_BASE_MS = 250;
const DIAL_CAP_MS = 8_000;

export function createMembership(opts: MembershipOptions): Membership {
  const log = opts.logger.child({ component: 'membership' });
  const host = opts.host;
  const now = opts.now ?? Date.now;
  const heartbeatMs = opts.heartbeatMs ?? 1_000;
  const suspectAfterMs = opts.suspectAfterMs ?? 2 * heartbeatMs;
  const deadAfterMs = opts.deadAfterMs ?? 3 * heartbeatMs;
  const silentDeadAfterMs = opts.silentDeadAfterMs ?? 5 * heartbeatMs;
  const checkMs = opts.checkMs ?? 250;
  const maxDialAttempts = opts.maxDialAttempts ?? 6;

  const others = new Map<string, Member>();
  const listeners = new Set<MemberListener>();
  const memberDials = new Map<string, DialState>();
  const seedDials = new Map<string, DialState>();
  let heartbeatTimer: NodeJS.Timeout | undefined;
  let checkTimer: NodeJS.Timeout | undefined;
  let unsubscribe: (() => void) | undefined;
  let offPeer: (() => void) | undefined;
  let leaving = false;
  let running = false;
  let lastKnownAddrs = '';

  const emit = (m: Member, previous: MemberStatus | undefined) => {
    const copy = { ...m, addrs: [...m.addrs] };
    for (const l of listeners) {
      try {
        l(copy, previous);
      } catch (err) {
        log.warn({ err }, 'membership listener failed');
      }
    }
  };

  const setStatus = (m: Member, status: MemberStatus) => {
    if (m.status === status) return;
    const previous = m.status;
    m.status = status;
    log.info({ node: m.nodeName, peerId: m.peerId, from: previous, to: status }, 'member status changed');
    emit(m, previous);
  };

  function selfEntry(): Member {
    return {
      nodeName: opts.nodeName,
      peerId: host.peerId,
      addrs: host.multiaddrs(),
      lastSeen: now(),
      stateDigest: opts.stateDigest(),
      status: leaving ? 'left' : 'alive',
      self: true,
    };
  }

  function onHeartbeat(from: string, bytes: Uint8Array): void {
    const hb = parseHeartbeat(bytes);
    if (!hb) {
      log.debug({ from }, 'dropped malformed heartbeat');
      return;
    }
    // The gossip signature proves `from`; a heartbeat speaking for another peer is a lie.
    if (hb.peerId !== from || from === host.peerId) return;
    // Only addresses of the sender itself, pinned to its id, so a member cannot
    // make the others dial a third party.
    hb.addrs = hb.addrs.flatMap((a) => {
      const peer = peerOfAddr(a);
      if (peer === undefined) return [`${a}/p2p/${from}`];
      return peer === from ? [a] : [];
    });
    const t = now();
    // A reinstalled machine comes back with the same name and a new peer id: forget the old one.
    for (const [id, m] of others) {
      if (id !== from && m.nodeName === hb.nodeName && m.status !== 'alive') others.delete(id);
    }
    let m = others.get(from);
    const addrsChanged = !m || m.addrs.join() !== hb.addrs.join();
    if (!m) {
      m = { nodeName: hb.nodeName, peerId: from, addrs: hb.addrs, lastSeen: t, stateDigest: hb.stateDigest, ...withRaft(hb.raft), status: 'alive', self: false };
      others.set(from, m);
      if (hb.leaving) m.status = 'left';
      log.info({ node: m.nodeName, peerId: from, status: m.status }, 'member discovered');
      emit(m, undefined);
    } else {
      m.nodeName = hb.nodeName;
      m.addrs = hb.addrs;
      m.lastSeen = t;
      m.stateDigest = hb.stateDigest;
      if (hb.raft) m.raft = hb.raft;
      else delete m.raft;
      setStatus(m, hb.leaving ? 'left' : 'alive');
    }
    // New addresses or a member back from the dead: give discovery a fresh budget.
    const dial = memberDials.get(from);
    if (dial && (addrsChanged || dial.attempts >= maxDialAttempts)) memberDials.delete(from);
  }

  function evaluate(): void {
    const t = now();
    for (const m of others.values()) {
      if (m.status === 'left') continue;
      const silence = t - m.lastSeen;
      const connected = host.isConnected(m.peerId);
      if ((silence >= deadAfterMs && !connected) || silence >= silentDeadAfterMs) setStatus(m, 'dead');
      else if (silence >= suspectAfterMs) setStatus(m, 'suspect');
      else setStatus(m, 'alive');
    }
  }

  function discover(): void {
    const t = now();
    for (const m of others.values()) {
      if (m.status === 'left' || m.addrs.length === 0) continue;
      if (host.isConnected(m.peerId)) {
        memberDials.delete(m.peerId);
        continue;
      }
      tryDial(memberDials, m.peerId, m.addrs, t);
    }
    for (const addr of seedDials.keys()) {
      const peer = peerOfAddr(addr);
      if (peer && (host.isConnected(peer) || peer === host.peerId)) continue;
      tryDial(seedDials, addr, [addr], t);
    }
  }

  function tryDial(table: Map<string, DialState>, key: string, addrs: string[], t: number): void {
    let st = table.get(key);
    if (!st) {
      st = { attempts: 0, nextAt: t, inFlight: false };
      table.set(key, st);
    }
    if (st.inFlight || st.attempts >= maxDialAttempts || t < st.nextAt) return;
    st.inFlight = true;
    const state = st;
    // Loopback addresses only help on the member's own machine: try them last.
    const ordered = [...addrs].sort((x, y) => Number(isLoopback(x)) - Number(isLoopback(y)));
    void (async () => {
      for (const addr of ordered) {
        if (!running) break;
        try {
          await host.dial(addr, { timeoutMs: 2_000 });
          state.attempts = 0;
          state.inFlight = false;
          log.debug({ key, addr }, 'dialled member');
          return;
        } catch (err) {
          log.debug({ key, addr, err: (err as Error).message }, 'dial failed');
        }
      }
      state.attempts++;
      state.nextAt = now() + Math.min(DIAL_BASE_MS * 2 ** state.attempts, DIAL_CAP_MS);
      state.inFlight = false;
      if (state.attempts >= maxDialAttempts) log.info({ key, attempts: state.attempts }, 'giving up dialling until news of the peer');
    })();
  }

  function reportKnownAddrs(): void {
    if (!opts.onKnownAddrs) return;
    const addrs = [...others.values()].filter((m) => m.status !== 'left').flatMap((m) => m.addrs).sort();
    const key = addrs.join('\n');
    if (key === lastKnownAddrs) return;
    lastKnownAddrs = key;
    try {
      opts.onKnownAddrs(addrs);
    } catch (err) {
      log.warn({ err }, 'onKnownAddrs failed');
    }
  }

  async function publishHeartbeat(leave: boolean): Promise<void> {
    const hb: Heartbeat = {
      nodeName: opts.nodeName,
      peerId: host.peerId,
      addrs: host.multiaddrs(),
      stateDigest: opts.stateDigest(),
      ...withRaft(opts.raftHint?.()),
      sentAt: Date.now(),
      ...(leave ? { leaving: true } : {}),
    };
    try {
      await host.publish(HEARTBEAT_TOPIC, new TextEncoder().encode(JSON.stringify(hb)));
    } catch (err) {
      log.debug({ err }, 'heartbeat publish failed');
    }
  }

  function check(): void {
    evaluate();
    discover();
    reportKnownAddrs();
  }

  return {
    async start() {
      if (running) return;
      running = true;
      for (const s of opts.seeds ?? []) seedDials.set(s, { attempts: 0, nextAt: 0, inFlight: false });
      unsubscribe = host.subscribe(HEARTBEAT_TOPIC, onHeartbeat);
      // A lost connection is the fastest sign of a dead member.
      offPeer = host.onPeer((ev) => {
        if (ev.type === 'disconnect' && running) evaluate();
      });
      heartbeatTimer = setInterval(() => {
        if (!leaving) void publishHeartbeat(false);
      }, heartbeatMs);
      heartbeatTimer.unref();
      checkTimer = setInterval(check, checkMs);
      checkTimer.unref();
      discover();
      void publishHeartbeat(false);
    },

    async stop() {
      if (!running) return;
      running = false;
      clearInterval(heartbeatTimer);
      clearInterval(checkTimer);
      unsubscribe?.();
      offPeer?.();
    },

    members() {
      evaluate();
      return [selfEntry(), ...[...others.values()].map((m) => ({ ...m, addrs: [...m.addrs] }))];
    },

    nodeNameOf(peerId) {
      if (peerId === host.peerId) return opts.nodeName;
      return others.get(peerId)?.nodeName;
    },

    peerIdOf(nodeName) {
      if (nodeName === opts.nodeName) return host.peerId;
      let best: Member | undefined;
      for (const m of others.values()) {
        if (m.nodeName !== nodeName) continue;
        if (!best || m.lastSeen > best.lastSeen) best = m;
      }
      return best?.peerId;
    },

    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    async announceLeave() {
      if (leaving) return;
      leaving = true;
      // Twice, a moment apart, and a moment to leave the socket before the caller
      // stops the host: a lost leave only makes this agent look dead instead.
      await publishHeartbeat(true);
      await new Promise((r) => setTimeout(r, 100));
      await publishHeartbeat(true);
      await new Promise((r) => setTimeout(r, 100));
    },
  };
}

function isLoopback(addr: string): boolean {
  return addr.startsWith('/ip4/127.') || addr.startsWith('/ip6/::1/');
}

function peerOfAddr(addr: string): string | undefined {
  const i = addr.lastIndexOf('/p2p/');
  return i >= 0 ? addr.slice(i + 5) : undefined;
}

const withRaft = (raft: RaftHint | undefined) => (raft ? { raft } : {});

const isNames = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

function parseRaftHint(v: unknown): RaftHint | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.term !== 'number' || !isNames(o.voters) || !isNames(o.learners)) return undefined;
  if (o.leader !== undefined && typeof o.leader !== 'string') return undefined;
  return { term: o.term, voters: o.voters, learners: o.learners, ...(typeof o.leader === 'string' ? { leader: o.leader } : {}) };
}

function parseHeartbeat(bytes: Uint8Array): Heartbeat | undefined {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const digest = o.stateDigest as Record<string, unknown> | undefined;
  if (
    typeof o.nodeName !== 'string' ||
    o.nodeName.length === 0 ||
    typeof o.peerId !== 'string' ||
    !Array.isArray(o.addrs) ||
    !o.addrs.every((a) => typeof a === 'string' && a.startsWith('/')) ||
    typeof digest !== 'object' ||
    digest === null ||
    typeof digest.changes !== 'number' ||
    typeof o.sentAt !== 'number'
  ) {
    return undefined;
  }
  return {
    nodeName: o.nodeName,
    peerId: o.peerId,
    addrs: o.addrs as string[],
    stateDigest: { changes: digest.changes },
    ...withRaft(parseRaftHint(o.raft)),
    sentAt: o.sentAt,
    ...(o.leaving === true ? { leaving: true } : {}),
  };
}
