// A StatefulSet's pods and claims, and what one pass of its controller does,
// as Kubernetes' StatefulSet controller decides them (stateful_set_utils.go,
// stateful_set_control.go), with no I/O:
// - identity: pod <sts>-<ordinal> for ordinals [start, start+replicas), with
//   the pod-name and pod-index labels, hostname = pod name, subdomain = serviceName;
// - storage: claim <template>-<sts>-<ordinal> per volumeClaimTemplate, the pod's
//   volume of that name pointing at it; the retention policy decides which
//   controller references the claim carries (the set's: gone with the set; the
//   pod's: gone with the scaled-down pod);
// - a pass (planPass): replicas in ordinal order (OrderedReady: create one,
//   then wait for Running+Ready+available; Parallel: all at once), then the
//   ordinals out of range from the highest down (one at a time, waiting, under
//   OrderedReady), then a RollingUpdate deletes the highest pod not at the update
//   revision among ordinals >= partition, waiting for each replacement to be available.
import type { KubeObject, OwnerReference, Pod, PodSpec } from '../api/object-types.ts';
import type { LabelSelectorShape } from '../api/admission/schemas.ts';
import { isPodAvailable, isPodReady } from './pod-availability.ts';
import { groupOf, newControllerRef } from './owner-refs.ts';
import { podFromOwnerTemplate } from './owned-pods.ts';

export const STATEFULSET_RESOURCE = 'statefulsets.apps';
export const STATEFULSET_KIND = 'StatefulSet';
export const STATEFULSET_API_VERSION = 'apps/v1';
export const CLAIM_RESOURCE = 'persistentvolumeclaims';
export const POD_NAME_LABEL = 'statefulset.kubernetes.io/pod-name';
export const POD_INDEX_LABEL = 'apps.kubernetes.io/pod-index';
/** On StatefulSet pods it holds the revision's name (on DaemonSet pods, the bare hash). */
export const REVISION_LABEL = 'controller-revision-hash';

export interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string>; finalizers?: string[] };
  spec?: PodSpec;
}

export interface ClaimTemplate {
  metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
}

export interface PersistentVolumeClaim extends KubeObject {
  spec?: Record<string, unknown>;
  status?: { phase?: string };
}

export type RetentionPolicyType = 'Retain' | 'Delete';

export interface StatefulSetStatus {
  observedGeneration?: number;
  replicas: number;
  readyReplicas: number;
  currentReplicas: number;
  updatedReplicas: number;
  availableReplicas: number;
  currentRevision?: string;
  updateRevision?: string;
  collisionCount: number;
}

export interface StatefulSet extends KubeObject {
  spec: {
    replicas?: number;
    selector?: LabelSelectorShape;
    template?: PodTemplate;
    serviceName?: string;
    podManagementPolicy?: 'OrderedReady' | 'Parallel' | string;
    updateStrategy?: { type?: 'RollingUpdate' | 'OnDelete' | string; rollingUpdate?: { partition?: number; maxUnavailable?: number | string } | null } | null;
    revisionHistoryLimit?: number;
    minReadySeconds?: number;
    volumeClaimTemplates?: ClaimTemplate[];
    persistentVolumeClaimRetentionPolicy?: { whenDeleted?: RetentionPolicyType | string; whenScaled?: RetentionPolicyType | string } | null;
    ordinals?: { start?: number } | null;
  };
  status?: Partial<StatefulSetStatus>;
}

// ---- identity --------------------------------------------------------------

const ORDINAL_SUFFIX = /^(.*)-([0-9]+)$/;
const MAX_INT32 = 2 ** 31 - 1;

/** The ordinal of a pod of sts named <sts>-<n>; -1 for any other name. */
export function ordinalOf(sts: KubeObject, podName: string | undefined): number {
  const m = ORDINAL_SUFFIX.exec(podName ?? '');
  if (!m || m[1] !== sts.metadata.name) return -1;
  const n = Number(m[2]);
  return Number.isSafeInteger(n) && n <= MAX_INT32 ? n : -1;
}

