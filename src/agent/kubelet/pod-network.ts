// The node's pod network (DESIGN.md §4): a Docker bridge network `mesh-pods`
// on this node's pod CIDR (Node spec.podCIDR, which the Raft leader hands out),
// routes to every other node's pod CIDR through that node's InternalIP, and the
// iptables rules that let pod traffic through FORWARD and masquerade it only
// when it leaves the cluster. Pods keep their own addresses between nodes.
//
// Routes carry `proto 77`, so the routing table itself says which are ours (an
// agent restarted after a node left still finds and removes its route). Rules
// live in Mesh's own chains, written with `iptables-restore --noflush`.
// The kubelet waits for ready() before it creates the first sandbox.
import type { ObjectClient } from '../api/object-client.ts';
import type { KubeObject } from '../api/object-types.ts';
import type { Logger } from '../logger.ts';
import type { StoreEvent, Unsubscribe } from '../store/object-store.ts';
import { createHostExec, mustExec, type HostExec } from '../host-exec.ts';
import type { DockerNetworks } from './docker-networks.ts';
import {
  desiredPodRoutes,
  gatewayOf,
  isCidr,
  networkAction,
  nodeInternalIp,
  nodePodCidr,
  parseChainJumps,
  parseRouteJson,
  planPodRoutes,
  podRulesInPlace,
  renderPodRules,
  renderPodRulesCleanup,
  type PodRuleParams,
} from './pod-network-plan.ts';

export const MESH_POD_NETWORK = 'mesh-pods';
export const MESH_POD_BRIDGE = 'mesh0';
/** The routing protocol number that marks Mesh's routes (an unassigned one). */
export const MESH_ROUTE_PROTO = '77';
export const DEFAULT_CLUSTER_CIDR = '10.244.0.0/16';
export const DEFAULT_SERVICE_CIDR = '10.96.0.0/16';

const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';
const NETWORK_OPTIONS = {
  'com.docker.network.bridge.name': MESH_POD_BRIDGE,
  // Pod traffic between nodes keeps its pod IP; MESH-POD-MASQ masquerades the rest.
  'com.docker.network.bridge.enable_ip_masquerade': 'false',
};

export interface PodNetworkInfo {
  /** The Docker network the sandboxes join. */
  network: string;
  /** The bridge's own address (podCIDR .1): the pods' router and DNS server. */
  gateway: string;
  podCidr: string;
}

export interface PodNetworkOptions {
  nodeName: string;
  /** The local store (reads and the Node watch never leave this agent). */
  client: ObjectClient;
  docker: DockerNetworks;
  logger: Logger;
  /** Runs ip, iptables-save/-restore, cat and tee; tests run them in a namespace. */
  exec?: HostExec;
  clusterCidr?: string;
  serviceCidr?: string;
  /** Network, rules and routes are checked again this often (default 30 s). */
  resyncMs?: number;
  /** The first retry after a failure, doubling to 30 s (default 1 s). */
  retryMs?: number;
}

export interface PodNetwork {
  /** Watches Nodes and sets the network up once this node has its pod CIDR. */
  start(): void;
  /** Resolves once the Docker network exists (rules and routes may still be retrying). */
  ready(): Promise<PodNetworkInfo>;
  /** The gateway address once ready, else undefined. */
  gateway(): string | undefined;
  /** One full pass now (network, ip_forward, rules, routes); resolves when it is done. */
  sync(): Promise<void>;
  /** Stops watching; routes, rules and the network stay (a restarted agent's pods keep working). */
  stop(): Promise<void>;
  /** For `mesh leave`: removes our routes, chains and, when nothing is attached, the Docker network. */
  cleanup(): Promise<void>;
}

const MAX_RETRY_MS = 30_000;

