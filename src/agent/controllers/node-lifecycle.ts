// Kubernetes' node-lifecycle controller, driven by the mesh's own failure
// detector instead of missed status writes:
// - marks Nodes whose agent stopped answering as not ready (Ready=Unknown),
//   within seconds; a node's own agent sets Ready=True again with its next
//   status write when it comes back;
// - taints nodes by their Ready condition, as Kubernetes does:
//   `node.kubernetes.io/unreachable` while Ready is Unknown and
//   `node.kubernetes.io/not-ready` while it is False (NoSchedule + NoExecute
//   each), removed once Ready is True again;
// - evicts the pods of a node unreachable for longer than `podEvictionGraceMs`
//   (the taint manager's NoExecute eviction): force-deleted, since their kubelet
//   cannot confirm, unless they tolerate the unreachable NoExecute taint
//   (tolerationSeconds honoured, the grace being its floor; no
//   tolerationSeconds means they stay).
//
// The pure cores are nodesToMarkUnknown(), taintsFor() and podsToEvict(); the
// shell runs them on the Raft leader whenever membership changes or its timer
// ticks.
import type { ObjectClient } from '../api/object-client.ts';
import type { KubeObject, Pod } from '../api/object-types.ts';
import { ApiError } from '../api/errors.ts';
import { rfc3339 } from '../api/registry.ts';
import { createEventRecorder, type EventRecorder } from '../event-recorder.ts';
import type { Logger } from '../logger.ts';
import { jsonEqual } from '../store/json-equal.ts';

export type MemberLiveness = 'alive' | 'suspect' | 'dead' | 'left';

export interface MemberView {
  nodeName: string;
  status: MemberLiveness;
  /** When this agent last heard the member's heartbeat (ms since the epoch), if ever. */
  lastSeen?: number;
}

interface NodeCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastHeartbeatTime?: string;
  lastTransitionTime?: string;
}

export interface NodeTaint {
  key: string;
  value?: string;
  effect: string;
  timeAdded?: string;
}

interface NodeObject extends KubeObject {
  spec?: { taints?: NodeTaint[]; [k: string]: unknown };
  status?: { conditions?: NodeCondition[]; [k: string]: unknown };
}

interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number | null;
}

export const UNKNOWN_REASON = 'NodeStatusUnknown';
export const UNKNOWN_MESSAGE = 'Kubelet stopped posting node status.';

/** Nodes that are not known-down yet but whose agent the mesh sees as dead. */
export function nodesToMarkUnknown(nodes: NodeObject[], members: MemberView[]): NodeObject[] {
  const dead = new Set(members.filter((m) => m.status === 'dead').map((m) => m.nodeName));
  return nodes.filter((n) => {
    if (!dead.has(n.metadata.name ?? '')) return false;
    const ready = n.status?.conditions?.find((c) => c.type === 'Ready');
    return ready?.status !== 'Unknown';
  });
}

/** The Node with every condition set to Unknown, as Kubernetes reports an unreachable node. */
export function withUnknownConditions(node: NodeObject, now: Date): NodeObject {
  const ts = now.toISOString().replace(/\.\d+Z$/, 'Z');
  const conditions = (node.status?.conditions ?? [{ type: 'Ready', status: 'Unknown' }]).map((c) => ({
    ...c,
    status: 'Unknown',
    reason: UNKNOWN_REASON,
    message: UNKNOWN_MESSAGE,
    lastTransitionTime: c.status === 'Unknown' ? c.lastTransitionTime : ts,
  }));
  return { ...node, status: { ...node.status, conditions } };
}

export const TAINT_UNREACHABLE = 'node.kubernetes.io/unreachable';
export const TAINT_NOT_READY = 'node.kubernetes.io/not-ready';
const MANAGED_TAINTS = new Set([TAINT_UNREACHABLE, TAINT_NOT_READY]);

function readyStatus(node: NodeObject): string | undefined {
  return node.status?.conditions?.find((c) => c.type === 'Ready')?.status;
}

/**
 * The node's taints as its Ready condition wants them: the user's taints as
 * they are, plus unreachable (Ready Unknown) or not-ready (Ready False), each
 * NoSchedule and NoExecute. A NoExecute taint keeps the timeAdded it was given.
 */
