// The pure core of the pod network (pod-network.ts runs it): which routes this
// node needs to the other nodes' pod CIDRs, what to change in the routing table
// to get there, the iptables-restore text of Mesh's pod chains, and what to do
// with an existing Docker network. No I/O here.
import { isIPv4 } from 'node:net';
import type { KubeObject } from '../api/object-types.ts';
import { formatIpv4, inRange, parseCidr, type Ipv4Range } from '../../consensus/ipv4-range.ts';

/** nat chain: masquerade of pod traffic that leaves the cluster. */
export const POD_MASQ_CHAIN = 'MESH-POD-MASQ';
/** filter chain: lets pod traffic through FORWARD, whose policy Docker sets to DROP. */
export const POD_FORWARD_CHAIN = 'MESH-POD-FORWARD';
/** Docker's chain for user rules; FORWARD jumps to it first. */
export const DOCKER_USER_CHAIN = 'DOCKER-USER';

export interface PodRoute {
  /** A node's pod CIDR. */
  dst: string;
  /** That node's InternalIP. */
  via: string;
}

export interface RoutePlan {
  /** `ip route replace dst via via` (new, or the next hop changed). */
  replace: PodRoute[];
  /** Routes of ours to CIDRs no node has any more. */
  remove: PodRoute[];
}

interface NodeShape extends KubeObject {
  spec?: { podCIDR?: string; [k: string]: unknown };
  status?: { addresses?: { type?: string; address?: string }[]; [k: string]: unknown };
}

export function nodePodCidr(node: KubeObject): string | undefined {
  return (node as NodeShape).spec?.podCIDR || undefined;
}

export function nodeInternalIp(node: KubeObject): string | undefined {
  const a = (node as NodeShape).status?.addresses?.find((x) => x.type === 'InternalIP' && x.address && isIPv4(x.address));
  return a?.address;
}

function cidrWithin(outer: Ipv4Range, text: string): boolean {
  try {
    const r = parseCidr(text);
    return inRange(outer, r.start) && inRange(outer, r.start + r.size - 1);
  } catch {
    return false;
  }
}

/**
 * Routes to every other node's pod CIDR through its InternalIP. Nodes without
 * either, with a CIDR outside the cluster's pod network, or sharing this node's
 * own address or CIDR are left out; when two nodes claim one CIDR (a moment
 * during reallocation), the first by name wins.
 */
export function desiredPodRoutes(nodes: readonly KubeObject[], selfName: string, clusterCidr: string): PodRoute[] {
  const cluster = parseCidr(clusterCidr);
  const self = nodes.find((n) => n.metadata.name === selfName);
  const selfCidr = self ? nodePodCidr(self) : undefined;
  const selfIp = self ? nodeInternalIp(self) : undefined;
  const byDst = new Map<string, PodRoute>();
  const sorted = [...nodes].sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  for (const n of sorted) {
    if (n.metadata.name === selfName) continue;
    const dst = nodePodCidr(n);
    const via = nodeInternalIp(n);
    if (!dst || !via || dst === selfCidr || via === selfIp || !cidrWithin(cluster, dst)) continue;
    if (!byDst.has(dst)) byDst.set(dst, { dst, via });
  }
  return [...byDst.values()].sort((a, b) => a.dst.localeCompare(b.dst));
}

/** What to change so that the routes we own (current) become desired. */
export function planPodRoutes(current: readonly PodRoute[], desired: readonly PodRoute[]): RoutePlan {
  const have = new Map(current.map((r) => [r.dst, r.via]));
  const want = new Set(desired.map((r) => r.dst));
  return {
    replace: desired.filter((r) => have.get(r.dst) !== r.via),
    remove: current.filter((r) => !want.has(r.dst)),
  };
}

/** Parses `ip -j -4 route show proto N`; entries without a gateway are not ours to keep. */
export function parseRouteJson(text: string): PodRoute[] {
  if (!text.trim()) return [];
  const rows = JSON.parse(text) as { dst?: string; gateway?: string }[];
  return rows.filter((r) => r.dst).map((r) => ({ dst: normaliseDst(r.dst!), via: r.gateway ?? '' }));
}

