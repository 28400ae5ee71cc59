// The DaemonSet controller, with Kubernetes' semantics:
// - one pod per eligible node (daemonset-placement.ts decides eligibility with
//   the scheduler's predicates); each pod is pinned to its node by a required
//   matchFields affinity, so the scheduler binds it there;
// - pods on nodes no longer eligible (an untolerated NoExecute taint, a
//   selector that stopped matching) or gone are deleted, and so are extras on
//   a node (the oldest stays) and finished pods (replaced once gone); a pod bound
//   to a node that no longer exists has no kubelet to finish its graceful
//   deletion: the garbage collector forces it (as kube's pod GC does for such
//   orphans, stuck-deletions.ts), and its removal brings the DaemonSet back here;
// - revisions: ControllerRevisions <ds>-<hash> (daemonset-history.ts) that
//   kubectl rollout history / undo read and apply; pods carry the current
//   one's hash in label controller-revision-hash; revisionHistoryLimit prunes;
// - RollingUpdate with maxSurge 0: pods of an old revision are deleted at
//   most maxUnavailable (int or percent of the desired count, rounded up;
//   default 1) at a time counting nodes already unavailable, but old pods that
//   are not available anyway go at once; the manage pass then creates the
//   new-revision pods. With maxSurge > 0 the new pod starts first and the old
//   one goes once it is available (daemonset-surge.ts). OnDelete: only pods
//   that are gone are replaced.
// - "expectations" as in the ReplicaSet controller: it waits to see its own
//   writes before acting again;
// - status: desired/current/updated NumberScheduled, numberReady,
//   numberAvailable, numberUnavailable, numberMisscheduled, observedGeneration,
//   collisionCount (what kubectl rollout status reads).
// A DaemonSet being deleted is left alone (the garbage collector handles its
// pods and revisions); one with an empty selector too (validation refuses it).
import type { KubeObject, Pod, PodSpec } from '../api/object-types.ts';
import type { LabelSelectorShape } from '../api/admission/schemas.ts';
import { isEmptySelector } from '../api/admission/label-selector.ts';
import type { SchedNode, SchedPodSpecExtras } from '../scheduler/scheduling-shapes.ts';
import { defineController, type Controller, type ControllerEvent, type ReconcileResult } from './controller.ts';
import { byCreation, podTemplateHash, scaledValue, type IntOrPercent, type PodTemplate } from './deployment-rollout.ts';
import { CONTROLLER_REVISION_HASH, daemonTolerations, pinToNode, placementOn, targetNodeOf, type Placement } from './daemonset-placement.ts';
import { controllerRef, groupOf } from './owner-refs.ts';
import { getByKey, writeStatusIfChanged } from './keyed-object.ts';
import { CONTROLLER_REVISION_RESOURCE } from './controller-revisions.ts';
import { createDaemonSetHistory } from './daemonset-history.ts';
import { allowsSurge, daemonMaxSurge, planSurge, surgeExcess } from './daemonset-surge.ts';
import { isPodAvailable, isPodReady, requeueWhenAvailable } from './pod-availability.ts';
import { createPodOwnerParts, observeOwnedPod, ownerWatch, podFromOwnerTemplate, type PodOwnerControllerOptions } from './owned-pods.ts';

export const DAEMONSET_RESOURCE = 'daemonsets.apps';
const KIND = 'DaemonSet';
const API_VERSION = 'apps/v1';
const DEFAULT_MAX_UNAVAILABLE = 1;

export interface DaemonSetStatus {
  currentNumberScheduled: number;
  numberMisscheduled: number;
  desiredNumberScheduled: number;
  numberReady: number;
  updatedNumberScheduled: number;
  numberAvailable: number;
  numberUnavailable: number;
  observedGeneration?: number;
  collisionCount?: number;
}

export interface DaemonSet extends KubeObject {
  spec: {
    selector?: LabelSelectorShape;
    template?: PodTemplate;
    updateStrategy?: { type?: 'RollingUpdate' | 'OnDelete' | string; rollingUpdate?: { maxUnavailable?: IntOrPercent; maxSurge?: IntOrPercent } | null } | null;
    minReadySeconds?: number;
    revisionHistoryLimit?: number;
  };
  status?: DaemonSetStatus;
}

