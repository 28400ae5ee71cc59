// The proxy's rules, rendered from the pure service model as iptables-restore
// input for the nat and filter tables. Only Mesh's chains appear: each is
// declared (which flushes it under --noflush) and filled; the jumps from the
// built-in chains are iptables-applier's ensureJumps(). The shape follows
// kube-proxy's iptables mode, with two differences that bring a full sync of
// 10,000 services to about a second (DESIGN.md §6; docs/benchmarks.md):
//
// - No chain per endpoint. kube's KUBE-SEP-x holds a hairpin mark and a DNAT.
//   A pod reaching itself through its service can only be seen on its own
//   node, so Mesh masquerades that case in MESH-POSTROUTING with one
//   `-s ip -d ip` rule per local endpoint, after DNAT; the DNAT (and the
//   ClientIP affinity `--set`) sits on the rule that picks the endpoint. The
//   affinity list keeps kube's per-endpoint name, MESH-SEP-<hash>.
// - Traffic to the service range from outside the pod network is marked for
//   masquerade by one rule, not one per service: a packet to 10.96.0.0/16 that
//   matches no service is dropped or refused, so the mark only matters for the
//   others.
//
// Rule order is chosen for iptables-nft's restore, whose cache request keeps
// the chains a batch names in a sorted list and walks it from the smallest name
// for every rule: chains come in descending name order, each followed at once
// by its rules and by the rules that jump to it, so the names a rule needs sit
// at the front of that list. In ascending order the same restore takes 1.5-1.8
// times as long at 10,000 services (bench/proxy-rules.bench.ts).
import {
  EXTERNAL_SERVICES_CHAIN,
  FORWARD_CHAIN,
  MARK_MASQ_CHAIN,
  NODEPORTS_CHAIN,
  POSTROUTING_CHAIN,
  SERVICES_CHAIN,
  createChainNamer,
  type ChainNamer,
} from './chain-names.ts';
import { serializeRuleSet, type RuleSegment, type RuleSet } from './restore-text.ts';
import { cidrContains, ipv4ToInt, type EndpointModel, type NodeContext, type ProxyModel, type ServicePortModel } from './service-model.ts';

/** kube-proxy's masquerade bit. */
export const MASQ_MARK = '0x4000';

/**
 * What one render may reuse from earlier ones: chain names, and the rules of
 * every service port whose model object is the same as last time (the proxy
 * keeps unchanged ports' objects). Keep one per proxy.
 */
export interface RenderCache {
  namer: ChainNamer;
  /** @internal */
  fragments: WeakMap<ServicePortModel, PortFragments>;
  /** @internal the node the fragments were rendered for. */
  nodeKey: string;
  /** @internal the last render's chain order (indices into its fragments), reused while the services stay the same. */
  order?: { keys: string[]; descending: number[] };
  /** @internal the last render's hairpin addresses, reused while no local endpoint changed. */
  hairpin?: { lists: string[][]; ips: string[] };
}

export function createRenderCache(namer: ChainNamer = createChainNamer()): RenderCache {
  return { namer, fragments: new WeakMap(), nodeKey: '' };
}

// A single endpoint change must not cost a sort of every service: reuse the
// last order while the list of chains is the same.
function descendingOrder(frags: readonly PortFragments[], cache: RenderCache): PortFragments[] {
  const last = cache.order;
  const same = last !== undefined && last.keys.length === frags.length && frags.every((f, i) => f.order === last.keys[i]);
  if (!same) {
    const descending = frags.map((_, i) => i).sort((a, b) => (frags[a]!.order < frags[b]!.order ? 1 : frags[a]!.order > frags[b]!.order ? -1 : 0));
    cache.order = { keys: frags.map((f) => f.order), descending };
  }
  return cache.order!.descending.map((i) => frags[i]!);
}

function hairpinIps(frags: readonly PortFragments[], cache: RenderCache): string[] {
  const last = cache.hairpin;
  if (last) {
    let n = 0;
    let same = true;
    for (const f of frags) {
      if (f.hairpin.length === 0) continue;
      if (f.hairpin !== last.lists[n++]) {
        same = false;
        break;
      }
    }
    if (same && n === last.lists.length) return last.ips;
  }
  const lists = frags.map((f) => f.hairpin).filter((h) => h.length > 0);
  const byIp = new Map<string, number>();
  for (const h of lists) for (const ip of h) if (!byIp.has(ip)) byIp.set(ip, ipv4ToInt(ip));
  const ips = [...byIp].sort((a, b) => a[1] - b[1]).map(([ip]) => ip);
  cache.hairpin = { lists, ips };
  return ips;
}

export interface RenderOptions {
  cache?: RenderCache;
}

