// The endpoints controller (leader-only): for every Service with a pod selector
// it keeps the discovery.k8s.io/v1 EndpointSlices (what the proxy and DNS read)
// and the core v1 Endpoints object `<service>` (what older clients read) in line
// with the pods the selector picks. The desired objects come from the pure
// builders (desired-endpoint-slices.ts, desired-endpoints.ts); this shell reads
// the cache, writes only what differs from the stored objects (ignoring
// metadata it doesn't own), and so writes nothing in a steady state.
//
// Services without a selector (and ExternalName ones) keep user-managed
// Endpoints and slices: the controller only removes what it made itself (its
// managed-by label and controller reference) when a selector goes away. A
// deleted Service's objects go with it through the garbage collector, by the
// controller references; a Service being deleted is left alone so a foreground
// deletion can finish.
import type { ObjectClient } from '../api/object-client.ts';
import type { KubeObject, Pod } from '../api/object-types.ts';
import { AlreadyExists, NotFound } from '../api/errors.ts';
import { rfc3339 } from '../api/registry.ts';
import type { Logger } from '../logger.ts';
import { jsonEqual } from '../store/json-equal.ts';
import { defineController, type Controller, type ControllerEvent } from './controller.ts';
import { desiredEndpointSlices } from './desired-endpoint-slices.ts';
import { desiredEndpoints } from './desired-endpoints.ts';
import { controllerRef } from './owner-refs.ts';
import { createServiceMembershipIndex } from './service-membership-index.ts';
import {
  MANAGED_BY,
  MANAGED_BY_LABEL,
  SERVICE_NAME_LABEL,
  SKIP_MIRROR_LABEL,
  ZONE_LABEL,
  hasPodSelector,
  selectsPod,
  type EndpointSlice,
  type Endpoints,
  type Service,
} from './service-endpoints.ts';

export const ENDPOINTSLICE_CONTROLLER = 'endpointslice-controller';
export const ENDPOINTSLICE_RESOURCE = 'endpointslices.discovery.k8s.io';
/** When the controller wrote the change (Kubernetes' trigger-time annotation, approximated by the write). */
export const TRIGGER_TIME_ANNOTATION = 'endpoints.kubernetes.io/last-change-trigger-time';

export interface EndpointSliceControllerOptions {
  /** The leader's (fenced) client. */
  client: ObjectClient;
  logger: Logger;
  clock?: () => Date;
  /** Most endpoints in one slice (default 100, as Kubernetes). */
  maxEndpointsPerSlice?: number;
  /** Periodic full resync (none by default: every change is watched). */
  resyncMs?: number;
}

const keyOf = (o: KubeObject) => `${o.metadata.namespace ?? 'default'}/${o.metadata.name ?? ''}`;

function isManagedSlice(s: KubeObject): boolean {
  return s.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY && !!s.metadata.labels?.[SERVICE_NAME_LABEL];
}

/** The parts of a slice this controller owns; everything else (annotations, finalizers, ...) is left as stored. */
function sliceContent(s: EndpointSlice) {
  return {
    labels: s.metadata.labels ?? {},
    ownerReferences: s.metadata.ownerReferences ?? [],
    addressType: s.addressType,
    endpoints: s.endpoints ?? [],
    ports: s.ports ?? [],
  };
}

function endpointsContent(e: Endpoints) {
  return { labels: e.metadata.labels ?? {}, ownerReferences: e.metadata.ownerReferences ?? [], subsets: e.subsets ?? [] };
}

function ignoreNotFound(err: unknown): void {
  if (!(err instanceof NotFound)) throw err;
}

