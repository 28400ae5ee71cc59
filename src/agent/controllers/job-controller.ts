// The Job controller (batch/v1), the shell around job-plan.ts (Kubernetes'
// decisions, pure) with Kubernetes' semantics:
// - runs pods from the template (generateName `<job>-`, controller reference,
//   labels job-name and controller-uid, the batch.kubernetes.io/job-tracking
//   finalizer) until spec.completions have succeeded, keeping min(parallelism,
//   remaining completions) active; a work-queue Job (completions unset) is done
//   once any pod succeeded and none is active;
// - Indexed Jobs (completionMode Indexed): one pod per index 0..completions-1
//   (`<job>-<index>-xxxxx`, hostname `<job>-<index>`, JOB_COMPLETION_INDEX),
//   status.completedIndexes, a failed index retried;
// - counts each finished pod once, through status.uncountedTerminatedPods and
//   the finalizer's removal, so counts survive the pods' deletion; a pod
//   deleted before it succeeded counts as failed;
// - replaces a failed pod after a back-off (10 s doubling per consecutive
//   failure, up to 6 min), requeueing itself for then;
// - fails the Job (FailureTarget, then Failed) with BackoffLimitExceeded once more
//   than backoffLimit pods failed, or DeadlineExceeded once it has been active
//   activeDeadlineSeconds, deleting its active pods;
// - Complete (after SuccessCriteriaMet) with status.completionTime when enough
//   succeeded; the terminal condition waits for every pod to be counted and
//   none to be terminating;
// - spec.suspend deletes the active pods (uncounted) and stops the clock (startTime resets on resume);
// - ttlSecondsAfterFinished deletes a finished Job (Background propagation) that long after it finished.
// Writes are guarded by expectations as in the ReplicaSet controller. A Job
// being deleted creates nothing but still releases its pods' finalizers, so
// the garbage collector's deletions complete; job-tracking-finalizer.ts
// releases the pods no running Job will count.
import type { KubeObject, Pod, PodSpec } from '../api/object-types.ts';
import { NotFound } from '../api/errors.ts';
import { rfc3339 } from '../api/registry.ts';
import type { LabelSelectorShape } from '../api/admission/schemas.ts';
import { defineController, type Controller, type ControllerEvent, type ReconcileResult } from './controller.ts';
import { controllerRef } from './owner-refs.ts';
import { getByKey, writeStatusIfChanged } from './keyed-object.ts';
import { createPodOwnerParts, observeOwnedPod, ownerWatch, type PodOwnerControllerOptions } from './owned-pods.ts';
import { DEFAULT_POD_FAILURE_BACKOFF_MS, MAX_POD_FAILURE_BACKOFF_MS, NO_BACKOFF, nextBackoffRecord, remainingBackoffMs, type BackoffRecord } from './job-backoff.ts';
import {
  COMPLETIONS_REACHED,
  conditionTrue,
  deadlineLeftMs,
  declareFinish,
  ensureCondition,
  failureOf,
  finishedAt,
  hasTrackingFinalizer,
  indexesToCreate,
  interimCondition,
  isComplete,
  isIndexedJob,
  isJobFinished,
  newCondition,
  pendingFinish,
  planTracking,
  podFromJob,
  podsToRemove,
  readyCount,
  settleUncounted,
  uncountedStatus,
  viewJob,
  wantActive,
  withSucceededIndexes,
  type JobView,
} from './job-plan.ts';
import { createTrackingFinalizers, isJobRef } from './job-tracking-finalizer.ts';

export { podFromJob, wantActive, finishedAt } from './job-plan.ts';

export const JOB_RESOURCE = 'jobs.batch';
const DEFAULT_BURST = 500;

export interface JobCondition {
  type: 'Complete' | 'Failed' | 'SuccessCriteriaMet' | 'FailureTarget' | 'Suspended' | string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastProbeTime?: string;
  lastTransitionTime?: string;
}

export interface JobStatus {
  startTime?: string;
  completionTime?: string;
  active: number;
  succeeded: number;
  failed: number;
  ready: number;
  /** Pods being deleted that have not finished. */
  terminating?: number;
  /** Indexed: the succeeded indexes, e.g. "0-2,4". */
  completedIndexes?: string;
  /** Finished pods (by uid) already recorded but not yet in succeeded/failed: their finalizer is on its way out. */
  uncountedTerminatedPods?: { succeeded?: string[]; failed?: string[] };
  conditions?: JobCondition[];
}

