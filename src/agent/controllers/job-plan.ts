// The Job controller's decisions, as Kubernetes' job controller makes them,
// without I/O (job-controller.ts is the shell that reads, writes and sequences):
// - pods carry the batch.kubernetes.io/job-tracking finalizer; a pod that
//   finished (or is being deleted, or whose Job is finishing or being deleted)
//   is first recorded by uid in status.uncountedTerminatedPods, then its
//   finalizer goes, then it moves into status.succeeded/failed. So a count
//   survives the pod being deleted, and no pod counts twice;
// - a pod deleted before it succeeded counts as failed;
// - the Job fails (FailureTarget, then Failed) past backoffLimit or
//   activeDeadlineSeconds, and completes (SuccessCriteriaMet, then Complete)
//   once enough succeeded; the terminal condition waits until every finished
//   pod is counted and none is still terminating;
// - Indexed Jobs run one pod per index 0..completions-1 and count an index
//   once (status.completedIndexes).
import type { Container, Pod } from '../api/object-types.ts';
import { jobPodLabels } from '../api/admission/defaults-job.ts';
import type { Job, JobCondition, JobStatus } from './job-controller.ts';
import {
  COMPLETION_INDEX_ENV,
  COMPLETION_INDEX_KEY,
  duplicateIndexPods,
  firstPendingIndexes,
  formatIntervals,
  indexedGenerateName,
  intervalsHave,
  intervalsTotal,
  parseIntervals,
  validIndexOf,
  withIndexes,
  type Interval,
} from './job-indexes.ts';
import { podFromOwnerTemplate } from './owned-pods.ts';
import { isPodReady } from './pod-availability.ts';
import { isPodActive, rankPodsForDeletion } from './replicaset-controller.ts';

export const JOB_TRACKING_FINALIZER = 'batch.kubernetes.io/job-tracking';
/** Kubernetes' MaxUncountedPods: keeps status.uncountedTerminatedPods small and one pass short. */
export const MAX_UNCOUNTED_PODS = 500;
const KIND = 'Job';
const API_VERSION = 'batch/v1';

export interface Finish {
  type: 'Complete' | 'Failed';
  reason: string;
  message: string;
}