export function createPodNetwork(opts: PodNetworkOptions): PodNetwork {
  const { nodeName, client, docker } = opts;
  const log = opts.logger.child({ component: 'pod-network', node: nodeName });
  const exec = opts.exec ?? createHostExec();
  const clusterCidr = opts.clusterCidr ?? DEFAULT_CLUSTER_CIDR;
  const serviceCidr = opts.serviceCidr ?? DEFAULT_SERVICE_CIDR;
  const resyncMs = opts.resyncMs ?? 30_000;
  const retryMs = opts.retryMs ?? 1000;

  let info: PodNetworkInfo | undefined;
  let resolveReady!: (i: PodNetworkInfo) => void;
  const readyPromise = new Promise<PodNetworkInfo>((r) => (resolveReady = r));
  let readyDone = false;
  let stopped = true;
  let unwatch: Unsubscribe | undefined;
  let resyncTimer: NodeJS.Timeout | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let failures = 0;
  let warnedCidrChange: string | undefined;
  // Each node's (podCIDR, InternalIP): a heartbeat that changes neither costs nothing.
  const seen = new Map<string, string>();
  // Serialised passes; a request during a pass runs one more after it.
  let running: Promise<void> | undefined;
  let pending: 'none' | 'routes' | 'full' = 'none';

  function routeKey(n: KubeObject): string {
    return `${nodePodCidr(n) ?? ''} ${nodeInternalIp(n) ?? ''}`;
  }

  function request(kind: 'routes' | 'full'): Promise<void> {
    if (kind === 'full' || pending === 'none') pending = kind;
    if (!running) {
      running = loop().finally(() => {
        running = undefined;
      });
    }
    return running;
  }

  async function loop(): Promise<void> {
    while (pending !== 'none' && !stopped) {
      const kind = pending;
      pending = 'none';
      try {
        const ok = await pass(kind === 'full' || !info);
        if (ok) failures = 0;
        else retryLater();
      } catch (err) {
        log.warn({ err }, 'pod network setup failed; retrying');
        retryLater();
      }
    }
  }

  function retryLater(): void {
    if (stopped || retryTimer) return;
    const delay = Math.min(MAX_RETRY_MS, retryMs * 2 ** failures);
    failures++;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void request('full');
    }, delay);
    retryTimer.unref();
  }

  /** False when a step failed (it was logged) and the pass should be retried. */
  async function pass(full: boolean): Promise<boolean> {
    const self = client.get('nodes', '', nodeName);
    const cidr = self ? nodePodCidr(self) : undefined;
    if (!info) {
      if (!cidr) return true; // the Node watch brings us back once the leader assigned it
      if (!isCidr(cidr)) {
        log.error({ podCIDR: cidr }, 'the Node has a malformed spec.podCIDR; waiting for another');
        return true;
      }
      info = await ensureNetwork(cidr);
    } else if (full) {
      if (cidr && cidr !== info.podCidr && warnedCidrChange !== cidr) {
        warnedCidrChange = cidr;
        log.warn({ podCIDR: cidr, inUse: info.podCidr }, "the node's pod CIDR changed; the agent keeps the one in use until it restarts");
      }
      if (!(await docker.inspect(MESH_POD_NETWORK))) {
        log.warn({ network: MESH_POD_NETWORK }, 'the pod network is gone; creating it again');
        info = await ensureNetwork(info.podCidr);
      }
    }
    let ok = true;
    const step = async (what: string, fn: () => Promise<void>) => {
      try {
        await fn();
      } catch (err) {
        ok = false;
        log.warn({ err }, `${what} failed; retrying`);
      }
    };
    if (full) {
      await step('enabling IP forwarding', ensureIpForward);
      await step('installing the pod iptables rules', () => ensureRules({ podCidr: info!.podCidr, clusterCidr, serviceCidr }));
    }
    await step('updating the routes to other nodes', syncRoutes);
    if (!readyDone) {
      readyDone = true;
      log.info(info, 'pod network ready');
      resolveReady(info);
    }
    return ok;
  }

  async function ensureNetwork(cidr: string): Promise<PodNetworkInfo> {
    const want = { subnet: cidr, gateway: gatewayOf(cidr), options: NETWORK_OPTIONS };
    const existing = await docker.inspect(MESH_POD_NETWORK);
    const create = () => docker.create({ name: MESH_POD_NETWORK, driver: 'bridge', ...want });
    switch (networkAction(existing, want)) {
      case 'keep':
        break;
      case 'create':
        await create();
        log.info({ network: MESH_POD_NETWORK, subnet: cidr, bridge: MESH_POD_BRIDGE }, 'created the pod network');
        break;
      case 'recreate':
        log.warn({ network: MESH_POD_NETWORK, had: existing?.subnet, subnet: cidr }, 'the pod network differs from this node\'s pod CIDR and is unused; recreating it');
        await docker.remove(MESH_POD_NETWORK);
        await create();
        break;
      case 'conflict': {
        const subnet = existing?.subnet;
        if (!subnet || !isCidr(subnet)) throw new Error(`the Docker network ${MESH_POD_NETWORK} has no usable subnet and containers on it`);
        log.error(
          { network: MESH_POD_NETWORK, subnet, podCIDR: cidr, containers: existing?.containers },
          `the Docker network ${MESH_POD_NETWORK} has another subnet than this node's pod CIDR and containers on it; keeping it, so other nodes cannot reach these pods. Remove its containers and restart the agent`,
        );
        return { network: MESH_POD_NETWORK, podCidr: subnet, gateway: existing?.gateway ?? gatewayOf(subnet) };
      }
    }
    return { network: MESH_POD_NETWORK, podCidr: cidr, gateway: want.gateway };
  }

  async function ensureIpForward(): Promise<void> {
    const r = await exec('cat', [IP_FORWARD]);
    if (r.code === 0 && r.stdout.trim() === '1') return;
    await mustExec(exec, 'tee', [IP_FORWARD], '1\n');
    log.info('enabled IPv4 forwarding');
  }

  async function currentJumps() {
    const nat = await mustExec(exec, 'iptables-save', ['-t', 'nat']);
    const filter = await mustExec(exec, 'iptables-save', ['-t', 'filter']);
    return parseChainJumps(nat, filter);
  }

  async function ensureRules(p: PodRuleParams): Promise<void> {
    const jumps = await currentJumps();
    if (podRulesInPlace(p, jumps)) return;
    await mustExec(exec, 'iptables-restore', ['-w', '5', '--noflush'], renderPodRules(p, jumps));
    log.info({ podCIDR: p.podCidr }, 'installed the pod iptables rules');
  }

  async function ownRoutes() {
    return parseRouteJson(await mustExec(exec, 'ip', ['-j', '-4', 'route', 'show', 'proto', MESH_ROUTE_PROTO]));
  }

  async function syncRoutes(): Promise<void> {
    const desired = desiredPodRoutes(client.list('nodes').items, nodeName, clusterCidr).filter((r) => r.dst !== info?.podCidr);
    const plan = planPodRoutes(await ownRoutes(), desired);
    const failed: string[] = [];
    for (const r of plan.remove) {
      const res = await exec('ip', ['route', 'del', r.dst, 'proto', MESH_ROUTE_PROTO]);
      if (res.code === 0) log.info(r, 'removed the route to a pod CIDR no node has any more');
      else failed.push(`del ${r.dst}: ${res.stderr.trim()}`);
    }
    for (const r of plan.replace) {
      const res = await exec('ip', ['route', 'replace', r.dst, 'via', r.via, 'proto', MESH_ROUTE_PROTO]);
      if (res.code === 0) log.info(r, 'route to a node\'s pods set');
      else failed.push(`${r.dst} via ${r.via}: ${res.stderr.trim()}`);
    }
    if (failed.length) throw new Error(`could not update ${failed.length} route(s): ${failed.join('; ')}`);
  }

  function onNodeEvent(e: StoreEvent): void {
    const name = e.object.metadata.name ?? '';
    const key = e.type === 'DELETED' ? undefined : routeKey(e.object);
    if (seen.get(name) === key) return;
    if (key === undefined) seen.delete(name);
    else seen.set(name, key);
    void request(info ? 'routes' : 'full');
  }

  async function stop(): Promise<void> {
    stopped = true;
    unwatch?.();
    unwatch = undefined;
    if (resyncTimer) clearInterval(resyncTimer);
    if (retryTimer) clearTimeout(retryTimer);
    resyncTimer = retryTimer = undefined;
    await running;
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      seen.clear();
      unwatch = client.watch('nodes', {}, onNodeEvent);
      for (const n of client.list('nodes').items) seen.set(n.metadata.name ?? '', routeKey(n));
      resyncTimer = setInterval(() => void request('full'), resyncMs);
      resyncTimer.unref();
      void request('full');
    },

    ready: () => readyPromise,

    gateway: () => info?.gateway,

    async sync() {
      if (stopped) return;
      await request('full');
      // A request made while a pass ran is served by the loop before it ends.
    },

    stop,

    async cleanup() {
      await stop();
      const problems: string[] = [];
      try {
        for (const r of await ownRoutes()) {
          const res = await exec('ip', ['route', 'del', r.dst, 'proto', MESH_ROUTE_PROTO]);
          if (res.code !== 0) problems.push(`route ${r.dst}: ${res.stderr.trim()}`);
        }
      } catch (err) {
        problems.push(String(err));
      }
      try {
        const text = renderPodRulesCleanup(await currentJumps());
        if (text) await mustExec(exec, 'iptables-restore', ['-w', '5', '--noflush'], text);
      } catch (err) {
        problems.push(String(err));
      }
      try {
        const net = await docker.inspect(MESH_POD_NETWORK);
        if (net && net.containers === 0) await docker.remove(MESH_POD_NETWORK);
        else if (net) problems.push(`the Docker network ${MESH_POD_NETWORK} still has ${net.containers} container(s); kept`);
      } catch (err) {
        problems.push(String(err));
      }
      info = undefined;
      if (problems.length) log.warn({ problems }, 'pod network cleanup left something behind');
      else log.info('pod network removed');
    },
  };
}
