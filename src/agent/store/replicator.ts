// Replicates the object store between agents (DESIGN.md §1.2, §3).
//
// - Gossip: every durable local change is broadcast as one message. Receivers
//   merge it (Automerge makes duplicates and reordering harmless; a change whose
//   dependencies are missing is left out and repaired below).
// - Anti-entropy: every interval, one round with a random peer. The initiator
//   sends a digest per bucket of (uid, heads) over every incarnation, live and
//   tombstoned; the peer answers with its entries for the buckets that differ;
//   the initiator pulls the whole saved docs it lacks and pushes the ones the
//   peer lacks. A fresh agent gets the state this way without replaying
//   gossip, and a healed partition converges.
// - Authorization: remote changes pass the authorize hook (per change, by its
//   recorded author) inside the store. Refused change hashes are remembered, so
//   anti-entropy does not pull the same refused doc again round after round.

import { createHash } from 'node:crypto';
import type { Logger } from '../logger.ts';
import type { AutomergeObjectStore } from './automerge-store.ts';
import type { Unsubscribe } from './object-store.ts';
import {
  decodeMessage,
  encodeMessage,
  fromB64,
  fromWireRef,
  toB64,
  toWireRef,
  type ReplicationMessage,
  type WireRef,
} from './replication-codec.ts';
import type { Authorize, IncarnationInfo, RemoteApplyOptions } from './replication-seam.ts';
import type { ReplicationTransport } from './replication-transport.ts';

export interface ReplicatorOptions {
  store: AutomergeObjectStore;
  transport: ReplicationTransport;
  logger: Logger;
  /** Writer authorization for remote changes (single-writer-rule.ts). */
  authorize?: Authorize;
  /** Time between anti-entropy rounds; 0 disables the timer (tests call syncWith). Default 2,000 ms. */
  antiEntropyIntervalMs?: number;
  /** Default 5,000 ms. */
  requestTimeoutMs?: number;
  /** Digest buckets; both sides must agree. Default 64. */
  buckets?: number;
  /** Whole docs per pull or push request. Default 64. */
  docsPerRequest?: number;
  /** Picks the anti-entropy peer; Math.random by default (simulations pass a seeded one). */
  random?: () => number;
}

export interface SyncResult {
  peer: string;
  differingBuckets: number;
  pulled: number;
  pushed: number;
  rejected: number;
}

export interface Replicator {
  start(): void;
  stop(): Promise<void>;
  /** One anti-entropy round with one peer. */
  syncWith(peer: string): Promise<SyncResult>;
  /** For `mesh status`: equal numbers on converged agents. */
  stateDigest(): { changes: number; incarnations: number };
}

const REJECTED_MEMORY = 10_000;

