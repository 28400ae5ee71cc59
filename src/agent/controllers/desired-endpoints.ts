// The core v1 Endpoints object a Service should have, as Kubernetes' endpoints
// controller builds it: one address per pod and resolved port, ready ones in
// `addresses` and the rest in `notReadyAddresses`, repacked so that addresses
// offering the same ports share one subset. Terminating pods are left out
// (unless the service publishes not-ready addresses); a headless service
// without ports still lists its pods, in a subset without ports.
//
// Unlike Kubernetes, the object carries a controller reference to the Service,
// so the garbage collector removes it with the Service even when the delete
// reaches this agent's store before or after the Service itself.
import type { Pod } from '../api/object-types.ts';
import { newControllerRef } from './owner-refs.ts';
import {
  SKIP_MIRROR_LABEL,
  endpointPort,
  inheritedLabels,
  isHeadless,
  isPodEndpointCandidate,
  isPodServing,
  podHostname,
  podIPv4,
  podReference,
  resolveTargetPort,
  selectsPod,
  sortPods,
  type EndpointAddress,
  type EndpointPort,
  type EndpointSubset,
  type Endpoints,
  type Service,
} from './service-endpoints.ts';

interface Member {
  address: EndpointAddress;
  ready: boolean;
}

const addressKey = (a: EndpointAddress) => `${a.ip}\u0000${a.targetRef.uid}`;
const NO_PORT = '';

function compareAddresses(a: EndpointAddress, b: EndpointAddress): number {
  const ka = addressKey(a);
  const kb = addressKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

function comparePorts(a: EndpointPort, b: EndpointPort): number {
  return a.name.localeCompare(b.name) || a.port - b.port || a.protocol.localeCompare(b.protocol);
}

/**
 * Kubernetes' RepackSubsets: from "this address offers this port" pairs to the
 * fewest subsets, each a set of addresses with every port they all offer.
 */
export function repackSubsets(pairs: readonly { member: Member; port?: EndpointPort }[]): EndpointSubset[] {
  // port -> members offering it
  const byPort = new Map<string, { port?: EndpointPort; members: Map<string, Member> }>();
  for (const { member, port } of pairs) {
    const pk = port ? JSON.stringify(port) : NO_PORT;
    let entry = byPort.get(pk);
    if (!entry) byPort.set(pk, (entry = { port, members: new Map() }));
    entry.members.set(addressKey(member.address), member);
  }
  // member set -> ports
  const bySet = new Map<string, { members: Member[]; ports: EndpointPort[] }>();
  for (const { port, members } of byPort.values()) {
    const list = [...members.values()].sort((a, b) => compareAddresses(a.address, b.address));
    const sk = JSON.stringify(list.map((m) => [addressKey(m.address), m.ready]));
    let entry = bySet.get(sk);
    if (!entry) bySet.set(sk, (entry = { members: list, ports: [] }));
    if (port) entry.ports.push(port);
  }
  const subsets: EndpointSubset[] = [];
  for (const { members, ports } of bySet.values()) {
    const subset: EndpointSubset = {};
    const ready = members.filter((m) => m.ready).map((m) => m.address);
    const notReady = members.filter((m) => !m.ready).map((m) => m.address);
    if (ready.length) subset.addresses = ready;
    if (notReady.length) subset.notReadyAddresses = notReady;
    if (ports.length) subset.ports = ports.sort(comparePorts);
    subsets.push(subset);
  }
  const first = (s: EndpointSubset) => (s.addresses ?? s.notReadyAddresses)![0]!;
  return subsets.sort((a, b) => compareAddresses(first(a), first(b)) || JSON.stringify(a.ports ?? []).localeCompare(JSON.stringify(b.ports ?? [])));
}

export function desiredEndpoints(svc: Service, pods: readonly Pod[]): Endpoints {
  const tolerateUnready = svc.spec?.publishNotReadyAddresses === true;
  const servicePorts = svc.spec?.ports ?? [];
  const pairs: { member: Member; port?: EndpointPort }[] = [];
  for (const pod of sortPods(pods)) {
    if (!selectsPod(svc, pod) || !isPodEndpointCandidate(pod, tolerateUnready)) continue;
    const address: EndpointAddress = { ip: podIPv4(pod)!, targetRef: podReference(pod) };
    const hostname = podHostname(svc, pod);
    if (hostname) address.hostname = hostname;
    if (pod.spec.nodeName) address.nodeName = pod.spec.nodeName;
    const member = { address, ready: tolerateUnready || isPodServing(pod) };
    if (servicePorts.length === 0) {
      if (isHeadless(svc)) pairs.push({ member });
      continue;
    }
    for (const sp of servicePorts) {
      const port = resolveTargetPort(pod, sp);
      if (port !== undefined) pairs.push({ member, port: endpointPort(sp, port) });
    }
  }
  const ep: Endpoints = {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: {
      name: svc.metadata.name,
      namespace: svc.metadata.namespace ?? 'default',
      labels: { ...inheritedLabels(svc), [SKIP_MIRROR_LABEL]: 'true' },
      ownerReferences: [newControllerRef(svc, 'Service', 'v1')],
    },
  };
  const subsets = repackSubsets(pairs);
  if (subsets.length) ep.subsets = subsets;
  return ep;
}