export const podNameFor = (sts: KubeObject, ordinal: number): string => `${sts.metadata.name}-${ordinal}`;
export const claimNameFor = (template: string, stsName: string, ordinal: number): string => `${template}-${stsName}-${ordinal}`;
export const startOrdinal = (sts: StatefulSet): number => sts.spec.ordinals?.start ?? 0;
export const replicasOf = (sts: StatefulSet): number => Math.max(0, sts.spec.replicas ?? 1);
export const isMonotonic = (sts: StatefulSet): boolean => sts.spec.podManagementPolicy !== 'Parallel';
export const strategyOf = (sts: StatefulSet): string => sts.spec.updateStrategy?.type ?? 'RollingUpdate';

export function inOrdinalRange(sts: StatefulSet, ordinal: number): boolean {
  const start = startOrdinal(sts);
  return ordinal >= start && ordinal < start + replicasOf(sts);
}

export function retentionPolicy(sts: StatefulSet): { whenDeleted: string; whenScaled: string } {
  const p = sts.spec.persistentVolumeClaimRetentionPolicy;
  return { whenDeleted: p?.whenDeleted ?? 'Retain', whenScaled: p?.whenScaled ?? 'Retain' };
}

export const revisionOf = (pod: Pod): string => pod.metadata.labels?.[REVISION_LABEL] ?? '';

/** The labels that make a pod the member <sts>-<ordinal>. */
function identityLabels(sts: KubeObject, ordinal: number): Record<string, string> {
  return { [POD_NAME_LABEL]: podNameFor(sts, ordinal), [POD_INDEX_LABEL]: String(ordinal) };
}

/** The pod carries its name and index labels (kube's identityMatches, with the index label too). */
export function identityMatches(sts: StatefulSet, pod: Pod): boolean {
  const ordinal = ordinalOf(sts, pod.metadata.name);
  if (ordinal < 0 || pod.metadata.namespace !== sts.metadata.namespace) return false;
  const labels = pod.metadata.labels ?? {};
  return Object.entries(identityLabels(sts, ordinal)).every(([k, v]) => labels[k] === v);
}

/** pod with its identity labels put right. */
export function withIdentity(sts: StatefulSet, pod: Pod): Pod {
  const ordinal = ordinalOf(sts, pod.metadata.name);
  return { ...pod, metadata: { ...pod.metadata, labels: { ...(pod.metadata.labels ?? {}), ...identityLabels(sts, ordinal) } } };
}

const templateName = (t: ClaimTemplate): string => t.metadata?.name ?? '';

/** The claim names of ordinal, by volume (template) name. */
export function claimNamesFor(sts: StatefulSet, ordinal: number): { volume: string; claim: string }[] {
  return (sts.spec.volumeClaimTemplates ?? []).map((t) => ({ volume: templateName(t), claim: claimNameFor(templateName(t), sts.metadata.name ?? '', ordinal) }));
}

/**
 * A new pod of sts for ordinal from template (the template of the revision it
 * is made at), labelled with that revision's name. Claim volumes replace
 * template volumes of the same name.
 */
export function newStatefulSetPod(sts: StatefulSet, template: PodTemplate | undefined, ordinal: number, revisionName: string): Pod {
  const pod = podFromOwnerTemplate(sts, template, STATEFULSET_KIND, STATEFULSET_API_VERSION, {
    ...identityLabels(sts, ordinal),
    [REVISION_LABEL]: revisionName,
  });
  delete pod.metadata.generateName;
  pod.metadata.name = podNameFor(sts, ordinal);
  pod.spec.hostname = pod.metadata.name;
  if (sts.spec.serviceName) pod.spec.subdomain = sts.spec.serviceName;
  const claims = claimNamesFor(sts, ordinal);
  if (claims.length) {
    const names = new Set(claims.map((c) => c.volume));
    pod.spec.volumes = [
      ...claims.map((c) => ({ name: c.volume, persistentVolumeClaim: { claimName: c.claim } })),
      ...(pod.spec.volumes ?? []).filter((v) => !names.has(v.name)),
    ];
  }
  return pod;
}

