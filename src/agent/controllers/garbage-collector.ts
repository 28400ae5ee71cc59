// The garbage collector (Kubernetes' GC controller), leader-only:
// - background: an object whose owners (by uid) are all gone is deleted;
// - foreground: an owner deleted with propagationPolicy=Foreground carries the
//   `foregroundDeletion` finalizer (set by the registry); its dependents are
//   deleted first, those with blockOwnerDeletion are waited for, then the
//   finalizer goes and with it the owner;
// - orphan: an owner deleted with propagationPolicy=Orphan carries the `orphan`
//   finalizer; its dependents lose their ownerReferences to it, then it goes.
//
// The store is eventually consistent across agents: a dependent can arrive
// before its owner does. So an owner missing from the local store counts as
// gone only once the dependent is older than `orphanGraceMs`; until then the
// dependent is looked at again when the grace ends.
//
// Dependents are found through an index (owner uid -> dependent keys) kept from
// the watches; every start rebuilds it from the resync, and every use re-reads
// the dependent, so a stale entry costs a lookup, never a wrong delete.
//
// It also finishes deletions that replication left pending (stuck-deletions.ts
// decides): an object with a deletionTimestamp and no finalizers still there
// after the grace, counted from when the collector first saw it so, is deleted;
// a pod bound to a node is force-deleted once its kubelet had its grace period
// and a margin, or after the grace when its node is gone or not Ready.
import type { ObjectClient } from '../api/object-client.ts';
import type { KubeObject, OwnerReference } from '../api/object-types.ts';
import { ApiError } from '../api/errors.ts';
import { FOREGROUND_FINALIZER, ORPHAN_FINALIZER } from '../api/registry.ts';
import { RESOURCE_TYPES, resourceKey } from '../api/resources.ts';
import type { Logger } from '../logger.ts';
import { defineController, type Controller, type ControllerEvent, type ReconcileResult } from './controller.ts';
import { groupOf, withOwnerRefs, withoutOwner } from './owner-refs.ts';
import { boundNodeOf, decideStuckDeletion, isNodeReady, isPendingDeletion, type BoundNodeState } from './stuck-deletions.ts';

export interface GarbageCollectorOptions {
  client: ObjectClient;
  logger: Logger;
  clock?: () => Date;
  /** A dependent whose owner is absent is collected only once it is this old (default 5000 ms). */
  orphanGraceMs?: number;
  /**
   * How long past its grace period a deleting pod on a Ready node is left to its
   * kubelet before it is force-deleted (default 10000 ms).
   */
  kubeletMarginMs?: number;
  /** Resource keys whose objects are collected (default: every served type but events). */
  resources?: readonly string[];
}

interface Dependent {
  resource: string;
  obj: KubeObject;
}

/** `resource/namespace/name`; the namespace is empty for cluster-scoped objects. */
export function gcKey(resource: string, obj: KubeObject): string {
  return `${resource}/${obj.metadata.namespace ?? ''}/${obj.metadata.name ?? ''}`;
}

function parseKey(key: string): { resource: string; namespace: string; name: string } {
  const a = key.indexOf('/');
  const b = key.indexOf('/', a + 1);
  return { resource: key.slice(0, a), namespace: key.slice(a + 1, b), name: key.slice(b + 1) };
}

function hasFinalizer(obj: KubeObject, f: string): boolean {
  return obj.metadata.finalizers?.includes(f) ?? false;
}

function ignoreGone(err: unknown): void {
  // NotFound: already gone; Conflict: replaced or changed since it was read (the next event brings it back).
  if (err instanceof ApiError && (err.code === 404 || err.code === 409)) return;
  throw err;
}

interface PendingDeletion {
  uid: string;
  /** When this collector first saw it deleting with no finalizers (ms since the epoch). */
  since: number;
  /** The node a pod is bound to: its changes bring the pod back. */
  node?: string;
}

const NODES = 'nodes';
const namespacedResources = RESOURCE_TYPES.filter((t) => t.namespaced && t.kind !== 'Event').map(resourceKey);

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

