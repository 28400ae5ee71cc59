// Gives Services their addresses (leader-only). The API accepts a Service
// without the Raft quorum, so a new Service has no ClusterIP yet: this
// controller allocates its ClusterIP, NodePorts and LoadBalancer IP in the
// cluster FSM (unique by construction) and copies them into the object
// (spec.clusterIP/clusterIPs, spec.ports[].nodePort, status.loadBalancer.ingress).
// Allocation is therefore asynchronous: a few milliseconds with a leader, and
// it waits while there is none.
//
// A value the FSM refuses (a requested ClusterIP another service holds, a full
// range) becomes a Warning Event on the Service and is retried later; it stays
// unallocated meanwhile. Deleted services are released by a periodic sweep: an
// allocation whose uid has been missing from the store for more than 10 s.
import type { ObjectClient } from '../api/object-client.ts';
import type { KubeObject } from '../api/object-types.ts';
import { Invalid } from '../api/errors.ts';
import type { EventRecorder } from '../event-recorder.ts';
import type { Logger } from '../logger.ts';
import { jsonEqual } from '../store/json-equal.ts';
import type { ClusterFsm } from '../../consensus/cluster-fsm.ts';
import {
  portKey,
  wantsClusterIp,
  wantsLbIp,
  wantsNodePorts,
  type ClusterAllocator,
  type ServiceAddresses,
  type ServiceObject,
} from '../../consensus/cluster-allocator.ts';
import { defineController, type Controller, type ReconcileResult } from './controller.ts';
import { DEFAULT_SWEEP_EVERY_MS, SWEEP_KEY, createOrphanTracker, createSweepSchedule, type AllocationControllerOptions } from './allocation-sweep.ts';

export const SERVICE_ALLOCATION_CONTROLLER = 'service-allocation-controller';
const DEFAULT_RETRY_REFUSED_MS = 30_000;

export interface ServiceAllocationControllerOptions extends AllocationControllerOptions {
  /** This agent's replica of the FSM, for reads. */
  fsm: Pick<ClusterFsm, 'clusterIpOf' | 'nodePortsOf' | 'lbIpOf' | 'allocations'>;
}

interface LbStatus {
  loadBalancer?: { ingress?: { ip?: string; hostname?: string; ipMode?: string }[] };
  [k: string]: unknown;
}

// ---- pure helpers ---------------------------------------------------------

/** Whether the service already carries exactly what the FSM holds for it. */
export function serviceInSync(svc: ServiceObject, fsm: ServiceAllocationControllerOptions['fsm']): boolean {
  const uid = svc.metadata.uid ?? '';
  const spec = svc.spec ?? {};
  if (wantsClusterIp(svc)) {
    const ip = fsm.clusterIpOf(uid);
    if (!ip || spec.clusterIP !== ip || !jsonEqual(spec.clusterIPs ?? [], [ip])) return false;
  } else {
    if (fsm.clusterIpOf(uid) !== undefined) return false;
    if (spec.type !== 'ExternalName' && !jsonEqual(spec.clusterIPs ?? [], ['None'])) return false;
  }
  const ports = spec.ports ?? [];
  const held = fsm.nodePortsOf(uid);
  if (wantsNodePorts(svc)) {
    if (held.length !== ports.length) return false;
    for (const p of ports) if (!held.some((h) => h.key === portKey(p) && h.port === p.nodePort)) return false;
  } else if (held.length > 0) return false;
  const lb = fsm.lbIpOf(uid);
  const ingress = ((svc.status as LbStatus | undefined)?.loadBalancer?.ingress ?? []).map((i) => i.ip);
  if (wantsLbIp(svc)) {
    if (!lb || (spec.loadBalancerIP && spec.loadBalancerIP !== lb) || !jsonEqual(ingress, [lb])) return false;
  } else if (lb !== undefined || ingress.length > 0) return false;
  return true;
}

