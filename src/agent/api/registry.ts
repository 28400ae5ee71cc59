// The server-side object logic between HTTP (or an in-process caller such as the
// kubelet) and the store: type resolution, namespaces, names, uid/timestamps,
// generation, optimistic concurrency, status subresource isolation, defaults and
// validation (admission), graceful and finalizer-aware deletion.
import { randomUUID, randomInt } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from '../logger.ts';
import type { ObjectStore, StoreEvent, Unsubscribe } from '../store/object-store.ts';
import type { DeleteOptions, ListOptions, ObjectClient, WatchRequest } from './object-client.ts';
import type { KubeObject, Pod } from './object-types.ts';
import { RESOURCE_TYPES, findByKey, groupVersion, resourceKey, type ResourceType } from './resources.ts';
import { BadRequest, Conflict, Forbidden, NotFound, conflict, invalidObject, notFound } from './errors.ts';
import { admit } from './admission/index.ts';
import { parseFieldSelector, parseLabelSelector } from './selectors.ts';
import { createSealedSecretWrites, type SecretBackend } from './secret-backend.ts';
import { keepAllocatedServiceValues } from './service-allocated-values.ts';

export interface WriteRequestOptions {
  /** The namespace named in the request path; the body must agree with it. */
  namespace?: string;
  /** The name named in the request path (update); the body must agree with it. */
  name?: string;
  /** Validate and default, but store nothing. */
  dryRun?: boolean;
}

export interface RegistryDeleteOptions extends DeleteOptions {
  dryRun?: boolean;
}

export interface DeleteResult {
  object: KubeObject;
  /** True when the object left the store; false when it was only marked for deletion. */
  removed: boolean;
}

export interface Registry extends ObjectClient {
  /** The type behind a resource key (`pods`, `deployments.apps`); NotFound if not served. */
  resolve(resource: string): ResourceType;
  create<T extends KubeObject>(resource: string, obj: T, opts?: WriteRequestOptions): Promise<T>;
  update<T extends KubeObject>(resource: string, obj: T, opts?: WriteRequestOptions): Promise<T>;
  updateStatus<T extends KubeObject>(resource: string, obj: T, opts?: WriteRequestOptions): Promise<T>;
  delete(resource: string, namespace: string, name: string, opts?: RegistryDeleteOptions): Promise<KubeObject | undefined>;
  /** Like delete, but says whether the object is gone or only marked. */
  deleteDetailed(resource: string, namespace: string, name: string, opts?: RegistryDeleteOptions): Promise<DeleteResult>;
  deleteCollection(resource: string, opts: ListOptions & RegistryDeleteOptions): Promise<KubeObject[]>;
  /** The pods/binding subresource: sets spec.nodeName once. Conflict if already bound. */
  bind(namespace: string, name: string, nodeName: string): Promise<Pod>;
  ensureDefaultNamespaces(): Promise<void>;
  currentResourceVersion(): string;
  /**
   * Objects as API clients see them. Secrets kept in Raft come from the store as
   * shells (secret-backend.ts); this fills in their values (503 without the
   * quorum). `keysOnly` leaves the values empty and needs no quorum. Other objects pass through.
   */
  reveal(resource: string, objects: KubeObject[], opts?: { keysOnly?: boolean }): Promise<KubeObject[]>;
  /** Whether reveal() does anything for this resource. */
  revealsData(resource: string): boolean;
}

export interface RegistryOptions {
  store: ObjectStore;
  logger: Logger;
  clock?: () => Date;
  /** Secrets through Raft: values sealed in the cluster FSM, shells in the store. Absent: Secrets are plain objects in the store. */
  secrets?: SecretBackend;
}

export const DEFAULT_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];
const DEFAULT_POD_GRACE_SECONDS = 30;
/** The garbage collector's finalizers: a delete sets them, the collector removes them. */
export const FOREGROUND_FINALIZER = 'foregroundDeletion';
export const ORPHAN_FINALIZER = 'orphan';
// Kubernetes' generateName alphabet: no vowels, so suffixes never spell words.
const SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
const namespacedTypes = RESOURCE_TYPES.filter((t) => t.namespaced);

