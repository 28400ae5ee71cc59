// Picks the node that announces each LoadBalancer IP (leader-only; DESIGN.md
// §4): one healthy node per LoadBalancer Service, the least loaded when a new
// one is needed, kept while it stays healthy and moved when it is not. The
// choice is recorded in the cluster FSM (the nodes' announcers read it from
// their replica) and on the Service as the annotation `mesh.dev/lb-announcer`,
// so users see it.
import type { ObjectClient } from '../api/object-client.ts';
import type { KubeObject } from '../api/object-types.ts';
import type { EventRecorder } from '../event-recorder.ts';
import type { Logger } from '../logger.ts';
import type { ClusterFsm } from '../../consensus/cluster-fsm.ts';
import type { ClusterAllocator } from '../../consensus/cluster-allocator.ts';
import { LB_ANNOUNCER_ANNOTATION } from '../proxy/lb-announce-plan.ts';
import { defineController, type Controller, type ControllerEvent } from './controller.ts';

export const LB_ANNOUNCER_CONTROLLER = 'lb-announcer-controller';
export { LB_ANNOUNCER_ANNOTATION };

/** Nodes with this label never announce (as Kubernetes' service controller excludes them). */
export const EXCLUDE_LB_LABEL = 'node.kubernetes.io/exclude-from-external-load-balancers';
const UNHEALTHY_TAINTS = ['node.kubernetes.io/unreachable', 'node.kubernetes.io/not-ready'];

export interface LbAnnouncerControllerOptions {
  /** The leader's (fenced) client. */
  client: ObjectClient;
  allocator: Pick<ClusterAllocator, 'assignLbAnnouncer'>;
  fsm: Pick<ClusterFsm, 'lbIpOf' | 'lbAnnouncerOf' | 'allocations'>;
  logger: Logger;
  events?: EventRecorder;
}

interface NodeShape extends KubeObject {
  spec?: { taints?: { key: string; effect?: string }[]; [k: string]: unknown };
  status?: { conditions?: { type: string; status: string }[]; [k: string]: unknown };
}

// ---- pure core ----------------------------------------------------------------

/** Ready=True, not being deleted, not tainted unreachable/not-ready, not excluded. */
export function isHealthyAnnouncer(node: KubeObject): boolean {
  const n = node as NodeShape;
  if (n.metadata.deletionTimestamp) return false;
  if (n.metadata.labels?.[EXCLUDE_LB_LABEL] !== undefined) return false;
  if (n.status?.conditions?.find((c) => c.type === 'Ready')?.status !== 'True') return false;
  return !(n.spec?.taints ?? []).some((t) => UNHEALTHY_TAINTS.includes(t.key));
}

export interface AnnouncerChoice {
  /** The service's announcer now, if any. */
  current?: string;
  /** Names of the nodes that may announce. */
  healthy: readonly string[];
  /** How many other services each node announces. */
  load: ReadonlyMap<string, number>;
}

/**
 * The current announcer while it is healthy (an IP that moves breaks
 * connections); otherwise the healthy node announcing the fewest services,
 * the first by name among equals. undefined when no node is healthy.
 */
export function chooseAnnouncer(c: AnnouncerChoice): string | undefined {
  if (c.current !== undefined && c.healthy.includes(c.current)) return c.current;
  let best: string | undefined;
  let bestLoad = Infinity;
  for (const n of [...c.healthy].sort()) {
    const l = c.load.get(n) ?? 0;
    if (l < bestLoad) {
      best = n;
      bestLoad = l;
    }
  }
  return best;
}

/** Services per announcing node, leaving out `except` (the service being placed). */
export function announcerLoad(lbIps: readonly { uid: string; announcer?: string }[], except: string): Map<string, number> {
  const load = new Map<string, number>();
  for (const l of lbIps) if (l.announcer && l.uid !== except) load.set(l.announcer, (load.get(l.announcer) ?? 0) + 1);
  return load;
}

// ---- the controller --------------------------------------------------------------

function serviceKey(o: KubeObject): string {
  return `${o.metadata.namespace ?? 'default'}/${o.metadata.name}`;
}

function withAnnotation(svc: KubeObject, node: string | undefined): KubeObject {
  const annotations = { ...(svc.metadata.annotations ?? {}) };
  if (node === undefined) delete annotations[LB_ANNOUNCER_ANNOTATION];
  else annotations[LB_ANNOUNCER_ANNOTATION] = node;
  return { ...svc, metadata: { ...svc.metadata, annotations } };
}

export function createLbAnnouncerController(opts: LbAnnouncerControllerOptions): Controller {
  const { client, allocator, fsm } = opts;
  const log = opts.logger.child({ component: LB_ANNOUNCER_CONTROLLER });
  // Each node's health as last seen: only a change of it moves services.
  const health = new Map<string, boolean>();

  function lbServiceKeys(): string[] {
    return client
      .list('services')
      .items.filter((s) => (s as { spec?: { type?: string } }).spec?.type === 'LoadBalancer')
      .map(serviceKey);
  }

  function nodeKeys(e: ControllerEvent): string[] {
    const name = e.object.metadata.name ?? '';
    const was = health.get(name);
    const now = e.type === 'DELETED' ? undefined : isHealthyAnnouncer(e.object);
    if (now === undefined) health.delete(name);
    else health.set(name, now);
    // A resync replays every service too; a node seen first there changes nothing yet.
    if (e.resync || was === now || (was === undefined && now === false)) return [];
    return lbServiceKeys();
  }

  async function reconcile(key: string): Promise<void> {
    const slash = key.indexOf('/');
    const svc = client.get('services', key.slice(0, slash), key.slice(slash + 1));
    if (!svc?.metadata.uid || svc.metadata.deletionTimestamp) return;
    const uid = svc.metadata.uid;
    const annotated = svc.metadata.annotations?.[LB_ANNOUNCER_ANNOTATION];
    const isLb = (svc as { spec?: { type?: string } }).spec?.type === 'LoadBalancer';
    if (!isLb || !fsm.lbIpOf(uid)) {
      // Not (or not yet) a LoadBalancer with an IP: nothing is announced for it.
      if (annotated !== undefined) await client.update('services', withAnnotation(svc, undefined));
      return;
    }
    const current = fsm.lbAnnouncerOf(uid);
    const healthy = client.list('nodes').items.filter(isHealthyAnnouncer).map((n) => n.metadata.name ?? '');
    const chosen = chooseAnnouncer({ current, healthy, load: announcerLoad(fsm.allocations().lbIps, uid) });
    if (chosen !== undefined && chosen !== current) {
      await allocator.assignLbAnnouncer(uid, chosen);
      log.info({ service: key, from: current, to: chosen }, 'LoadBalancer announcer assigned');
      await opts.events?.normal(svc, 'AnnouncerAssigned', current ? `LoadBalancer IP moved from node ${current} to ${chosen}` : `LoadBalancer IP announced by node ${chosen}`);
    } else if (chosen === undefined && current !== undefined) {
      log.warn({ service: key, announcer: current }, 'no healthy node can announce this LoadBalancer IP; keeping the current one');
    }
    const announcer = chosen ?? current;
    if (annotated !== announcer) await client.update('services', withAnnotation(svc, announcer));
  }

  return defineController({
    name: LB_ANNOUNCER_CONTROLLER,
    watches: [
      { resource: 'services', toKeys: (e) => (e.type === 'DELETED' ? [] : [serviceKey(e.object)]) },
      { resource: 'nodes', toKeys: nodeKeys },
    ],
    reconcile,
    onStart() {
      health.clear();
    },
  });
}
