// Mesh's replicated state machine: the few things that must be unique or secret
// (DESIGN.md §3). Pod CIDRs, ClusterIPs, NodePorts and LoadBalancer IPs are
// unique by construction because one log orders every allocation; Secret data
// lives here sealed (secret-crypto.ts), so the log on disk holds only ciphertext.
//
// Deterministic: the result of a command depends only on the state and the
// command. Allocation scans from a cursor kept in the state (so a released
// address is not handed out again at once, and a scan does not restart at the
// bottom of a full range every time). Every member must be created with the
// same options (they come from the cluster's settings).
//
// IPv4 only: services are single-stack IPv4; an IPv6 request is refused.
import { z } from 'zod';
import type { StateMachine } from './raft-node.ts';
import { formatCidr, formatIpv4, inRange, parseCidr, parseIpv4, parseIpv4Range, type Ipv4Range } from './ipv4-range.ts';
import { SEALED_FORMAT } from './secret-crypto.ts';

export const DEFAULT_POD_CIDR = '10.244.0.0/16';
export const DEFAULT_POD_CIDR_PREFIX = 24;
export const DEFAULT_SERVICE_CIDR = '10.96.0.0/16';
export const DEFAULT_NODE_PORT_RANGE = { min: 30000, max: 32767 };
/** Kubernetes gives the first service address to `default/kubernetes`; dynamic allocation skips it. */
export const KUBERNETES_SERVICE = 'default/kubernetes';

export interface ClusterFsmOptions {
  /** Cluster pod network; each node gets one block of it. */
  podCidr?: string;
  /** Prefix length of each node's block (default /24). */
  podCidrPrefix?: number;
  /** ClusterIP range (default 10.96.0.0/16). */
  serviceCidr?: string;
  /** Inclusive NodePort range (default 30000-32767). */
  nodePortRange?: { min: number; max: number };
  /** LoadBalancer pool: a CIDR or `first-last`; '' or absent means none (every request is refused). */
  lbPool?: string;
}

export type RefusalCode =
  | 'malformed'
  | 'exhausted'
  | 'taken'
  | 'out-of-range'
  | 'reserved'
  | 'unsupported'
  | 'immutable'
  | 'not-found'
  | 'exists'
  | 'conflict'
  | 'stale-term';

export interface Refusal {
  ok: false;
  code: RefusalCode;
  /** The object field the refusal is about (e.g. `spec.clusterIP`), when there is one. */
  field?: string;
  /** The message without the field. */
  message: string;
  /** `field: message`, for logs and errors. */
  reason: string;
}

export type FsmResult =
  | Refusal
  | { ok: true; cidr: string }
  | { ok: true; ip: string }
  | { ok: true; port: number }
  | { ok: true; version: number }
  | { ok: true; released: string[] }
  | { ok: true; existed: boolean }
  | { ok: true };

const PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;
export type PortProtocol = (typeof PROTOCOLS)[number];

// Commands. Every command may carry the proposer's leader term: a command from
// a deposed leader (term below the recorded one) is refused, so a leader that
// lost its lease cannot allocate through a forwarded proposal.
const term = z.number().int().nonnegative().optional();
const name = z.string().min(1).max(253);
const uid = z.string().min(1).max(128);

const commandSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('allocate-pod-cidr'), term, node: name }),
  z.object({ type: z.literal('release-pod-cidr'), term, node: name }),
  z.object({
    type: z.literal('allocate-cluster-ip'),
    term,
    service: z.string().regex(/^[^/]+\/[^/]+$/, 'must be "namespace/name"'),
    uid,
    requested: z.string().optional(),
  }),
  z.object({ type: z.literal('release-cluster-ip'), term, uid }),
  z.object({
    type: z.literal('allocate-node-port'),
    term,
    uid,
    /** Which of the service's ports this is (e.g. `TCP/80`): the allocation is idempotent per (uid, key). */
    key: z.string().min(1).max(128),
    protocol: z.enum(PROTOCOLS),
    requested: z.number().int().optional(),
    /** The field to name in a refusal, e.g. `spec.ports[1].nodePort`. */
    field: z.string().max(128).optional(),
  }),
  /** Releases the uid's ports, all of them or all but `except` (the keys still in use). */
  z.object({ type: z.literal('release-node-ports'), term, uid, except: z.array(z.string()).optional() }),
  z.object({ type: z.literal('allocate-lb-ip'), term, uid, requested: z.string().optional() }),
  z.object({ type: z.literal('release-lb-ip'), term, uid }),
  z.object({ type: z.literal('assign-lb-announcer'), term, uid, node: name }),
  z.object({
    type: z.literal('put-secret'),
    term,
    namespace: name,
    name,
    uid,
    /** The Secret's `type` (`type` itself is the command's discriminator). */
    secretType: z.string().max(253).optional(),
    sealed: z.string().regex(SEALED_FORMAT, 'must be sealed data (v1:<nonce>:<ciphertext>)'),
    /** 0: the secret must not exist (create); n: it must exist with this uid at version n (update). */
    expectedVersion: z.number().int().nonnegative().optional(),
  }),
  z.object({ type: z.literal('delete-secret'), term, namespace: name, name, uid: uid.optional() }),
  z.object({ type: z.literal('record-leader'), term: z.number().int().nonnegative(), node: name }),
  /** Changes nothing: `mesh` measures commit latency with it. */
  z.object({ type: z.literal('noop'), term }),
]);