/** Events go by default to component `daemonset-controller`. */
export type DaemonSetControllerOptions = PodOwnerControllerOptions;

// ---- pure helpers ---------------------------------------------------------

/** The hash a revision of ds's current template is named by (the pods carry the stored revision's: daemonset-history.ts). */
export function daemonSetHash(ds: DaemonSet): string {
  return podTemplateHash(ds.spec.template, ds.status?.collisionCount);
}

/** A new pod of ds for nodeName. */
export function daemonPodFor(ds: DaemonSet, nodeName: string, hash: string): Pod {
  const pod = podFromOwnerTemplate(ds, ds.spec.template, KIND, API_VERSION, { [CONTROLLER_REVISION_HASH]: hash });
  const spec = pod.spec as PodSpec & SchedPodSpecExtras;
  spec.tolerations = daemonTolerations(spec);
  spec.affinity = pinToNode(spec.affinity, nodeName);
  return pod;
}

const isTerminating = (p: Pod) => !!p.metadata.deletionTimestamp;
const isFailed = (p: Pod) => p.status?.phase === 'Failed';
const isTerminal = (p: Pod) => isFailed(p) || p.status?.phase === 'Succeeded';
const isUpdated = (p: Pod, hash: string) => p.metadata.labels?.[CONTROLLER_REVISION_HASH] === hash;

/** maxUnavailable resolved against the desired count (kube rounds up for DaemonSets). */
export function daemonMaxUnavailable(ds: DaemonSet, desired: number): number {
  const ru = ds.spec.updateStrategy?.rollingUpdate;
  const n = scaledValue(ru?.maxUnavailable ?? DEFAULT_MAX_UNAVAILABLE, desired, true, 'spec.updateStrategy.rollingUpdate.maxUnavailable');
  // Both fenceposts 0 (percent rounding) would stall the rollout: one pod may go.
  return n > 0 ? n : 1;
}

export interface NodeState {
  name: string;
  placement: Placement;
  /** ds's pods targeting this node, terminating ones included. */
  pods: readonly Pod[];
}

export interface ManagePlan {
  createOn: string[];
  remove: Pod[];
}

/**
 * What to create and delete so every eligible node has exactly one pod (kube's
 * podsShouldBeOnNode); while surging (surge given), a node may keep one new
 * and one old pod until the new one is available.
 */
export function planManage(nodes: readonly NodeState[], strays: readonly Pod[], surge?: { hash: string; available: (p: Pod) => boolean }): ManagePlan {
  const createOn: string[] = [];
  const remove: Pod[] = strays.filter((p) => !isTerminating(p));
  for (const n of nodes) {
    const { shouldRun, shouldContinueRunning } = n.placement;
    if (shouldRun && n.pods.length === 0) {
      createOn.push(n.name);
    } else if (shouldContinueRunning) {
      const running: Pod[] = [];
      for (const p of n.pods) {
        if (isTerminating(p)) continue;
        if (isTerminal(p)) remove.push(p);
        else running.push(p);
      }
      // Not surging, the replacement waits until the node's last pod is gone (it may hold host ports), as kube's does.
      if (running.length === 0) {
        if (shouldRun && surge) createOn.push(n.name);
      } else if (running.length > 1) remove.push(...(surge ? surgeExcess(running, surge.hash, surge.available) : running.sort(byCreation).slice(1)));
    } else {
      remove.push(...n.pods.filter((p) => !isTerminating(p)));
    }
  }
  return { createOn, remove };
}

/**
 * The old-revision pods a rolling update deletes now (kube's rollingUpdate
 * with maxSurge 0): unavailable old pods at once, available ones while fewer
 * than maxUnavailable nodes are unavailable. A node whose pod is terminating
 * or missing counts as unavailable, so the next one waits for its replacement.
 */