export interface Job extends KubeObject {
  spec: {
    parallelism?: number;
    completions?: number | null;
    activeDeadlineSeconds?: number;
    backoffLimit?: number;
    ttlSecondsAfterFinished?: number;
    completionMode?: string;
    suspend?: boolean;
    manualSelector?: boolean;
    selector?: LabelSelectorShape;
    template?: {
      metadata?: { labels?: Record<string, string>; annotations?: Record<string, string>; finalizers?: string[] };
      spec?: PodSpec;
    };
  };
  status?: JobStatus;
}

/** Events (SuccessfulCreate, Completed, ...) go by default to component `job-controller`. */
export interface JobControllerOptions extends PodOwnerControllerOptions {
  /** Most pods created or deleted per pass (default 500). */
  burstPods?: number;
  /** Back-off before replacing a failed pod, doubling per consecutive failure (default 10 s). */
  podFailureBackoffMs?: number;
  /** Its cap (default 6 min). */
  maxPodFailureBackoffMs?: number;
  /** A pod whose Job is missing from the local store is released only once this old (default 5 s). */
  orphanGraceMs?: number;
}

// ---- the controller -----------------------------------------------------------

export function createJobController(opts: JobControllerOptions): Controller {
  const { client } = opts;
  const { log, clock, events, expectations, ownedPods } = createPodOwnerParts(opts, 'job-controller');
  const burst = opts.burstPods ?? DEFAULT_BURST;
  const backoffBaseMs = opts.podFailureBackoffMs ?? DEFAULT_POD_FAILURE_BACKOFF_MS;
  const backoffMaxMs = opts.maxPodFailureBackoffMs ?? MAX_POD_FAILURE_BACKOFF_MS;
  const finalizers = createTrackingFinalizers({ client, jobResource: JOB_RESOURCE, log, clock, orphanGraceMs: opts.orphanGraceMs });
  const jobWatch = ownerWatch(JOB_RESOURCE, expectations);
  // Kube keeps the pod failure back-off in memory too; a new leader starts afresh.
  const backoffs = new Map<string, BackoffRecord>();

  function podToKeys(event: ControllerEvent): string[] {
    const pod = event.object as Pod;
    const ref = controllerRef(pod);
    const keys = finalizers.podKeys(event);
    if (ref && isJobRef(ref)) keys.push(observeOwnedPod(expectations, event, ref.name));
    return keys;
  }

  function jobToKeys(event: ControllerEvent): string[] {
    const keys = [...jobWatch.toKeys(event)];
    if (event.type === 'DELETED') keys.push(...finalizers.deletedJobKeys(event.object as Job));
    return keys;
  }

  /** Deletes these pods; the uids that are gone or going, and the first error. */
  async function deletePods(key: string, job: Job, victims: readonly Pod[]): Promise<{ deleted: Set<string>; error?: unknown }> {
    if (!victims.length) return { deleted: new Set() };
    const { failed, error } = await ownedPods.delete(key, job, victims);
    const deleted = new Set(victims.map((p) => p.metadata.uid ?? '').filter((uid) => !failed.has(uid)));
    log.info({ job: key, deleted: deleted.size }, 'deleted pods');
    return { deleted, error };
  }

  /** Pods the Job no longer wants (scale-down, suspend): released first, so they do not count as failed. */
  async function removeUncounted(key: string, job: Job, victims: readonly Pod[]): Promise<{ deleted: Set<string>; error?: unknown }> {
    const { stripped, error } = await finalizers.strip(victims);
    const r = await deletePods(
      key,
      job,
      victims.filter((p) => stripped.has(p.metadata.uid ?? '')),
    );
    return { deleted: r.deleted, error: error ?? r.error };
  }

  async function deleteAfterTtl(key: string, job: Job, now: Date): Promise<ReconcileResult | void> {
    const ttl = job.spec.ttlSecondsAfterFinished;
    const at = finishedAt(job);
    if (ttl == null || at === undefined) return;
    const left = at + ttl * 1000 - now.getTime();
    if (left > 0) return { requeueAfterMs: left };
    try {
      await client.delete(JOB_RESOURCE, job.metadata.namespace ?? 'default', job.metadata.name ?? '', {
        propagationPolicy: 'Background',
        preconditions: { uid: job.metadata.uid },
      });
      log.info({ job: key }, 'deleted finished job after its ttl');
    } catch (err) {
      if (!(err instanceof NotFound)) throw err;
    }
  }

  async function writeStatus(job: Job, status: JobStatus): Promise<Job> {
    return (await writeStatusIfChanged(client, JOB_RESOURCE, job, status)) ?? { ...job, status };
  }

  interface Managed {
    active: Pod[];
    /** Pods deleted in this pass (they are terminating now). */
    removed: number;
    error?: unknown;
    requeueAfterMs?: number;
  }

  /** kube's manageJob: suspend, scale down, or create what is missing once the failure back-off allows. */
  async function manageJob(key: string, job: Job, view: JobView, backoff: BackoffRecord, nowMs: number): Promise<Managed> {
    const active = view.active;
    const without = (deleted: Set<string>) => active.filter((p) => !deleted.has(p.metadata.uid ?? ''));
    if (job.spec.suspend === true) {
      const r = await removeUncounted(key, job, active);
      return { active: without(r.deleted), removed: r.deleted.size, error: r.error };
    }
    const want = wantActive(job, view.succeeded, active.length);
    const victims = podsToRemove(job, active, want).slice(0, burst);
    // Deleting takes precedence: an Indexed Job may need both, one pass does one.
    if (victims.length) {
      const r = await removeUncounted(key, job, victims);
      return { active: without(r.deleted), removed: r.deleted.size, error: r.error };
    }
    const diff = want - active.length;
    if (diff <= 0) return { active, removed: 0 };
    const wait = remainingBackoffMs(backoff, nowMs, backoffBaseMs, backoffMaxMs);
    if (wait > 0) return { active, removed: 0, requeueAfterMs: wait };
    const indexes = isIndexedJob(job) ? indexesToCreate(job, view, Math.min(diff, burst)) : undefined;
    const count = indexes ? indexes.length : Math.min(diff, burst);
    if (!count) return { active, removed: 0 };
    const r = await ownedPods.create(key, job, count, (i) => podFromJob(job, indexes?.[i]));
    if (r.created.length) log.info({ job: key, created: r.created.length }, 'created pods');
    return { active: [...active, ...r.created], removed: 0, error: r.error };
  }

  /** kube's syncJob for a Job that has not finished. */
  async function syncJob(key: string, job: Job, pods: Pod[], now: Date): Promise<ReconcileResult | void> {
    const nowMs = now.getTime();
    const ts = rfc3339(now);
    const deleting = !!job.metadata.deletionTimestamp;
    const suspended = job.spec.suspend === true;
    // Before reading the pods: a pod that arrives after this is seen by the next pass.
    const satisfied = expectations.satisfied(key);
    const view = viewJob(job, pods);
    const prev = job.status;
    let conditions = [...(prev?.conditions ?? [])];
    // A Job being resumed starts its deadline's clock again (kube resets startTime on resume).
    const resuming = !suspended && !!conditionTrue(job, 'Suspended');
    let startTime = resuming ? ts : (prev?.startTime ?? (suspended ? undefined : ts));
    const backoff = nextBackoffRecord(backoffs.get(key) ?? NO_BACKOFF, view.newSucceeded, view.newFailed);
    let finishing = pendingFinish(job) ?? failureOf(job, view, pods, startTime, nowMs);
    const requeues: number[] = [];
    if (!finishing) {
      const left = deadlineLeftMs(job, startTime, nowMs);
      if (left !== undefined) requeues.push(left);
    }
    let active = view.active;
    let terminating = view.terminating;
    let error: unknown;

    if (finishing) {
      // Deleted with their finalizer: a pod still running when the Job fails counts as failed.
      const r = await deletePods(key, job, active);
      error ??= r.error;
      // Not declared while some pod may still run or a pod of ours may not be seen yet.
      if (r.deleted.size !== active.length || !satisfied) finishing = undefined;
      active = active.filter((p) => !r.deleted.has(p.metadata.uid ?? ''));
      terminating += r.deleted.size;
    } else {
      let managed = false;
      if (satisfied && !deleting) {
        managed = true;
        const r = await manageJob(key, job, view, backoff, nowMs);
        active = r.active;
        terminating += r.removed;
        error ??= r.error;
        if (r.requeueAfterMs !== undefined) requeues.push(r.requeueAfterMs);
      }
      if (isComplete(job, view.succeeded, active.length)) {
        finishing = COMPLETIONS_REACHED;
      } else if (managed) {
        const c = suspended
          ? newCondition('Suspended', 'True', 'JobSuspended', 'Job suspended', ts)
          : newCondition('Suspended', 'False', 'JobResumed', 'Job resumed', ts);
        const r = ensureCondition(conditions, c);
        conditions = r.conditions;
        if (r.changed) {
          await events.normal(job, suspended ? 'Suspended' : 'Resumed', suspended ? 'Job suspended' : 'Job resumed');
          // The deadline counts time active: a resumed Job starts its clock again.
          if (!suspended) startTime = ts;
        }
      }
    }

    // Tracking: record the finished pods, release their finalizers, then count them.
    const plan = planTracking(job, pods, view, finishing, deleting);
    let status: JobStatus = {
      active: active.length,
      succeeded: prev?.succeeded ?? 0,
      failed: prev?.failed ?? 0,
      ready: readyCount(active),
      terminating,
      uncountedTerminatedPods: uncountedStatus(plan.uncounted),
    };
    if (startTime) status.startTime = startTime;
    if (isIndexedJob(job)) status = withSucceededIndexes(status, plan.succeededIndexes);
    if (finishing) conditions = ensureCondition(conditions, interimCondition(finishing, ts)).conditions;
    if (conditions.length) status.conditions = conditions;
    const withFinalizer = new Set(pods.filter(hasTrackingFinalizer).map((p) => p.metadata.uid ?? ''));
    // Pods an earlier pass released but did not get to count.
    status = settleUncounted(status, withFinalizer);
    let current = await writeStatus(job, status);
    backoffs.set(key, backoff);
    const stripped = await finalizers.strip(plan.strip);
    error ??= stripped.error;
    for (const uid of stripped.stripped) withFinalizer.delete(uid);
    status = settleUncounted(status, withFinalizer);
    let finished = false;
    if (finishing && !plan.reachedMax) ({ status, finished } = declareFinish(status, finishing, terminating, ts));
    current = await writeStatus(current, status);
    if (finished && finishing) {
      backoffs.delete(key);
      if (finishing.type === 'Complete') await events.normal(job, 'Completed', 'Job completed');
      else await events.warning(job, finishing.reason, finishing.message);
    }
    if (error !== undefined) throw error;
    if (finished) {
      const ttl = await deleteAfterTtl(key, current, now);
      if (ttl) requeues.push(ttl.requeueAfterMs ?? 0);
    }
    return requeues.length ? { requeueAfterMs: Math.max(0, Math.min(...requeues)) } : undefined;
  }

  async function reconcile(key: string): Promise<ReconcileResult | void> {
    if (finalizers.isOrphanKey(key)) return finalizers.reconcileOrphan(key);
    const job = getByKey<Job>(client, JOB_RESOURCE, key);
    if (!job) {
      expectations.forget(key);
      backoffs.delete(key);
      return;
    }
    const now = clock();
    const uid = job.metadata.uid ?? '';
    const pods = client.list<Pod>('pods', { namespace: job.metadata.namespace }).items.filter((p) => controllerRef(p)?.uid === uid);
    if (isJobFinished(job)) {
      backoffs.delete(key);
      // Every pod that finished in time was counted; what still holds the finalizer is let go uncounted.
      const { error } = await finalizers.strip(pods.filter(hasTrackingFinalizer));
      if (error !== undefined) throw error;
      return deleteAfterTtl(key, job, now);
    }
    return syncJob(key, job, pods, now);
  }

  return defineController({
    name: 'job-controller',
    resyncMs: opts.resyncMs,
    watches: [
      { resource: JOB_RESOURCE, toKeys: jobToKeys },
      { resource: 'pods', toKeys: podToKeys },
    ],
    onStart: () => {
      expectations.clear();
      backoffs.clear();
    },
    reconcile,
  });
}
