// The EndpointSlices a Service should have, as Kubernetes' EndpointSlice
// reconciler builds them: pods are grouped by the ports they resolve (a named
// targetPort a pod doesn't define leaves that port out for it, so pods with
// different mappings land in different slices), at most maxEndpointsPerSlice
// per slice. Terminating pods stay, marked, so consumers can drain them.
//
// Names are deterministic, `<service>-<hash of the port set>` and
// `<service>-<hash>-<n>` for further slices of the same ports, instead of
// Kubernetes' generateName: two leaders in turn (or both sides of a partition)
// then write the same objects, which the store merges, not duplicates. An
// endpoint stays in the slice it is in while that slice has room, so one pod
// changing rewrites one slice.
import { createHash } from 'node:crypto';
import type { Pod } from '../api/object-types.ts';
import { newControllerRef } from './owner-refs.ts';
import {
  MANAGED_BY,
  MANAGED_BY_LABEL,
  SERVICE_NAME_LABEL,
  inheritedLabels,
  isPodEndpointCandidate,
  isPodServing,
  isPodTerminating,
  podEndpointPorts,
  podHostname,
  podIPv4,
  podReference,
  selectsPod,
  sortPods,
  type EndpointPort,
  type EndpointSlice,
  type EndpointSliceEndpoint,
  type Service,
} from './service-endpoints.ts';

export const DEFAULT_MAX_ENDPOINTS_PER_SLICE = 100;
// Kubernetes' generateName alphabet: no vowels, so names never spell words.
const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

export interface DesiredSlicesInput {
  service: Service;
  /** Candidate pods (those the selector doesn't pick are ignored). */
  pods: readonly Pod[];
  /** The zone of a node (label topology.kubernetes.io/zone), if known. */
  zoneOf(nodeName: string): string | undefined;
  /** The service's slices this controller made, as stored now: where endpoints stay put. */
  existing: readonly EndpointSlice[];
  maxEndpointsPerSlice?: number;
}

/** Five characters from a hash of the port set: stable across agents and restarts. */
export function portSetHash(ports: readonly EndpointPort[]): string {
  const digest = createHash('sha256').update(JSON.stringify(ports)).digest();
  let out = '';
  for (let i = 0; i < 5; i++) out += ALPHABET[digest[i]! % ALPHABET.length];
  return out;
}

export function sliceName(service: string, hash: string, n: number): string {
  return n === 0 ? `${service}-${hash}` : `${service}-${hash}-${n}`;
}

/** The (hash, n) a controller-made slice name encodes; undefined for other names. */
export function parseSliceName(service: string, name: string): { hash: string; n: number } | undefined {
  if (!name.startsWith(`${service}-`)) return undefined;
  const m = /^([a-z0-9]{5})(?:-([1-9][0-9]*))?$/.exec(name.slice(service.length + 1));
  return m ? { hash: m[1]!, n: m[2] ? Number(m[2]) : 0 } : undefined;
}

export function podToEndpoint(svc: Service, pod: Pod, zone: string | undefined): EndpointSliceEndpoint {
  const serving = isPodServing(pod);
  const terminating = isPodTerminating(pod);
  // A terminating pod is never ready, unless the service publishes every address.
  const ready = svc.spec?.publishNotReadyAddresses === true || (serving && !terminating);
  const ep: EndpointSliceEndpoint = { addresses: [podIPv4(pod)!], conditions: { ready, serving, terminating }, targetRef: podReference(pod) };
  const hostname = podHostname(svc, pod);
  if (hostname) ep.hostname = hostname;
  if (pod.spec.nodeName) ep.nodeName = pod.spec.nodeName;
  if (zone) ep.zone = zone;
  return ep;
}

function newSlice(svc: Service, name: string, ports: EndpointPort[], endpoints: EndpointSliceEndpoint[]): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name,
      namespace: svc.metadata.namespace ?? 'default',
      labels: { ...inheritedLabels(svc), [SERVICE_NAME_LABEL]: svc.metadata.name ?? '', [MANAGED_BY_LABEL]: MANAGED_BY },
      ownerReferences: [newControllerRef(svc, 'Service', 'v1')],
    },
    addressType: 'IPv4',
    endpoints,
    ports,
  };
}