/** The claims ordinal's pod uses, from the templates: template labels plus the selector's matchLabels; no owners yet. */
export function claimsFor(sts: StatefulSet, ordinal: number): PersistentVolumeClaim[] {
  return (sts.spec.volumeClaimTemplates ?? []).map((t) => {
    const metadata: PersistentVolumeClaim['metadata'] = {
      name: claimNameFor(templateName(t), sts.metadata.name ?? '', ordinal),
      namespace: sts.metadata.namespace,
      labels: { ...(t.metadata?.labels ?? {}), ...(sts.spec.selector?.matchLabels ?? {}) },
    };
    if (t.metadata?.annotations) metadata.annotations = { ...t.metadata.annotations };
    return { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata, spec: structuredClone(t.spec ?? {}) };
  });
}

// ---- claim ownership (the retention policy) ----------------------------------

function refersTo(ref: OwnerReference, obj: KubeObject, kind: string, group: string): boolean {
  return ref.kind === kind && groupOf(ref.apiVersion) === group && ref.name === obj.metadata.name;
}

function podControllerRef(pod: Pod): OwnerReference {
  return newControllerRef(pod, 'Pod', 'v1');
}

/**
 * True when the claim must not be used for a new pod podName yet: it still
 * names an earlier pod of that name as owner (the garbage collector is about to
 * delete it), or it is being deleted. A new claim is made once it is gone.
 */
export function claimIsStale(claim: PersistentVolumeClaim, podName: string): boolean {
  if (claim.metadata.deletionTimestamp) return true;
  return (claim.metadata.ownerReferences ?? []).some((r) => r.kind === 'Pod' && groupOf(r.apiVersion) === '' && r.name === podName);
}

/**
 * The owners the claim should have for pod (undefined: not created yet) under
 * sts's retention policy (kube's updateClaimOwnerRefForSetAndPod):
 * Retain/Retain none; whenDeleted Delete the set; whenScaled Delete the pod once
 * it is scaled down (then instead of the set, so the claim goes with the pod).
 * References to another controller are left alone, and then none of ours is added.
 */
export function claimOwnersFor(claim: PersistentVolumeClaim, sts: StatefulSet, pod: Pod | undefined, ordinal: number): OwnerReference[] | undefined {
  const podName = podNameFor(sts, ordinal);
  const ours = (r: OwnerReference) =>
    refersTo(r, sts, STATEFULSET_KIND, 'apps') || (r.kind === 'Pod' && groupOf(r.apiVersion) === '' && r.name === podName);
  const refs = (claim.metadata.ownerReferences ?? []).filter((r) => !ours(r));
  if (refs.some((r) => r.controller === true)) return refs.length ? refs : undefined;
  const { whenDeleted, whenScaled } = retentionPolicy(sts);
  const scaledDown = !inOrdinalRange(sts, ordinal);
  const setRef = whenDeleted === 'Delete' && !(whenScaled === 'Delete' && scaledDown);
  const podRef = whenScaled === 'Delete' && scaledDown && pod?.metadata.uid;
  if (setRef) refs.push(newControllerRef(sts, STATEFULSET_KIND, STATEFULSET_API_VERSION));
  if (podRef) refs.push(podControllerRef(pod!));
  return refs.length ? refs : undefined;
}

/** The claim's references already are what claimOwnersFor gives (a stale reference to an old owner: leave it to the collector). */
export function claimOwnersUpToDate(claim: PersistentVolumeClaim, sts: StatefulSet, pod: Pod, ordinal: number): boolean {
  const refs = claim.metadata.ownerReferences ?? [];
  const stale = refs.some(
    (r) => (refersTo(r, sts, STATEFULSET_KIND, 'apps') && r.uid !== sts.metadata.uid) || (refersTo(r, pod, 'Pod', '') && r.uid !== pod.metadata.uid),
  );
  if (stale) return true;
  const key = (r: OwnerReference) => `${r.uid}/${r.controller === true}`;
  const want = (claimOwnersFor(claim, sts, pod, ordinal) ?? []).map(key).sort();
  return want.join(',') === refs.map(key).sort().join(',');
}

// ---- health -------------------------------------------------------------------

export const isTerminating = (p: Pod): boolean => !!p.metadata.deletionTimestamp;
const isFinished = (p: Pod): boolean => p.status?.phase === 'Failed' || p.status?.phase === 'Succeeded';