export function createReplicator(opts: ReplicatorOptions): Replicator {
  const { store, transport } = opts;
  const log = opts.logger.child({ component: 'replicator' });
  const bucketCount = opts.buckets ?? 64;
  const perRequest = opts.docsPerRequest ?? 64;
  const timeoutMs = opts.requestTimeoutMs ?? 5_000;
  const interval = opts.antiEntropyIntervalMs ?? 2_000;
  const random = opts.random ?? Math.random;

  const bucketOf = new Map<string, number>();
  /** Hashes of refused changes: a peer's head among them needs no pull. */
  const rejected = new Set<string>();
  let running = false;
  let timer: NodeJS.Timeout | undefined;
  let round: Promise<unknown> | undefined;
  let unsubscribe: Unsubscribe | undefined;
  let handlersInstalled = false;
  let roundRejections = 0;

  const applyOpts: RemoteApplyOptions = {
    authorize: opts.authorize,
    onReject(hash) {
      roundRejections++;
      rejected.add(hash);
      if (rejected.size > REJECTED_MEMORY) rejected.delete(rejected.values().next().value!);
    },
  };

  function bucket(uid: string): number {
    let b = bucketOf.get(uid);
    if (b === undefined) {
      b = createHash('sha1').update(uid).digest().readUInt32BE(0) % bucketCount;
      bucketOf.set(uid, b);
    }
    return b;
  }

  function byBucket(): IncarnationInfo[][] {
    const out: IncarnationInfo[][] = Array.from({ length: bucketCount }, () => []);
    for (const inc of store.incarnations()) out[bucket(inc.uid)].push(inc);
    for (const b of out) b.sort((x, y) => (x.uid < y.uid ? -1 : x.uid > y.uid ? 1 : 0));
    return out;
  }

  function digests(buckets: IncarnationInfo[][]): string[] {
    return buckets.map((b) => {
      if (b.length === 0) return '';
      const h = createHash('sha256');
      for (const inc of b) h.update(`${inc.uid} ${inc.heads.join(',')}\n`);
      return h.digest('base64').slice(0, 16);
    });
  }

  function docsOf(uids: Iterable<string>): [WireRef, string][] {
    const out: [WireRef, string][] = [];
    for (const uid of uids) {
      const inc = store.incarnation(uid);
      const bytes = store.exportDoc(uid);
      if (inc && bytes) out.push([toWireRef(inc), toB64(bytes)]);
    }
    return out;
  }

  async function applyDocs(from: string, docs: unknown): Promise<number> {
    if (!Array.isArray(docs)) return 0;
    let n = 0;
    for (const d of docs) {
      const ref = Array.isArray(d) ? fromWireRef(d[0]) : undefined;
      const bytes = Array.isArray(d) ? fromB64(d[1]) : undefined;
      if (!ref || !bytes) {
        log.warn({ from }, 'malformed doc in anti-entropy message; ignored');
        continue;
      }
      try {
        const r = await store.applyRemoteDoc(ref, bytes, applyOpts);
        if (r !== 'unchanged' && r !== 'rejected') n++;
      } catch (err) {
        log.warn({ err, from, uid: ref.uid }, 'could not merge a peer doc');
      }
    }
    return n;
  }

  async function onBroadcast(from: string, bytes: Uint8Array): Promise<void> {
    if (!running) return;
    const m = decodeMessage(bytes);
    if (m?.t !== 'change') return;
    const ref = fromWireRef(m.ref);
    const change = fromB64(m.change);
    if (!ref || !change) return;
    try {
      await store.applyRemoteChanges({ ...ref, changes: [change] }, applyOpts);
    } catch (err) {
      // A broken change is dropped; anti-entropy brings the doc if it matters.
      log.warn({ err, from, uid: ref.uid }, 'could not apply a gossiped change');
    }
  }

  async function onRequest(from: string, bytes: Uint8Array): Promise<Uint8Array> {
    if (!running) throw new Error('replicator stopped');
    const m = decodeMessage(bytes);
    if (!m) throw new Error('not a replication message of this version');
    switch (m.t) {
      case 'digest': {
        if (m.buckets !== bucketCount || !Array.isArray(m.digests)) throw new Error(`bucket count ${m.buckets} != ${bucketCount}`);
        const mine = byBucket();
        const mineD = digests(mine);
        const differ: number[] = [];
        const entries: [WireRef, string[]][] = [];
        for (let i = 0; i < bucketCount; i++) {
          if (mineD[i] === m.digests[i]) continue;
          differ.push(i);
          for (const inc of mine[i]) entries.push([toWireRef(inc), [...inc.heads]]);
        }
        return encodeMessage({ t: 'entries', buckets: differ, entries });
      }
      case 'get':
        return encodeMessage({ t: 'docs', docs: docsOf(Array.isArray(m.uids) ? m.uids.filter((u) => typeof u === 'string') : []) });
      case 'put':
        await applyDocs(from, m.docs);
        return encodeMessage({ t: 'ok' });
      default:
        throw new Error(`unexpected request ${m.t}`);
    }
  }

  async function ask(peer: string, m: Parameters<typeof encodeMessage>[0]): Promise<ReplicationMessage> {
    const answer = decodeMessage(await transport.request(peer, encodeMessage(m), timeoutMs));
    if (!answer) throw new Error(`peer ${peer} sent an unreadable answer`);
    return answer;
  }

  /** True when we hold, or refused, every change the peer's heads name: nothing to pull. */
  function covered(uid: string, heads: string[]): boolean {
    const missing = heads.filter((h) => !rejected.has(h));
    return store.hasChanges(uid, missing);
  }

  async function syncWith(peer: string): Promise<SyncResult> {
    const rejectedBefore = roundRejections;
    const mine = byBucket();
    const answer = await ask(peer, { t: 'digest', buckets: bucketCount, digests: digests(mine) });
    if (answer.t !== 'entries') throw new Error(`peer ${peer} answered ${answer.t} to a digest`);
    const theirs = new Map<string, string[]>();
    for (const [w, heads] of answer.entries) {
      const ref = fromWireRef(w);
      if (ref && Array.isArray(heads)) theirs.set(ref.uid, heads);
    }
    const pull: string[] = [];
    for (const [uid, heads] of theirs) {
      const local = store.incarnation(uid);
      if (local && sameSet(local.heads, heads)) continue;
      if (!covered(uid, heads)) pull.push(uid);
    }
    let pulled = 0;
    for (let i = 0; i < pull.length; i += perRequest) {
      const got = await ask(peer, { t: 'get', uids: pull.slice(i, i + perRequest) });
      if (got.t !== 'docs') throw new Error(`peer ${peer} answered ${got.t} to get`);
      pulled += await applyDocs(peer, got.docs);
    }
    // After the pull, anything whose heads still differ holds something the peer lacks.
    const push: string[] = [];
    for (const b of answer.buckets) {
      for (const inc of mine[b] ?? []) {
        const now = store.incarnation(inc.uid);
        const heads = theirs.get(inc.uid);
        if (now && (!heads || !sameSet(now.heads, heads))) push.push(inc.uid);
      }
    }
    for (let i = 0; i < push.length; i += perRequest) {
      const ok = await ask(peer, { t: 'put', docs: docsOf(push.slice(i, i + perRequest)) });
      if (ok.t !== 'ok') throw new Error(`peer ${peer} answered ${ok.t} to put`);
    }
    const result = { peer, differingBuckets: answer.buckets.length, pulled, pushed: push.length, rejected: roundRejections - rejectedBefore };
    if (pull.length + push.length > 0) log.debug(result, 'anti-entropy round');
    return result;
  }

  function tick(): void {
    if (!running || round) return;
    const peers = transport.peers().filter((p) => p !== transport.selfId);
    if (peers.length === 0) return;
    const peer = peers[Math.floor(random() * peers.length)];
    round = syncWith(peer)
      .catch((err: unknown) => log.debug({ err, peer }, 'anti-entropy round failed'))
      .finally(() => {
        round = undefined;
      });
  }

  return {
    start() {
      if (running) return;
      running = true;
      if (!handlersInstalled) {
        transport.onBroadcast(onBroadcast);
        transport.onRequest(onRequest);
        handlersInstalled = true;
      }
      unsubscribe = store.onLocalChange((c) => {
        transport.broadcast(encodeMessage({ t: 'change', ref: toWireRef(c), change: toB64(c.change) }));
      });
      if (interval > 0) {
        timer = setInterval(tick, interval);
        timer.unref();
      }
    },

    async stop() {
      if (!running) return;
      running = false;
      if (timer) clearInterval(timer);
      timer = undefined;
      unsubscribe?.();
      unsubscribe = undefined;
      await round;
    },

    syncWith,

    stateDigest() {
      let incarnations = 0;
      for (const _ of store.incarnations()) incarnations++;
      return { changes: store.changeCount(), incarnations };
    },
  };
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((x) => s.has(x));
}