interface Group {
  ports: EndpointPort[];
  endpoints: EndpointSliceEndpoint[];
}

/** Endpoints into slots: kept where they are while the slot has room, the rest into free room, then new slots. */
function pack(endpoints: EndpointSliceEndpoint[], slotOf: Map<string, number>, slots: number[], max: number): Map<number, EndpointSliceEndpoint[]> {
  const out = new Map<number, EndpointSliceEndpoint[]>();
  const put = (n: number, ep: EndpointSliceEndpoint) => {
    const list = out.get(n) ?? [];
    list.push(ep);
    out.set(n, list);
  };
  const pending: EndpointSliceEndpoint[] = [];
  for (const ep of endpoints) {
    const n = slotOf.get(ep.targetRef.uid);
    if (n !== undefined && (out.get(n)?.length ?? 0) < max) put(n, ep);
    else pending.push(ep);
  }
  for (const n of slots) while (pending.length && (out.get(n)?.length ?? 0) < max) put(n, pending.shift()!);
  const taken = new Set(slots);
  let next = 0;
  while (pending.length) {
    while (taken.has(next)) next++;
    taken.add(next);
    for (const ep of pending.splice(0, max)) put(next, ep);
  }
  return out;
}

/**
 * The slices the service should have, sorted by name. A service that selects
 * no pod keeps one empty placeholder slice, as Kubernetes does, so consumers can
 * tell "no endpoints" from "not processed yet".
 */
export function desiredEndpointSlices(input: DesiredSlicesInput): EndpointSlice[] {
  const svc = input.service;
  const svcName = svc.metadata.name ?? '';
  const max = Math.max(1, input.maxEndpointsPerSlice ?? DEFAULT_MAX_ENDPOINTS_PER_SLICE);
  const pods = sortPods(input.pods.filter((p) => selectsPod(svc, p) && isPodEndpointCandidate(p, true)));
  const rank = new Map(pods.map((p, i) => [p.metadata.uid ?? '', i]));

  const groups = new Map<string, Group>();
  for (const pod of pods) {
    const ports = podEndpointPorts(svc, pod);
    const hash = portSetHash(ports);
    let g = groups.get(hash);
    if (!g) groups.set(hash, (g = { ports, endpoints: [] }));
    g.endpoints.push(podToEndpoint(svc, pod, pod.spec.nodeName ? input.zoneOf(pod.spec.nodeName) : undefined));
  }
  if (groups.size === 0) {
    const ports: EndpointPort[] = [];
    return [newSlice(svc, sliceName(svcName, portSetHash(ports), 0), ports, [])];
  }

  // Where each endpoint is now, per port-set hash.
  const slotOf = new Map<string, Map<string, number>>();
  const slotsOf = new Map<string, Set<number>>();
  for (const s of input.existing) {
    const parsed = parseSliceName(svcName, s.metadata.name ?? '');
    if (!parsed || !groups.has(parsed.hash)) continue;
    const slots = slotsOf.get(parsed.hash) ?? new Set<number>();
    slots.add(parsed.n);
    slotsOf.set(parsed.hash, slots);
    const where = slotOf.get(parsed.hash) ?? new Map<string, number>();
    for (const ep of s.endpoints ?? []) {
      const uid = ep.targetRef?.uid;
      if (uid && !where.has(uid)) where.set(uid, parsed.n);
    }
    slotOf.set(parsed.hash, where);
  }

  const out: EndpointSlice[] = [];
  for (const [hash, g] of groups) {
    const slots = [...(slotsOf.get(hash) ?? [])].sort((a, b) => a - b);
    const packed = pack(g.endpoints, slotOf.get(hash) ?? new Map(), slots, max);
    for (const [n, eps] of packed) {
      eps.sort((a, b) => (rank.get(a.targetRef.uid) ?? 0) - (rank.get(b.targetRef.uid) ?? 0));
      out.push(newSlice(svc, sliceName(svcName, hash, n), g.ports.map((p) => ({ ...p })), eps));
    }
  }
  return out.sort((a, b) => ((a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1));
}