export function isRunningAndReady(pod: Pod): boolean {
  return pod.status?.phase === 'Running' && isPodReady(pod);
}

/** Not (running, ready, not terminating and ready for minReadySeconds). */
export function isUnavailable(pod: Pod, minReadySeconds: number, now: Date): boolean {
  return !isRunningAndReady(pod) || isTerminating(pod) || !isPodAvailable(pod, minReadySeconds, now);
}

// ---- a pass -------------------------------------------------------------------

/** Whether a missing pod is made at the current or the update revision (newVersionedStatefulSetPod). */
export function revisionForNewPod(sts: StatefulSet, ordinal: number): 'current' | 'update' {
  if (strategyOf(sts) !== 'RollingUpdate') return 'update';
  const ru = sts.spec.updateStrategy?.rollingUpdate;
  // Below the partition pods stay at the current revision; without a rollingUpdate
  // block, kube keeps the ones the rollout has not reached yet (currentReplicas).
  const below = ru ? (ru.partition ?? 0) : (sts.status?.currentReplicas ?? 0);
  return ordinal < startOrdinal(sts) + below ? 'current' : 'update';
}

export interface PassInput {
  sts: StatefulSet;
  /** The pods sts controls (any name; only its members count). */
  pods: readonly Pod[];
  updateRevision: string;
  now: Date;
  /** True when ordinal's pod may not be created yet (a stale claim is still going). */
  claimsBlocked(ordinal: number): boolean;
}

export type WaitReason = 'claim' | 'created' | 'terminating' | 'ready' | 'available';

export interface PassPlan {
  /** Missing pods to create, with the revision each is made at. */
  create: { ordinal: number; revision: 'current' | 'update' }[];
  /** Pending pods whose missing claims are created. */
  ensureClaims: Pod[];
  /** Pods whose identity labels (unless scaled down) and claim owners are put right. */
  conform: { pod: Pod; scaledDown: boolean }[];
  /** Pods to delete, in order. */
  remove: { pod: Pod; why: 'finished' | 'scale-down' | 'update' }[];
  /** What the pass stopped at (OrderedReady), or the rolling update waits for. */
  waitingOn?: { pod: string; reason: WaitReason };
}

