// What a Service's endpoints are made of, shared by the EndpointSlice and the
// core Endpoints views (Kubernetes' endpointslice/endpoints util): which
// Services get endpoints from a controller, which pods count and in what
// condition, and which port of a pod each service port lands on.
import { isIP } from 'node:net';
import type { Container, KubeObject, ObjectMeta, Pod } from '../api/object-types.ts';

export interface ServicePort {
  name?: string;
  protocol?: string;
  port?: number;
  targetPort?: number | string;
  appProtocol?: string;
}

export interface Service extends KubeObject {
  spec?: {
    type?: string;
    selector?: Record<string, string> | null;
    clusterIP?: string;
    ports?: ServicePort[];
    publishNotReadyAddresses?: boolean;
    [k: string]: unknown;
  };
}

/** A resolved service port, as both EndpointSlices and Endpoints carry it. */
export interface EndpointPort {
  name: string;
  port: number;
  protocol: string;
  appProtocol?: string;
}

export interface PodReference {
  kind: 'Pod';
  namespace: string;
  name: string;
  uid: string;
}

export interface EndpointSliceEndpoint {
  addresses: string[];
  conditions: { ready: boolean; serving: boolean; terminating: boolean };
  hostname?: string;
  targetRef: PodReference;
  nodeName?: string;
  zone?: string;
}

export interface EndpointSlice extends KubeObject {
  addressType: 'IPv4' | 'IPv6' | 'FQDN';
  endpoints?: EndpointSliceEndpoint[];
  ports?: EndpointPort[];
}

export interface EndpointAddress {
  ip: string;
  hostname?: string;
  nodeName?: string;
  targetRef: PodReference;
}

export interface EndpointSubset {
  addresses?: EndpointAddress[];
  notReadyAddresses?: EndpointAddress[];
  ports?: EndpointPort[];
}

export interface Endpoints extends KubeObject {
  subsets?: EndpointSubset[];
}

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
export const MANAGED_BY = 'endpointslice-controller.mesh.dev';
/** On Endpoints a controller keeps: nothing should mirror them into slices. */
export const SKIP_MIRROR_LABEL = 'endpointslice.kubernetes.io/skip-mirror';
export const HEADLESS_LABEL = 'service.kubernetes.io/headless';
export const ZONE_LABEL = 'topology.kubernetes.io/zone';

/** A selector with at least one label, on a type that routes to pods; others keep user-managed endpoints. */
export function hasPodSelector(svc: Service): boolean {
  const spec = svc.spec ?? {};
  return spec.type !== 'ExternalName' && !!spec.selector && Object.keys(spec.selector).length > 0;
}

export function selectsPod(svc: Service, pod: Pod): boolean {
  if (!hasPodSelector(svc) || (pod.metadata.namespace ?? 'default') !== (svc.metadata.namespace ?? 'default')) return false;
  const labels = pod.metadata.labels ?? {};
  return Object.entries(svc.spec!.selector!).every(([k, v]) => labels[k] === v);
}

export function isHeadless(svc: Service): boolean {
  return svc.spec?.clusterIP === 'None';
}

/** The pod's first IPv4 address, the only family Mesh's pod network has. */
export function podIPv4(pod: Pod): string | undefined {
  const ips = [...(pod.status?.podIPs ?? []).map((p) => p.ip), pod.status?.podIP].filter((ip): ip is string => !!ip);
  return ips.find((ip) => isIP(ip) === 4);
}

/** Running with Ready=True: what "serving" means. */
export function isPodServing(pod: Pod): boolean {
  return pod.status?.phase === 'Running' && (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

export function isPodTerminating(pod: Pod): boolean {
  return !!pod.metadata.deletionTimestamp;
}

/**
 * Whether the pod belongs in the endpoints at all: it has an address and has not
 * finished. Terminating pods stay only where asked (slices always keep them, so
 * consumers can drain them).
 */
export function isPodEndpointCandidate(pod: Pod, includeTerminating: boolean): boolean {
  if (!podIPv4(pod)) return false;
  if (!includeTerminating && isPodTerminating(pod)) return false;
  return pod.status?.phase !== 'Succeeded' && pod.status?.phase !== 'Failed';
}

/** The hostname DNS should publish for the pod: only when it names this service as its subdomain. */
export function podHostname(svc: Service, pod: Pod): string | undefined {
  const h = pod.spec.hostname;
  return h && pod.spec.subdomain === svc.metadata.name && pod.metadata.namespace === svc.metadata.namespace ? h : undefined;
}

export function podReference(pod: Pod): PodReference {
  return { kind: 'Pod', namespace: pod.metadata.namespace ?? 'default', name: pod.metadata.name ?? '', uid: pod.metadata.uid ?? '' };
}

function portContainers(pod: Pod): Container[] {
  // Sidecars (init containers that keep running) serve ports too.
  return [...pod.spec.containers, ...(pod.spec.initContainers ?? []).filter((c) => c.restartPolicy === 'Always')];
}

/**
 * The pod port a service port sends to: a number as it is; a name looked up in
 * the pod's container ports of the same protocol (undefined when the pod has none).
 */
export function resolveTargetPort(pod: Pod, sp: ServicePort): number | undefined {
  const target = sp.targetPort ?? sp.port;
  if (typeof target === 'number') return target > 0 ? target : sp.port;
  const protocol = sp.protocol ?? 'TCP';
  for (const c of portContainers(pod)) {
    for (const p of c.ports ?? []) if (p.name === target && (p.protocol ?? 'TCP') === protocol) return p.containerPort;
  }
  return undefined;
}

export function endpointPort(sp: ServicePort, port: number): EndpointPort {
  const out: EndpointPort = { name: sp.name ?? '', port, protocol: sp.protocol ?? 'TCP' };
  if (sp.appProtocol) out.appProtocol = sp.appProtocol;
  return out;
}

/** The service's ports as this pod serves them, in service order; a port the pod can't resolve is left out. */
export function podEndpointPorts(svc: Service, pod: Pod): EndpointPort[] {
  const out: EndpointPort[] = [];
  for (const sp of svc.spec?.ports ?? []) {
    const port = resolveTargetPort(pod, sp);
    if (port !== undefined) out.push(endpointPort(sp, port));
  }
  return out;
}

/** Labels of controller-made endpoint objects: the service's own, plus the headless marker. */
export function inheritedLabels(svc: Service): Record<string, string> {
  const labels: Record<string, string> = { ...(svc.metadata.labels ?? {}) };
  if (isHeadless(svc)) labels[HEADLESS_LABEL] = '';
  else delete labels[HEADLESS_LABEL];
  return labels;
}

/** Pods sorted by name then uid: every desired list is built in this order, so it is stable. */
export function sortPods(pods: readonly Pod[]): Pod[] {
  const key = (m: ObjectMeta) => `${m.name ?? ''}\u0000${m.uid ?? ''}`;
  return [...pods].sort((a, b) => (key(a.metadata) < key(b.metadata) ? -1 : key(a.metadata) > key(b.metadata) ? 1 : 0));
}