export function createEndpointSliceController(opts: EndpointSliceControllerOptions): Controller {
  const { client } = opts;
  const log = opts.logger.child({ component: ENDPOINTSLICE_CONTROLLER });
  const clock = opts.clock ?? (() => new Date());
  const membership = createServiceMembershipIndex();
  const zones = new Map<string, string | undefined>();

  function stamped<T extends KubeObject>(obj: T, base: KubeObject['metadata']): T {
    const annotations = { ...(base.annotations ?? {}), [TRIGGER_TIME_ANNOTATION]: rfc3339(clock()) };
    return { ...obj, metadata: { ...base, labels: obj.metadata.labels, ownerReferences: obj.metadata.ownerReferences, annotations } };
  }

  function ownSlices(ns: string, name: string): EndpointSlice[] {
    return client
      .list<EndpointSlice>(ENDPOINTSLICE_RESOURCE, { namespace: ns, labelSelector: `${SERVICE_NAME_LABEL}=${name}` })
      .items.filter((s) => isManagedSlice(s) && s.metadata.labels?.[SERVICE_NAME_LABEL] === name);
  }

  async function remove(resource: string, obj: KubeObject): Promise<void> {
    try {
      await client.delete(resource, obj.metadata.namespace ?? 'default', obj.metadata.name ?? '', { preconditions: { uid: obj.metadata.uid } });
    } catch (err) {
      ignoreNotFound(err);
    }
  }

  /** A selector went away: what this controller made for the service goes, what users made stays. */
  async function removeOwn(svc: Service, slices: EndpointSlice[]): Promise<void> {
    const uid = svc.metadata.uid;
    for (const s of slices) if (controllerRef(s)?.uid === uid) await remove(ENDPOINTSLICE_RESOURCE, s);
    const ep = client.get<Endpoints>('endpoints', svc.metadata.namespace ?? 'default', svc.metadata.name ?? '');
    if (ep && ep.metadata.labels?.[SKIP_MIRROR_LABEL] === 'true' && controllerRef(ep)?.uid === uid) await remove('endpoints', ep);
  }

  async function syncSlices(key: string, svc: Service, pods: Pod[], existing: EndpointSlice[]): Promise<void> {
    const zoneCache = new Map<string, string | undefined>();
    const zoneOf = (node: string) => {
      if (!zoneCache.has(node)) zoneCache.set(node, client.get('nodes', '', node)?.metadata.labels?.[ZONE_LABEL] || undefined);
      return zoneCache.get(node);
    };
    const desired = desiredEndpointSlices({ service: svc, pods, zoneOf, existing, maxEndpointsPerSlice: opts.maxEndpointsPerSlice });
    const byName = new Map(existing.map((s) => [s.metadata.name ?? '', s]));
    let writes = 0;
    // Creates and updates before deletes: endpoints moving between slices are never missing from both.
    for (const want of desired) {
      const have = byName.get(want.metadata.name ?? '');
      byName.delete(want.metadata.name ?? '');
      if (have && jsonEqual(sliceContent(have), sliceContent(want))) continue;
      writes++;
      if (have && have.addressType === want.addressType) {
        try {
          await client.update(ENDPOINTSLICE_RESOURCE, stamped(want, have.metadata));
        } catch (err) {
          ignoreNotFound(err); // deleted meanwhile: its DELETED event brings the service back
        }
        continue;
      }
      if (have) await remove(ENDPOINTSLICE_RESOURCE, have); // addressType is immutable
      try {
        await client.create(ENDPOINTSLICE_RESOURCE, stamped(want, want.metadata));
      } catch (err) {
        if (err instanceof AlreadyExists) log.warn({ service: key, slice: want.metadata.name }, 'an EndpointSlice this controller does not manage holds the name');
        throw err;
      }
    }
    for (const stale of byName.values()) {
      writes++;
      await remove(ENDPOINTSLICE_RESOURCE, stale);
    }
    if (writes) log.debug({ service: key, slices: desired.length, writes }, 'endpoint slices synced');
  }

  async function syncEndpoints(svc: Service, pods: Pod[]): Promise<void> {
    const want = desiredEndpoints(svc, pods);
    const have = client.get<Endpoints>('endpoints', svc.metadata.namespace ?? 'default', svc.metadata.name ?? '');
    if (!have) {
      try {
        await client.create('endpoints', stamped(want, want.metadata));
      } catch (err) {
        // Created meanwhile (a lagging view): the watch event brings the service back.
        if (!(err instanceof AlreadyExists)) throw err;
      }
      return;
    }
    if (jsonEqual(endpointsContent(have), endpointsContent(want))) return;
    try {
      await client.update('endpoints', stamped(want, have.metadata));
    } catch (err) {
      ignoreNotFound(err);
    }
  }

  async function reconcile(key: string): Promise<void> {
    const slash = key.indexOf('/');
    const ns = key.slice(0, slash);
    const name = key.slice(slash + 1);
    const svc = client.get<Service>('services', ns, name);
    if (!svc) {
      membership.forget(key);
      return;
    }
    if (svc.metadata.deletionTimestamp) return;
    const slices = ownSlices(ns, name);
    if (!hasPodSelector(svc)) {
      membership.forget(key);
      await removeOwn(svc, slices);
      return;
    }
    const pods = client.list<Pod>('pods', { namespace: ns }).items.filter((p) => selectsPod(svc, p));
    membership.set(
      key,
      pods.map(keyOf),
      pods.flatMap((p) => (p.spec.nodeName ? [p.spec.nodeName] : [])),
    );
    await syncSlices(key, svc, pods, slices);
    await syncEndpoints(svc, pods);
  }

  function podToKeys(e: ControllerEvent): Iterable<string> {
    // The services' own resync covers every pod.
    if (e.resync) return [];
    const pod = e.object as Pod;
    const keys = new Set(membership.servicesOfPod(keyOf(pod)));
    for (const svc of client.list<Service>('services', { namespace: pod.metadata.namespace }).items) {
      if (selectsPod(svc, pod)) keys.add(keyOf(svc));
    }
    return keys;
  }

  function nodeToKeys(e: ControllerEvent): Iterable<string> {
    const name = e.object.metadata.name ?? '';
    const zone = e.type === 'DELETED' ? undefined : e.object.metadata.labels?.[ZONE_LABEL] || undefined;
    const before = zones.get(name);
    if (e.type === 'DELETED') zones.delete(name);
    else zones.set(name, zone);
    // Heartbeats change nodes all the time; only a zone change matters here.
    if (e.resync || before === zone) return [];
    return membership.servicesOfNode(name);
  }

  return defineController({
    name: ENDPOINTSLICE_CONTROLLER,
    resyncMs: opts.resyncMs,
    watches: [
      { resource: 'services', toKeys: (e) => [keyOf(e.object)] },
      { resource: 'pods', toKeys: podToKeys },
      // Its own objects: a slice or Endpoints changed or deleted by someone else is repaired.
      {
        resource: ENDPOINTSLICE_RESOURCE,
        toKeys: (e) => (e.resync || !isManagedSlice(e.object) ? [] : [`${e.object.metadata.namespace ?? 'default'}/${e.object.metadata.labels![SERVICE_NAME_LABEL]}`]),
      },
      { resource: 'endpoints', toKeys: (e) => (e.resync ? [] : [keyOf(e.object)]) },
      { resource: 'nodes', toKeys: nodeToKeys },
    ],
    onStart() {
      membership.clear();
      zones.clear();
    },
    reconcile,
  });
}
