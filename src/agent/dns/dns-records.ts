// The cluster DNS zone (`cluster.local`), computed from Services,
// EndpointSlices and Pods: a pure function of (question, records). The record
// shapes follow the Kubernetes DNS specification
// (github.com/kubernetes/dns, docs/specification.md): services, headless
// endpoints, SRV for named ports, ExternalName CNAMEs and pod A records.
import { isIPv4, isIPv6 } from 'node:net';
import type { Answer, SoaAnswer, SrvAnswer, StringAnswer } from 'dns-packet';
import type { KubeObject, Pod } from '../api/object-types.ts';

export const CLUSTER_DOMAIN = 'cluster.local';
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const ENDPOINT_SLICES = 'endpointslices.discovery.k8s.io';

export interface ServicePort {
  name?: string;
  port: number;
  protocol?: string;
}

export interface Service extends KubeObject {
  spec?: {
    type?: string;
    clusterIP?: string;
    clusterIPs?: string[];
    externalName?: string;
    ports?: ServicePort[];
    publishNotReadyAddresses?: boolean;
  };
}

export interface SliceEndpoint {
  addresses: string[];
  conditions?: { ready?: boolean | null };
  hostname?: string;
}

export interface EndpointSlice extends KubeObject {
  addressType?: string;
  endpoints?: SliceEndpoint[] | null;
  ports?: { name?: string; port?: number; protocol?: string }[] | null;
}

/** What the zone is computed from; the server reads it from the local replica. */
export interface ClusterRecordSource {
  service(namespace: string, name: string): Service | undefined;
  /** The slices labelled kubernetes.io/service-name=<serviceName>. */
  endpointSlices(namespace: string, serviceName: string): EndpointSlice[];
  pods(namespace: string): Pod[];
  namespaceExists(namespace: string): boolean;
}

export interface DnsQuestion {
  name: string;
  /** `A`, `AAAA`, `SRV`, ... as dns-packet names record types. */
  type: string;
}

export interface DnsResult {
  rcode: 'NOERROR' | 'NXDOMAIN';
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
}

export interface DnsRecordsOptions {
  domain?: string;
  /** Of positive answers; Kubernetes' CoreDNS default is 5 s. */
  ttl?: number;
  /** SOA serial; anything that changes when the zone does. */
  serial?: number;
}

// Service names are DNS-1035 labels and namespaces DNS-1123 labels; checking
// the query's labels first also keeps them out of label selectors.
const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const MAX_CNAME_CHAIN = 8;

