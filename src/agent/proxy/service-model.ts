// What the service proxy needs to know, reduced from the API objects: one entry
// per service port (ClusterIPs, NodePort, LoadBalancer IPs, affinity, traffic
// policies) with its endpoints from the discovery.k8s.io/v1 EndpointSlices
// (linked to their Service by the kubernetes.io/service-name label). Pure: the
// same objects give the same model, sorted, so the rules rendered from it are
// stable text.
//
// Which endpoints take traffic follows kube-proxy: the ready ones; when none is
// ready, the ones still serving while terminating (so a rolling restart doesn't
// refuse connections in the gap); "local" ones are those on this node.
// ExternalName and headless services have no proxy rules (DNS answers them), nor
// do SCTP ports or IPv6 addresses (the pod network is IPv4 only).
import type { KubeObject } from '../api/object-types.ts';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10_800;
export const DEFAULT_CLUSTER_CIDR = '10.244.0.0/16';
export const DEFAULT_SERVICE_CIDR = '10.96.0.0/16';

export interface ServicePortInput {
  name?: string;
  protocol?: string;
  port?: number;
  targetPort?: number | string;
  nodePort?: number;
}

export interface ServiceInput extends KubeObject {
  spec?: {
    type?: string;
    clusterIP?: string;
    clusterIPs?: string[];
    ports?: ServicePortInput[];
    sessionAffinity?: string;
    sessionAffinityConfig?: { clientIP?: { timeoutSeconds?: number } };
    externalTrafficPolicy?: string;
    internalTrafficPolicy?: string;
    [k: string]: unknown;
  };
  status?: { loadBalancer?: { ingress?: { ip?: string; hostname?: string }[] }; [k: string]: unknown };
}

export interface EndpointSliceInput extends KubeObject {
  addressType?: string;
  endpoints?: {
    addresses?: string[];
    conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null };
    nodeName?: string;
  }[];
  ports?: { name?: string | null; port?: number | null; protocol?: string }[];
}

export interface NodeContext {
  nodeName: string;
  /** This host's addresses (a hostNetwork endpoint on one of them is local). */
  nodeIPs: string[];
  /** This node's pod /24 (its endpoints are local); absent until allocated. */
  podCidr?: string;
  clusterCidr: string;
  serviceCidr: string;
}

export type Protocol = 'TCP' | 'UDP';
export type TrafficPolicy = 'Cluster' | 'Local';

export interface EndpointModel {
  ip: string;
  port: number;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  nodeName?: string;
  /** On this node (by nodeName, pod CIDR or host address). */
  local: boolean;
}

export interface ServicePortModel {
  namespace: string;
  name: string;
  /** spec.ports[].name, '' when unnamed. */
  portName: string;
  /** kube's ServicePortName: `namespace/name:portName`. */
  svcPortName: string;
  protocol: Protocol;
  port: number;
  nodePort?: number;
  clusterIPs: string[];
  loadBalancerIPs: string[];
  /** Set for sessionAffinity ClientIP. */
  sessionAffinity?: { timeoutSeconds: number };
  externalTrafficPolicy: TrafficPolicy;
  internalTrafficPolicy: TrafficPolicy;
  /** Everything the slices list for this port, deduplicated by ip:port. */
  endpoints: EndpointModel[];
  /** The ones that take cluster-wide traffic (ready, else serving-terminating). */
  clusterEndpoints: EndpointModel[];
  /** The same choice among the local ones. */
  localEndpoints: EndpointModel[];
}

export interface ProxyModel {
  node: NodeContext;
  /** Sorted by svcPortName, then protocol. */
  servicePorts: ServicePortModel[];
}