export function planRollingDeletions(nodes: readonly NodeState[], hash: string, maxUnavailable: number, available: (p: Pod) => boolean): Pod[] {
  let unavailable = 0;
  const now: Pod[] = [];
  const candidates: Pod[] = [];
  for (const n of [...nodes].sort((a, b) => a.name.localeCompare(b.name))) {
    const live = n.pods.filter((p) => !isTerminating(p) && !isTerminal(p));
    if (live.length === 0) {
      // Its pod is going or not yet created: the replacement is still to come.
      if (n.placement.shouldRun) unavailable++;
      continue;
    }
    const fresh = live.filter((p) => isUpdated(p, hash));
    const old = live.filter((p) => !isUpdated(p, hash));
    if (live.length > 1) {
      unavailable++; // the manage pass sorts this node out
      continue;
    }
    if (fresh.length) {
      if (!available(fresh[0]!)) unavailable++;
      continue;
    }
    const pod = old[0]!;
    if (!n.placement.shouldContinueRunning) continue; // the manage pass deletes it anyway
    if (!available(pod)) now.push(pod);
    else if (unavailable < maxUnavailable) candidates.push(pod);
  }
  const room = Math.max(0, Math.min(maxUnavailable - unavailable, candidates.length));
  return [...now, ...candidates.slice(0, room)];
}

/** ds's status over its nodes (pods terminating or finished are not counted). */
export function daemonSetStatus(ds: DaemonSet, nodes: readonly NodeState[], hash: string, available: (p: Pod) => boolean): DaemonSetStatus {
  const s: DaemonSetStatus = {
    currentNumberScheduled: 0,
    numberMisscheduled: 0,
    desiredNumberScheduled: 0,
    numberReady: 0,
    updatedNumberScheduled: 0,
    numberAvailable: 0,
    numberUnavailable: 0,
  };
  for (const n of nodes) {
    const pods = n.pods.filter((p) => !isTerminating(p) && !isTerminal(p)).sort(byCreation);
    if (n.placement.shouldRun) {
      s.desiredNumberScheduled++;
      const pod = pods[0];
      if (!pod) continue;
      s.currentNumberScheduled++;
      if (isPodReady(pod)) s.numberReady++;
      if (available(pod)) s.numberAvailable++;
      if (isUpdated(pod, hash)) s.updatedNumberScheduled++;
    } else if (pods.length) {
      s.numberMisscheduled++;
    }
  }
  s.numberUnavailable = s.desiredNumberScheduled - s.numberAvailable;
  if (ds.metadata.generation !== undefined) s.observedGeneration = ds.metadata.generation;
  if (ds.status?.collisionCount !== undefined) s.collisionCount = ds.status.collisionCount;
  return s;
}

// ---- the controller -----------------------------------------------------------

