// The pure core of the LoadBalancer announcer (lb-announcer.ts runs it): which
// LoadBalancer IPs this node answers for, which interface holds them, and what
// to add and remove there. No I/O here.
import { isIPv4 } from 'node:net';
import type { KubeObject } from '../api/object-types.ts';

/** The annotation the leader writes on each LoadBalancer Service: the node that announces its IP. */
export const LB_ANNOUNCER_ANNOTATION = 'mesh.dev/lb-announcer';

/** Linux caps interface names and address labels at 15 characters. */
const MAX_LABEL = 15;
const LABEL_SUFFIX = ':mlb';

export interface InterfaceAddress {
  ifname: string;
  ip: string;
  prefixlen: number;
  label?: string;
}

export interface AddressPlan {
  add: string[];
  remove: string[];
}

interface ServiceShape extends KubeObject {
  spec?: { type?: string; [k: string]: unknown };
  status?: { loadBalancer?: { ingress?: { ip?: string }[] }; [k: string]: unknown };
}

/** The IPv4 ingress addresses of a LoadBalancer Service (none for other types). */
export function ingressIps(svc: KubeObject): string[] {
  const s = svc as ServiceShape;
  if (s.spec?.type !== 'LoadBalancer' || s.metadata.deletionTimestamp) return [];
  return (s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '').filter((ip) => isIPv4(ip));
}

/** The addresses this node announces: of every LoadBalancer Service whose announcer it is. */
export function announcedIps(services: readonly KubeObject[], nodeName: string, announcerOf: (uid: string) => string | undefined): string[] {
  const out = new Set<string>();
  for (const svc of services) {
    const uid = svc.metadata.uid;
    if (!uid) continue;
    const ips = ingressIps(svc);
    if (ips.length && announcerOf(uid) === nodeName) for (const ip of ips) out.add(ip);
  }
  return [...out].sort();
}

/** The label that marks our addresses on dev (`eth0:mlb`); undefined when dev's name is too long for one. */
export function addressLabel(dev: string): string | undefined {
  const label = `${dev}${LABEL_SUFFIX}`;
  return label.length <= MAX_LABEL ? label : undefined;
}

/** Parses `ip -j -4 addr show`. */
export function parseAddressJson(text: string): InterfaceAddress[] {
  if (!text.trim()) return [];
  const links = JSON.parse(text) as { ifname?: string; addr_info?: { family?: string; local?: string; prefixlen?: number; label?: string }[] }[];
  const out: InterfaceAddress[] = [];
  for (const l of links) {
    for (const a of l.addr_info ?? []) {
      if (a.family !== 'inet' || !a.local || !l.ifname) continue;
      out.push({ ifname: l.ifname, ip: a.local, prefixlen: a.prefixlen ?? 32, ...(a.label ? { label: a.label } : {}) });
    }
  }
  return out;
}

/** The interface that holds ip (the node's LAN interface), if any. */
export function interfaceOf(addresses: readonly InterfaceAddress[], ip: string): string | undefined {
  return addresses.find((a) => a.ip === ip)?.ifname;
}

/**
 * What to change on dev. Ours are the /32s with our label, or, where dev's name
 * leaves no room for a label, the ones this process added (`added`). An address
 * dev already has for another reason is neither added again nor removed.
 */
export function planLbAddresses(
  onDev: readonly InterfaceAddress[],
  desired: readonly string[],
  label: string | undefined,
  added: ReadonlySet<string> = new Set(),
): AddressPlan {
  const ours = (a: InterfaceAddress) => a.prefixlen === 32 && ((label !== undefined && a.label === label) || added.has(a.ip));
  const present = new Set(onDev.map((a) => a.ip));
  const want = new Set(desired);
  return {
    add: desired.filter((ip) => !present.has(ip)),
    remove: onDev.filter((a) => ours(a) && !want.has(a.ip)).map((a) => a.ip),
  };
}