/** @internal Everything one service port contributes, by where it goes. */
export interface PortFragments {
  /** Sort key: the SVC chain's name. */
  order: string;
  svl?: RuleSegment;
  /** MESH-SERVICES lines jumping to SVL (internalTrafficPolicy Local). */
  svlServices: string[];
  svc?: RuleSegment;
  /** MESH-SERVICES lines jumping to SVC (ClusterIPs; LB IPs under policy Cluster). */
  svcServices: string[];
  svcNodePorts: string[];
  ext?: RuleSegment;
  extServices: string[];
  extNodePorts: string[];
  /** Marks for a ClusterIP outside the service range (one a user picked). */
  outOfRangeMasq: string[];
  filterServices: string[];
  filterExternal: string[];
  /** Local pod endpoints, for the hairpin masquerade. */
  hairpin: string[];
  /** The nat segments above, built once: SVL (+ its MESH-SERVICES lines), SVC (+ lines), EXT, lines to EXT. */
  natSvl: RuleSegment[];
  natSvc: RuleSegment[];
  natExt: RuleSegment[];
  natExtRefs: RuleSegment[];
}

// Names in comments come from API objects: keep them to what names may contain.
function commentOf(text: string): string {
  return `-m comment --comment "${text.replace(/[^A-Za-z0-9._:/ -]/g, '_')}"`;
}

function endpointRules(chain: string, sp: ServicePortModel, proto: string, eps: readonly EndpointModel[], namer: ChainNamer): string[] {
  const out: string[] = [];
  const dnat = (ep: EndpointModel) => `-p ${proto} -j DNAT --to-destination ${ep.ip}:${ep.port}`;
  const affinity = sp.sessionAffinity;
  const seps = affinity ? eps.map((ep) => namer.sep(sp.svcPortName, sp.protocol, `${ep.ip}:${ep.port}`)) : [];
  if (affinity) {
    // A client seen within the timeout goes back to its endpoint; --set
    // refreshes the entry, as kube's SEP chain does for every new connection.
    eps.forEach((ep, i) => {
      const name = seps[i]!;
      out.push(`-A ${chain} -m recent --name ${name} --rcheck --seconds ${affinity.timeoutSeconds} --reap -m recent --name ${name} --set ${dnat(ep)}`);
    });
  }
  const n = eps.length;
  eps.forEach((ep, i) => {
    // Even spread: endpoint i of n takes 1/(n-i) of what the earlier ones left.
    const pick = i < n - 1 ? `-m statistic --mode random --probability ${(1 / (n - i)).toFixed(10)} ` : '';
    const set = affinity ? `-m recent --name ${seps[i]!} --set ` : '';
    out.push(`-A ${chain} ${pick}${set}${dnat(ep)}`);
  });
  return out;
}

