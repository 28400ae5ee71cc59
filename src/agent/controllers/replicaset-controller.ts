// The ReplicaSet controller, with Kubernetes' semantics:
// - claims the active pods its selector matches: adopts matching orphans (adds
//   its controller reference; a pod with another controller is never taken),
//   releases its pods that stopped matching;
// - creates pods from the template (generateName `<rs>-`) in slow-start batches
//   (1, 2, 4, ...) when fewer than spec.replicas are active, deletes the extras
//   in Kubernetes' order when more are, at most 500 either way per pass;
// - "expectations": after creating or deleting it waits to see its own writes
//   in the watch before it acts again, so a view lagging its writes never makes
//   it create or delete twice;
// - status: replicas, fullyLabeledReplicas, readyReplicas, availableReplicas
//   (ready for minReadySeconds), observedGeneration, and a ReplicaFailure
//   condition while creates or deletes fail.
// A ReplicaSet being deleted is left alone (the garbage collector handles its pods).
import type { KubeObject, Pod, PodSpec } from '../api/object-types.ts';
import { NotFound } from '../api/errors.ts';
import { rfc3339 } from '../api/registry.ts';
import { isEmptySelector, selectorMatches } from '../api/admission/label-selector.ts';
import type { LabelSelectorShape } from '../api/admission/schemas.ts';
import { defineController, type Controller, type ControllerEvent, type ReconcileResult } from './controller.ts';
import { controllerRef, groupOf, newControllerRef, withOwnerRefs, withoutOwner } from './owner-refs.ts';
import { getByKey, writeStatusIfChanged } from './keyed-object.ts';
import { createPodOwnerParts, errorMessage as message, observeOwnedPod, ownerWatch, podFromOwnerTemplate, type PodOwnerControllerOptions } from './owned-pods.ts';
import { isPodAvailable, isPodReady, readyCondition, requeueWhenAvailable } from './pod-availability.ts';

export { isPodAvailable, isPodReady } from './pod-availability.ts';

export const REPLICASET_RESOURCE = 'replicasets.apps';
const KIND = 'ReplicaSet';
const API_VERSION = 'apps/v1';
// Kubernetes' burstReplicas: the most pods one pass creates or deletes.
const DEFAULT_BURST = 500;
const DELETION_COST = 'controller.kubernetes.io/pod-deletion-cost';

export interface ReplicaSetCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

export interface ReplicaSetStatus {
  replicas: number;
  fullyLabeledReplicas: number;
  readyReplicas: number;
  availableReplicas: number;
  observedGeneration?: number;
  conditions?: ReplicaSetCondition[];
}

export interface ReplicaSet extends KubeObject {
  spec: {
    replicas?: number;
    minReadySeconds?: number;
    selector?: LabelSelectorShape;
    template?: {
      metadata?: { labels?: Record<string, string>; annotations?: Record<string, string>; finalizers?: string[] };
      spec?: PodSpec;
    };
  };
  status?: ReplicaSetStatus;
}

/** Events go by default to component `replicaset-controller`. */
export interface ReplicaSetControllerOptions extends PodOwnerControllerOptions {
  /** Most pods created or deleted per pass (default 500). */
  burstReplicas?: number;
}

// ---- pure helpers ---------------------------------------------------------

/** Not finished and not being deleted: what counts towards spec.replicas. */
export function isPodActive(pod: Pod): boolean {
  return pod.status?.phase !== 'Succeeded' && pod.status?.phase !== 'Failed' && !pod.metadata.deletionTimestamp;
}

const PHASE_ORDER: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

function maxRestarts(pod: Pod): number {
  return Math.max(0, ...(pod.status?.containerStatuses ?? []).map((c) => c.restartCount ?? 0));
}

function deletionCost(pod: Pod): number {
  const v = Number.parseInt(pod.metadata.annotations?.[DELETION_COST] ?? '', 10);
  return Number.isFinite(v) ? v : 0;
}

function time(t: string | undefined): number | undefined {
  const ms = Date.parse(t ?? '');
  return Number.isFinite(ms) ? ms : undefined;
}

/** Sorts so the later timestamp, or a missing one, comes first; 0 when equal. */
function laterFirst(a: number | undefined, b: number | undefined): number {
  if (a === b) return 0;
  if (a === undefined) return -1;
  if (b === undefined) return 1;
  return b - a;
}

/**
 * Pods in the order a scale-down deletes them (Kubernetes' ActivePodsWithRanks):
 * unscheduled before scheduled; Pending before Unknown before Running; not
 * ready before ready; lower pod-deletion-cost first; more pods of the set on
 * the same node first; ready for less time first; more restarts first; newer first.
 */