function trimDot(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

/** True for the domain itself and every name under it. */
export function isClusterName(name: string, domain = CLUSTER_DOMAIN): boolean {
  const n = trimDot(name).toLowerCase();
  return n === domain || n.endsWith(`.${domain}`);
}

/** `10-244-1-5` → `10.244.1.5`; undefined unless it is a dashed IPv4 address. */
export function dashedToIPv4(label: string): string | undefined {
  const parts = label.split('-');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.map(Number).join('.');
}

export function ipv4ToDashed(ip: string): string {
  return ip.replaceAll('.', '-');
}

function readyEndpoints(slices: EndpointSlice[]): SliceEndpoint[] {
  const out: SliceEndpoint[] = [];
  for (const s of slices) {
    if (s.addressType && s.addressType !== 'IPv4' && s.addressType !== 'IPv6') continue;
    // A missing ready condition means ready (discovery.k8s.io/v1).
    for (const e of s.endpoints ?? []) if (e.conditions?.ready !== false && e.addresses?.length) out.push(e);
  }
  return out;
}

function unique<T>(items: T[]): T[] {
  return [...new Set(items)];
}

function isHeadless(svc: Service): boolean {
  return svc.spec?.clusterIP === 'None';
}

function isExternalName(svc: Service): boolean {
  return svc.spec?.type === 'ExternalName';
}

function clusterIPs(svc: Service): string[] {
  const ips = svc.spec?.clusterIPs?.length ? svc.spec.clusterIPs : svc.spec?.clusterIP ? [svc.spec.clusterIP] : [];
  return ips.filter((ip) => ip && ip !== 'None');
}

function podReady(pod: Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

export function answerClusterQuestion(source: ClusterRecordSource, question: DnsQuestion, opts: DnsRecordsOptions = {}): DnsResult {
  const domain = opts.domain ?? CLUSTER_DOMAIN;
  const ttl = opts.ttl ?? 5;

  const soa: SoaAnswer = {
    name: domain,
    type: 'SOA',
    ttl,
    data: {
      mname: `ns.dns.${domain}`,
      rname: `hostmaster.${domain}`,
      serial: opts.serial ?? 1,
      refresh: 7200,
      retry: 1800,
      expire: 86400,
      // The negative-caching TTL (RFC 2308).
      minimum: ttl,
    },
  };
  const nxdomain = (): DnsResult => ({ rcode: 'NXDOMAIN', answers: [], authorities: [soa], additionals: [] });
  const nodata = (): DnsResult => ({ rcode: 'NOERROR', answers: [], authorities: [soa], additionals: [] });
  const found = (answers: Answer[], additionals: Answer[] = []): DnsResult =>
    answers.length ? { rcode: 'NOERROR', answers, authorities: [], additionals } : nodata();

  const addressRecords = (owner: string, ips: string[], type: string): StringAnswer[] => {
    const want = type === 'AAAA' ? isIPv6 : type === 'A' || type === 'ANY' ? isIPv4 : undefined;
    if (!want) return [];
    return unique(ips.filter((ip) => want(ip))).map((ip) => ({ name: owner, type: want === isIPv6 ? 'AAAA' : 'A', ttl, data: ip }));
  };

  /** Addresses a service name stands for: its ClusterIPs, or every ready endpoint when headless. */
  const serviceAddresses = (svc: Service, ns: string, name: string): string[] =>
    isHeadless(svc) ? readyEndpoints(source.endpointSlices(ns, name)).flatMap((e) => e.addresses) : clusterIPs(svc);

  function srvRecords(owner: string, svc: Service, ns: string, name: string, match: (p: { name?: string; protocol?: string }) => boolean): { answers: Answer[]; additionals: Answer[] } | undefined {
    const svcFqdn = `${name}.${ns}.svc.${domain}`;
    const ports = (svc.spec?.ports ?? []).filter((p) => p.name && match(p));
    if (ports.length === 0) return undefined;
    const answers: SrvAnswer[] = [];
    const additionals: Answer[] = [];
    if (!isHeadless(svc)) {
      for (const p of ports) answers.push({ name: owner, type: 'SRV', ttl, data: { priority: 0, weight: 100, port: p.port, target: svcFqdn } });
      additionals.push(...addressRecords(svcFqdn, clusterIPs(svc), 'A'));
      return { answers, additionals };
    }
    // Headless: one record per ready endpoint, with the endpoint's port (the resolved targetPort).
    const targets = new Map<string, string[]>();
    const slices = source.endpointSlices(ns, name);
    for (const p of ports) {
      for (const slice of slices) {
        const port = (slice.ports ?? []).find((sp) => (sp.name ?? '') === p.name && (sp.protocol ?? 'TCP') === (p.protocol ?? 'TCP'));
        if (!port?.port) continue;
        for (const e of readyEndpoints([slice])) {
          for (const ip of e.addresses) {
            const target = `${e.hostname ?? ipv4ToDashed(ip)}.${svcFqdn}`;
            answers.push({ name: owner, type: 'SRV', ttl, data: { priority: 0, weight: 0, port: port.port, target } });
            targets.set(target, unique([...(targets.get(target) ?? []), ip]));
          }
        }
      }
    }
    // Equal shares, as CoreDNS gives them.
    const weight = answers.length ? Math.max(1, Math.floor(100 / answers.length)) : 0;
    for (const a of answers) a.data.weight = weight;
    for (const [target, ips] of targets) additionals.push(...addressRecords(target, ips, 'A'));
    return { answers, additionals };
  }

  function resolve(owner: string, type: string, depth: number): DnsResult {
    const n = trimDot(owner).toLowerCase();
    if (n !== domain && !n.endsWith(`.${domain}`)) return nxdomain();
    const rel = n === domain ? [] : n.slice(0, -domain.length - 1).split('.');
    if (rel.length === 0) return type === 'SOA' ? found([{ ...soa, name: owner }]) : nodata();

    const kind = rel[rel.length - 1];
    if (kind !== 'svc' && kind !== 'pod') return nxdomain();
    if (rel.length === 1) return nodata();
    const ns = rel[rel.length - 2];
    if (!LABEL.test(ns)) return nxdomain();
    if (rel.length === 2) return source.namespaceExists(ns) ? nodata() : nxdomain();

    if (kind === 'pod') {
      // <a-b-c-d>.<ns>.pod: answered for any address, as kube-dns' `pods insecure` does.
      const ip = rel.length === 3 ? dashedToIPv4(rel[0]) : undefined;
      return ip ? found(addressRecords(owner, [ip], type)) : nxdomain();
    }

    // Longer names than _port._proto.<svc>.<ns>.svc (search-path expansions
    // of names that were already absolute) cannot exist: no lookups for them.
    if (rel.length > 5) return nxdomain();
    const name = rel[rel.length - 3];
    if (!LABEL.test(name)) return nxdomain();
    const svc = source.service(ns, name);
    if (!svc) return nxdomain();

    if (rel.length === 3) {
      if (isExternalName(svc)) {
        const target = trimDot(svc.spec?.externalName ?? '');
        if (!target) return nodata();
        const cname: StringAnswer = { name: owner, type: 'CNAME', ttl, data: target };
        if (type === 'CNAME' || depth >= MAX_CNAME_CHAIN || !isClusterName(target, domain)) return found([cname]);
        const next = resolve(target, type, depth + 1);
        return { ...next, answers: [cname, ...next.answers] };
      }
      if (type === 'SRV') {
        const srv = srvRecords(owner, svc, ns, name, () => true);
        return srv ? found(srv.answers, srv.additionals) : nodata();
      }
      return found(addressRecords(owner, serviceAddresses(svc, ns, name), type));
    }

    if (rel.length === 5) {
      const [portLabel, protoLabel] = rel;
      if (!portLabel.startsWith('_') || !protoLabel.startsWith('_') || isExternalName(svc)) return nxdomain();
      const port = portLabel.slice(1);
      const proto = protoLabel.slice(1);
      const srv = srvRecords(owner, svc, ns, name, (p) => p.name === port && (p.protocol ?? 'TCP').toLowerCase() === proto);
      if (!srv) return nxdomain();
      return type === 'SRV' ? found(srv.answers, srv.additionals) : nodata();
    }

    if (rel.length === 4 && isHeadless(svc)) {
      // <hostname>.<svc>.<ns>.svc: one endpoint of a headless service (StatefulSet pods).
      const host = rel[0];
      const ips: string[] = [];
      for (const e of readyEndpoints(source.endpointSlices(ns, name))) {
        for (const ip of e.addresses) if (e.hostname === host || (!e.hostname && ipv4ToDashed(ip) === host)) ips.push(ip);
      }
      if (ips.length === 0) {
        // Pods with hostname + subdomain, in case no slice names them.
        const publishNotReady = svc.spec?.publishNotReadyAddresses === true;
        for (const pod of source.pods(ns)) {
          const ip = pod.status?.podIP;
          if (!ip || pod.metadata.deletionTimestamp || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') continue;
          if (pod.spec.hostname?.toLowerCase() !== host || pod.spec.subdomain?.toLowerCase() !== name) continue;
          if (publishNotReady || podReady(pod)) ips.push(ip);
        }
      }
      return ips.length ? found(addressRecords(owner, ips, type)) : nxdomain();
    }
    return nxdomain();
  }

  return resolve(question.name, question.type.toUpperCase(), 0);
}

/** A source over plain lists: for tests and for callers that already hold the objects. */
export function createListSource(lists: { services?: Service[]; endpointSlices?: EndpointSlice[]; pods?: Pod[]; namespaces?: string[] }): ClusterRecordSource {
  const services = lists.services ?? [];
  const slices = lists.endpointSlices ?? [];
  const pods = lists.pods ?? [];
  const namespaces = new Set(lists.namespaces ?? [...services, ...slices, ...pods].map((o) => o.metadata.namespace ?? 'default'));
  return {
    service: (ns, name) => services.find((s) => (s.metadata.namespace ?? 'default') === ns && s.metadata.name === name),
    endpointSlices: (ns, name) => slices.filter((s) => (s.metadata.namespace ?? 'default') === ns && s.metadata.labels?.[SERVICE_NAME_LABEL] === name),
    pods: (ns) => pods.filter((p) => (p.metadata.namespace ?? 'default') === ns),
    namespaceExists: (ns) => namespaces.has(ns),
  };
}