export interface ServiceModelInput {
  services: Iterable<ServiceInput>;
  endpointSlices: Iterable<EndpointSliceInput>;
  node: NodeContext;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** A dotted IPv4 address with nothing around it (these strings end up in rules). */
export function isIPv4(value: unknown): value is string {
  return typeof value === 'string' && IPV4.test(value);
}

export function ipv4ToInt(ip: string): number {
  const p = ip.split('.');
  return ((Number(p[0]) << 24) | (Number(p[1]) << 16) | (Number(p[2]) << 8) | Number(p[3])) >>> 0;
}

/** Whether ip is inside cidr ('a.b.c.d/n'); false for anything malformed. */
export function cidrContains(cidr: string, ip: string): boolean {
  const [base, bitsText] = cidr.split('/');
  const bits = Number(bitsText);
  if (!isIPv4(base) || !isIPv4(ip) || !Number.isInteger(bits) || bits < 0 || bits > 32) return false;
  if (bits === 0) return true;
  const mask = (0xffffffff << (32 - bits)) >>> 0;
  return ((ipv4ToInt(base) & mask) >>> 0) === ((ipv4ToInt(ip) & mask) >>> 0);
}

export function isCidr(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const [base, bits, extra] = value.split('/');
  return extra === undefined && isIPv4(base) && /^(3[0-2]|[12]?\d)$/.test(bits ?? '');
}

function isPort(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535;
}

function protocolOf(p: string | undefined): Protocol | undefined {
  if (p === undefined || p === 'TCP') return 'TCP';
  if (p === 'UDP') return 'UDP';
  return undefined; // SCTP and anything else: no rules
}

/** kube's ServicePortName string. */
export function servicePortName(namespace: string, name: string, portName: string): string {
  return `${namespace}/${name}:${portName}`;
}

export function compareEndpoints(a: EndpointModel, b: EndpointModel): number {
  return ipv4ToInt(a.ip) - ipv4ToInt(b.ip) || a.port - b.port;
}

/** kube-proxy's choice: ready endpoints; when there are none, serving-terminating ones. */
export function usableEndpoints(eps: readonly EndpointModel[]): EndpointModel[] {
  const ready = eps.filter((e) => e.ready);
  if (ready.length > 0) return ready;
  return eps.filter((e) => e.serving && e.terminating);
}

function clusterIPsOf(svc: ServiceInput): string[] {
  const spec = svc.spec ?? {};
  const ips = spec.clusterIPs && spec.clusterIPs.length > 0 ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : [];
  return [...new Set(ips.filter(isIPv4))];
}

/** Services that get proxy rules: not ExternalName, not headless, with an allocated IPv4 ClusterIP. */
export function isProxiedService(svc: ServiceInput): boolean {
  const spec = svc.spec;
  if (!spec || spec.type === 'ExternalName' || spec.clusterIP === 'None') return false;
  return clusterIPsOf(svc).length > 0;
}

/** Decides whether an endpoint is on this node; built once per node context. */
export function localityOf(node: NodeContext): (ip: string, nodeName: string | undefined) => boolean {
  const nodeIPs = new Set(node.nodeIPs);
  const pod = node.podCidr && isCidr(node.podCidr) ? node.podCidr.split('/') : undefined;
  const bits = pod ? Number(pod[1]) : 0;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  const base = pod ? (ipv4ToInt(pod[0]!) & mask) >>> 0 : 0;
  return (ip, nodeName) =>
    (nodeName !== undefined && nodeName === node.nodeName) || nodeIPs.has(ip) || (pod !== undefined && ((ipv4ToInt(ip) & mask) >>> 0) === base);
}

/** The EndpointSlices of each service, keyed `namespace/name` (see buildServicePorts). */
export function slicesByService(slices: Iterable<EndpointSliceInput>): Map<string, EndpointSliceInput[]> {
  const out = new Map<string, EndpointSliceInput[]>();
  for (const slice of slices) {
    const key = serviceKeyOfSlice(slice);
    if (key === undefined) continue;
    let list = out.get(key);
    if (!list) out.set(key, (list = []));
    list.push(slice);
  }
  return out;
}

/** `namespace/service` a slice belongs to; undefined for slices the proxy ignores. */
export function serviceKeyOfSlice(slice: EndpointSliceInput): string | undefined {
  const svcName = slice.metadata.labels?.[SERVICE_NAME_LABEL];
  if (!svcName || slice.metadata.deletionTimestamp) return undefined;
  if (slice.addressType !== undefined && slice.addressType !== 'IPv4') return undefined;
  return `${slice.metadata.namespace ?? 'default'}/${svcName}`;
}

export function serviceKey(svc: ServiceInput): string {
  return `${svc.metadata.namespace ?? 'default'}/${svc.metadata.name ?? ''}`;
}

/** One service's entries (none for a service without proxy rules), in spec.ports order. */
export function buildServicePorts(
  svc: ServiceInput,
  slices: readonly EndpointSliceInput[],
  isLocal: (ip: string, nodeName: string | undefined) => boolean,
): ServicePortModel[] {
  if (!isProxiedService(svc)) return [];
  const spec = svc.spec!;
  const namespace = svc.metadata.namespace ?? 'default';
  const name = svc.metadata.name ?? '';
  const clusterIPs = clusterIPsOf(svc);
  const external = spec.type === 'NodePort' || spec.type === 'LoadBalancer';
  const loadBalancerIPs =
    spec.type === 'LoadBalancer'
      ? [...new Set((svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip).filter(isIPv4))].sort((a, b) => ipv4ToInt(a) - ipv4ToInt(b))
      : [];
  const affinity =
    spec.sessionAffinity === 'ClientIP'
      ? { timeoutSeconds: positiveInt(spec.sessionAffinityConfig?.clientIP?.timeoutSeconds) ?? DEFAULT_AFFINITY_TIMEOUT_SECONDS }
      : undefined;
  const out: ServicePortModel[] = [];
  for (const p of spec.ports ?? []) {
    const protocol = protocolOf(p.protocol);
    if (!protocol || !isPort(p.port)) continue;
    const portName = p.name ?? '';
    const endpoints = endpointsFor(slices, portName, protocol, isLocal);
    out.push({
      namespace,
      name,
      portName,
      svcPortName: servicePortName(namespace, name, portName),
      protocol,
      port: p.port,
      ...(external && isPort(p.nodePort) ? { nodePort: p.nodePort } : {}),
      clusterIPs,
      loadBalancerIPs,
      ...(affinity ? { sessionAffinity: affinity } : {}),
      externalTrafficPolicy: spec.externalTrafficPolicy === 'Local' ? 'Local' : 'Cluster',
      internalTrafficPolicy: spec.internalTrafficPolicy === 'Local' ? 'Local' : 'Cluster',
      endpoints,
      clusterEndpoints: usableEndpoints(endpoints),
      localEndpoints: usableEndpoints(endpoints.filter((e) => e.local)),
    });
  }
  return out;
}

export function compareServicePorts(a: ServicePortModel, b: ServicePortModel): number {
  if (a.svcPortName !== b.svcPortName) return a.svcPortName < b.svcPortName ? -1 : 1;
  return a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0;
}

export function buildServiceModel(input: ServiceModelInput): ProxyModel {
  const isLocal = localityOf(input.node);
  const slices = slicesByService(input.endpointSlices);
  const out: ServicePortModel[] = [];
  for (const svc of input.services) out.push(...buildServicePorts(svc, slices.get(serviceKey(svc)) ?? [], isLocal));
  out.sort(compareServicePorts);
  return { node: input.node, servicePorts: out };
}

function positiveInt(n: unknown): number | undefined {
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : undefined;
}

function endpointsFor(
  slices: readonly EndpointSliceInput[],
  portName: string,
  protocol: Protocol,
  isLocal: (ip: string, nodeName: string | undefined) => boolean,
): EndpointModel[] {
  const byKey = new Map<string, EndpointModel>();
  for (const slice of slices) {
    const sp = (slice.ports ?? []).find((x) => (x.name ?? '') === portName && (x.protocol ?? 'TCP') === protocol);
    if (!sp || !isPort(sp.port)) continue;
    for (const ep of slice.endpoints ?? []) {
      const ip = ep.addresses?.[0];
      if (!isIPv4(ip)) continue;
      // EndpointSlice API: a nil ready means ready; a nil serving means "same as ready".
      const ready = ep.conditions?.ready ?? true;
      const serving = ep.conditions?.serving ?? ready;
      const terminating = ep.conditions?.terminating ?? false;
      const model: EndpointModel = {
        ip,
        port: sp.port,
        ready,
        serving,
        terminating,
        ...(ep.nodeName ? { nodeName: ep.nodeName } : {}),
        local: isLocal(ip, ep.nodeName),
      };
      const key = `${ip}:${sp.port}`;
      const seen = byKey.get(key);
      // The same endpoint in two slices (mid-move): the more usable copy wins.
      if (!seen || rank(model) > rank(seen)) byKey.set(key, model);
    }
  }
  const list = [...byKey.values()];
  if (list.length > 1) list.sort(compareEndpoints);
  return list;
}

function rank(e: EndpointModel): number {
  return e.ready ? 2 : e.serving ? 1 : 0;
}