export function createGarbageCollector(opts: GarbageCollectorOptions): Controller {
  const { client } = opts;
  const log = opts.logger.child({ component: 'garbage-collector' });
  const clock = opts.clock ?? (() => new Date());
  const graceMs = opts.orphanGraceMs ?? 5000;
  const kubeletMarginMs = opts.kubeletMarginMs ?? 10_000;
  const resources = opts.resources ?? RESOURCE_TYPES.map(resourceKey).filter((r) => r !== 'events');
  const ownersOf = new Map<string, OwnerReference[]>();
  const dependentsOf = new Map<string, Set<string>>();
  const pending = new Map<string, PendingDeletion>();
  /** Nodes seen gone or not Ready, and since when (ms): a grace for the node's state too. */
  const nodeDownSince = new Map<string, number>();

  function setOwners(key: string, refs: readonly OwnerReference[]): void {
    for (const r of ownersOf.get(key) ?? []) {
      const set = dependentsOf.get(r.uid);
      set?.delete(key);
      if (set?.size === 0) dependentsOf.delete(r.uid);
    }
    if (refs.length === 0) {
      ownersOf.delete(key);
      return;
    }
    ownersOf.set(key, [...refs]);
    for (const r of refs) {
      if (!r.uid) continue;
      let set = dependentsOf.get(r.uid);
      if (!set) dependentsOf.set(r.uid, (set = new Set()));
      set.add(key);
    }
  }

  /** Where the owner named by ref lives, seen from a dependent in namespace ns; undefined when this agent can't tell. */
  function ownerKey(ref: OwnerReference, ns: string): string | undefined {
    const group = groupOf(ref.apiVersion ?? '');
    const t = RESOURCE_TYPES.find((x) => x.group === group && x.kind === ref.kind);
    // A kind this agent does not serve, or a cluster-scoped dependent naming a namespaced owner.
    if (!t || (t.namespaced && !ns)) return undefined;
    return `${resourceKey(t)}/${t.namespaced ? ns : ''}/${ref.name}`;
  }

  function getByKey(key: string): KubeObject | undefined {
    const { resource, namespace, name } = parseKey(key);
    return client.get(resource, namespace, name);
  }

  /** The current dependents of owner, re-read and checked against its uid. */
  function dependents(owner: KubeObject): (Dependent & { ref: OwnerReference })[] {
    const uid = owner.metadata.uid ?? '';
    const out: (Dependent & { ref: OwnerReference })[] = [];
    for (const key of dependentsOf.get(uid) ?? []) {
      const obj = getByKey(key);
      const ref = obj?.metadata.ownerReferences?.find((r) => r.uid === uid);
      if (obj && ref) out.push({ resource: parseKey(key).resource, obj, ref });
    }
    return out;
  }

  /** When key (this uid) was first seen deleting with no finalizers; starts counting now if it was not. */
  function notePending(key: string, obj: KubeObject, now: number): number {
    const uid = obj.metadata.uid ?? '';
    const cur = pending.get(key);
    if (cur && cur.uid === uid) return cur.since;
    pending.set(key, { uid, since: now, node: boundNodeOf(obj) });
    return now;
  }

  function nodeIsDown(name: string, down: boolean, now: number): boolean {
    const was = nodeDownSince.has(name);
    if (!down) nodeDownSince.delete(name);
    else if (!was) nodeDownSince.set(name, now);
    return was !== down;
  }

  /** Keys of deletions left pending, and of the pending pods of a node whose readiness changed. */
  function pendingKeys(event: ControllerEvent): string[] {
    const obj = event.object;
    const key = gcKey(event.resource, obj);
    const keys: string[] = [];
    if (event.type === 'DELETED' || !isPendingDeletion(obj)) pending.delete(key);
    else {
      notePending(key, obj, clock().getTime());
      keys.push(key);
    }
    if (event.resource === NODES) {
      const name = obj.metadata.name ?? '';
      if (nodeIsDown(name, event.type === 'DELETED' || !isNodeReady(obj), clock().getTime())) {
        for (const [k, p] of pending) if (p.node === name) keys.push(k);
      }
    }
    return keys;
  }

  function toKeys(event: ControllerEvent): string[] {
    return [...ownerKeys(event), ...pendingKeys(event)];
  }

  function ownerKeys(event: ControllerEvent): string[] {
    const obj = event.object;
    const key = gcKey(event.resource, obj);
    const before = ownersOf.get(key) ?? [];
    const refs = event.type === 'DELETED' ? [] : (obj.metadata.ownerReferences ?? []);
    const keys: string[] = [];
    if (event.type === 'DELETED') {
      // The owner went: its dependents may be garbage now.
      keys.push(...(dependentsOf.get(obj.metadata.uid ?? '') ?? []));
    } else {
      const refsChanged = JSON.stringify(before) !== JSON.stringify(refs);
      const gcFinalizing = !!obj.metadata.deletionTimestamp && (hasFinalizer(obj, FOREGROUND_FINALIZER) || hasFinalizer(obj, ORPHAN_FINALIZER));
      if ((refs.length > 0 && (event.type === 'ADDED' || refsChanged)) || gcFinalizing) keys.push(key);
    }
    // Owners waiting for their dependents look again when one changes or goes.
    const ns = obj.metadata.namespace ?? '';
    for (const ref of [...before, ...(obj.metadata.ownerReferences ?? [])]) {
      const ok = ownerKey(ref, ns);
      if (!ok) continue;
      const owner = getByKey(ok);
      if (owner?.metadata.uid === ref.uid && owner.metadata.deletionTimestamp) keys.push(ok);
    }
    setOwners(key, refs);
    return keys;
  }

  async function deleteObject(resource: string, obj: KubeObject, policy: 'Foreground' | 'Background', why: string): Promise<void> {
    try {
      await client.delete(resource, obj.metadata.namespace ?? '', obj.metadata.name ?? '', {
        propagationPolicy: policy,
        preconditions: { uid: obj.metadata.uid },
      });
      log.info({ resource, namespace: obj.metadata.namespace, name: obj.metadata.name, policy }, why);
    } catch (err) {
      ignoreGone(err);
    }
  }

  async function setOwnerRefs(resource: string, obj: KubeObject, refs: OwnerReference[] | undefined): Promise<void> {
    try {
      await client.update(resource, withOwnerRefs(obj, refs));
    } catch (err) {
      ignoreGone(err);
    }
  }

  async function removeFinalizer(resource: string, obj: KubeObject, finalizer: string): Promise<void> {
    const fresh = client.get(resource, obj.metadata.namespace ?? '', obj.metadata.name ?? '');
    if (!fresh || fresh.metadata.uid !== obj.metadata.uid || !hasFinalizer(fresh, finalizer)) return;
    const metadata = { ...fresh.metadata, finalizers: (fresh.metadata.finalizers ?? []).filter((f) => f !== finalizer) };
    // An update may fail with Conflict when the object changed since `fresh`: retried with back-off.
    await client.update(resource, { ...fresh, metadata });
  }

  /**
   * Background collection of one object: deleted when no owner is left that
   * still holds it; references to owners that are gone (or deleting in the
   * foreground) are dropped when another owner still holds it.
   */
  async function collect(resource: string, obj: KubeObject): Promise<ReconcileResult | void> {
    const refs = obj.metadata.ownerReferences ?? [];
    if (refs.length === 0) return;
    const ns = obj.metadata.namespace ?? '';
    const created = Date.parse(obj.metadata.creationTimestamp ?? '');
    const age = Number.isFinite(created) ? clock().getTime() - created : Infinity;
    const solid: OwnerReference[] = [];
    const gone: OwnerReference[] = [];
    const waiting: OwnerReference[] = [];
    let recheck: number | undefined;
    for (const ref of refs) {
      const ok = ref.uid ? ownerKey(ref, ns) : undefined;
      // Never collect on what this agent cannot see.
      if (!ok) {
        solid.push(ref);
        continue;
      }
      const owner = getByKey(ok);
      if (!owner || owner.metadata.uid !== ref.uid) {
        if (age >= graceMs) gone.push(ref);
        else recheck = minDefined(recheck, graceMs - age);
      } else if (owner.metadata.deletionTimestamp && hasFinalizer(owner, FOREGROUND_FINALIZER)) {
        waiting.push(ref);
      } else {
        solid.push(ref);
      }
    }
    if (solid.length > 0) {
      if (gone.length + waiting.length > 0) {
        const drop = new Set([...gone, ...waiting].map((r) => r.uid));
        await setOwnerRefs(resource, obj, refs.filter((r) => !drop.has(r.uid)));
      }
      return recheck === undefined ? undefined : { requeueAfterMs: recheck };
    }
    // An owner that may only not have replicated yet: wait out the grace.
    if (recheck !== undefined) return { requeueAfterMs: recheck };
    if (waiting.length > 0) {
      // Dependents of our own make the chain wait for them too.
      const policy = dependents(obj).length > 0 ? 'Foreground' : 'Background';
      await deleteObject(resource, obj, policy, 'deleting dependent of an owner in foreground deletion');
    } else if (gone.length > 0) {
      await deleteObject(resource, obj, 'Background', 'deleting object whose owners are gone');
    }
  }

  async function deleteDependentsFirst(resource: string, owner: KubeObject): Promise<ReconcileResult | void> {
    let recheck: number | undefined;
    for (const d of dependents(owner)) {
      if (d.obj.metadata.deletionTimestamp) continue;
      const r = await collect(d.resource, d.obj);
      recheck = minDefined(recheck, r ? r.requeueAfterMs : undefined);
    }
    const blocking = dependents(owner).filter((d) => d.ref.blockOwnerDeletion === true);
    if (blocking.length > 0) {
      // Their deletion events bring the owner back here.
      log.debug({ resource, name: owner.metadata.name, blocking: blocking.length }, 'waiting for dependents');
      return recheck === undefined ? undefined : { requeueAfterMs: recheck };
    }
    await removeFinalizer(resource, owner, FOREGROUND_FINALIZER);
    log.info({ resource, namespace: owner.metadata.namespace, name: owner.metadata.name }, 'dependents gone: foreground deletion done');
  }

  function boundNodeState(name: string, now: number): BoundNodeState {
    const node = client.get(NODES, '', name);
    const ready = !!node && isNodeReady(node);
    nodeIsDown(name, !ready, now);
    if (ready) return { state: 'ready' };
    return { state: node ? 'notReady' : 'missing', since: nodeDownSince.get(name) ?? now };
  }

  function namespaceEmpty(ns: string): boolean {
    return namespacedResources.every((r) => client.list(r, { namespace: ns }).items.length === 0);
  }

  /** Finishes a deletion that nothing holds any more but that no write removed (stuck-deletions.ts). */
  async function finishPending(resource: string, key: string, obj: KubeObject): Promise<ReconcileResult | void> {
    if (!isPendingDeletion(obj)) {
      pending.delete(key);
      return;
    }
    const now = clock().getTime();
    const nodeName = boundNodeOf(obj);
    const decision = decideStuckDeletion(
      {
        obj,
        since: notePending(key, obj, now),
        now,
        node: nodeName ? boundNodeState(nodeName, now) : undefined,
        namespaceEmpty: obj.kind === 'Namespace' ? namespaceEmpty(obj.metadata.name ?? '') : undefined,
      },
      { graceMs, kubeletMarginMs },
    );
    if (decision.action === 'none') return;
    if (decision.action === 'wait') {
      if (decision.restart) pending.delete(key);
      return { requeueAfterMs: decision.afterMs };
    }
    const ns = obj.metadata.namespace ?? '';
    const name = obj.metadata.name ?? '';
    try {
      await client.delete(resource, ns, name, {
        preconditions: { uid: obj.metadata.uid },
        ...(decision.force ? { gracePeriodSeconds: 0 } : {}),
      });
      log.info({ resource, namespace: obj.metadata.namespace, name, node: nodeName }, decision.reason);
    } catch (err) {
      ignoreGone(err);
      return;
    }
    // Still there (something new holds it): looked at again, never in a tight loop.
    if (client.get(resource, ns, name)?.metadata.uid === obj.metadata.uid) return { requeueAfterMs: graceMs };
  }

  async function orphanDependents(resource: string, owner: KubeObject): Promise<void> {
    const uid = owner.metadata.uid ?? '';
    for (const d of dependents(owner)) {
      try {
        await client.update(d.resource, withOwnerRefs(d.obj, withoutOwner(d.obj, uid)));
      } catch (err) {
        // A dependent changed meanwhile (Conflict) is retried: the finalizer goes only once none points here.
        if (!(err instanceof ApiError && err.code === 404)) throw err;
      }
    }
    await removeFinalizer(resource, owner, ORPHAN_FINALIZER);
    log.info({ resource, namespace: owner.metadata.namespace, name: owner.metadata.name }, 'dependents orphaned');
  }

  return defineController({
    name: 'garbage-collector',
    watches: resources.map((resource) => ({ resource, toKeys })),
    onStart() {
      ownersOf.clear();
      dependentsOf.clear();
      pending.clear();
      nodeDownSince.clear();
    },
    async reconcile(key) {
      const { resource, namespace, name } = parseKey(key);
      const obj = client.get(resource, namespace, name);
      if (!obj) return;
      if (obj.metadata.deletionTimestamp) {
        if (hasFinalizer(obj, ORPHAN_FINALIZER)) return orphanDependents(resource, obj);
        if (hasFinalizer(obj, FOREGROUND_FINALIZER)) return deleteDependentsFirst(resource, obj);
        return finishPending(resource, key, obj);
      }
      return collect(resource, obj);
    },
  });
}