function renderPort(sp: ServicePortModel, node: NodeContext, namer: ChainNamer): PortFragments {
  const proto = sp.protocol.toLowerCase();
  const match = `-p ${proto} -m ${proto} --dport ${sp.port}`;
  const name = sp.svcPortName;
  const svc = namer.svc(name, sp.protocol);
  const svl = namer.svl(name, sp.protocol);
  const ext = namer.ext(name, sp.protocol);
  const hasCluster = sp.clusterEndpoints.length > 0;
  const hasLocal = sp.localEndpoints.length > 0;
  const external = sp.nodePort !== undefined || sp.loadBalancerIPs.length > 0;
  const extLocal = external && sp.externalTrafficPolicy === 'Local';
  const itpLocal = sp.internalTrafficPolicy === 'Local';
  // A usable local endpoint implies a usable cluster one, so SVC exists
  // whenever SVL or EXT jump to it.
  const needSvc = hasCluster && (!itpLocal || external);
  const needSvl = hasLocal && (itpLocal || extLocal);
  const needExt = extLocal && hasCluster;

  const f: PortFragments = {
    order: svc,
    svlServices: [],
    svcServices: [],
    svcNodePorts: [],
    extServices: [],
    extNodePorts: [],
    outOfRangeMasq: [],
    filterServices: [],
    filterExternal: [],
    hairpin: [],
    natSvl: [],
    natSvc: [],
    natExt: [],
    natExtRefs: [],
  };
  const clusterIpRules = (target: string) =>
    sp.clusterIPs.map((ip) => `-A ${SERVICES_CHAIN} -d ${ip}/32 ${match} ${commentOf(`${name} cluster IP`)} -j ${target}`);
  const lbRules = (target: string, mark: boolean) =>
    sp.loadBalancerIPs.flatMap((ip) => {
      const head = `-A ${SERVICES_CHAIN} -d ${ip}/32 ${match} ${commentOf(`${name} loadbalancer IP`)}`;
      return mark ? [`${head} -j ${MARK_MASQ_CHAIN}`, `${head} -j ${target}`] : [`${head} -j ${target}`];
    });
  const nodePortRules = (target: string, mark: boolean) => {
    if (sp.nodePort === undefined) return [];
    const head = `-A ${NODEPORTS_CHAIN} -p ${proto} -m ${proto} --dport ${sp.nodePort} ${commentOf(name)}`;
    return mark ? [`${head} -j ${MARK_MASQ_CHAIN}`, `${head} -j ${target}`] : [`${head} -j ${target}`];
  };

  if (needSvl) {
    f.svl = { chain: svl, declare: true, rules: endpointRules(svl, sp, proto, sp.localEndpoints, namer) };
    if (itpLocal) f.svlServices = clusterIpRules(svl);
  }
  if (needSvc) {
    f.svc = { chain: svc, declare: true, rules: endpointRules(svc, sp, proto, sp.clusterEndpoints, namer) };
    if (!itpLocal) f.svcServices = clusterIpRules(svc);
    if (external && !extLocal) {
      f.svcServices.push(...lbRules(svc, true));
      f.svcNodePorts = nodePortRules(svc, true);
    }
  }
  if (needExt) {
    // Policy Local: pods and the node itself may use any endpoint (the node
    // masqueraded); outside clients only this node's, keeping their address.
    const rules = [
      `-A ${ext} -s ${node.clusterCidr} ${commentOf(`pod traffic for ${name} external destinations`)} -j ${svc}`,
      `-A ${ext} -m addrtype --src-type LOCAL ${commentOf(`masquerade LOCAL traffic for ${name} external destinations`)} -j ${MARK_MASQ_CHAIN}`,
      `-A ${ext} -m addrtype --src-type LOCAL ${commentOf(`route LOCAL traffic for ${name} external destinations`)} -j ${svc}`,
    ];
    if (needSvl) rules.push(`-A ${ext} -j ${svl}`);
    f.ext = { chain: ext, declare: true, rules };
    f.extServices = lbRules(ext, false);
    f.extNodePorts = nodePortRules(ext, false);
  }
  for (const ip of sp.clusterIPs) {
    if (!cidrContains(node.serviceCidr, ip)) f.outOfRangeMasq.push(`-A ${SERVICES_CHAIN} ! -s ${node.clusterCidr} -d ${ip}/32 ${match} -j ${MARK_MASQ_CHAIN}`);
  }

  // No endpoint at all: refuse at once rather than let clients time out.
  // Endpoints, but none here under a Local policy: drop, as kube does.
  const verdict = (policyLocal: boolean) => (!hasCluster ? 'REJECT' : policyLocal && !hasLocal ? 'DROP' : undefined);
  const action = (v: string) =>
    v === 'REJECT'
      ? `${commentOf(`${name} has no endpoints`)} -j REJECT --reject-with icmp-port-unreachable`
      : `${commentOf(`${name} has no local endpoints`)} -j DROP`;
  const internal = verdict(itpLocal);
  if (internal) f.filterServices = sp.clusterIPs.map((ip) => `-A ${SERVICES_CHAIN} -d ${ip}/32 ${match} ${action(internal)}`);
  const ext4 = external ? verdict(sp.externalTrafficPolicy === 'Local') : undefined;
  if (ext4) {
    f.filterExternal = sp.loadBalancerIPs.map((ip) => `-A ${EXTERNAL_SERVICES_CHAIN} -d ${ip}/32 ${match} ${action(ext4)}`);
    if (sp.nodePort !== undefined) {
      f.filterExternal.push(`-A ${EXTERNAL_SERVICES_CHAIN} -m addrtype --dst-type LOCAL -p ${proto} -m ${proto} --dport ${sp.nodePort} ${action(ext4)}`);
    }
  }
  const hostIps = new Set(node.nodeIPs);
  for (const ep of sp.clusterEndpoints) if (ep.local && !hostIps.has(ep.ip)) f.hairpin.push(ep.ip);
  for (const ep of sp.localEndpoints) if (!hostIps.has(ep.ip)) f.hairpin.push(ep.ip);

  const lines = (chain: string, rules: string[]) => (rules.length > 0 ? [segment(chain, rules)] : []);
  if (f.svl) f.natSvl = [f.svl, ...lines(SERVICES_CHAIN, f.svlServices)];
  if (f.svc) f.natSvc = [f.svc, ...lines(SERVICES_CHAIN, f.svcServices), ...lines(NODEPORTS_CHAIN, f.svcNodePorts)];
  if (f.ext) f.natExt = [f.ext];
  f.natExtRefs = [...lines(SERVICES_CHAIN, f.extServices), ...lines(NODEPORTS_CHAIN, f.extNodePorts)];
  return f;
}