export type ClusterCommand = z.infer<typeof commandSchema>;

/** A Secret's entry: everything but the plain values. */
export interface SealedSecret {
  namespace: string;
  name: string;
  uid: string;
  type: string;
  /** The data map (base64 values, stringData folded in) as JSON, sealed. */
  sealed: string;
  /** Bumped by every put: optimistic concurrency for writers on different agents. */
  version: number;
}

export interface ClusterAllocations {
  podCidrs: { node: string; cidr: string }[];
  clusterIps: { uid: string; service: string; ip: string }[];
  nodePorts: { uid: string; key: string; protocol: PortProtocol; port: number }[];
  lbIps: { uid: string; ip: string; announcer?: string }[];
}

export interface ClusterFsm extends StateMachine {
  apply(command: string, meta?: { index: number; term: number }): FsmResult;
  podCidrOf(node: string): string | undefined;
  clusterIpOf(uid: string): string | undefined;
  nodePortsOf(uid: string): { key: string; protocol: PortProtocol; port: number }[];
  lbIpOf(uid: string): string | undefined;
  lbAnnouncerOf(uid: string): string | undefined;
  /** Everything allocated, sorted (for `mesh status` and tests). */
  allocations(): ClusterAllocations;
  secret(namespace: string, name: string): SealedSecret | undefined;
  /** Sealed entries, of one namespace or all, sorted by namespace/name. */
  secrets(namespace?: string): SealedSecret[];
  /** The highest term a leader recorded itself in (0 before any). */
  currentLeaderTerm(): number;
  currentLeader(): { term: number; node: string } | undefined;
}

/** Version of snapshot(); restore() refuses others. */
export const SNAPSHOT_VERSION = 1;

const snapshotSchema = z.object({
  v: z.literal(SNAPSHOT_VERSION),
  leader: z.object({ term: z.number().int().nonnegative(), node: z.string() }).nullable(),
  cursors: z.object({ podCidr: z.number().int(), clusterIp: z.number().int(), nodePort: z.number().int(), lbIp: z.number().int() }),
  podCidrs: z.array(z.object({ node: z.string(), cidr: z.string() })),
  clusterIps: z.array(z.object({ uid: z.string(), service: z.string(), ip: z.string() })),
  nodePorts: z.array(z.object({ uid: z.string(), key: z.string(), protocol: z.enum(PROTOCOLS), port: z.number().int() })),
  lbIps: z.array(z.object({ uid: z.string(), ip: z.string(), announcer: z.string().optional() })),
  secrets: z.array(
    z.object({
      namespace: z.string(),
      name: z.string(),
      uid: z.string(),
      type: z.string(),
      sealed: z.string(),
      version: z.number().int().positive(),
    }),
  ),
});

interface State {
  leader: { term: number; node: string } | undefined;
  cursors: { podCidr: number; clusterIp: number; nodePort: number; lbIp: number };
  /** node -> network address of its block; and the reverse. */
  podCidrs: Map<string, number>;
  podCidrOwner: Map<number, string>;
  clusterIps: Map<string, { service: string; ip: number }>;
  clusterIpOwner: Map<number, string>;
  nodePorts: Map<string, Map<string, { protocol: PortProtocol; port: number }>>;
  nodePortOwner: Map<number, string>;
  lbIps: Map<string, { ip: number; announcer?: string }>;
  lbIpOwner: Map<number, string>;
  secrets: Map<string, SealedSecret>;
}