/** The service with its allocated addresses in spec. */
export function withAddresses(svc: ServiceObject, a: ServiceAddresses): ServiceObject {
  const next = structuredClone(svc);
  const spec = (next.spec ??= {});
  if (a.clusterIP !== undefined) {
    spec.clusterIP = a.clusterIP;
    spec.clusterIPs = a.clusterIPs ?? [a.clusterIP];
  }
  for (const [i, p] of (spec.ports ?? []).entries()) {
    const port = a.nodePorts[i];
    if (port !== undefined) p.nodePort = port;
    else delete p.nodePort;
  }
  return next;
}

function withIngress(svc: KubeObject, ip: string | undefined): KubeObject {
  const status = { ...((svc.status as LbStatus | undefined) ?? {}) };
  status.loadBalancer = ip ? { ingress: [{ ip, ipMode: 'VIP' }] } : {};
  return { ...svc, status };
}

// ---- the controller --------------------------------------------------------

export function createServiceAllocationController(opts: ServiceAllocationControllerOptions): Controller {
  const { client, allocator, fsm } = opts;
  const log = opts.logger.child({ component: SERVICE_ALLOCATION_CONTROLLER });
  const now = opts.now ?? Date.now;
  const orphans = createOrphanTracker(opts.releaseAfterMs);
  const schedule = createSweepSchedule(opts.sweepEveryMs ?? DEFAULT_SWEEP_EVERY_MS, now);
  const retryRefusedMs = opts.retryRefusedMs ?? DEFAULT_RETRY_REFUSED_MS;

  async function sweep(): Promise<void> {
    const alive = new Set(client.list('services').items.map((s) => s.metadata.uid));
    const a = fsm.allocations();
    const allocated = [...a.clusterIps.map((x) => x.uid), ...a.nodePorts.map((x) => x.uid), ...a.lbIps.map((x) => x.uid)];
    for (const uid of orphans.due(allocated, (u) => alive.has(u), now())) await allocator.releaseService(uid);
  }

  async function reconcile(key: string): Promise<ReconcileResult | void> {
    if (key === SWEEP_KEY) {
      if (!schedule.due()) return; // an extra trigger; the scheduled chain carries on
      await sweep();
      schedule.ran();
      return { requeueAfterMs: schedule.everyMs };
    }
    const slash = key.indexOf('/');
    const svc = client.get<ServiceObject>('services', key.slice(0, slash), key.slice(slash + 1));
    if (!svc?.metadata.uid || svc.metadata.deletionTimestamp) return;
    if (serviceInSync(svc, fsm)) return;
    let addrs: ServiceAddresses;
    try {
      addrs = await allocator.allocateServiceAddresses(svc);
    } catch (err) {
      if (!(err instanceof Invalid)) throw err;
      log.info({ service: key, reason: err.message }, 'address allocation refused');
      await opts.events?.warning(svc, 'AllocationFailed', err.message);
      return { requeueAfterMs: retryRefusedMs };
    }
    let current: KubeObject = svc;
    const next = withAddresses(svc, addrs);
    if (!jsonEqual(next.spec, svc.spec)) {
      current = await client.update('services', next);
      log.info({ service: key, clusterIP: addrs.clusterIP, nodePorts: addrs.nodePorts.filter((p) => p !== undefined) }, 'addresses allocated');
    }
    const ingressNow = ((current.status as LbStatus | undefined)?.loadBalancer?.ingress ?? []).map((i) => i.ip);
    const ingressWanted = addrs.loadBalancerIP ? [addrs.loadBalancerIP] : [];
    if (!jsonEqual(ingressNow, ingressWanted)) await client.updateStatus('services', withIngress(current, addrs.loadBalancerIP));
  }

  return defineController({
    name: SERVICE_ALLOCATION_CONTROLLER,
    watches: [
      {
        resource: 'services',
        toKeys: (e) => (e.type === 'DELETED' ? [] : [`${e.object.metadata.namespace ?? 'default'}/${e.object.metadata.name}`]),
      },
      // The default namespaces always exist: their resync at start starts the sweep even with no services.
      { resource: 'namespaces', toKeys: (e) => (e.resync ? [SWEEP_KEY] : []) },
    ],
    reconcile,
    onStart() {
      orphans.reset();
      schedule.reset();
    },
  });
}