/** Equality as stored: fields set to undefined count as absent. */
function sameJson(a: unknown, b: unknown): boolean {
  const clean = (v: unknown) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));
  return isDeepStrictEqual(clean(a), clean(b));
}

/**
 * The finalizers after a delete with this propagation policy, as Kubernetes'
 * registry sets them: Foreground adds foregroundDeletion (dependents go first),
 * Orphan adds orphan (dependents lose their ownerReferences), Background adds
 * neither and drops both. Background is the default of every type here (as for
 * apps/v1 and kubectl); without a policy the finalizers stay as they are.
 */
function finalizersAfterDelete(current: string[] | undefined, policy: DeleteOptions['propagationPolicy']): string[] {
  const list = current ?? [];
  if (!policy) return list;
  const rest = list.filter((f) => f !== FOREGROUND_FINALIZER && f !== ORPHAN_FINALIZER);
  if (policy === 'Foreground') rest.push(FOREGROUND_FINALIZER);
  if (policy === 'Orphan') rest.push(ORPHAN_FINALIZER);
  return rest;
}

/** RFC 3339 with seconds precision, as Kubernetes serialises metav1.Time. */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function createRegistry(opts: RegistryOptions): Registry {
  const { store } = opts;
  const log = opts.logger.child({ component: 'registry' });
  const now = opts.clock ?? (() => new Date());
  const sealed = opts.secrets ? createSealedSecretWrites(opts.secrets, store) : undefined;
  const sealing = (t: ResourceType) => sealed !== undefined && t.kind === 'Secret';

  function resolve(resource: string): ResourceType {
    const t = findByKey(resource);
    if (!t) throw new NotFound(`the server could not find the requested resource (${resource})`);
    return t;
  }

  function checkKind(t: ResourceType, obj: KubeObject): void {
    const gv = groupVersion(t);
    if (obj.apiVersion && obj.apiVersion !== gv) {
      throw new BadRequest(`the API version in the data (${obj.apiVersion}) does not match the expected API version (${gv})`);
    }
    if (obj.kind && obj.kind !== t.kind) {
      throw new BadRequest(`the kind in the data (${obj.kind}) does not match the expected kind (${t.kind})`);
    }
  }

  /** Works out the object's namespace from the body and the request path. */
  function namespaceFor(t: ResourceType, obj: KubeObject, pathNs: string | undefined): string {
    if (!t.namespaced) return '';
    const bodyNs = obj.metadata.namespace;
    if (pathNs && bodyNs && pathNs !== bodyNs) {
      throw new BadRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    return pathNs || bodyNs || 'default';
  }

  function requireNamespace(ns: string): void {
    const nsObj = store.get('namespaces', '', ns);
    if (!nsObj) throw notFound('namespaces', ns);
    if (nsObj.metadata.deletionTimestamp) {
      throw new Forbidden(`unable to create new content in namespace ${ns} because it is being terminated`, {
        name: ns,
        kind: 'namespaces',
      });
    }
  }

  function normalise<T extends KubeObject>(t: ResourceType, input: T): T {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new BadRequest('the request body must be an object');
    const obj = structuredClone(input);
    if (obj.metadata === undefined || obj.metadata === null) obj.metadata = {};
    if (typeof obj.metadata !== 'object' || Array.isArray(obj.metadata)) throw new BadRequest('metadata must be an object');
    checkKind(t, obj);
    obj.apiVersion = groupVersion(t);
    obj.kind = t.kind;
    return obj;
  }

  function generateSuffix(): string {
    let s = '';
    for (let i = 0; i < 5; i++) s += SUFFIX_ALPHABET[randomInt(SUFFIX_ALPHABET.length)];
    return s;
  }

  async function create<T extends KubeObject>(resource: string, input: T, wo: WriteRequestOptions = {}): Promise<T> {
    const t = resolve(resource);
    const obj = normalise(t, input);
    const meta = obj.metadata;
    const ns = namespaceFor(t, obj, wo.namespace);
    if (t.namespaced) {
      meta.namespace = ns;
      requireNamespace(ns);
    } else {
      delete meta.namespace;
    }
    if (!meta.name && meta.generateName) meta.name = meta.generateName + generateSuffix();
    if (!meta.name) {
      throw invalidObject(t.kind, '', [{ reason: 'FieldValueRequired', field: 'metadata.name', message: 'Required value: name or generateName is required' }], t.group);
    }
    meta.uid = randomUUID();
    meta.creationTimestamp = rfc3339(now());
    if (t.hasSpec) meta.generation = 1;
    else delete meta.generation;
    delete meta.resourceVersion;
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    delete meta.managedFields;
    // Status is owned by controllers and kubelets; a Node reports its own on registration.
    if (t.kind !== 'Node' && t.subresources.includes('status')) delete (obj as KubeObject).status;
    admit(t, obj);
    if (t.kind === 'Namespace') (obj as KubeObject).status = { ...((obj as KubeObject).status as object | undefined), phase: 'Active' };
    if (wo.dryRun) return obj;
    if (sealing(t)) return (await sealed!.create(obj)) as T;
    const stored = (await store.create(resourceKey(t), obj)) as T;
    log.debug({ resource, namespace: ns, name: meta.name }, 'created');
    return stored;
  }

  function existingFor(t: ResourceType, obj: KubeObject, wo: WriteRequestOptions): KubeObject {
    const ns = namespaceFor(t, obj, wo.namespace);
    const name = obj.metadata.name;
    if (wo.name && name && wo.name !== name) {
      throw new BadRequest(`the name of the object (${name}) does not match the name on the URL (${wo.name})`);
    }
    const finalName = name || wo.name;
    if (!finalName) throw new BadRequest('name is required for an update');
    const existing = store.get(resourceKey(t), ns, finalName);
    if (!existing) throw notFound(t.plural, finalName, t.group);
    const rv = obj.metadata.resourceVersion;
    if (rv && rv !== existing.metadata.resourceVersion) throw conflict(t.plural, finalName, t.group);
    return existing;
  }

  function checkImmutableMeta(t: ResourceType, obj: KubeObject, old: KubeObject): void {
    const causes = [];
    if (obj.metadata.uid && obj.metadata.uid !== old.metadata.uid) {
      causes.push({ reason: 'FieldValueInvalid', field: 'metadata.uid', message: `Invalid value: "${obj.metadata.uid}": field is immutable` });
    }
    if (obj.metadata.creationTimestamp && obj.metadata.creationTimestamp !== old.metadata.creationTimestamp) {
      causes.push({ reason: 'FieldValueInvalid', field: 'metadata.creationTimestamp', message: `Invalid value: "${obj.metadata.creationTimestamp}": field is immutable` });
    }
    if (causes.length) throw invalidObject(t.kind, old.metadata.name, causes, t.group);
  }

  /** Kubernetes lets a running pod change only images, activeDeadlineSeconds and added tolerations. */
  function checkPodSpecUpdate(t: ResourceType, obj: KubeObject, old: KubeObject): void {
    if (t.kind !== 'Pod') return;
    const strip = (spec: unknown) => {
      const s = structuredClone((spec ?? {}) as Record<string, unknown>);
      for (const field of ['containers', 'initContainers', 'ephemeralContainers']) {
        const list = s[field] as { image?: string }[] | undefined;
        if (Array.isArray(list)) for (const c of list) if (c && typeof c === 'object') delete c.image;
      }
      delete s.activeDeadlineSeconds;
      delete s.tolerations;
      return s;
    };
    const a = strip(obj.spec);
    const b = strip(old.spec);
    // Tolerations may only be added: every old one must still be there.
    const oldTolerations = ((old.spec as Record<string, unknown> | undefined)?.tolerations as unknown[] | undefined) ?? [];
    const newTolerations = ((obj.spec as Record<string, unknown> | undefined)?.tolerations as unknown[] | undefined) ?? [];
    const tolerationsOk = oldTolerations.every((tol) => newTolerations.some((n) => isDeepStrictEqual(n, tol)));
    if (!isDeepStrictEqual(a, b) || !tolerationsOk) {
      throw invalidObject(t.kind, old.metadata.name, [
        {
          reason: 'FieldValueForbidden',
          field: 'spec',
          message:
            'Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)',
        },
      ]);
    }
  }

  /** Stores an updated object, or removes it when a pending deletion has no finalizers left. */
  async function commitUpdate(t: ResourceType, obj: KubeObject, old: KubeObject, dryRun?: boolean): Promise<KubeObject> {
    if (dryRun) return obj;
    const key = resourceKey(t);
    const expected = { expectedResourceVersion: old.metadata.resourceVersion, expectedUid: old.metadata.uid };
    if (obj.metadata.deletionTimestamp && !(obj.metadata.finalizers?.length) && !podAwaitsKubelet(t, obj)) {
      const updated = await store.update(key, obj, expected);
      const removed = await store.delete(key, obj.metadata.namespace ?? '', obj.metadata.name!, {
        expectedResourceVersion: updated.metadata.resourceVersion,
      });
      await afterRemoval(t, removed);
      return removed;
    }
    return store.update(key, obj, expected);
  }

  /**
   * A bound pod in graceful deletion stays until its kubelet deletes it with
   * grace 0 (which, when finalizers hold the pod, leaves deletionGracePeriodSeconds 0).
   */
  function podAwaitsKubelet(t: ResourceType, obj: KubeObject): boolean {
    return t.kind === 'Pod' && !!(obj.spec as { nodeName?: string } | undefined)?.nodeName && obj.metadata.deletionGracePeriodSeconds !== 0;
  }

  async function update<T extends KubeObject>(resource: string, input: T, wo: WriteRequestOptions = {}): Promise<T> {
    const t = resolve(resource);
    const incoming = normalise(t, input);
    const storedOld = existingFor(t, incoming, wo);
    // A Secret is compared with its values in Raft, not with the shell in the store.
    const { next: obj, old } = sealing(t) ? await sealed!.prepareUpdate(incoming, storedOld) : { next: incoming, old: storedOld };
    checkImmutableMeta(t, obj, old);
    const meta = obj.metadata;
    meta.name = old.metadata.name;
    if (t.namespaced) meta.namespace = old.metadata.namespace;
    else delete meta.namespace;
    meta.uid = old.metadata.uid;
    meta.creationTimestamp = old.metadata.creationTimestamp;
    meta.resourceVersion = old.metadata.resourceVersion;
    // Deletion state is set by delete, never by a client's update.
    if (old.metadata.deletionTimestamp) meta.deletionTimestamp = old.metadata.deletionTimestamp;
    else delete meta.deletionTimestamp;
    if (old.metadata.deletionGracePeriodSeconds !== undefined) meta.deletionGracePeriodSeconds = old.metadata.deletionGracePeriodSeconds;
    else delete meta.deletionGracePeriodSeconds;
    delete meta.managedFields;
    if (t.subresources.includes('status')) {
      if (old.status !== undefined) (obj as KubeObject).status = structuredClone(old.status);
      else delete (obj as KubeObject).status;
    }
    if (t.kind === 'Service') keepAllocatedServiceValues(obj, old);
    admit(t, obj, old);
    checkPodSpecUpdate(t, obj, old);
    if (t.hasSpec) {
      const gen = old.metadata.generation ?? 1;
      meta.generation = sameJson(obj.spec, old.spec) ? gen : gen + 1;
    }
    if (sameJson(obj, old)) return old as T; // no-op updates don't bump resourceVersion
    const stored =
      sealing(t) && !wo.dryRun
        ? await sealed!.commitUpdate(obj, storedOld, (shell) => commitUpdate(t, shell, storedOld))
        : await commitUpdate(t, obj, old, wo.dryRun);
    log.debug({ resource, namespace: meta.namespace, name: meta.name }, 'updated');
    return stored as T;
  }

  async function updateStatus<T extends KubeObject>(resource: string, input: T, wo: WriteRequestOptions = {}): Promise<T> {
    const t = resolve(resource);
    if (!t.subresources.includes('status')) throw new NotFound(`${resource} has no status subresource`);
    const obj = normalise(t, input);
    const old = existingFor(t, obj, wo);
    // Only status is taken from the request; spec and metadata stay as stored.
    const next = structuredClone(old);
    if (obj.status !== undefined) next.status = obj.status;
    else delete next.status;
    admit(t, next, old);
    if (sameJson(next, old)) return old as T;
    const stored = wo.dryRun ? next : await store.update(resourceKey(t), next, { expectedResourceVersion: old.metadata.resourceVersion });
    return stored as T;
  }

  function checkPreconditions(t: ResourceType, obj: KubeObject, pre: DeleteOptions['preconditions']): void {
    if (!pre) return;
    if (pre.uid && pre.uid !== obj.metadata.uid) {
      throw new Conflict(`Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${obj.metadata.uid}`, {
        name: obj.metadata.name,
        group: t.group,
        kind: t.plural,
      });
    }
    if (pre.resourceVersion && pre.resourceVersion !== obj.metadata.resourceVersion) {
      throw new Conflict(
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${obj.metadata.resourceVersion}`,
        { name: obj.metadata.name, group: t.group, kind: t.plural },
      );
    }
  }

  async function deleteDetailed(resource: string, namespace: string, name: string, dopts: RegistryDeleteOptions = {}): Promise<DeleteResult> {
    const t = resolve(resource);
    const key = resourceKey(t);
    const ns = t.namespaced ? namespace || 'default' : '';
    const old = store.get(key, ns, name);
    if (!old) throw notFound(t.plural, name, t.group);
    checkPreconditions(t, old, dopts.preconditions);
    if (dopts.gracePeriodSeconds !== undefined && (!Number.isInteger(dopts.gracePeriodSeconds) || dopts.gracePeriodSeconds < 0)) {
      throw new BadRequest(`gracePeriodSeconds must be a non-negative integer`);
    }
    const expected = { expectedResourceVersion: old.metadata.resourceVersion, expectedUid: old.metadata.uid };
    // A namespace's content is deleted here, not by the garbage collector.
    const finalizers = t.kind === 'Namespace' ? (old.metadata.finalizers ?? []) : finalizersAfterDelete(old.metadata.finalizers, dopts.propagationPolicy);
    const finalizersChange = !sameJson(finalizers, old.metadata.finalizers ?? []);

    // Graceful pod deletion: mark it and let the node's kubelet stop the containers first.
    if (podAwaitsKubelet(t, old) && dopts.gracePeriodSeconds !== 0) {
      const spec = old.spec as { terminationGracePeriodSeconds?: number };
      const grace = dopts.gracePeriodSeconds ?? spec.terminationGracePeriodSeconds ?? DEFAULT_POD_GRACE_SECONDS;
      const at = new Date(now().getTime() + grace * 1000);
      const current = old.metadata.deletionTimestamp ? Date.parse(old.metadata.deletionTimestamp) : Infinity;
      // A second delete may shorten the grace period, never lengthen it.
      if (at.getTime() >= current) return { object: old, removed: false };
      const next = structuredClone(old);
      next.metadata.deletionTimestamp = rfc3339(at);
      next.metadata.deletionGracePeriodSeconds = grace;
      if (finalizers.length) next.metadata.finalizers = finalizers;
      else delete next.metadata.finalizers;
      if (t.hasSpec && !old.metadata.deletionTimestamp) next.metadata.generation = (old.metadata.generation ?? 1) + 1;
      const stored = dopts.dryRun ? next : await store.update(key, next, expected);
      return { object: stored, removed: false };
    }

    if (finalizers.length) {
      const deleting = !!old.metadata.deletionTimestamp;
      // Already marked: only a changed propagation policy, or the grace-0 delete
      // that ends a pod's graceful period, has anything to write.
      if (deleting && !finalizersChange && old.metadata.deletionGracePeriodSeconds === 0) return { object: old, removed: false };
      const next = structuredClone(old);
      next.metadata.finalizers = finalizers;
      if (!deleting || old.metadata.deletionGracePeriodSeconds !== 0) {
        next.metadata.deletionTimestamp = rfc3339(now());
        next.metadata.deletionGracePeriodSeconds = 0;
      }
      if (t.hasSpec && !deleting) next.metadata.generation = (old.metadata.generation ?? 1) + 1;
      const stored = dopts.dryRun ? next : await store.update(key, next, expected);
      return { object: stored, removed: false };
    }

    if (t.kind === 'Namespace') return deleteNamespace(old, dopts);

    if (dopts.dryRun) return { object: old, removed: true };
    if (sealing(t)) await sealed!.beforeRemove(old);
    const removed = await store.delete(key, ns, name, expected);
    await afterRemoval(t, removed);
    log.debug({ resource, namespace: ns, name }, 'deleted');
    return { object: removed, removed: true };
  }

  // Simplification: the namespace's content is deleted synchronously here rather
  // than by a namespace controller. Objects that must wait (bound pods, finalizers)
  // keep the namespace in phase Terminating until the last one is gone.
  async function deleteNamespace(old: KubeObject, dopts: RegistryDeleteOptions): Promise<DeleteResult> {
    const ns = old.metadata.name!;
    if (dopts.dryRun) return { object: old, removed: true };
    let current = old;
    if (!old.metadata.deletionTimestamp) {
      const next = structuredClone(old);
      next.metadata.deletionTimestamp = rfc3339(now());
      next.metadata.deletionGracePeriodSeconds = 0;
      next.status = { ...(next.status as object | undefined), phase: 'Terminating' };
      current = await store.update('namespaces', next, { expectedResourceVersion: old.metadata.resourceVersion });
    }
    for (const t of namespacedTypes) {
      for (const item of store.list(resourceKey(t), ns).items) {
        try {
          await deleteDetailed(resourceKey(t), ns, item.metadata.name!, { propagationPolicy: dopts.propagationPolicy });
        } catch (err) {
          if (!(err instanceof NotFound)) throw err;
        }
      }
    }
    const gone = await finishNamespaceIfEmpty(ns);
    return gone ? { object: gone, removed: true } : { object: store.get('namespaces', '', ns) ?? current, removed: false };
  }

  async function finishNamespaceIfEmpty(ns: string): Promise<KubeObject | undefined> {
    const nsObj = store.get('namespaces', '', ns);
    if (!nsObj?.metadata.deletionTimestamp || nsObj.metadata.finalizers?.length) return undefined;
    for (const t of namespacedTypes) if (store.list(resourceKey(t), ns).items.length > 0) return undefined;
    const removed = await store.delete('namespaces', '', ns, { expectedUid: nsObj.metadata.uid });
    log.debug({ namespace: ns }, 'namespace removed');
    return removed;
  }

  async function afterRemoval(t: ResourceType, removed: KubeObject): Promise<void> {
    if (t.namespaced && removed.metadata.namespace) await finishNamespaceIfEmpty(removed.metadata.namespace);
  }

  async function del(resource: string, namespace: string, name: string, dopts?: RegistryDeleteOptions): Promise<KubeObject | undefined> {
    return (await deleteDetailed(resource, namespace, name, dopts)).object;
  }

  function matcher(t: ResourceType, o: ListOptions): (obj: KubeObject) => boolean {
    const label = o.labelSelector ? parseLabelSelector(o.labelSelector) : undefined;
    const field = o.fieldSelector ? parseFieldSelector(o.fieldSelector, resourceKey(t)) : undefined;
    if (!label && !field) return () => true;
    return (obj) => (!label || label.matches(obj.metadata.labels ?? {})) && (!field || field.matches(obj));
  }

  function list<T extends KubeObject = KubeObject>(resource: string, lo: ListOptions = {}): { items: T[]; resourceVersion: string } {
    const t = resolve(resource);
    const match = matcher(t, lo);
    const res = store.list(resourceKey(t), t.namespaced ? lo.namespace || undefined : undefined);
    return { items: res.items.filter(match) as T[], resourceVersion: res.resourceVersion };
  }

  function get<T extends KubeObject = KubeObject>(resource: string, namespace: string, name: string): T | undefined {
    const t = resolve(resource);
    return store.get(resourceKey(t), t.namespaced ? namespace || 'default' : '', name) as T | undefined;
  }

  async function deleteCollection(resource: string, o: ListOptions & RegistryDeleteOptions): Promise<KubeObject[]> {
    const t = resolve(resource);
    const out: KubeObject[] = [];
    for (const item of list(resource, o).items) {
      try {
        out.push((await deleteDetailed(resource, item.metadata.namespace ?? '', item.metadata.name!, { ...o, preconditions: undefined })).object);
      } catch (err) {
        if (!(err instanceof NotFound)) throw err;
      }
    }
    log.debug({ resource: resourceKey(t), count: out.length }, 'deleted collection');
    return out;
  }

  function watch(resource: string, req: WatchRequest, handler: (event: StoreEvent) => void): Unsubscribe {
    const t = resolve(resource);
    const key = resourceKey(t);
    const match = matcher(t, req);
    const filtered = !!(req.labelSelector || req.fieldSelector);
    // With a selector, an object that starts or stops matching is an ADDED or a
    // DELETED for this watcher, as in Kubernetes.
    const inside = new Set<string>();
    const id = (o: KubeObject) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    if (filtered) for (const o of store.list(key, t.namespaced ? req.namespace || undefined : undefined).items) if (match(o)) inside.add(id(o));
    return store.watch(
      { resource: key, namespace: t.namespaced ? req.namespace || undefined : undefined, sinceResourceVersion: req.resourceVersion },
      (ev) => {
        if (!filtered) return handler(ev);
        const k = id(ev.object);
        const ok = match(ev.object);
        if (ev.type === 'DELETED') {
          if (inside.delete(k) || ok) handler(ev);
        } else if (ok) {
          handler(inside.has(k) ? ev : { ...ev, type: 'ADDED' });
          inside.add(k);
        } else if (inside.delete(k)) {
          handler({ ...ev, type: 'DELETED' });
        }
      },
    );
  }

  async function bind(namespace: string, name: string, nodeName: string): Promise<Pod> {
    if (!nodeName) throw new BadRequest('binding target node name is required');
    const old = store.get('pods', namespace, name) as Pod | undefined;
    if (!old) throw notFound('pods', name);
    if (old.metadata.deletionTimestamp) throw new Conflict(`pod ${name} is being deleted, cannot be assigned to a host`, { name, kind: 'pods' });
    if (old.spec?.nodeName) {
      throw new Conflict(`pod ${name} is already assigned to node "${old.spec.nodeName}"`, { name, kind: 'pods' });
    }
    const next = structuredClone(old);
    next.spec.nodeName = nodeName;
    const status = (next.status ??= {});
    const conditions = (status.conditions ?? []).filter((c) => c.type !== 'PodScheduled');
    conditions.push({ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: rfc3339(now()) });
    status.conditions = conditions;
    return (await store.update('pods', next, { expectedResourceVersion: old.metadata.resourceVersion })) as Pod;
  }

  async function ensureDefaultNamespaces(): Promise<void> {
    for (const name of DEFAULT_NAMESPACES) {
      if (store.get('namespaces', '', name)) continue;
      await create('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    }
  }

  return {
    resolve,
    get,
    list,
    create,
    update,
    updateStatus,
    delete: del,
    deleteDetailed,
    deleteCollection,
    watch,
    bind,
    ensureDefaultNamespaces,
    currentResourceVersion: () => store.currentResourceVersion(),
    async reveal(resource, objects, ro) {
      return sealing(resolve(resource)) ? sealed!.reveal(objects, ro) : objects;
    },
    revealsData: (resource) => sealing(resolve(resource)),
  };
}