export function taintsFor(node: NodeObject, now: Date = new Date()): NodeTaint[] {
  const current = node.spec?.taints ?? [];
  const ready = readyStatus(node);
  const key = ready === 'Unknown' ? TAINT_UNREACHABLE : ready === 'False' ? TAINT_NOT_READY : undefined;
  const out = current.filter((t) => !MANAGED_TAINTS.has(t.key) || t.key === key);
  if (!key) return out;
  if (!out.some((t) => t.key === key && t.effect === 'NoSchedule')) out.push({ key, effect: 'NoSchedule' });
  if (!out.some((t) => t.key === key && t.effect === 'NoExecute')) out.push({ key, effect: 'NoExecute', timeAdded: rfc3339(now) });
  return out;
}

function tolerates(t: Toleration, taint: { key: string; value?: string; effect: string }): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.operator === 'Exists') return !t.key || t.key === taint.key;
  return t.key === taint.key && (t.value ?? '') === (taint.value ?? '');
}

/**
 * How long pod stays on an unreachable node: graceMs when it does not tolerate
 * the unreachable NoExecute taint, the shortest matching tolerationSeconds (but
 * never under graceMs) when it does, Infinity when a matching toleration has no
 * tolerationSeconds.
 */
export function evictionDelayMs(pod: Pod, graceMs: number): number {
  const matching = ((pod.spec.tolerations ?? []) as Toleration[]).filter((t) => tolerates(t, { key: TAINT_UNREACHABLE, effect: 'NoExecute' }));
  if (matching.length === 0) return graceMs;
  if (matching.some((t) => t.tolerationSeconds === undefined || t.tolerationSeconds === null)) return Infinity;
  const seconds = Math.min(...matching.map((t) => Math.max(0, t.tolerationSeconds ?? 0)));
  return Math.max(graceMs, seconds * 1000);
}

/**
 * The pods to force-delete now: bound to a node that is still not Ready and
 * has been unreachable since unreachableSince (ms) for longer than the pod's
 * eviction delay. Finished pods stay (nothing to fail over, and Jobs keep their
 * results); pods already being deleted gracefully are included, as their
 * kubelet cannot finish the deletion.
 */
