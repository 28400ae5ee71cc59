// The agent's object store: one Automerge document per object incarnation,
// materialised JSON in memory for reads, and everything persisted in SQLite.
//
// Write path: a write is validated against the newest state (committed or still
// pending), its doc change is made at once, and its rows join a batch. The batch
// is committed in one fsync'd transaction on the next turn of the event loop
// (group commit). Only then do reads see the write, watchers get its event,
// listeners get its change message, and its promise resolves. So nothing
// observable is ever lost by a crash.
//
// Replication (docs/store.md): every change records its author; every doc its
// create HLC. Of all incarnations known for one name, only the one with the
// greatest (create HLC, uid) may be live; the others are tombstoned
// ('superseded'), so agents that know the same docs agree on the name's holder.

import { alreadyExists, conflict, notFound } from '../api/errors.ts';
import type { KubeObject } from '../api/object-types.ts';
import type { Logger } from '../logger.ts';
import { createDocCache } from './doc-cache.ts';
import { jsonEqual } from './json-equal.ts';
import { compareHlc, createHlcClock, decodeHlc, encodeHlc, HLC_ZERO } from './hlc.ts';
import {
  actorFor,
  changesOfSavedDoc,
  createObjectDoc,
  docChangeCount,
  docHeads,
  hasChanges,
  emptyObjectDoc,
  freeObjectDoc,
  loadObjectDoc,
  markDeleted,
  materialise,
  mergeChanges,
  mergeSavedDoc,
  replicatedPart,
  saveObjectDoc,
  updateObjectDoc,
  type ChangeCheck,
  type ObjectDoc,
} from './object-doc.ts';
import { checkPreconditions, objectKey, refOf, withResourceVersion } from './object-key.ts';
import type { ListResult, ObjectStore, StoreEvent, Unsubscribe, WriteOptions } from './object-store.ts';
import type {
  IncarnationInfo,
  IncarnationRef,
  LocalChange,
  RemoteApplyOptions,
  RemoteApplyResult,
  ReplicationSeam,
} from './replication-seam.ts';
import { openStorePersistence, type DocFacts, type IncarnationRow, type PersistOp, type StorePersistence } from './sqlite-persistence.ts';
import { createWatchHub, type WatchHub } from './watch-hub.ts';

export interface AutomergeStoreOptions {
  dataDir: string;
  agentId: string;
  logger: Logger;
  /** Watch events retained in memory; default 10,000. */
  historyLimit?: number;
  /** Live Automerge docs kept in WASM; default 256 (DESIGN.md §5: trouble starts in the thousands). */
  docCacheSize?: number;
  /** Keep the SQLite database in memory (no files, no fsync): simulations and benchmarks only. */
  inMemory?: boolean;
  /** databaseId for a new database (fixes the actor id so a simulation seed replays exactly). */
  databaseId?: string;
  /** Physical clock for the HLC; Date.now by default. */
  now?: () => number;
}

export interface AutomergeObjectStore extends ObjectStore, ReplicationSeam {}

interface Live {
  resource: string;
  namespace: string;
  name: string;
  uid: string;
  /** Encoded create HLC ('' if unknown). */
  hlc: string;
  /** Materialised object with its resourceVersion. Never handed out uncopied. */
  obj: KubeObject;
}

/** Who may hold a name: the greatest (create HLC, uid) wins. */
interface Holder {
  hlc: string;
  uid: string;
}

function compareHolders(a: Holder, b: Holder): number {
  const c = compareHlc(decodeHlc(a.hlc) ?? HLC_ZERO, decodeHlc(b.hlc) ?? HLC_ZERO);
  if (c !== 0) return c;
  return a.uid === b.uid ? 0 : a.uid < b.uid ? -1 : 1;
}

interface Kept extends DocFacts {
  bytes: Uint8Array;
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
  const author = opts.agentId;
  const clock = createHlcClock(opts.now);

  let db: StorePersistence | undefined;
  let actor = '';
  let hub: WatchHub = createWatchHub({ historyLimit, startResourceVersion: 0, logger: log });
  let running = false;

