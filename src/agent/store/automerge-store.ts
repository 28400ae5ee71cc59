// The agent's object store: one Automerge document per object incarnation,
// materialised JSON in memory for reads, and everything persisted in SQLite.
//
// Write path: a write is validated against the newest state (committed or still
// pending), its doc change is made at once, and its rows join a batch. The batch
// is committed in one fsync'd transaction on the next turn of the event loop
// (group commit). Only then do reads see the write, watchers get its event,
// listeners get its change message, and its promise resolves. So nothing
// observable is ever lost by a crash.

import { alreadyExists, conflict, notFound } from '../api/errors.ts';
import type { KubeObject } from '../api/object-types.ts';
import type { Logger } from '../logger.ts';
import { createDocCache } from './doc-cache.ts';
import { jsonEqual } from './json-equal.ts';
import {
  actorFor,
  applyRemoteChanges as mergeChanges,
  createObjectDoc,
  emptyObjectDoc,
  freeObjectDoc,
  loadObjectDoc,
  markDeleted,
  materialise,
  replicatedPart,
  saveObjectDoc,
  updateObjectDoc,
  type ObjectDoc,
} from './object-doc.ts';
import { checkPreconditions, objectKey, refOf, withResourceVersion } from './object-key.ts';
import type { ListResult, ObjectStore, StoreEvent, Unsubscribe, WriteOptions } from './object-store.ts';
import type { IncarnationRef, LocalChange, RemoteApplyResult, RemoteChange, ReplicationSeam } from './replication-seam.ts';
import { openStorePersistence, type PersistOp, type StorePersistence } from './sqlite-persistence.ts';
import { createWatchHub, type WatchHub } from './watch-hub.ts';

export interface AutomergeStoreOptions {
  dataDir: string;
  agentId: string;
  logger: Logger;
  /** Watch events retained in memory; default 10,000. */
  historyLimit?: number;
  /** Live Automerge docs kept in WASM; default 256 (DESIGN.md §5: trouble starts in the thousands). */
  docCacheSize?: number;
}

export interface AutomergeObjectStore extends ObjectStore, ReplicationSeam {}

interface Live {
  resource: string;
  namespace: string;
  name: string;
  uid: string;
  /** Materialised object with its resourceVersion. Never handed out uncopied. */
  obj: KubeObject;
}

interface BatchItem {
  ops: PersistOp[];
  /** Committed-view changes: key -> new Live, or null for removal. */
  updates: [string, Live | null][];
  events: StoreEvent[];
  changes: LocalChange[];
  result: unknown;
  resolve(v: unknown): void;
  reject(err: unknown): void;
}