/** One pass of kube's updateStatefulSet with maxUnavailable 1, as a plan. */
export function planPass(input: PassInput): PassPlan {
  const { sts, now } = input;
  const plan: PassPlan = { create: [], ensureClaims: [], conform: [], remove: [] };
  if (sts.metadata.deletionTimestamp) return plan;
  const start = startOrdinal(sts);
  const n = replicasOf(sts);
  const minReady = sts.spec.minReadySeconds ?? 0;
  const monotonic = isMonotonic(sts);
  const replicas: (Pod | undefined)[] = new Array<Pod | undefined>(n).fill(undefined);
  const condemned: { pod: Pod; ordinal: number }[] = [];
  for (const pod of input.pods) {
    const ordinal = ordinalOf(sts, pod.metadata.name);
    if (ordinal < 0) continue;
    if (ordinal >= start && ordinal < start + n) replicas[ordinal - start] = pod;
    else condemned.push({ pod, ordinal });
  }
  condemned.sort((a, b) => b.ordinal - a.ordinal);

  // Pods this plan deletes count as terminating from here on.
  const removing = new Set<Pod>();
  const terminating = (p: Pod) => isTerminating(p) || removing.has(p);
  const unavailable = (p: Pod | undefined) => !p || terminating(p) || isUnavailable(p, minReady, now);
  const remove = (pod: Pod, why: PassPlan['remove'][number]['why']) => {
    removing.add(pod);
    plan.remove.push({ pod, why });
  };
  const wait = (pod: string, reason: WaitReason): PassPlan => {
    plan.waitingOn = { pod, reason };
    return plan;
  };

  // The first unavailable pod: a missing or unavailable replica, else the lowest condemned one.
  let firstUnhealthy: Pod | 'replica' | undefined = replicas.some((p) => unavailable(p)) ? 'replica' : undefined;
  for (let i = condemned.length - 1; i >= 0 && firstUnhealthy === undefined; i--) {
    if (unavailable(condemned[i]!.pod)) firstUnhealthy = condemned[i]!.pod;
  }

  for (let i = 0; i < n; i++) {
    const ordinal = start + i;
    const pod = replicas[i];
    const name = podNameFor(sts, ordinal);
    if (!pod) {
      if (input.claimsBlocked(ordinal)) {
        if (monotonic) return wait(name, 'claim');
        continue;
      }
      plan.create.push({ ordinal, revision: revisionForNewPod(sts, ordinal) });
      if (monotonic) return wait(name, 'created');
      continue;
    }
    if (isFinished(pod)) {
      // Failed or Succeeded: replaced under the same name once it is gone.
      if (!terminating(pod)) remove(pod, 'finished');
      if (monotonic) return wait(name, 'terminating');
      continue;
    }
    if (!pod.status?.phase || pod.status.phase === 'Pending') plan.ensureClaims.push(pod);
    if (terminating(pod)) {
      if (monotonic) return wait(name, 'terminating');
      continue;
    }
    if (monotonic && !isRunningAndReady(pod)) return wait(name, 'ready');
    if (monotonic && !isPodAvailable(pod, minReady, now)) return wait(name, 'available');
    plan.conform.push({ pod, scaledDown: false });
  }

  for (const { pod } of condemned) plan.conform.push({ pod, scaledDown: true });
  for (const { pod } of condemned) {
    const name = pod.metadata.name ?? '';
    if (terminating(pod)) {
      if (monotonic) return wait(name, 'terminating');
      continue;
    }
    if (monotonic && pod !== firstUnhealthy) {
      if (!isRunningAndReady(pod)) return wait(name, 'ready');
      if (!isPodAvailable(pod, minReady, now)) return wait(name, 'available');
    }
    remove(pod, 'scale-down');
    if (monotonic) return plan;
  }

  if (strategyOf(sts) !== 'RollingUpdate') return plan;
  const ru = sts.spec.updateStrategy?.rollingUpdate;
  const updateMin = ru ? (ru.partition ?? 0) : 0;
  for (let t = n - 1; t >= updateMin; t--) {
    const pod = replicas[t];
    const name = podNameFor(sts, start + t);
    if (pod && revisionOf(pod) !== input.updateRevision && !terminating(pod)) {
      remove(pod, 'update');
      return plan;
    }
    if (unavailable(pod)) return wait(name, pod ? 'available' : 'created');
  }
  return plan;
}

// ---- status --------------------------------------------------------------------

/**
 * Status over sts's member pods (kube's computeReplicaStatus and
 * completeRollingUpdate): a RollingUpdate whose pods are all updated and ready
 * is complete, and the update revision becomes the current one.
 */
export function statefulSetStatus(
  sts: StatefulSet,
  pods: readonly Pod[],
  revisions: { current: string; update: string; collisionCount: number },
  now: Date,
): StatefulSetStatus {
  const minReady = sts.spec.minReadySeconds ?? 0;
  const s: StatefulSetStatus = {
    replicas: 0,
    readyReplicas: 0,
    currentReplicas: 0,
    updatedReplicas: 0,
    availableReplicas: 0,
    currentRevision: revisions.current,
    updateRevision: revisions.update,
    collisionCount: revisions.collisionCount,
  };
  if (sts.metadata.generation !== undefined) s.observedGeneration = sts.metadata.generation;
  for (const pod of pods) {
    if (ordinalOf(sts, pod.metadata.name) < 0) continue;
    s.replicas++;
    if (isRunningAndReady(pod)) {
      s.readyReplicas++;
      if (isPodAvailable(pod, minReady, now)) s.availableReplicas++;
    }
    if (isTerminating(pod)) continue;
    const rev = revisionOf(pod);
    if (rev === revisions.current) s.currentReplicas++;
    if (rev === revisions.update) s.updatedReplicas++;
  }
  if (strategyOf(sts) === 'RollingUpdate' && s.updatedReplicas === s.replicas && s.readyReplicas === s.replicas) {
    s.currentReplicas = s.updatedReplicas;
    s.currentRevision = s.updateRevision;
  }
  return s;
}