export const BACKOFF_LIMIT_EXCEEDED: Finish = { type: 'Failed', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' };
export const DEADLINE_EXCEEDED: Finish = { type: 'Failed', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' };
export const COMPLETIONS_REACHED: Finish = { type: 'Complete', reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods' };

// ---- pods and conditions ------------------------------------------------------

export function hasTrackingFinalizer(pod: Pod): boolean {
  return pod.metadata.finalizers?.includes(JOB_TRACKING_FINALIZER) ?? false;
}

export function isIndexedJob(job: Job): boolean {
  return job.spec.completionMode === 'Indexed';
}

/** Failed, or deleted before it succeeded (an evicted or removed pod never reaches Failed). */
export function isPodFailed(pod: Pod): boolean {
  const phase = pod.status?.phase;
  return phase === 'Failed' || (!!pod.metadata.deletionTimestamp && phase !== 'Succeeded');
}

/** Being deleted and not finished: its containers may still run. */
export function isPodTerminating(pod: Pod): boolean {
  const phase = pod.status?.phase;
  return !!pod.metadata.deletionTimestamp && phase !== 'Succeeded' && phase !== 'Failed';
}

export function conditionTrue(job: Job, type: string): JobCondition | undefined {
  return job.status?.conditions?.find((c) => c.type === type && c.status === 'True');
}

export function isJobFinished(job: Job): boolean {
  return !!conditionTrue(job, 'Complete') || !!conditionTrue(job, 'Failed');
}

/** When the Job finished (Complete or Failed), or undefined while it runs. */
export function finishedAt(job: Job): number | undefined {
  const c = conditionTrue(job, 'Complete') ?? conditionTrue(job, 'Failed');
  if (!c) return undefined;
  const t = Date.parse((c.type === 'Complete' ? job.status?.completionTime : undefined) ?? c.lastTransitionTime ?? '');
  return Number.isFinite(t) ? t : undefined;
}

export function newCondition(type: string, status: JobCondition['status'], reason: string, message: string, ts: string): JobCondition {
  return { type, status, reason, message, lastProbeTime: ts, lastTransitionTime: ts };
}

/**
 * conditions with c set: a new condition is added unless it is False (nothing
 * to say), an existing one replaced only when its status, reason or message changes.
 */
export function ensureCondition(conditions: readonly JobCondition[], c: JobCondition): { conditions: JobCondition[]; changed: boolean } {
  const cur = conditions.find((x) => x.type === c.type);
  if (cur) {
    if (cur.status === c.status && cur.reason === c.reason && cur.message === c.message) return { conditions: [...conditions], changed: false };
    return { conditions: conditions.map((x) => (x.type === c.type ? c : x)), changed: true };
  }
  if (c.status === 'False') return { conditions: [...conditions], changed: false };
  return { conditions: [...conditions, c], changed: true };
}

// ---- what the pods show -------------------------------------------------------

export interface Uncounted {
  succeeded: string[];
  failed: string[];
}

export function uncountedOf(job: Job): Uncounted {
  const u = job.status?.uncountedTerminatedPods;
  return { succeeded: [...(u?.succeeded ?? [])], failed: [...(u?.failed ?? [])] };
}

export interface JobView {
  /** Not finished and not being deleted. */
  active: Pod[];
  terminating: number;
  /** Finished pods with the finalizer not yet in uncountedTerminatedPods (Indexed: only valid indexes). */
  newSucceeded: Pod[];
  newFailed: Pod[];
  /** The counts once everything finished so far is counted. */
  succeeded: number;
  failed: number;
  /** Indexed: status.completedIndexes as stored, and with the newly succeeded indexes. */
  prevSucceededIndexes: Interval[];
  succeededIndexes: Interval[];
}

const uidOf = (p: Pod) => p.metadata.uid ?? '';

export function viewJob(job: Job, pods: readonly Pod[]): JobView {
  const indexed = isIndexedJob(job);
  const completions = job.spec.completions ?? 0;
  const uncounted = uncountedOf(job);
  const unSucceeded = new Set(uncounted.succeeded);
  const unFailed = new Set(uncounted.failed);
  // Pods without the finalizer were counted already (or were never ours to count).
  const countable = (p: Pod) => hasTrackingFinalizer(p) && (!indexed || validIndexOf(p, completions) !== undefined);
  const newSucceeded = pods.filter((p) => countable(p) && !unSucceeded.has(uidOf(p)) && p.status?.phase === 'Succeeded');
  const newFailed = pods.filter((p) => countable(p) && !unFailed.has(uidOf(p)) && isPodFailed(p));
  let succeeded = (job.status?.succeeded ?? 0) + newSucceeded.length + unSucceeded.size;
  const failed = (job.status?.failed ?? 0) + newFailed.length + unFailed.size;
  let prevSucceededIndexes: Interval[] = [];
  let succeededIndexes: Interval[] = [];
  if (indexed) {
    prevSucceededIndexes = parseIntervals(job.status?.completedIndexes, completions);
    succeededIndexes = withIndexes(
      prevSucceededIndexes,
      newSucceeded.map((p) => validIndexOf(p, completions)!),
    );
    succeeded = intervalsTotal(succeededIndexes);
  }
  return {
    active: pods.filter(isPodActive),
    terminating: pods.filter(isPodTerminating).length,
    newSucceeded,
    newFailed,
    succeeded,
    failed,
    prevSucceededIndexes,
    succeededIndexes,
  };
}

// ---- finishing ----------------------------------------------------------------

/** A finish an earlier pass decided (its interim condition is stored) but could not yet declare. */
export function pendingFinish(job: Job): Finish | undefined {
  const met = conditionTrue(job, 'SuccessCriteriaMet');
  if (met) return { type: 'Complete', reason: met.reason ?? COMPLETIONS_REACHED.reason, message: met.message ?? COMPLETIONS_REACHED.message };
  const target = conditionTrue(job, 'FailureTarget');
  if (target) return { type: 'Failed', reason: target.reason ?? '', message: target.message ?? '' };
  return undefined;
}

/** With restartPolicy OnFailure failures are restarts: the running pods' restarts against backoffLimit. */
export function pastBackoffLimitOnFailure(job: Job, pods: readonly Pod[]): boolean {
  if (job.spec.template?.spec?.restartPolicy !== 'OnFailure') return false;
  let restarts = 0;
  for (const p of pods) {
    if (p.status?.phase !== 'Running' && p.status?.phase !== 'Pending') continue;
    for (const s of [...(p.status.initContainerStatuses ?? []), ...(p.status.containerStatuses ?? [])]) restarts += s.restartCount ?? 0;
  }
  const limit = job.spec.backoffLimit ?? 6;
  return limit === 0 ? restarts > 0 : restarts >= limit;
}

/** Milliseconds until activeDeadlineSeconds runs out (<= 0: past it); undefined without a deadline or while suspended. */
export function deadlineLeftMs(job: Job, startTime: string | undefined, nowMs: number): number | undefined {
  const ads = job.spec.activeDeadlineSeconds;
  const start = Date.parse(startTime ?? '');
  if (ads == null || job.spec.suspend === true || !Number.isFinite(start)) return undefined;
  return start + ads * 1000 - nowMs;
}

/** Whether the Job must fail in this pass, and why. */
export function failureOf(job: Job, view: JobView, pods: readonly Pod[], startTime: string | undefined, nowMs: number): Finish | undefined {
  if (view.failed > (job.spec.backoffLimit ?? 6) || pastBackoffLimitOnFailure(job, pods)) return BACKOFF_LIMIT_EXCEEDED;
  const left = deadlineLeftMs(job, startTime, nowMs);
  if (left !== undefined && left <= 0) return DEADLINE_EXCEEDED;
  return undefined;
}

/** Enough succeeded and nothing runs: a work queue (completions unset) needs one success. */
export function isComplete(job: Job, succeeded: number, active: number): boolean {
  if (active > 0) return false;
  const completions = job.spec.completions;
  return completions == null ? succeeded > 0 : succeeded >= completions;
}

// ---- managing pods ------------------------------------------------------------

/** How many pods should be active: a work queue leaves its running pods alone once one succeeded. */
export function wantActive(job: Job, succeeded: number, active: number): number {
  const parallelism = Math.max(0, job.spec.parallelism ?? 1);
  const completions = job.spec.completions;
  if (completions == null) return succeeded > 0 ? active : parallelism;
  return Math.max(0, Math.min(parallelism, completions - succeeded));
}

/**
 * The active pods to delete so that at most want stay: an Indexed Job's pods
 * with no valid index or a repeated one first, then the least advanced.
 */
export function podsToRemove(job: Job, active: readonly Pod[], want: number): Pod[] {
  const atLeast = Math.max(0, active.length - want);
  let remove: Pod[] = [];
  let left: readonly Pod[] = active;
  if (isIndexedJob(job)) ({ remove, keep: left } = duplicateIndexPods(active, job.spec.completions ?? 0, rankPodsForDeletion));
  if (remove.length < atLeast) remove = [...remove, ...rankPodsForDeletion(left).slice(0, atLeast - remove.length)];
  return remove;
}

/** The first count indexes neither succeeded nor held by an active pod. */
export function indexesToCreate(job: Job, view: JobView, count: number): number[] {
  const completions = job.spec.completions ?? 0;
  const held = view.active.map((p) => validIndexOf(p, completions)).filter((ix): ix is number => ix !== undefined);
  return firstPendingIndexes(withIndexes(view.succeededIndexes, held), count, completions);
}

function withIndexEnv(c: Container): Container {
  if (c.env?.some((e) => e.name === COMPLETION_INDEX_ENV)) return c;
  // Through the downward API, as kube does: the kubelet resolves it from the pod's annotation.
  const env = [...(c.env ?? []), { name: COMPLETION_INDEX_ENV, valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${COMPLETION_INDEX_KEY}']` } } }];
  return { ...c, env };
}

/**
 * A new pod from the Job's template: owned by the Job, labelled with its name
 * and uid, with the tracking finalizer; for an Indexed Job also its index
 * (annotation, label, JOB_COMPLETION_INDEX), hostname `<job>-<index>` and
 * generateName `<job>-<index>-`.
 */
export function podFromJob(job: Job, index?: number): Pod {
  const pod = podFromOwnerTemplate(job, job.spec.template, KIND, API_VERSION, jobPodLabels(job.metadata.uid ?? '', job.metadata.name ?? ''));
  pod.metadata.finalizers = [...(pod.metadata.finalizers ?? []).filter((f) => f !== JOB_TRACKING_FINALIZER), JOB_TRACKING_FINALIZER];
  if (index === undefined) return pod;
  const name = job.metadata.name ?? '';
  pod.metadata.annotations = { ...(pod.metadata.annotations ?? {}), [COMPLETION_INDEX_KEY]: String(index) };
  pod.metadata.labels = { ...(pod.metadata.labels ?? {}), [COMPLETION_INDEX_KEY]: String(index) };
  pod.metadata.generateName = indexedGenerateName(name, index);
  pod.spec.hostname = `${name}-${index}`;
  pod.spec.containers = pod.spec.containers.map(withIndexEnv);
  if (pod.spec.initContainers) pod.spec.initContainers = pod.spec.initContainers.map(withIndexEnv);
  return pod;
}

// ---- tracking finished pods ---------------------------------------------------

export interface TrackingPlan {
  /** Pods whose tracking finalizer goes in this pass. */
  strip: Pod[];
  /** status.uncountedTerminatedPods with this pass's finished pods added. */
  uncounted: Uncounted;
  /** Indexed: the succeeded indexes including this pass's. */
  succeededIndexes: Interval[];
  /** MAX_UNCOUNTED_PODS reached: the rest waits for the next pass, and so does the Job's end. */
  reachedMax: boolean;
}

/**
 * Which pods are done with (finished, being deleted, or all of them once the
 * Job is finishing or being deleted) and how each counts. A pod being deleted
 * before it succeeded, or still running when the Job fails, counts as failed.
 */
export function planTracking(job: Job, pods: readonly Pod[], view: JobView, finishing: Finish | undefined, jobDeleting: boolean): TrackingPlan {
  const indexed = isIndexedJob(job);
  const completions = job.spec.completions ?? 0;
  const uncounted = uncountedOf(job);
  const unSucceeded = new Set(uncounted.succeeded);
  const unFailed = new Set(uncounted.failed);
  const newIndexes: number[] = [];
  const strip: Pod[] = [];
  let reachedMax = false;
  const ordered = indexed ? [...pods].sort((a, b) => (validIndexOf(a, completions) ?? Infinity) - (validIndexOf(b, completions) ?? Infinity)) : pods;
  for (const pod of ordered) {
    if (!hasTrackingFinalizer(pod)) continue;
    const uid = uidOf(pod);
    const failed = isPodFailed(pod);
    const succeeded = pod.status?.phase === 'Succeeded';
    if (!(jobDeleting || finishing || succeeded || failed)) continue;
    strip.push(pod);
    const ix = indexed ? validIndexOf(pod, completions) : undefined;
    if (succeeded && !unFailed.has(uid)) {
      // An index counts once: the interval list is its record, no uid needed.
      if (indexed) {
        if (ix !== undefined && !intervalsHave(view.prevSucceededIndexes, ix)) newIndexes.push(ix);
      } else if (!unSucceeded.has(uid)) {
        unSucceeded.add(uid);
        uncounted.succeeded.push(uid);
      }
    } else if (failed || finishing?.type === 'Failed') {
      if (!unFailed.has(uid) && (!indexed || ix !== undefined)) {
        unFailed.add(uid);
        uncounted.failed.push(uid);
      }
    }
    if (newIndexes.length + uncounted.succeeded.length + uncounted.failed.length >= MAX_UNCOUNTED_PODS) {
      reachedMax = true;
      break;
    }
  }
  const succeededIndexes = indexed ? withIndexes(view.prevSucceededIndexes, newIndexes) : [];
  return { strip, uncounted, succeededIndexes, reachedMax };
}

/**
 * Moves the uncounted pods whose finalizer is gone (withFinalizer: the uids
 * still holding it; a pod that is gone altogether counts too) into
 * succeeded/failed. An Indexed Job's successes are its indexes, so its
 * uncounted list only ever holds failures.
 */
export function settleUncounted(status: JobStatus, withFinalizer: ReadonlySet<string>): JobStatus {
  const u = status.uncountedTerminatedPods ?? {};
  const succeeded = (u.succeeded ?? []).filter((uid) => withFinalizer.has(uid));
  const failed = (u.failed ?? []).filter((uid) => withFinalizer.has(uid));
  const next: JobStatus = {
    ...status,
    succeeded: status.succeeded + (u.succeeded?.length ?? 0) - succeeded.length,
    failed: status.failed + (u.failed?.length ?? 0) - failed.length,
    uncountedTerminatedPods: {},
  };
  if (succeeded.length) next.uncountedTerminatedPods!.succeeded = succeeded;
  if (failed.length) next.uncountedTerminatedPods!.failed = failed;
  return next;
}

/** status.uncountedTerminatedPods in kube's shape: the lists only when not empty. */
export function uncountedStatus(u: Uncounted): NonNullable<JobStatus['uncountedTerminatedPods']> {
  const out: NonNullable<JobStatus['uncountedTerminatedPods']> = {};
  if (u.succeeded.length) out.succeeded = u.succeeded;
  if (u.failed.length) out.failed = u.failed;
  return out;
}

/** Indexed: the succeeded indexes as status.completedIndexes and status.succeeded. */
export function withSucceededIndexes(status: JobStatus, indexes: readonly Interval[]): JobStatus {
  const next: JobStatus = { ...status, succeeded: intervalsTotal(indexes) };
  const text = formatIntervals(indexes);
  if (text) next.completedIndexes = text;
  else delete next.completedIndexes;
  return next;
}

/** The interim condition (FailureTarget or SuccessCriteriaMet) that records a finish before its pods are counted. */
export function interimCondition(finish: Finish, ts: string): JobCondition {
  return newCondition(finish.type === 'Failed' ? 'FailureTarget' : 'SuccessCriteriaMet', 'True', finish.reason, finish.message, ts);
}

/**
 * status with the terminal condition (Complete with completionTime, or
 * Failed) once every finished pod is counted and none is terminating;
 * finished says whether it was set.
 */
export function declareFinish(status: JobStatus, finish: Finish, terminating: number, ts: string): { status: JobStatus; finished: boolean } {
  const u = status.uncountedTerminatedPods;
  if ((u?.succeeded?.length ?? 0) + (u?.failed?.length ?? 0) > 0 || terminating > 0) return { status, finished: false };
  const { conditions } = ensureCondition(status.conditions ?? [], newCondition(finish.type, 'True', finish.reason, finish.message, ts));
  const next: JobStatus = { ...status, conditions };
  if (finish.type === 'Complete') next.completionTime = ts;
  return { status: next, finished: true };
}

export function readyCount(pods: readonly Pod[]): number {
  return pods.filter(isPodReady).length;
}