function emptyState(): State {
  return {
    leader: undefined,
    cursors: { podCidr: 0, clusterIp: 0, nodePort: 0, lbIp: 0 },
    podCidrs: new Map(),
    podCidrOwner: new Map(),
    clusterIps: new Map(),
    clusterIpOwner: new Map(),
    nodePorts: new Map(),
    nodePortOwner: new Map(),
    lbIps: new Map(),
    lbIpOwner: new Map(),
    secrets: new Map(),
  };
}

function refuse(code: RefusalCode, message: string, field?: string): Refusal {
  return { ok: false, code, field, message, reason: field ? `${field}: ${message}` : message };
}

/**
 * The first slot in [0, count) at or after `cursor` (wrapping) that isFree
 * accepts; undefined when none does.
 */
function nextFree(cursor: number, count: number, isFree: (slot: number) => boolean): number | undefined {
  for (let i = 0; i < count; i++) {
    const slot = (((cursor + i) % count) + count) % count;
    if (isFree(slot)) return slot;
  }
  return undefined;
}

function secretKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

function byText<T>(key: (t: T) => string): (a: T, b: T) => number {
  return (a, b) => {
    const ka = key(a);
    const kb = key(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  };
}

export function createClusterFsm(opts: ClusterFsmOptions = {}): ClusterFsm {
  const podNet = parseCidr(opts.podCidr ?? DEFAULT_POD_CIDR);
  const podPrefix = opts.podCidrPrefix ?? DEFAULT_POD_CIDR_PREFIX;
  if (!Number.isInteger(podPrefix) || podPrefix < (podNet.prefix ?? 0) || podPrefix > 30) {
    throw new Error(`podCidrPrefix /${podPrefix} must lie between the pod network's /${podNet.prefix} and /30`);
  }
  const podBlockSize = 2 ** (32 - podPrefix);
  const podBlocks = podNet.size / podBlockSize;
  const serviceNet = parseCidr(opts.serviceCidr ?? DEFAULT_SERVICE_CIDR);
  if (serviceNet.size < 4) throw new Error(`the service range ${serviceNet.text} is too small (at least a /30)`);
  const ports = opts.nodePortRange ?? DEFAULT_NODE_PORT_RANGE;
  if (!Number.isInteger(ports.min) || !Number.isInteger(ports.max) || ports.min < 1 || ports.max > 65535 || ports.max < ports.min) {
    throw new Error(`the NodePort range ${ports.min}-${ports.max} is not a range of ports`);
  }
  const lbPool = lbPoolFrom(opts.lbPool);

  let s = emptyState();

  // ---- pod CIDRs ------------------------------------------------------------

  function allocatePodCidr(node: string): FsmResult {
    const have = s.podCidrs.get(node);
    if (have !== undefined) return { ok: true, cidr: formatCidr(have, podPrefix) };
    const slot = nextFree(s.cursors.podCidr, podBlocks, (i) => !s.podCidrOwner.has(podNet.start + i * podBlockSize));
    if (slot === undefined) {
      return refuse('exhausted', `no pod CIDR left: all ${podBlocks} /${podPrefix} blocks of ${podNet.text} are allocated`, 'spec.podCIDR');
    }
    const net = podNet.start + slot * podBlockSize;
    s.podCidrs.set(node, net);
    s.podCidrOwner.set(net, node);
    s.cursors.podCidr = (slot + 1) % podBlocks;
    return { ok: true, cidr: formatCidr(net, podPrefix) };
  }

  function releasePodCidr(node: string): FsmResult {
    const have = s.podCidrs.get(node);
    if (have === undefined) return { ok: true, released: [] };
    s.podCidrs.delete(node);
    s.podCidrOwner.delete(have);
    return { ok: true, released: [formatCidr(have, podPrefix)] };
  }

  // ---- ClusterIPs -------------------------------------------------------------

  const CLUSTER_IP = 'spec.clusterIP';
  const firstServiceIp = serviceNet.start + 1;
  const lastServiceIp = serviceNet.start + serviceNet.size - 2;

  function allocateClusterIp(service: string, id: string, requested: string | undefined): FsmResult {
    const have = s.clusterIps.get(id);
    if (requested !== undefined && requested !== '') {
      const ip = parseIpv4(requested);
      if (ip === undefined) {
        const v6 = requested.includes(':');
        return refuse(
          v6 ? 'unsupported' : 'malformed',
          v6 ? `Invalid value: "${requested}": IPv6 is not supported; Mesh services are IPv4 only` : `Invalid value: "${requested}": must be a valid IPv4 address`,
          CLUSTER_IP,
        );
      }
      if (have) {
        if (have.ip === ip) return { ok: true, ip: requested };
        return refuse('immutable', `Invalid value: "${requested}": field is immutable (the service has ${formatIpv4(have.ip)})`, CLUSTER_IP);
      }
      if (ip < firstServiceIp || ip > lastServiceIp) {
        return refuse(
          'out-of-range',
          `Invalid value: "${requested}": failed to allocate IP ${requested}: the provided IP (${requested}) is not in the valid range. The range of valid IPs is ${serviceNet.text}`,
          CLUSTER_IP,
        );
      }
      if (ip === firstServiceIp && service !== KUBERNETES_SERVICE) {
        return refuse('reserved', `Invalid value: "${requested}": failed to allocate IP ${requested}: reserved for the ${KUBERNETES_SERVICE} service`, CLUSTER_IP);
      }
      const owner = s.clusterIpOwner.get(ip);
      if (owner !== undefined && owner !== id) {
        return refuse('taken', `Invalid value: "${requested}": failed to allocate IP ${requested}: provided IP is already allocated`, CLUSTER_IP);
      }
      s.clusterIps.set(id, { service, ip });
      s.clusterIpOwner.set(ip, id);
      return { ok: true, ip: requested };
    }
    if (have) return { ok: true, ip: formatIpv4(have.ip) };
    // Slots are offsets from the second address; slot 0 (.1) is never given dynamically.
    const count = lastServiceIp - firstServiceIp + 1;
    const slot = nextFree(s.cursors.clusterIp, count, (i) => i !== 0 && !s.clusterIpOwner.has(firstServiceIp + i));
    if (slot === undefined) return refuse('exhausted', `failed to allocate a ClusterIP: the range ${serviceNet.text} is full`, CLUSTER_IP);
    const ip = firstServiceIp + slot;
    s.clusterIps.set(id, { service, ip });
    s.clusterIpOwner.set(ip, id);
    s.cursors.clusterIp = (slot + 1) % count;
    return { ok: true, ip: formatIpv4(ip) };
  }

  function releaseClusterIp(id: string): FsmResult {
    const have = s.clusterIps.get(id);
    if (!have) return { ok: true, released: [] };
    s.clusterIps.delete(id);
    s.clusterIpOwner.delete(have.ip);
    return { ok: true, released: [formatIpv4(have.ip)] };
  }

  // ---- NodePorts ----------------------------------------------------------------

  // A port number belongs to one service. Within it, two of its ports may share
  // a number only with different protocols (DNS on TCP and UDP), as in Kubernetes.
  function allocateNodePort(c: Extract<ClusterCommand, { type: 'allocate-node-port' }>): FsmResult {
    const field = c.field ?? 'spec.ports[0].nodePort';
    const mine = s.nodePorts.get(c.uid) ?? new Map<string, { protocol: PortProtocol; port: number }>();
    const have = mine.get(c.key);
    const clashesWithinService = (port: number) =>
      [...mine].some(([k, p]) => k !== c.key && p.port === port && p.protocol === c.protocol);
    let port: number;
    if (c.requested !== undefined && c.requested !== 0) {
      const want = c.requested;
      if (want < ports.min || want > ports.max) {
        return refuse(
          'out-of-range',
          `Invalid value: ${want}: provided port is not in the valid range. The range of valid ports is ${ports.min}-${ports.max}`,
          field,
        );
      }
      const owner = s.nodePortOwner.get(want);
      if ((owner !== undefined && owner !== c.uid) || clashesWithinService(want)) {
        return refuse('taken', `Invalid value: ${want}: provided port is already allocated`, field);
      }
      port = want;
    } else if (have && !clashesWithinService(have.port)) {
      port = have.port;
    } else {
      // New, or its protocol changed onto a number another of its ports uses for that protocol.
      const count = ports.max - ports.min + 1;
      const slot = nextFree(s.cursors.nodePort, count, (i) => !s.nodePortOwner.has(ports.min + i));
      if (slot === undefined) return refuse('exhausted', `failed to allocate a node port: the range ${ports.min}-${ports.max} is full`, field);
      port = ports.min + slot;
      s.cursors.nodePort = (slot + 1) % count;
    }
    mine.set(c.key, { protocol: c.protocol, port });
    s.nodePorts.set(c.uid, mine);
    s.nodePortOwner.set(port, c.uid);
    if (have && have.port !== port) freePortIfUnused(c.uid, have.port);
    return { ok: true, port };
  }

  function freePortIfUnused(id: string, port: number): void {
    const mine = s.nodePorts.get(id);
    if (mine && [...mine.values()].some((p) => p.port === port)) return;
    if (s.nodePortOwner.get(port) === id) s.nodePortOwner.delete(port);
  }

  function releaseNodePorts(id: string, except: string[] | undefined): FsmResult {
    const mine = s.nodePorts.get(id);
    if (!mine) return { ok: true, released: [] };
    const keep = new Set(except ?? []);
    const released: string[] = [];
    for (const [k, p] of [...mine]) {
      if (keep.has(k)) continue;
      mine.delete(k);
      freePortIfUnused(id, p.port);
      released.push(`${p.protocol}/${p.port}`);
    }
    if (mine.size === 0) s.nodePorts.delete(id);
    return { ok: true, released: released.sort() };
  }

  // ---- LoadBalancer IPs -----------------------------------------------------------

  const LB_IP = 'spec.loadBalancerIP';

  function allocateLbIp(id: string, requested: string | undefined): FsmResult {
    const have = s.lbIps.get(id);
    if (!lbPool) {
      if (have) return { ok: true, ip: formatIpv4(have.ip) };
      return refuse('exhausted', 'no LoadBalancer IP pool is configured (set one with `mesh init --lb-pool`)', LB_IP);
    }
    if (requested !== undefined && requested !== '') {
      const ip = parseIpv4(requested);
      if (ip === undefined) return refuse('malformed', `Invalid value: "${requested}": must be a valid IPv4 address`, LB_IP);
      if (have?.ip === ip) return { ok: true, ip: requested };
      if (!inRange(lbPool.usable, ip)) {
        return refuse('out-of-range', `Invalid value: "${requested}": not in the LoadBalancer pool ${lbPool.range.text}`, LB_IP);
      }
      const owner = s.lbIpOwner.get(ip);
      if (owner !== undefined && owner !== id) return refuse('taken', `Invalid value: "${requested}": provided IP is already allocated`, LB_IP);
      // spec.loadBalancerIP may change: the service moves to the new address.
      if (have) s.lbIpOwner.delete(have.ip);
      s.lbIps.set(id, { ip, announcer: have?.announcer });
      s.lbIpOwner.set(ip, id);
      return { ok: true, ip: requested };
    }
    if (have) return { ok: true, ip: formatIpv4(have.ip) };
    const { start, size } = lbPool.usable;
    const slot = nextFree(s.cursors.lbIp, size, (i) => !s.lbIpOwner.has(start + i));
    if (slot === undefined) return refuse('exhausted', `failed to allocate a LoadBalancer IP: the pool ${lbPool.range.text} is full`, LB_IP);
    const ip = start + slot;
    s.lbIps.set(id, { ip });
    s.lbIpOwner.set(ip, id);
    s.cursors.lbIp = (slot + 1) % size;
    return { ok: true, ip: formatIpv4(ip) };
  }

  function releaseLbIp(id: string): FsmResult {
    const have = s.lbIps.get(id);
    if (!have) return { ok: true, released: [] };
    s.lbIps.delete(id);
    s.lbIpOwner.delete(have.ip);
    return { ok: true, released: [formatIpv4(have.ip)] };
  }

  function assignLbAnnouncer(id: string, node: string): FsmResult {
    const have = s.lbIps.get(id);
    if (!have) return refuse('not-found', `service ${id} has no LoadBalancer IP to announce`);
    have.announcer = node;
    return { ok: true };
  }

  // ---- Secrets --------------------------------------------------------------------

  function putSecret(c: Extract<ClusterCommand, { type: 'put-secret' }>): FsmResult {
    const k = secretKey(c.namespace, c.name);
    const have = s.secrets.get(k);
    if (c.expectedVersion === 0 && have) {
      return refuse('exists', `secrets "${c.name}" already exists in namespace ${c.namespace}`);
    }
    if (c.expectedVersion !== undefined && c.expectedVersion > 0) {
      if (!have) return refuse('not-found', `secrets "${c.name}" not found in namespace ${c.namespace}`);
      if (have.uid !== c.uid || have.version !== c.expectedVersion) {
        return refuse(
          'conflict',
          `secrets "${c.name}": the object has been modified (version ${have.version}, uid ${have.uid}); please apply your changes to the latest version and try again`,
        );
      }
    }
    const version = (have?.version ?? 0) + 1;
    s.secrets.set(k, { namespace: c.namespace, name: c.name, uid: c.uid, type: c.secretType ?? 'Opaque', sealed: c.sealed, version });
    return { ok: true, version };
  }

  function deleteSecret(namespace: string, name: string, id: string | undefined): FsmResult {
    const k = secretKey(namespace, name);
    const have = s.secrets.get(k);
    if (!have) return { ok: true, existed: false };
    if (id !== undefined && have.uid !== id) {
      return refuse('conflict', `secrets "${name}": uid ${id} does not match the stored secret's uid ${have.uid}`);
    }
    s.secrets.delete(k);
    return { ok: true, existed: true };
  }

  // ---- leader fence ---------------------------------------------------------------

  function recordLeader(t: number, node: string): FsmResult {
    const cur = s.leader;
    if (cur && t < cur.term) return refuse('stale-term', `term ${t} is older than the recorded leader's term ${cur.term} (${cur.node})`);
    if (cur && t === cur.term && cur.node !== node) {
      return refuse('conflict', `term ${t} already has leader ${cur.node}; ${node} cannot also lead it`);
    }
    s.leader = { term: t, node };
    return { ok: true };
  }

  // ---- apply ----------------------------------------------------------------------

  function parse(command: string): ClusterCommand | Refusal {
    let raw: unknown;
    try {
      raw = JSON.parse(command);
    } catch {
      return refuse('malformed', 'the command is not JSON');
    }
    const parsed = commandSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const path = issue?.path.map(String).join('.') || '(root)';
      return refuse('malformed', `malformed command: ${path}: ${issue?.message ?? 'invalid'}`);
    }
    return parsed.data;
  }

  function apply(command: string): FsmResult {
    const c = parse(command);
    if ('ok' in c) return c;
    if (c.type !== 'record-leader' && c.term !== undefined && s.leader && c.term < s.leader.term) {
      return refuse('stale-term', `proposed by the leader of term ${c.term}; ${s.leader.node} leads term ${s.leader.term}`);
    }
    switch (c.type) {
      case 'allocate-pod-cidr':
        return allocatePodCidr(c.node);
      case 'release-pod-cidr':
        return releasePodCidr(c.node);
      case 'allocate-cluster-ip':
        return allocateClusterIp(c.service, c.uid, c.requested);
      case 'release-cluster-ip':
        return releaseClusterIp(c.uid);
      case 'allocate-node-port':
        return allocateNodePort(c);
      case 'release-node-ports':
        return releaseNodePorts(c.uid, c.except);
      case 'allocate-lb-ip':
        return allocateLbIp(c.uid, c.requested);
      case 'release-lb-ip':
        return releaseLbIp(c.uid);
      case 'assign-lb-announcer':
        return assignLbAnnouncer(c.uid, c.node);
      case 'put-secret':
        return putSecret(c);
      case 'delete-secret':
        return deleteSecret(c.namespace, c.name, c.uid);
      case 'record-leader':
        return recordLeader(c.term, c.node);
      case 'noop':
        return { ok: true };
    }
  }

  // ---- reads ----------------------------------------------------------------------

  function allocations(): ClusterAllocations {
    return {
      podCidrs: [...s.podCidrs].map(([node, net]) => ({ node, cidr: formatCidr(net, podPrefix) })).sort(byText((x) => x.node)),
      clusterIps: [...s.clusterIps].map(([id, a]) => ({ uid: id, service: a.service, ip: formatIpv4(a.ip) })).sort(byText((x) => x.uid)),
      nodePorts: [...s.nodePorts]
        .flatMap(([id, m]) => [...m].map(([key, p]) => ({ uid: id, key, protocol: p.protocol, port: p.port })))
        .sort(byText((x) => `${x.uid}\u0000${x.key}`)),
      lbIps: [...s.lbIps]
        .map(([id, a]) => (a.announcer === undefined ? { uid: id, ip: formatIpv4(a.ip) } : { uid: id, ip: formatIpv4(a.ip), announcer: a.announcer }))
        .sort(byText((x) => x.uid)),
    };
  }

  function sortedSecrets(namespace?: string): SealedSecret[] {
    return [...s.secrets.values()]
      .filter((x) => namespace === undefined || x.namespace === namespace)
      .sort(byText((x) => secretKey(x.namespace, x.name)))
      .map((x) => ({ ...x }));
  }

  function snapshot(): string {
    return JSON.stringify({
      v: SNAPSHOT_VERSION,
      leader: s.leader ?? null,
      cursors: s.cursors,
      ...allocations(),
      secrets: sortedSecrets(),
    });
  }

  function restore(data: string): void {
    let raw: unknown;
    try {
      raw = JSON.parse(data);
    } catch {
      throw new Error('cluster state snapshot is not JSON');
    }
    const version = (raw as { v?: unknown } | null)?.v;
    if (version !== SNAPSHOT_VERSION) throw new Error(`cluster state snapshot version ${String(version)} is not supported (this agent reads v${SNAPSHOT_VERSION})`);
    const parsed = snapshotSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(`cluster state snapshot is malformed: ${issue?.path.map(String).join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
    }
    const snap = parsed.data;
    // Built aside and swapped in whole: a bad snapshot leaves the state as it was.
    const next = emptyState();
    next.leader = snap.leader ?? undefined;
    next.cursors = { ...snap.cursors };
    const ip = (text: string, what: string) => {
      const n = parseIpv4(text);
      if (n === undefined) throw new Error(`cluster state snapshot: ${what} "${text}" is not an IPv4 address`);
      return n;
    };
    for (const p of snap.podCidrs) {
      const net = ip(p.cidr.split('/')[0] ?? '', 'pod CIDR');
      next.podCidrs.set(p.node, net);
      next.podCidrOwner.set(net, p.node);
    }
    for (const c of snap.clusterIps) {
      const n = ip(c.ip, 'ClusterIP');
      next.clusterIps.set(c.uid, { service: c.service, ip: n });
      next.clusterIpOwner.set(n, c.uid);
    }
    for (const p of snap.nodePorts) {
      const m = next.nodePorts.get(p.uid) ?? new Map();
      m.set(p.key, { protocol: p.protocol, port: p.port });
      next.nodePorts.set(p.uid, m);
      next.nodePortOwner.set(p.port, p.uid);
    }
    for (const l of snap.lbIps) {
      const n = ip(l.ip, 'LoadBalancer IP');
      next.lbIps.set(l.uid, l.announcer === undefined ? { ip: n } : { ip: n, announcer: l.announcer });
      next.lbIpOwner.set(n, l.uid);
    }
    for (const x of snap.secrets) next.secrets.set(secretKey(x.namespace, x.name), { ...x });
    s = next;
  }

  return {
    apply,
    snapshot,
    restore,
    podCidrOf: (node) => {
      const net = s.podCidrs.get(node);
      return net === undefined ? undefined : formatCidr(net, podPrefix);
    },
    clusterIpOf: (id) => {
      const a = s.clusterIps.get(id);
      return a ? formatIpv4(a.ip) : undefined;
    },
    nodePortsOf: (id) =>
      [...(s.nodePorts.get(id) ?? new Map<string, { protocol: PortProtocol; port: number }>())]
        .map(([key, p]) => ({ key, protocol: p.protocol, port: p.port }))
        .sort(byText((x) => x.key)),
    lbIpOf: (id) => {
      const a = s.lbIps.get(id);
      return a ? formatIpv4(a.ip) : undefined;
    },
    lbAnnouncerOf: (id) => s.lbIps.get(id)?.announcer,
    allocations,
    secret: (namespace, nm) => {
      const x = s.secrets.get(secretKey(namespace, nm));
      return x ? { ...x } : undefined;
    },
    secrets: sortedSecrets,
    currentLeaderTerm: () => s.leader?.term ?? 0,
    currentLeader: () => (s.leader ? { ...s.leader } : undefined),
  };
}

/**
 * The pool's usable addresses: a CIDR's network and broadcast addresses are
 * left out (hosts on a LAN treat them specially); a first-last range is used whole.
 */
function lbPoolFrom(text: string | undefined): { range: Ipv4Range; usable: { start: number; size: number } } | undefined {
  if (!text || !text.trim()) return undefined;
  const range = parseIpv4Range(text);
  if (range.prefix !== undefined && range.prefix <= 30) return { range, usable: { start: range.start + 1, size: range.size - 2 } };
  return { range, usable: { start: range.start, size: range.size } };
}