export function rankPodsForDeletion(pods: readonly Pod[]): Pod[] {
  const perNode = new Map<string, number>();
  for (const p of pods) if (p.spec.nodeName) perNode.set(p.spec.nodeName, (perNode.get(p.spec.nodeName) ?? 0) + 1);
  const rank = (p: Pod) => (p.spec.nodeName ? (perNode.get(p.spec.nodeName) ?? 0) : 0);
  return [...pods].sort((a, b) => {
    const assigned = Number(!!a.spec.nodeName) - Number(!!b.spec.nodeName);
    if (assigned) return assigned;
    const phase = (PHASE_ORDER[a.status?.phase ?? ''] ?? 0) - (PHASE_ORDER[b.status?.phase ?? ''] ?? 0);
    if (phase) return phase;
    const ready = Number(isPodReady(a)) - Number(isPodReady(b));
    if (ready) return ready;
    const cost = deletionCost(a) - deletionCost(b);
    if (cost) return cost;
    const doubled = rank(b) - rank(a);
    if (doubled) return doubled;
    if (isPodReady(a) && isPodReady(b)) {
      const readyFor = laterFirst(time(readyCondition(a)?.lastTransitionTime), time(readyCondition(b)?.lastTransitionTime));
      if (readyFor) return readyFor;
    }
    const restarts = maxRestarts(b) - maxRestarts(a);
    if (restarts) return restarts;
    const age = laterFirst(time(a.metadata.creationTimestamp), time(b.metadata.creationTimestamp));
    if (age) return age;
    return (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '');
  });
}

/** The status of rs given its claimed active pods; `failure` is this pass's create/delete error. */
export function replicaSetStatus(rs: ReplicaSet, pods: readonly Pod[], now: Date, failure?: { reason: string; message: string }): ReplicaSetStatus {
  const templateLabels = Object.entries(rs.spec.template?.metadata?.labels ?? {});
  const minReady = rs.spec.minReadySeconds ?? 0;
  let fully = 0;
  let ready = 0;
  let available = 0;
  for (const p of pods) {
    const labels = p.metadata.labels ?? {};
    if (templateLabels.every(([k, v]) => labels[k] === v)) fully++;
    if (isPodReady(p)) ready++;
    if (isPodAvailable(p, minReady, now)) available++;
  }
  let conditions = rs.status?.conditions ?? [];
  const failed = conditions.find((c) => c.type === 'ReplicaFailure');
  if (failure && !failed) {
    conditions = [...conditions, { type: 'ReplicaFailure', status: 'True', reason: failure.reason, message: failure.message, lastTransitionTime: rfc3339(now) }];
  } else if (!failure && failed) {
    conditions = conditions.filter((c) => c !== failed);
  }
  const status: ReplicaSetStatus = {
    replicas: pods.length,
    fullyLabeledReplicas: fully,
    readyReplicas: ready,
    availableReplicas: available,
  };
  if (rs.metadata.generation !== undefined) status.observedGeneration = rs.metadata.generation;
  if (conditions.length) status.conditions = conditions;
  return status;
}

/** A new pod from the template, owned by rs. */
export function podFromTemplate(rs: ReplicaSet): Pod {
  return podFromOwnerTemplate(rs, rs.spec.template, KIND, API_VERSION);
}

// ---- the controller -----------------------------------------------------------