  // Committed view: what reads see.
  const live = new Map<string, Live>();
  const byResource = new Map<string, Map<string, Live>>();
  const uidToKey = new Map<string, string>();
  let committedRv = 0;
  /** Every durable incarnation (live and tombstoned): what anti-entropy compares. */
  const incs = new Map<string, IncarnationInfo>();
  let totalChanges = 0;
  /** Per key, the greatest tombstoned holder: a later incarnation below it is superseded. */
  const tombMax = new Map<string, Holder>();

  // Pending view: writes validated but not yet durable.
  let nextRv = 0;
  const pendingLive = new Map<string, Live | null>();
  /** uid -> key while pending live, null while pending tombstoned. */
  const pendingUid = new Map<string, string | null>();
  const pendingDocs = new Map<string, Uint8Array>();
  const pendingTombMax = new Map<string, Holder>();
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

  /** Caches the new doc version; returns its saved bytes and replication facts. */
  function keepDoc(uid: string, doc: ObjectDoc, hlc: string): Kept {
    docs.set(uid, doc);
    const bytes = saveObjectDoc(doc);
    pendingDocs.set(uid, bytes);
    return { bytes, hlc, heads: docHeads(doc).join(','), changes: docChangeCount(doc) };
  }

  /** The saved state of an incarnation whose doc this write does not change (it may still be pending). */
  function keptAsIs(uid: string, hlc: string): Kept {
    const doc = loadDoc(uid);
    docs.set(uid, doc);
    return { bytes: docBytes(uid)!, hlc, heads: docHeads(doc).join(','), changes: docChangeCount(doc) };
  }

  function tombHolder(key: string): Holder | undefined {
    return pendingTombMax.get(key) ?? tombMax.get(key);
  }

  function noteTomb(key: string, h: Holder, into: Map<string, Holder>): void {
    const cur = into.get(key) ?? tombMax.get(key);
    if (!cur || compareHolders(h, cur) > 0) into.set(key, h);
  }

  function docBytes(uid: string): Uint8Array | undefined {
    const cached = docs.get(uid);
    if (cached) return saveObjectDoc(cached);
    return pendingDocs.get(uid) ?? persistence().docBytes(uid);
  }

  function putOp(l: Live, k: Kept): PersistOp {
    const { bytes, ...facts } = k;
    return { kind: 'put', resource: l.resource, namespace: l.namespace, name: l.name, uid: l.uid, json: JSON.stringify(l.obj), doc: bytes, ...facts };
  }

  function tombOp(l: IncarnationRef, last: KubeObject, k: Kept, reason: string): PersistOp {
    const { bytes, ...facts } = k;
    noteTomb(objectKey(l.resource, l.namespace, l.name), { hlc: facts.hlc, uid: l.uid }, pendingTombMax);
    pendingUid.set(l.uid, null);
    return { kind: 'tombstone', resource: l.resource, namespace: l.namespace, name: l.name, uid: l.uid, json: JSON.stringify(last), doc: bytes, reason, ...facts };
  }

  /** Keeps the replication index in step with committed ops. */
  function indexOp(op: PersistOp): void {
    const old = incs.get(op.uid);
    if (old) totalChanges -= old.changes;
    totalChanges += op.changes;
    const heads = op.heads === '' ? [] : op.heads.split(',');
    if (op.kind === 'tombstone-doc') {
      if (old) incs.set(op.uid, { ...old, heads, changes: op.changes });
      return;
    }
    const info: IncarnationInfo = {
      resource: op.resource,
      namespace: op.namespace,
      name: op.name,
      uid: op.uid,
      heads,
      changes: op.changes,
      created: op.hlc,
      live: op.kind === 'put',
    };
    incs.set(op.uid, info);
    if (op.kind === 'tombstone') noteTomb(objectKey(op.resource, op.namespace, op.name), { hlc: op.hlc, uid: op.uid }, tombMax);
  }