// `ip` prints a /32 without its prefix.
function normaliseDst(dst: string): string {
  return dst.includes('/') ? dst : `${dst}/32`;
}

// ---- iptables ---------------------------------------------------------------

/** The jumps to Mesh's pod chains that exist now, from `iptables-save` of nat and filter. */
export interface PodChainJumps {
  /** `-A POSTROUTING -j MESH-POD-MASQ` lines present. */
  postrouting: number;
  /** `-A DOCKER-USER -j MESH-POD-FORWARD` lines present. */
  dockerUser: number;
  /** `-A FORWARD -j MESH-POD-FORWARD` lines present (when there was no DOCKER-USER). */
  forward: number;
  hasDockerUser: boolean;
  hasMasqChain: boolean;
  hasForwardChain: boolean;
  /** The `-A` lines of the two chains as they are now. */
  masqRules: string[];
  forwardRules: string[];
}

export function parseChainJumps(natSave: string, filterSave: string): PodChainJumps {
  const count = (text: string, line: string) => text.split('\n').filter((l) => l.trim() === line).length;
  const declares = (text: string, chain: string) => text.split('\n').some((l) => l.startsWith(`:${chain} `));
  const rules = (text: string, chain: string) => text.split('\n').map((l) => l.trim()).filter((l) => l.startsWith(`-A ${chain} `));
  return {
    postrouting: count(natSave, `-A POSTROUTING -j ${POD_MASQ_CHAIN}`),
    dockerUser: count(filterSave, `-A ${DOCKER_USER_CHAIN} -j ${POD_FORWARD_CHAIN}`),
    forward: count(filterSave, `-A FORWARD -j ${POD_FORWARD_CHAIN}`),
    hasDockerUser: declares(filterSave, DOCKER_USER_CHAIN),
    hasMasqChain: declares(natSave, POD_MASQ_CHAIN),
    hasForwardChain: declares(filterSave, POD_FORWARD_CHAIN),
    masqRules: rules(natSave, POD_MASQ_CHAIN),
    forwardRules: rules(filterSave, POD_FORWARD_CHAIN),
  };
}

export interface PodRuleParams {
  /** This node's pod CIDR (the mesh0 subnet). */
  podCidr: string;
  /** The cluster's pod network (all nodes' CIDRs). */
  clusterCidr: string;
  serviceCidr: string;
}

function masqRules(p: PodRuleParams): string[] {
  return [
    `-A ${POD_MASQ_CHAIN} -s ${p.podCidr} -d ${p.serviceCidr} -j RETURN`,
    `-A ${POD_MASQ_CHAIN} -s ${p.podCidr} ! -d ${p.clusterCidr} -j MASQUERADE`,
  ];
}

function forwardRules(p: PodRuleParams): string[] {
  return [`-A ${POD_FORWARD_CHAIN} -s ${p.clusterCidr} -j ACCEPT`, `-A ${POD_FORWARD_CHAIN} -d ${p.clusterCidr} -j ACCEPT`];
}

/** Whether the chains hold exactly our rules and every jump is there (then nothing is written). */
export function podRulesInPlace(p: PodRuleParams, jumps: PodChainJumps): boolean {
  const same = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  return (
    same(jumps.masqRules, masqRules(p)) &&
    same(jumps.forwardRules, forwardRules(p)) &&
    jumps.postrouting > 0 &&
    (jumps.hasDockerUser ? jumps.dockerUser > 0 : jumps.forward > 0)
  );
}

/**
 * iptables-restore --noflush input that (re)writes Mesh's two pod chains whole
 * (declaring a chain flushes it) and adds each jump only where it is missing.
 * Pod-to-pod traffic keeps its source address; traffic to the service range is
 * left to the proxy (it is DNATed to pods before it gets here).
 */