export function createDaemonSetController(opts: DaemonSetControllerOptions): Controller {
  const { client } = opts;
  const { log, clock, expectations, ownedPods } = createPodOwnerParts(opts, 'daemonset-controller');
  const history = createDaemonSetHistory({ client });
  const keyOf = (o: KubeObject) => `${o.metadata.namespace ?? 'default'}/${o.metadata.name ?? ''}`;

  function podToKeys(event: ControllerEvent): string[] {
    const pod = event.object as Pod;
    const ref = controllerRef(pod);
    if (!ref || ref.kind !== KIND || groupOf(ref.apiVersion) !== 'apps') return [];
    return [observeOwnedPod(expectations, event, ref.name)];
  }

  function revisionToKeys(event: ControllerEvent): string[] {
    const ref = controllerRef(event.object);
    if (!ref || ref.kind !== KIND || groupOf(ref.apiVersion) !== 'apps') return [];
    return [`${event.object.metadata.namespace ?? 'default'}/${ref.name}`];
  }

  // Any node change may change where every DaemonSet belongs.
  const allKeys = () => client.list<DaemonSet>(DAEMONSET_RESOURCE).items.map(keyOf);

  /** ds's pods grouped by node; pods pinned to no known node are strays. */
  function nodeStates(ds: DaemonSet): { nodes: NodeState[]; strays: Pod[] } {
    const uid = ds.metadata.uid;
    const pods = client
      .list<Pod>('pods', { namespace: ds.metadata.namespace })
      .items.filter((p) => !!uid && controllerRef(p)?.uid === uid);
    const spec = ds.spec.template?.spec ?? { containers: [] };
    const tolerations = daemonTolerations(spec);
    const byNode = new Map<string, Pod[]>();
    for (const p of pods) {
      const target = targetNodeOf(p) ?? '';
      const list = byNode.get(target);
      if (list) list.push(p);
      else byNode.set(target, [p]);
    }
    const nodes: NodeState[] = client.list<SchedNode>('nodes').items.map((node) => {
      const name = node.metadata.name ?? '';
      const own = byNode.get(name) ?? [];
      byNode.delete(name);
      return { name, placement: placementOn(spec, tolerations, node), pods: own };
    });
    return { nodes, strays: [...byNode.values()].flat() };
  }

  async function createOn(key: string, ds: DaemonSet, nodeNames: string[], hash: string): Promise<unknown> {
    if (!nodeNames.length) return undefined;
    const { created, error } = await ownedPods.create(key, ds, nodeNames.length, (i) => daemonPodFor(ds, nodeNames[i]!, hash));
    log.info({ daemonset: key, created: created.length }, 'created pods');
    return error;
  }

  async function remove(key: string, ds: DaemonSet, victims: Pod[]): Promise<unknown> {
    if (!victims.length) return undefined;
    const { error } = await ownedPods.delete(key, ds, victims);
    log.info({ daemonset: key, deleted: victims.length }, 'deleted pods');
    return error;
  }

  async function reconcile(key: string): Promise<ReconcileResult | void> {
    const ds = getByKey<DaemonSet>(client, DAEMONSET_RESOURCE, key);
    if (!ds) {
      expectations.forget(key);
      return;
    }
    if (ds.metadata.deletionTimestamp) return;
    if (!ds.spec.selector || isEmptySelector(ds.spec.selector)) return;
    const revs = await history.sync(ds);
    const hash = revs.hash;
    const minReady = ds.spec.minReadySeconds ?? 0;
    const available = (p: Pod) => isPodAvailable(p, minReady, clock());
    let failure: unknown;
    if (expectations.satisfied(key)) {
      const { nodes, strays } = nodeStates(ds);
      const plan = planManage(nodes, strays, allowsSurge(ds) ? { hash, available } : undefined);
      if ((ds.spec.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate') {
        const desired = nodes.filter((n) => n.placement.shouldRun).length;
        const maxSurge = daemonMaxSurge(ds, desired);
        if (maxSurge > 0) {
          // As kube, surging waits for a pass the manage plan leaves empty: both at once could start two new pods on a node.
          if (!plan.createOn.length && !plan.remove.length) Object.assign(plan, planSurge(nodes, hash, maxSurge, available));
        } else {
          const planned = new Set(plan.remove.map((p) => p.metadata.uid));
          for (const p of planRollingDeletions(nodes, hash, daemonMaxUnavailable(ds, desired), available)) {
            if (!planned.has(p.metadata.uid)) plan.remove.push(p);
          }
        }
      }
      const [createErr, deleteErr] = await Promise.all([createOn(key, ds, plan.createOn, hash), remove(key, ds, plan.remove)]);
      failure = createErr ?? deleteErr;
    }
    // Status and history over the state after this pass's writes.
    const { nodes, strays } = nodeStates(ds);
    try {
      for (const rev of await history.prune(ds, revs, [...nodes.flatMap((n) => n.pods), ...strays])) {
        log.info({ daemonset: key, revision: rev.metadata.name }, 'pruned revision');
      }
    } catch (err) {
      failure ??= err;
    }
    const status = daemonSetStatus(ds, nodes, hash, available);
    if (revs.collisionCount !== undefined) status.collisionCount = revs.collisionCount;
    await writeStatusIfChanged(client, DAEMONSET_RESOURCE, ds, status);
    if (failure !== undefined) throw failure;
    return requeueWhenAvailable(nodes.flatMap((n) => n.pods), minReady, clock());
  }

  return defineController({
    name: 'daemonset-controller',
    resyncMs: opts.resyncMs,
    watches: [
      ownerWatch(DAEMONSET_RESOURCE, expectations),
      { resource: 'nodes', toKeys: () => allKeys() },
      { resource: 'pods', toKeys: podToKeys },
      // A revision that went away (or came) is put back right.
      { resource: CONTROLLER_REVISION_RESOURCE, toKeys: revisionToKeys },
    ],
    onStart: () => expectations.clear(),
    reconcile,
  });
}