  function indexRow(row: IncarnationRow, isLive: boolean): void {
    indexOp(isLive ? { kind: 'put', ...row, json: '', doc: new Uint8Array() } : { kind: 'tombstone', ...row, json: '', doc: new Uint8Array(), reason: '' });
    const t = decodeHlc(row.hlc);
    if (t) clock.observe(t);
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
    for (const op of ops) indexOp(op);
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
    pendingTombMax.clear();
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

  async function applyRemote(
    msg: IncarnationRef,
    input: { changes: Uint8Array[] } | { doc: Uint8Array },
    ropts: RemoteApplyOptions | undefined,
  ): Promise<RemoteApplyResult> {
    persistence();
    const uid = msg.uid;
    const state = uidState(uid);
    const known = incs.get(uid);
    const resourceForCheck = known?.resource ?? msg.resource;
    const base = state === 'unknown' ? emptyObjectDoc(actor) : loadDoc(uid);

    const auth = ropts?.authorize;
    const check: ChangeCheck | undefined =
      auth && (!auth.resources || auth.resources.has(resourceForCheck))
        ? (who, before, after) => auth(who, before, after, resourceForCheck)
        : undefined;
    const rebuild = (): ObjectDoc => {
      docs.drop(uid);
      return state === 'unknown' ? emptyObjectDoc(actor) : loadDoc(uid);
    };
    let doc: ObjectDoc;
    let changed: boolean;
    let rejected: string[] = [];
    if ('changes' in input || check) {
      const changes = 'changes' in input ? input.changes : changesOfSavedDoc(input.doc);
      ({ doc, changed, rejected } = mergeChanges(base, changes, check, rebuild));
      if (rejected.length > 0) {
        log.warn({ uid, resource: resourceForCheck, rejected: rejected.length }, 'refused unauthorised remote changes');
        for (const h of rejected) ropts?.onReject?.(h);
      }
    } else {
      ({ doc, changed } = mergeSavedDoc(base, input.doc));
    }
    const { object, deleted, created } = materialise(doc);
    const createdHlc = decodeHlc(created);
    if (createdHlc) clock.observe(createdHlc);
    const nothing: RemoteApplyResult = rejected.length > 0 ? 'rejected' : 'unchanged';
    if (!changed || (state === 'unknown' && object === undefined)) {
      if (state === 'unknown') freeObjectDoc(doc);
      else docs.set(uid, doc);
      return afterPending(nothing);
    }
    const hlc = created ?? '';
    if (state === 'tombstone') {
      const { bytes, ...facts } = keepDoc(uid, doc, known?.created ?? hlc);
      return enqueue({ ops: [{ kind: 'tombstone-doc', uid, doc: bytes, ...facts }], updates: [], events: [], changes: [], result: 'tombstoned' });
    }

    // A known incarnation keeps its key; a new one is placed where its content says.
    const knownKey = state === 'live' ? (pendingUid.get(uid) ?? uidToKey.get(uid)) : undefined;
    const cur = knownKey !== undefined ? current(knownKey) : undefined;
    const ns = cur?.namespace ?? object?.metadata.namespace ?? msg.namespace;
    const name = cur?.name ?? object?.metadata.name ?? msg.name;
    const resource = cur?.resource ?? msg.resource;
    const key = objectKey(resource, ns, name);
    const ref: IncarnationRef = { resource, namespace: ns, name, uid };
    const kept = keepDoc(uid, doc, cur?.hlc ?? hlc);

    if (cur) {
      const rv = ++nextRv;
      if (deleted) {
        const last = withResourceVersion(cur.obj, rv);
        return enqueue({
          ops: [tombOp(cur, last, kept, 'deleted')],
          updates: [[key, null]],
          events: [{ type: 'DELETED', resource, object: last }],
          changes: [],
          result: 'applied',
        });
      }
      const l: Live = { ...ref, hlc: cur.hlc, obj: withResourceVersion(object!, rv) };
      return enqueue({ ops: [putOp(l, kept)], updates: [[key, l]], events: [{ type: 'MODIFIED', resource, object: l.obj }], changes: [], result: 'applied' });
    }

    // A new incarnation. Of all incarnations of this name, only the greatest
    // (create HLC, uid) may be live; everything below it is superseded.
    const mine: Holder = { hlc, uid };
    const holder = current(key);
    const tomb = tombHolder(key);
    const ops: PersistOp[] = [];
    const events: StoreEvent[] = [];
    const updates: [string, Live | null][] = [];
    if (holder && compareHolders(mine, holder) > 0) {
      const rv = ++nextRv;
      const last = withResourceVersion(holder.obj, rv);
      log.info({ resource, namespace: ns, name, loser: holder.uid, winner: uid }, 'name taken over by a concurrent create; local incarnation superseded');
      ops.push(tombOp(holder, last, keptAsIs(holder.uid, holder.hlc), 'superseded'));
      events.push({ type: 'DELETED', resource, object: last });
      updates.push([key, null]);
    }
    const beaten = (holder && compareHolders(holder, mine) > 0) || (tomb && compareHolders(tomb, mine) > 0);
    if (beaten || deleted) {
      // Born deleted or superseded here: keep only the tombstone (late changes stay harmless).
      const rv = ++nextRv;
      ops.push(tombOp(ref, withResourceVersion(object!, rv), kept, beaten ? 'superseded' : 'deleted'));
      return enqueue({ ops, updates, events, changes: [], result: events.length > 0 ? 'applied' : beaten ? 'superseded' : 'tombstoned' });
    }
    const rv = ++nextRv;
    const l: Live = { ...ref, hlc, obj: withResourceVersion(object!, rv) };
    ops.push(putOp(l, kept));
    updates.push([key, l]);
    events.push({ type: 'ADDED', resource, object: l.obj });
    return enqueue({ ops, updates, events, changes: [], result: 'applied' });
  }

  return {
    async start() {
      if (running) return;
      const t0 = performance.now();
      db = openStorePersistence(opts.dataDir, { inMemory: opts.inMemory, databaseId: opts.databaseId });
      running = true;
      actor = actorFor(`${opts.agentId}/${db.databaseId()}`);
      committedRv = nextRv = db.resourceVersion();
      for (const row of db.loadLive()) {
        applyCommitted(objectKey(row.resource, row.namespace, row.name), {
          resource: row.resource,
          namespace: row.namespace,
          name: row.name,
          uid: row.uid,
          hlc: row.hlc,
          obj: JSON.parse(row.json) as KubeObject,
        });
        indexRow(row, true);
      }
      for (const row of db.loadTombstones()) indexRow(row, false);
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
      incs.clear();
      tombMax.clear();
      totalChanges = 0;
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
      // Later than every incarnation of this name seen here, so a re-create after a delete wins the name.
      const prev = tombHolder(key);
      const prevHlc = prev && decodeHlc(prev.hlc);
      if (prevHlc) clock.observe(prevHlc);
      const hlc = encodeHlc(clock.now());
      const { doc, change } = createObjectDoc(actor, obj, author, hlc);
      const rv = ++nextRv;
      const l: Live = { ...ref, hlc, obj: withResourceVersion(obj, rv) };
      const kept = keepDoc(ref.uid, doc, hlc);
      return enqueue<KubeObject>({
        ops: [putOp(l, kept)],
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
      const { doc, change } = updateObjectDoc(loadDoc(ref.uid), cur.obj, obj, author);
      const rv = ++nextRv;
      const l: Live = { ...ref, hlc: cur.hlc, obj: withResourceVersion(obj, rv) };
      const kept = keepDoc(ref.uid, doc, cur.hlc);
      return enqueue<KubeObject>({
        ops: [putOp(l, kept)],
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
      const { doc, change } = markDeleted(loadDoc(cur.uid), author);
      const rv = ++nextRv;
      const last = withResourceVersion(cur.obj, rv);
      const kept = keepDoc(cur.uid, doc, cur.hlc);
      return enqueue<KubeObject>({
        ops: [tombOp(cur, last, kept, 'deleted')],
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

    applyRemoteChanges(msg, ropts) {
      return applyRemote(msg, { changes: msg.changes }, ropts);
    },

    applyRemoteDoc(ref, bytes, ropts) {
      return applyRemote(ref, { doc: bytes }, ropts);
    },

    incarnations() {
      return incs.values();
    },

    incarnation(uid) {
      return incs.get(uid);
    },

    hasChanges(uid, hashes) {
      if (hashes.length === 0) return true;
      if (uidState(uid) === 'unknown') return false;
      return hasChanges(loadDoc(uid), [...hashes]);
    },

    changeCount() {
      return totalChanges;
    },

    exportDoc(uid) {
      return docBytes(uid);
    },
  };
}