export function renderPodRules(p: PodRuleParams, jumps: PodChainJumps): string {
  const lines = ['*nat', `:${POD_MASQ_CHAIN} - [0:0]`, ...masqRules(p)];
  if (jumps.postrouting === 0) lines.push(`-I POSTROUTING 1 -j ${POD_MASQ_CHAIN}`);
  lines.push('COMMIT', '*filter', `:${POD_FORWARD_CHAIN} - [0:0]`, ...forwardRules(p));
  // Docker's FORWARD jumps to DOCKER-USER before its own rules: the top of it
  // is where an accept wins. Without dockerd, FORWARD itself.
  if (jumps.hasDockerUser) {
    if (jumps.dockerUser === 0) lines.push(`-I ${DOCKER_USER_CHAIN} 1 -j ${POD_FORWARD_CHAIN}`);
  } else if (jumps.forward === 0) {
    lines.push(`-I FORWARD 1 -j ${POD_FORWARD_CHAIN}`);
  }
  lines.push('COMMIT', '');
  return lines.join('\n');
}

/** iptables-restore --noflush input that removes every jump to the pod chains and the chains; '' when none is left. */
export function renderPodRulesCleanup(jumps: PodChainJumps): string {
  const nat: string[] = [];
  if (jumps.hasMasqChain || jumps.postrouting > 0) {
    nat.push(`:${POD_MASQ_CHAIN} - [0:0]`);
    for (let i = 0; i < jumps.postrouting; i++) nat.push(`-D POSTROUTING -j ${POD_MASQ_CHAIN}`);
    nat.push(`-X ${POD_MASQ_CHAIN}`);
  }
  const filter: string[] = [];
  if (jumps.hasForwardChain || jumps.dockerUser > 0 || jumps.forward > 0) {
    filter.push(`:${POD_FORWARD_CHAIN} - [0:0]`);
    for (let i = 0; i < jumps.dockerUser; i++) filter.push(`-D ${DOCKER_USER_CHAIN} -j ${POD_FORWARD_CHAIN}`);
    for (let i = 0; i < jumps.forward; i++) filter.push(`-D FORWARD -j ${POD_FORWARD_CHAIN}`);
    filter.push(`-X ${POD_FORWARD_CHAIN}`);
  }
  const out: string[] = [];
  if (nat.length) out.push('*nat', ...nat, 'COMMIT');
  if (filter.length) out.push('*filter', ...filter, 'COMMIT');
  return out.length ? `${out.join('\n')}\n` : '';
}

// ---- the Docker network ---------------------------------------------------------

export interface DockerNetworkState {
  subnet?: string;
  gateway?: string;
  options: Record<string, string>;
  /** Containers attached now. */
  containers: number;
}

export interface WantedNetwork {
  subnet: string;
  gateway: string;
  options: Record<string, string>;
}

export type NetworkAction = 'create' | 'keep' | 'recreate' | 'conflict';

/**
 * A network that differs (subnet, gateway or one of our driver options) is
 * recreated while nothing is attached; with containers on it, it is kept, and
 * the caller reports the conflict.
 */
export function networkAction(existing: DockerNetworkState | undefined, want: WantedNetwork): NetworkAction {
  if (!existing) return 'create';
  const same =
    existing.subnet === want.subnet &&
    existing.gateway === want.gateway &&
    Object.entries(want.options).every(([k, v]) => existing.options[k] === v);
  if (same) return 'keep';
  return existing.containers === 0 ? 'recreate' : 'conflict';
}

/** The first host address of a CIDR (`10.244.3.0/24` -> `10.244.3.1`): the bridge's own. */
export function gatewayOf(cidr: string): string {
  const r = parseCidr(cidr);
  if (r.size < 4) throw new Error(`pod CIDR ${cidr} is too small for a bridge network`);
  return formatIpv4(r.start + 1);
}

/** Whether text is an IPv4 CIDR with no host bits set. */
export function isCidr(text: string): boolean {
  try {
    parseCidr(text);
    return true;
  } catch {
    return false;
  }
}