export function createReplicaSetController(opts: ReplicaSetControllerOptions): Controller {
  const { client } = opts;
  const { log, clock, events, expectations, ownedPods } = createPodOwnerParts(opts, 'replicaset-controller');
  const burst = opts.burstReplicas ?? DEFAULT_BURST;
  const keyOf = (o: KubeObject) => `${o.metadata.namespace ?? 'default'}/${o.metadata.name ?? ''}`;

  function selects(rs: ReplicaSet, pod: Pod): boolean {
    const sel = rs.spec.selector;
    // An empty selector is refused by validation; here it selects nothing rather than everything.
    return !!sel && !isEmptySelector(sel) && selectorMatches(sel, pod.metadata.labels ?? {});
  }

  function isOurKind(ref: { kind: string; apiVersion: string }): boolean {
    return ref.kind === KIND && groupOf(ref.apiVersion) === 'apps';
  }

  function podToKeys(event: ControllerEvent): string[] {
    const pod = event.object as Pod;
    const ref = controllerRef(pod);
    if (ref) {
      if (!isOurKind(ref)) return [];
      return [observeOwnedPod(expectations, event, ref.name)];
    }
    if (event.type === 'DELETED' || !isPodActive(pod)) return [];
    // An orphan: every ReplicaSet that selects it may adopt it.
    return client
      .list<ReplicaSet>(REPLICASET_RESOURCE, { namespace: pod.metadata.namespace })
      .items.filter((rs) => selects(rs, pod))
      .map(keyOf);
  }

  async function writePod(pod: Pod): Promise<Pod | undefined> {
    try {
      return await client.update<Pod>('pods', pod);
    } catch (err) {
      if (err instanceof NotFound) return undefined;
      throw err;
    }
  }

  /** The active pods rs controls after adopting matching orphans and releasing non-matching pods. */
  async function claimPods(rs: ReplicaSet, pods: Pod[]): Promise<Pod[]> {
    const claimed: Pod[] = [];
    const deleting = !!rs.metadata.deletionTimestamp;
    for (const pod of pods) {
      if (!isPodActive(pod)) continue;
      const ref = controllerRef(pod);
      if (ref) {
        if (ref.uid !== rs.metadata.uid) continue; // someone else's: never stolen
        if (selects(rs, pod)) claimed.push(pod);
        else if (!deleting) {
          await writePod(withOwnerRefs(pod, withoutOwner(pod, rs.metadata.uid ?? '')));
          log.info({ replicaset: keyOf(rs), pod: pod.metadata.name }, 'released pod that stopped matching');
        }
        continue;
      }
      if (deleting || !selects(rs, pod)) continue;
      const adopted = await writePod(withOwnerRefs(pod, [...(pod.metadata.ownerReferences ?? []), newControllerRef(rs, KIND, API_VERSION)]));
      if (adopted) {
        claimed.push(adopted);
        log.info({ replicaset: keyOf(rs), pod: pod.metadata.name }, 'adopted pod');
      }
    }
    return claimed;
  }

  interface Managed {
    pods: Pod[];
    failure?: { reason: string; message: string; error: unknown };
  }

  async function createPods(key: string, rs: ReplicaSet, claimed: Pod[], count: number): Promise<Managed> {
    const { created, error } = await ownedPods.create(key, rs, count, () => podFromTemplate(rs));
    if (created.length) log.info({ replicaset: key, created: created.length }, 'created pods');
    const pods = [...claimed, ...created];
    if (error === undefined) return { pods };
    return { pods, failure: { reason: 'FailedCreate', message: message(error), error } };
  }

  async function deletePods(key: string, rs: ReplicaSet, claimed: Pod[], count: number): Promise<Managed> {
    const victims = rankPodsForDeletion(claimed).slice(0, count);
    const { failed: failedUids, error } = await ownedPods.delete(key, rs, victims);
    const gone = new Set(victims.map((p) => p.metadata.uid));
    const pods = claimed.filter((p) => !gone.has(p.metadata.uid) || failedUids.has(p.metadata.uid ?? ''));
    log.info({ replicaset: key, deleted: victims.length - failedUids.size }, 'deleted pods');
    if (error === undefined) return { pods };
    return { pods, failure: { reason: 'FailedDelete', message: message(error), error } };
  }

  async function manageReplicas(key: string, rs: ReplicaSet, claimed: Pod[]): Promise<Managed> {
    const diff = (rs.spec.replicas ?? 1) - claimed.length;
    if (diff > 0) return createPods(key, rs, claimed, Math.min(diff, burst));
    if (diff < 0) return deletePods(key, rs, claimed, Math.min(-diff, burst));
    return { pods: claimed };
  }

  async function reconcile(key: string): Promise<ReconcileResult | void> {
    const rs = getByKey<ReplicaSet>(client, REPLICASET_RESOURCE, key);
    if (!rs) {
      expectations.forget(key);
      return;
    }
    const claimed = await claimPods(rs, client.list<Pod>('pods', { namespace: rs.metadata.namespace }).items);
    let managed: Managed = { pods: claimed };
    if (!rs.metadata.deletionTimestamp && expectations.satisfied(key)) managed = await manageReplicas(key, rs, claimed);
    const now = clock();
    const status = replicaSetStatus(rs, managed.pods, now, managed.failure);
    await writeStatusIfChanged(client, REPLICASET_RESOURCE, rs, status);
    if (managed.failure) throw managed.failure.error;
    return requeueWhenAvailable(managed.pods, rs.spec.minReadySeconds ?? 0, now);
  }

  return defineController({
    name: 'replicaset-controller',
    resyncMs: opts.resyncMs,
    watches: [
      ownerWatch(REPLICASET_RESOURCE, expectations),
      { resource: 'pods', toKeys: podToKeys },
    ],
    onStart: () => expectations.clear(),
    reconcile,
  });
}
