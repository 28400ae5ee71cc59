// An in-memory network for replication simulations: a ReplicationTransport per
// member, with seeded random delay (so reordering), loss, duplication and
// partitions. Time is virtual: events are delivered one at a time in time
// order, each handler awaited before the next, so one seed replays the same run.

import type { ReplicationTransport } from '../../src/agent/store/replication-transport.ts';
import type { Random } from './seeded-random.ts';

export interface Faults {
  /** Probability that one message (broadcast copy, request or response) is lost. */
  loss: number;
  /** Probability that a broadcast copy is delivered twice. */
  duplicate: number;
  minDelayMs: number;
  maxDelayMs: number;
}

export interface SimNetwork {
  join(id: string): ReplicationTransport;
  /** Splits the members into groups that cannot reach each other (messages in flight between them are lost too). */
  partition(groups: string[][]): void;
  heal(): void;
  setFaults(f: Partial<Faults>): void;
  /**
   * Delivers queued messages in time order: until `until` settles when given,
   * else until nothing is queued. Gives the event loop turns so store commits
   * (and the gossip they cause) happen.
   */
  run(until?: Promise<unknown>): Promise<void>;
  /** Delivers what is due within the next `ms` virtual milliseconds, then moves the clock on. */
  advance(ms: number): Promise<void>;
  /** Virtual milliseconds. */
  now(): number;
  readonly stats: { sent: number; delivered: number; lost: number; duplicated: number };
}

type Ev =
  | { at: number; seq: number; kind: 'broadcast'; from: string; to: string; bytes: Uint8Array }
  | { at: number; seq: number; kind: 'request'; from: string; to: string; bytes: Uint8Array; id: number }
  | { at: number; seq: number; kind: 'response'; from: string; to: string; bytes?: Uint8Array; error?: string; id: number }
  | { at: number; seq: number; kind: 'timeout'; id: number };

interface Member {
  onBroadcast?: (from: string, bytes: Uint8Array) => void | Promise<void>;
  onRequest?: (from: string, bytes: Uint8Array) => Promise<Uint8Array>;
}

interface Pending {
  resolve(b: Uint8Array): void;
  reject(e: Error): void;
  done: boolean;
}

const turn = () => new Promise<void>((r) => setImmediate(r));

export function createSimNetwork(random: Random, faults: Partial<Faults> = {}): SimNetwork {
  const f: Faults = { loss: 0, duplicate: 0, minDelayMs: 0, maxDelayMs: 0, ...faults };
  const members = new Map<string, Member>();
  let group = new Map<string, number>();
  const queue: Ev[] = [];
  const pending = new Map<number, Pending>();
  let time = 0;
  let seq = 0;
  let nextId = 0;
  const stats = { sent: 0, delivered: 0, lost: 0, duplicated: 0 };

  function reachable(a: string, b: string): boolean {
    return (group.get(a) ?? 0) === (group.get(b) ?? 0);
  }

  function delay(): number {
    return f.minDelayMs + random() * (f.maxDelayMs - f.minDelayMs);
  }

  type Unscheduled = Ev extends infer E ? (E extends Ev ? Omit<E, 'seq'> : never) : never;

  function schedule(ev: Unscheduled): void {
    const e = { ...ev, seq: seq++ } as Ev;
    let i = queue.length;
    while (i > 0 && (queue[i - 1].at > e.at || (queue[i - 1].at === e.at && queue[i - 1].seq > e.seq))) i--;
    queue.splice(i, 0, e);
  }

  type Message = Exclude<Ev, { kind: 'timeout' }>;
  type Unsent = Message extends infer E ? (E extends Message ? Omit<E, 'seq' | 'at'> : never) : never;

  /** Schedules one message unless the network loses it. */
  function send(ev: Unsent): void {
    stats.sent++;
    if (!reachable(ev.from, ev.to) || random() < f.loss) {
      stats.lost++;
      return;
    }
    schedule({ ...ev, at: time + delay() } as Unscheduled);
  }

  async function deliver(ev: Ev): Promise<void> {
    if (ev.kind === 'timeout') {
      const p = pending.get(ev.id);
      if (p && !p.done) {
        p.done = true;
        pending.delete(ev.id);
        p.reject(new Error('request timed out'));
      }
      return;
    }
    if (!reachable(ev.from, ev.to)) {
      stats.lost++;
      return;
    }
    stats.delivered++;
    if (ev.kind === 'broadcast') {
      await members.get(ev.to)?.onBroadcast?.(ev.from, ev.bytes);
      return;
    }
    if (ev.kind === 'request') {
      const handler = members.get(ev.to)?.onRequest;
      let reply: { bytes?: Uint8Array; error?: string };
      try {
        if (!handler) throw new Error('no request handler');
        reply = { bytes: await handler(ev.from, ev.bytes) };
      } catch (err) {
        reply = { error: String(err) };
      }
      send({ kind: 'response', from: ev.to, to: ev.from, id: ev.id, ...reply });
      return;
    }
    const p = pending.get(ev.id);
    if (!p || p.done) return;
    p.done = true;
    pending.delete(ev.id);
    if (ev.bytes) p.resolve(ev.bytes);
    else p.reject(new Error(`remote error: ${ev.error}`));
  }

  return {
    join(id) {
      const m: Member = {};
      members.set(id, m);
      return {
        selfId: id,
        broadcast(bytes) {
          for (const to of members.keys()) {
            if (to === id) continue;
            send({ kind: 'broadcast', from: id, to, bytes });
            if (random() < f.duplicate) {
              stats.duplicated++;
              send({ kind: 'broadcast', from: id, to, bytes });
            }
          }
        },
        onBroadcast(h) {
          m.onBroadcast = h;
        },
        onRequest(h) {
          m.onRequest = h;
        },
        request(peer, bytes, timeoutMs) {
          const reqId = nextId++;
          return new Promise<Uint8Array>((resolve, reject) => {
            pending.set(reqId, { resolve, reject, done: false });
            schedule({ kind: 'timeout', id: reqId, at: time + timeoutMs });
            if (!members.has(peer)) {
              stats.lost++;
              return;
            }
            send({ kind: 'request', from: id, to: peer, bytes, id: reqId });
          });
        },
        peers() {
          return [...members.keys()].filter((p) => p !== id && reachable(id, p));
        },
      };
    },

    partition(groups) {
      group = new Map();
      groups.forEach((g, i) => g.forEach((id) => group.set(id, i + 1)));
    },

    heal() {
      group = new Map();
    },

    setFaults(nf) {
      Object.assign(f, nf);
    },

    async run(until) {
      let settled = false;
      until?.then(
        () => (settled = true),
        () => (settled = true),
      );
      let idle = 0;
      for (;;) {
        if (until && settled) return;
        const ev = queue.shift();
        if (ev) {
          time = Math.max(time, ev.at);
          await deliver(ev);
          idle = 0;
          continue;
        }
        // Let pending store commits finish: they may gossip more.
        await turn();
        if (queue.length > 0) continue;
        if (!until && ++idle >= 3) return;
        if (until && ++idle > 10_000) throw new Error('simulation stalled: a promise waits on nothing');
      }
    },

    async advance(ms) {
      const end = time + ms;
      for (;;) {
        await turn();
        if (queue.length === 0 || queue[0].at > end) break;
        const ev = queue.shift()!;
        time = Math.max(time, ev.at);
        await deliver(ev);
      }
      time = Math.max(time, end);
    },

    now() {
      return time;
    },

    stats,
  };
}