const segment = (chain: string, rules: readonly string[], declare = false): RuleSegment => ({ chain, declare, rules });

function natTable(model: ProxyModel, frags: readonly PortFragments[], cache: RenderCache): RuleSet[number] {
  const { clusterCidr, serviceCidr } = model.node;
  const hairpin = hairpinIps(frags, cache);
  const segs: RuleSegment[] = [
    segment(SERVICES_CHAIN, [], true),
    segment(NODEPORTS_CHAIN, [], true),
    segment(POSTROUTING_CHAIN, [
      ...hairpin.map((ip) => `-A ${POSTROUTING_CHAIN} -s ${ip}/32 -d ${ip}/32 ${commentOf('hairpin')} -j MASQUERADE`),
      `-A ${POSTROUTING_CHAIN} -m mark ! --mark ${MASQ_MARK}/${MASQ_MARK} -j RETURN`,
      // Clear the bit so a packet that is re-routed is not masqueraded twice.
      `-A ${POSTROUTING_CHAIN} -j MARK --xor-mark ${MASQ_MARK}`,
      `-A ${POSTROUTING_CHAIN} ${commentOf('mesh service traffic requiring SNAT')} -j MASQUERADE --random-fully`,
    ], true),
    segment(MARK_MASQ_CHAIN, [`-A ${MARK_MASQ_CHAIN} -j MARK --or-mark ${MASQ_MARK}`], true),
    segment(SERVICES_CHAIN, [
      `-A ${SERVICES_CHAIN} ! -s ${clusterCidr} -d ${serviceCidr} ${commentOf('service traffic from outside the pod network')} -j ${MARK_MASQ_CHAIN}`,
      ...frags.flatMap((f) => f.outOfRangeMasq),
    ]),
  ];
  const descending = descendingOrder(frags, cache);
  // SVL names sort after every SVC name, so they come first; EXT names before all.
  for (const key of ['natSvl', 'natSvc', 'natExt', 'natExtRefs'] as const) {
    for (const f of descending) for (const seg of f[key]) segs.push(seg);
  }
  segs.push(
    segment(SERVICES_CHAIN, [
      // The service range is never a NodePort destination, even when it is routed locally.
      `-A ${SERVICES_CHAIN} -d ${serviceCidr} -j RETURN`,
      `-A ${SERVICES_CHAIN} ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL ${commentOf('mesh service nodeports - this must be the last rule in this chain')} -j ${NODEPORTS_CHAIN}`,
    ]),
  );
  return { name: 'nat', segments: segs };
}

function filterTable(model: ProxyModel, frags: readonly PortFragments[]): RuleSet[number] {
  const { clusterCidr, serviceCidr } = model.node;
  return {
    name: 'filter',
    segments: [
      segment(SERVICES_CHAIN, [
        ...frags.flatMap((f) => f.filterServices),
        // Whatever is still addressed to the service range was not translated:
        // refuse it (reached when the range is routed locally, see iptables-applier).
        `-A ${SERVICES_CHAIN} -d ${serviceCidr} ${commentOf('no service at this address and port')} -j REJECT --reject-with icmp-port-unreachable`,
      ], true),
      segment(EXTERNAL_SERVICES_CHAIN, frags.flatMap((f) => f.filterExternal), true),
      segment(FORWARD_CHAIN, [
        `-A ${FORWARD_CHAIN} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
        `-A ${FORWARD_CHAIN} -m mark --mark ${MASQ_MARK}/${MASQ_MARK} -j ACCEPT`,
        `-A ${FORWARD_CHAIN} -s ${clusterCidr} ${commentOf('pod network')} -j ACCEPT`,
        `-A ${FORWARD_CHAIN} -d ${clusterCidr} ${commentOf('pod network')} -j ACCEPT`,
      ], true),
    ],
  };
}

/** The rules as segments per table (what the applier takes); see renderRules for the text. */
export function renderRuleSet(model: ProxyModel, opts: RenderOptions = {}): RuleSet {
  const cache = opts.cache ?? createRenderCache();
  const nodeKey = JSON.stringify(model.node);
  if (cache.nodeKey !== nodeKey) {
    cache.fragments = new WeakMap();
    cache.nodeKey = nodeKey;
  }
  const frags = model.servicePorts.map((sp) => {
    let f = cache.fragments.get(sp);
    if (!f) cache.fragments.set(sp, (f = renderPort(sp, model.node, cache.namer)));
    return f;
  });
  return [natTable(model, frags, cache), filterTable(model, frags)];
}

/** iptables-restore input (for `--noflush`) for the nat and filter tables. */
export function renderRules(model: ProxyModel, opts: RenderOptions = {}): string {
  return serializeRuleSet(renderRuleSet(model, opts));
}