export function podsToEvict(
  nodes: readonly NodeObject[],
  pods: readonly Pod[],
  unreachableSince: ReadonlyMap<string, number>,
  now: number,
  graceMs: number,
): Pod[] {
  const down = new Map<string, number>();
  for (const n of nodes) {
    const name = n.metadata.name ?? '';
    const since = unreachableSince.get(name);
    if (since !== undefined && readyStatus(n) !== 'True') down.set(name, since);
  }
  return pods.filter((p) => {
    const since = down.get(p.spec.nodeName ?? '');
    if (since === undefined) return false;
    if (p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') return false;
    return now - since >= evictionDelayMs(p, graceMs);
  });
}

export interface NodeLifecycle {
  /** Re-evaluates now; call on membership changes and on a timer. */
  reconcile(): Promise<void>;
}

export interface NodeLifecycleOptions {
  selfName: string;
  client: ObjectClient;
  /** The other members, as the mesh sees them. */
  members: () => MemberView[];
  logger: Logger;
  clock?: () => Date;
  /**
   * Whether this agent does the cluster's node-lifecycle work (the Raft leader).
   */
  isActive: () => boolean;
  /** How long a node is unreachable before its pods are evicted (default 5000 ms). */
  podEvictionGraceMs?: number;
  /** Where eviction Events go; by default Events of component `taint-eviction-controller`. */
  events?: EventRecorder;
}

export function createNodeLifecycle(opts: NodeLifecycleOptions): NodeLifecycle {
  const log = opts.logger.child({ component: 'node-lifecycle' });
  const clock = opts.clock ?? (() => new Date());
  const isActive = opts.isActive;
  const graceMs = opts.podEvictionGraceMs ?? 5000;
  const events =
    opts.events ?? createEventRecorder({ client: opts.client, source: { component: 'taint-eviction-controller', host: opts.selfName }, logger: opts.logger });
  // Since when each node is unreachable, as this agent saw it (its last heartbeat
  // here). Local on purpose: never a time another agent noted before a partition
  // or failover.
  const unreachableSince = new Map<string, number>();
  let running: Promise<void> | undefined;
  let again = false;

  /** Ready is Unknown and the agent is not heard from (dead, left, or unknown to the mesh). */
  function unreachable(node: NodeObject, members: MemberView[]): boolean {
    const name = node.metadata.name ?? '';
    if (name === opts.selfName || readyStatus(node) !== 'Unknown') return false;
    const m = members.find((x) => x.nodeName === name);
    return !m || m.status === 'dead' || m.status === 'left';
  }

  async function markUnknown(members: MemberView[]): Promise<void> {
    for (const node of nodesToMarkUnknown(opts.client.list<NodeObject>('nodes').items, members)) {
      try {
        await opts.client.updateStatus('nodes', withUnknownConditions(node, clock()));
        log.warn({ node: node.metadata.name }, 'node stopped answering: marked NotReady (Unknown)');
      } catch (err) {
        log.warn({ err, node: node.metadata.name }, 'could not mark node NotReady');
      }
    }
  }

  async function taint(nodes: NodeObject[]): Promise<void> {
    for (const node of nodes) {
      const want = taintsFor(node, clock());
      if (jsonEqual(want, node.spec?.taints ?? [])) continue;
      const spec = { ...(node.spec ?? {}) };
      if (want.length) spec.taints = want;
      else delete spec.taints;
      try {
        await opts.client.update('nodes', { ...node, spec });
        log.info({ node: node.metadata.name, taints: want.filter((t) => MANAGED_TAINTS.has(t.key)).map((t) => `${t.key}:${t.effect}`) }, 'node taints updated');
      } catch (err) {
        // Changed meanwhile (Conflict) or gone: the next pass looks again.
        log.debug({ err, node: node.metadata.name }, 'could not update node taints');
      }
    }
  }

  async function evict(nodes: NodeObject[], members: MemberView[]): Promise<void> {
    const now = clock().getTime();
    const names = new Set<string>();
    for (const n of nodes) {
      const name = n.metadata.name ?? '';
      names.add(name);
      if (!unreachable(n, members)) unreachableSince.delete(name);
      // The grace runs from this agent's own last heartbeat from the node, not from
      // when the failure detector gave up on it, so replacements start seconds sooner.
      else if (!unreachableSince.has(name)) unreachableSince.set(name, Math.min(now, members.find((m) => m.nodeName === name)?.lastSeen ?? now));
    }
    for (const name of unreachableSince.keys()) if (!names.has(name)) unreachableSince.delete(name);
    if (unreachableSince.size === 0) return;
    const pods = opts.client.list<Pod>('pods').items;
    for (const pod of podsToEvict(nodes, pods, unreachableSince, now, graceMs)) {
      const ns = pod.metadata.namespace ?? 'default';
      const name = pod.metadata.name ?? '';
      await events.normal(pod, 'TaintManagerEviction', `Marking for deletion Pod ${ns}/${name}`);
      try {
        await opts.client.delete('pods', ns, name, { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid } });
        log.warn({ pod: `${ns}/${name}`, node: pod.spec.nodeName }, 'evicted pod from unreachable node');
      } catch (err) {
        if (!(err instanceof ApiError) || (err.code !== 404 && err.code !== 409)) log.warn({ err, pod: `${ns}/${name}` }, 'could not evict pod');
      }
    }
  }

  async function pass(): Promise<void> {
    if (!isActive()) {
      unreachableSince.clear();
      return;
    }
    const members = opts.members();
    await markUnknown(members);
    await taint(opts.client.list<NodeObject>('nodes').items);
    await evict(opts.client.list<NodeObject>('nodes').items, members);
  }

  return {
    async reconcile() {
      // Coalesce bursts of membership events into at most one pending pass.
      if (running) {
        again = true;
        return running;
      }
      running = (async () => {
        do {
          again = false;
          await pass();
        } while (again);
      })().finally(() => (running = undefined));
      return running;
    },
  };
}
