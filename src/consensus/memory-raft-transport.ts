// An in-process network of Raft transports for tests and simulations: messages
// are copied (nothing is shared between nodes), delivered asynchronously, and
// can be cut by partitions, isolation, random loss or a filter. Messages in
// flight when a link is cut are lost, as on a real network.
import { PeerUnreachable, RemoteError, RequestTimeout } from '../net/errors.ts';
import type { RaftTransport } from './raft-node.ts';
import { createRaftRequestHandlers, type RaftRequestHandlers } from './raft-request-handlers.ts';
import type { Message, NodeId } from './raft-types.ts';

export interface MemoryRaftNetworkOptions {
  /** Delivery delay per message in ms (a function for jitter); 0 delivers on the next turn of the event loop. */
  delayMs?: number | (() => number);
  /** Randomness for setDropRate; Math.random by default (tests pass a seeded one). */
  random?: () => number;
}

export interface MemoryRaftNetwork {
  /** The transport of node `id`; a second call for the same id replaces the first (a restarted node). */
  transport(id: NodeId): RaftTransport;
  /** Cuts the link between a and b, both ways. */
  partition(a: NodeId, b: NodeId): void;
  /** Cuts every link of `id`. */
  isolate(id: NodeId): void;
  /** Restores one link, every link of one node (one argument), or the whole network (no arguments). */
  heal(a?: NodeId, b?: NodeId): void;
  /** Drops this fraction of send() messages at random (requests are not affected). */
  setDropRate(rate: number): void;
  /** Drops every message for which `drop` returns true; returns a function that removes the filter. */
  dropIf(drop: (msg: Message) => boolean): () => void;
  /** Sees every message handed to send(), before any drop decision. */
  observe(listener: (msg: Message) => void): () => void;
  reachable(a: NodeId, b: NodeId): boolean;
  stats(): { sent: number; delivered: number; dropped: number };
}

interface Endpoint {
  id: NodeId;
  handlers: Set<(msg: Message) => void>;
  requests: RaftRequestHandlers;
  stopped: boolean;
}

const linkKey = (a: NodeId, b: NodeId) => (a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`);

export function createMemoryRaftNetwork(opts: MemoryRaftNetworkOptions = {}): MemoryRaftNetwork {
  const random = opts.random ?? Math.random;
  const endpoints = new Map<NodeId, Endpoint>();
  const cut = new Set<string>();
  const isolated = new Set<NodeId>();
  const filters = new Set<(msg: Message) => boolean>();
  const observers = new Set<(msg: Message) => void>();
  let dropRate = 0;
  const counts = { sent: 0, delivered: 0, dropped: 0 };

  const delay = () => (typeof opts.delayMs === 'function' ? opts.delayMs() : (opts.delayMs ?? 0));
  const later = (fn: () => void) => {
    const ms = delay();
    if (ms > 0) setTimeout(fn, ms);
    else setImmediate(fn);
  };
  const reachable = (a: NodeId, b: NodeId) => a === b || (!isolated.has(a) && !isolated.has(b) && !cut.has(linkKey(a, b)));
  const live = (id: NodeId) => {
    const ep = endpoints.get(id);
    return ep && !ep.stopped ? ep : undefined;
  };

  function makeTransport(self: Endpoint): RaftTransport {
    return {
      send(msg) {
        if (self.stopped) return;
        counts.sent++;
        for (const o of observers) o(msg);
        if (!reachable(self.id, msg.to) || (dropRate > 0 && random() < dropRate) || [...filters].some((f) => f(msg))) {
          counts.dropped++;
          return;
        }
        const copy = structuredClone(msg);
        later(() => {
          const target = live(copy.to);
          // The link may have been cut, or the node stopped, while the message was in flight.
          if (!target || self.stopped || !reachable(self.id, copy.to)) {
            counts.dropped++;
            return;
          }
          counts.delivered++;
          for (const h of [...target.handlers]) h(structuredClone(copy));
        });
      },

      onMessage(handler) {
        self.handlers.add(handler);
        return () => self.handlers.delete(handler);
      },

      request(to, kind, body, o = {}) {
        const timeoutMs = o.timeoutMs ?? 5_000;
        return new Promise<string>((resolve, reject) => {
          let done = false;
          const finish = (fn: () => void) => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            fn();
          };
          const timer = setTimeout(() => finish(() => reject(new RequestTimeout(`raft request ${kind} to ${to} timed out after ${timeoutMs} ms`))), timeoutMs);
          later(() => {
            const target = live(to);
            if (self.stopped || !target || !reachable(self.id, to)) {
              finish(() => reject(new PeerUnreachable(`raft request ${kind}: ${to} is unreachable`)));
              return;
            }
            target.requests.dispatch(self.id, kind, body).then(
              (answer) =>
                later(() => {
                  // A reply lost to a new partition looks like a timeout to the caller.
                  if (reachable(self.id, to) && !self.stopped) finish(() => resolve(answer));
                }),
              (err: unknown) =>
                later(() => {
                  if (reachable(self.id, to) && !self.stopped)
                    finish(() => reject(new RemoteError(`raft request ${kind} on ${to}: ${(err as Error).message ?? String(err)}`)));
                }),
            );
          });
        });
      },

      onRequest(handler) {
        return self.requests.add(handler);
      },

      async stop() {
        self.stopped = true;
        self.handlers.clear();
        self.requests.clear();
        if (endpoints.get(self.id) === self) endpoints.delete(self.id);
      },
    };
  }

  return {
    transport(id) {
      const previous = endpoints.get(id);
      if (previous) previous.stopped = true;
      const ep: Endpoint = { id, handlers: new Set(), requests: createRaftRequestHandlers(), stopped: false };
      endpoints.set(id, ep);
      return makeTransport(ep);
    },
    partition(a, b) {
      cut.add(linkKey(a, b));
    },
    isolate(id) {
      isolated.add(id);
    },
    heal(a, b) {
      if (a === undefined) {
        cut.clear();
        isolated.clear();
      } else if (b === undefined) {
        isolated.delete(a);
        for (const k of [...cut]) if (k.split('\u0000').includes(a)) cut.delete(k);
      } else cut.delete(linkKey(a, b));
    },
    setDropRate(rate) {
      if (!(rate >= 0 && rate <= 1)) throw new RangeError(`dropRate must be in [0, 1], got ${rate}`);
      dropRate = rate;
    },
    dropIf(drop) {
      filters.add(drop);
      return () => filters.delete(drop);
    },
    observe(listener) {
      observers.add(listener);
      return () => observers.delete(listener);
    },
    reachable,
    stats: () => ({ ...counts }),
  };
}