export function createAutomergeStore(opts: AutomergeStoreOptions): AutomergeObjectStore {
  const log = opts.logger.child({ component: 'store' });
  const historyLimit = opts.historyLimit ?? 10_000;
  const docs = createDocCache(opts.docCacheSize ?? 256);

  let db: StorePersistence | undefined;
  let actor = '';
  let hub: WatchHub = createWatchHub({ historyLimit, startResourceVersion: 0, logger: log });
  let running = false;

  // Committed view: what reads see.
  const live = new Map<string, Live>();
  const byResource = new Map<string, Map<string, Live>>();
  const uidToKey = new Map<string, string>();
  let committedRv = 0;

  // Pending view: writes validated but not yet durable.
  let nextRv = 0;
  const pendingLive = new Map<string, Live | null>();
  /** uid -> key while pending live, null while pending tombstoned. */
  const pendingUid = new Map<string, string | null>();
  const pendingDocs = new Map<string, Uint8Array>();
  let batch: BatchItem[] = [];
  let flushing: Promise<void> | undefined;

  const localListeners = new Set<(c: LocalChange) => void>();

  function persistence(): StorePersistence {
    if (!db || !running) throw new Error('object store is not running');
    return db;
  }

  function current(key: string): Live | undefined {
    if (pendingLive.has(key)) return pendingLive.get(key) ?? undefined;
    return live.get(key);
  }

  function uidState(uid: string): 'live' | 'tombstone' | 'unknown' {
    if (pendingUid.has(uid)) return pendingUid.get(uid) === null ? 'tombstone' : 'live';
    if (uidToKey.has(uid)) return 'live';
    return persistence().isTombstoned(uid) ? 'tombstone' : 'unknown';
  }

  function loadDoc(uid: string): ObjectDoc {
    const cached = docs.get(uid);
    if (cached) return cached;
    const bytes = pendingDocs.get(uid) ?? persistence().docBytes(uid);
    if (!bytes) throw new Error(`no saved document for uid ${uid}`);
    return loadObjectDoc(bytes, actor);
  }

  /** Caches the new doc version and returns its saved bytes. */
  function keepDoc(uid: string, doc: ObjectDoc): Uint8Array {
    docs.set(uid, doc);
    const bytes = saveObjectDoc(doc);
    pendingDocs.set(uid, bytes);
    return bytes;
  }

  function docBytes(uid: string): Uint8Array | undefined {
    const cached = docs.get(uid);
    if (cached) return saveObjectDoc(cached);
    return pendingDocs.get(uid) ?? persistence().docBytes(uid);
  }

  function putOp(l: Live, doc: Uint8Array): PersistOp {
    return { kind: 'put', resource: l.resource, namespace: l.namespace, name: l.name, uid: l.uid, json: JSON.stringify(l.obj), doc };
  }

  function tombOp(l: IncarnationRef, last: KubeObject, doc: Uint8Array, reason: string): PersistOp {
    return { kind: 'tombstone', resource: l.resource, namespace: l.namespace, name: l.name, uid: l.uid, json: JSON.stringify(last), doc, reason };
  }

  function enqueue<T>(item: Omit<BatchItem, 'resolve' | 'reject'>): Promise<T> {
    for (const [key, l] of item.updates) {
      pendingLive.set(key, l);
      if (l) pendingUid.set(l.uid, key);
    }
    return new Promise<T>((resolve, reject) => {
      batch.push({ ...item, resolve: resolve as (v: unknown) => void, reject });
      if (!flushing) flushing = new Promise((done) => setImmediate(() => done(flush())));
    });
  }

  function flush(): void {
    const items = batch;
    batch = [];
    flushing = undefined;
    const rv = nextRv;
    const ops = items.flatMap((i) => i.ops);
    try {
      if (ops.length > 0) persistence().commit(ops, rv);
    } catch (err) {
      log.error({ err, writes: items.length }, 'store commit failed; rejecting the batch');
      for (const uid of pendingDocs.keys()) docs.drop(uid);
      clearPending();
      nextRv = committedRv;
      for (const i of items) i.reject(err);
      return;
    }
    clearPending();
    committedRv = rv;
    for (const item of items) {
      for (const [key, l] of item.updates) applyCommitted(key, l);
      for (const e of item.events) hub.publish(e, Number(e.object.metadata.resourceVersion));
      for (const c of item.changes) notifyLocal(c);
      item.resolve(item.result);
    }
  }

  function clearPending(): void {
    pendingLive.clear();
    pendingUid.clear();
    pendingDocs.clear();
  }

  function applyCommitted(key: string, l: Live | null): void {
    const old = live.get(key);
    if (old) {
      uidToKey.delete(old.uid);
      byResource.get(old.resource)?.delete(key);
      live.delete(key);
    }
    if (!l) return;
    live.set(key, l);
    uidToKey.set(l.uid, key);
    let t = byResource.get(l.resource);
    if (!t) byResource.set(l.resource, (t = new Map()));
    t.set(key, l);
  }

  function notifyLocal(c: LocalChange): void {
    for (const fn of localListeners) {
      try {
        fn(c);
      } catch (err) {
        log.error({ err, uid: c.uid }, 'local change listener threw');
      }
    }
  }

  function localChange(l: Live, rv: number, change: Uint8Array | undefined): LocalChange[] {
    if (!change) return [];
    return [{ resource: l.resource, namespace: l.namespace, name: l.name, uid: l.uid, resourceVersion: String(rv), change }];
  }

  /** Waits for writes already queued (a no-op write must not answer before them). */
  function afterPending<T>(result: T): Promise<T> {
    if (batch.length === 0) return Promise.resolve(result);
    return enqueue<T>({ ops: [], updates: [], events: [], changes: [], result });
  }

  return {
    async start() {
      if (running) return;
      const t0 = performance.now();
      db = openStorePersistence(opts.dataDir);
      running = true;
      actor = actorFor(`${opts.agentId}/${db.databaseId()}`);
      committedRv = nextRv = db.resourceVersion();
      for (const row of db.loadLive()) {
        applyCommitted(objectKey(row.resource, row.namespace, row.name), {
          resource: row.resource,
          namespace: row.namespace,
          name: row.name,
          uid: row.uid,
          obj: JSON.parse(row.json) as KubeObject,
        });
      }
      // History does not survive a restart: a watch from before it gets Gone.
      hub = createWatchHub({ historyLimit, startResourceVersion: committedRv, logger: log });
      log.info({ objects: live.size, resourceVersion: committedRv, ms: Math.round(performance.now() - t0) }, 'store opened');
    },

    async stop() {
      if (!running) return;
      while (flushing) await flushing;
      running = false;
      docs.clear();
      db?.close();
      db = undefined;
      live.clear();
      byResource.clear();
      uidToKey.clear();
    },

    get(resource, namespace, name) {
      const l = live.get(objectKey(resource, namespace, name));
      return l ? structuredClone(l.obj) : undefined;
    },

    list(resource, namespace): ListResult {
      const items: KubeObject[] = [];
      for (const l of byResource.get(resource)?.values() ?? []) {
        if (namespace === undefined || l.namespace === namespace) items.push(structuredClone(l.obj));
      }
      return { items, resourceVersion: String(committedRv) };
    },

    async create(resource, obj) {
      const ref = refOf(resource, obj);
      persistence();
      const key = objectKey(resource, ref.namespace, ref.name);
      if (current(key)) throw alreadyExists(resource, ref.name);
      // A uid names one incarnation's doc; reusing it (even a deleted one) would merge two objects.
      if (uidState(ref.uid) !== 'unknown') throw conflict(resource, ref.name);
      const { doc, change } = createObjectDoc(actor, obj);
      const rv = ++nextRv;
      const l: Live = { ...ref, obj: withResourceVersion(obj, rv) };
      const bytes = keepDoc(ref.uid, doc);
      return enqueue<KubeObject>({
        ops: [putOp(l, bytes)],
        updates: [[key, l]],
        events: [{ type: 'ADDED', resource, object: l.obj }],
        changes: localChange(l, rv, change),
        result: structuredClone(l.obj),
      });
    },

    async update(resource, obj, wopts?: WriteOptions) {
      const ref = refOf(resource, obj);
      persistence();
      const key = objectKey(resource, ref.namespace, ref.name);
      const cur = current(key);
      if (!cur) throw notFound(resource, ref.name);
      checkPreconditions(resource, cur.obj, wopts);
      // As in Kubernetes, a uid in the body acts as a precondition: an update never switches incarnation.
      checkPreconditions(resource, cur.obj, { expectedUid: ref.uid });
      // Kubernetes does not bump resourceVersion (or emit an event) for a no-op update.
      if (jsonEqual(replicatedPart(cur.obj), replicatedPart(obj))) return afterPending(structuredClone(cur.obj));
      const { doc, change } = updateObjectDoc(loadDoc(ref.uid), cur.obj, obj);
      const rv = ++nextRv;
      const l: Live = { ...ref, obj: withResourceVersion(obj, rv) };
      const bytes = keepDoc(ref.uid, doc);
      return enqueue<KubeObject>({
        ops: [putOp(l, bytes)],
        updates: [[key, l]],
        events: [{ type: 'MODIFIED', resource, object: l.obj }],
        changes: localChange(l, rv, change),
        result: structuredClone(l.obj),
      });
    },

    async delete(resource, namespace, name, wopts?: WriteOptions) {
      persistence();
      const key = objectKey(resource, namespace, name);
      const cur = current(key);
      if (!cur) throw notFound(resource, name);
      checkPreconditions(resource, cur.obj, wopts);
      const { doc, change } = markDeleted(loadDoc(cur.uid));
      const rv = ++nextRv;
      const last = withResourceVersion(cur.obj, rv);
      const bytes = keepDoc(cur.uid, doc);
      pendingUid.set(cur.uid, null);
      return enqueue<KubeObject>({
        ops: [tombOp(cur, last, bytes, 'deleted')],
        updates: [[key, null]],
        events: [{ type: 'DELETED', resource, object: last }],
        changes: localChange(cur, rv, change),
        result: structuredClone(last),
      });
    },

    watch(wopts, handler): Unsubscribe {
      return hub.watch(wopts, handler);
    },

    currentResourceVersion() {
      return String(committedRv);
    },

    onLocalChange(listener) {
      localListeners.add(listener);
      return () => {
        localListeners.delete(listener);
      };
    },

    async applyRemoteChanges(msg: RemoteChange): Promise<RemoteApplyResult> {
      persistence();
      const state = uidState(msg.uid);
      const base = state === 'unknown' ? emptyObjectDoc(actor) : loadDoc(msg.uid);
      const { doc, changed } = mergeChanges(base, msg.changes);
      const { object, deleted } = materialise(doc);
      if (!changed || (state === 'unknown' && object === undefined)) {
        if (state === 'unknown') freeObjectDoc(doc);
        else docs.set(msg.uid, doc);
        return afterPending('unchanged');
      }
      if (state === 'tombstone') {
        const bytes = keepDoc(msg.uid, doc);
        return enqueue({ ops: [{ kind: 'tombstone-doc', uid: msg.uid, doc: bytes }], updates: [], events: [], changes: [], result: 'tombstoned' });
      }

      // A known incarnation keeps its key; a new one is placed where its content says.
      const knownKey = state === 'live' ? (pendingUid.get(msg.uid) ?? uidToKey.get(msg.uid)) : undefined;
      const cur = knownKey !== undefined ? current(knownKey) : undefined;
      const ns = cur?.namespace ?? object?.metadata.namespace ?? msg.namespace;
      const name = cur?.name ?? object?.metadata.name ?? msg.name;
      const resource = cur?.resource ?? msg.resource;
      const key = objectKey(resource, ns, name);
      const ref: IncarnationRef = { resource, namespace: ns, name, uid: msg.uid };

      if (state === 'unknown' && current(key)) {
        // Two incarnations of one name (concurrent creates in a partition): choosing a
        // winner needs causal information the replication layer brings. Store nothing.
        freeObjectDoc(doc);
        return 'name-conflict';
      }
      const bytes = keepDoc(msg.uid, doc);
      const rv = ++nextRv;
      if (deleted) {
        // Known live: a replicated delete. Unknown: born deleted here; keep only the tombstone.
        const lastObj = cur?.obj ?? object!;
        const last = withResourceVersion(lastObj, rv);
        pendingUid.set(msg.uid, null);
        return enqueue({
          ops: [tombOp(cur ?? ref, last, bytes, 'deleted')],
          updates: cur ? [[key, null]] : [],
          events: cur ? [{ type: 'DELETED', resource, object: last }] : [],
          changes: [],
          result: cur ? 'applied' : 'tombstoned',
        });
      }
      const l: Live = { ...ref, obj: withResourceVersion(object!, rv) };
      return enqueue({
        ops: [putOp(l, bytes)],
        updates: [[key, l]],
        events: [{ type: cur ? 'MODIFIED' : 'ADDED', resource, object: l.obj }],
        changes: [],
        result: 'applied',
      });
    },

    exportDoc(uid) {
      return docBytes(uid);
    },
  };
}
