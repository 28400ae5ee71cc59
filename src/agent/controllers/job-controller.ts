// The Job controller (batch/v1), with Kubernetes' semantics where Mesh needs them:
// - runs pods from the template (generateName `<job>-`, controller reference,
//   labels job-name and controller-uid) until spec.completions have succeeded,
//   keeping min(parallelism, remaining completions) active; a work-queue Job
//   (completions unset) is done once any pod succeeded and none is active;
// - counts the pods it controls that reached phase Succeeded or Failed;
// - fails the Job (FailureTarget, then Failed) with BackoffLimitExceeded once more
//   than backoffLimit pods failed, or DeadlineExceeded once it has been active
//   activeDeadlineSeconds, deleting its active pods;
// - Complete (after SuccessCriteriaMet) with status.completionTime when enough succeeded;
// - spec.suspend deletes the active pods and stops the clock (startTime resets on resume);
// - ttlSecondsAfterFinished deletes a finished Job (Background propagation) that long after it finished.
// Writes are guarded by expectations as in the ReplicaSet controller. A Job being
// deleted is left alone (the garbage collector handles its pods).
import type { ObjectClient } from '../api/object-client.ts';
import type { KubeObject, Pod, PodSpec } from '../api/object-types.ts';
import { NotFound } from '../api/errors.ts';
import { rfc3339 } from '../api/registry.ts';
import { jobPodLabels } from '../api/admission/defaults-job.ts';
import type { LabelSelectorShape } from '../api/admission/schemas.ts';
import { createEventRecorder, type EventRecorder } from '../event-recorder.ts';
import type { Logger } from '../logger.ts';
import { jsonEqual } from '../store/json-equal.ts';
import { defineController, type Controller, type ControllerEvent, type ReconcileResult } from './controller.ts';
import { createExpectations } from './expectations.ts';
import { controllerRef, groupOf } from './owner-refs.ts';
import { isPodActive, isPodReady, rankPodsForDeletion } from './replicaset-controller.ts';
import { createOwnedPods, errorMessage as message, podFromOwnerTemplate } from './owned-pods.ts';

export const JOB_RESOURCE = 'jobs.batch';
const KIND = 'Job';
const API_VERSION = 'batch/v1';
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

export interface JobControllerOptions {
  client: ObjectClient;
  logger: Logger;
  /** Where SuccessfulCreate/Completed/... go; by default Events of component `job-controller`. */
  events?: EventRecorder;
  clock?: () => Date;
  /** Most pods created or deleted per pass (default 500). */
  burstPods?: number;
  /** How long an unseen write blocks further ones (default 5 min). */
  expectationsTimeoutMs?: number;
  resyncMs?: number;
}

// ---- pure helpers ---------------------------------------------------------

interface Finish {
  type: 'Complete' | 'Failed';
  reason: string;
  message: string;
}

export interface PodCounts {
  active: Pod[];
  succeeded: number;
  failed: number;
  ready: number;
}

export function countPods(pods: readonly Pod[]): PodCounts {
  const counts: PodCounts = { active: [], succeeded: 0, failed: 0, ready: 0 };
  for (const p of pods) {
    if (p.status?.phase === 'Succeeded') counts.succeeded++;
    else if (p.status?.phase === 'Failed') counts.failed++;
    else if (isPodActive(p)) {
      counts.active.push(p);
      if (isPodReady(p)) counts.ready++;
    }
  }
  return counts;
}

function conditionTrue(job: Job, type: string): JobCondition | undefined {
  return job.status?.conditions?.find((c) => c.type === type && c.status === 'True');
}

/** When the Job finished (Complete or Failed), or undefined while it runs. */
export function finishedAt(job: Job): number | undefined {
  const c = conditionTrue(job, 'Complete') ?? conditionTrue(job, 'Failed');
  if (!c) return undefined;
  const t = Date.parse((c.type === 'Complete' ? job.status?.completionTime : undefined) ?? c.lastTransitionTime ?? '');
  return Number.isFinite(t) ? t : undefined;
}

/** How many pods should be active now (spec.completions unset: a work queue). */
export function wantActive(job: Job, succeeded: number): number {
  const parallelism = Math.max(0, job.spec.parallelism ?? 1);
  const completions = job.spec.completions;
  if (completions == null) return succeeded > 0 ? 0 : parallelism;
  return Math.max(0, Math.min(parallelism, completions - succeeded));
}

/** Whether the Job ends in this pass, and how; deadline checked against startTime. */
export function finishOf(job: Job, counts: PodCounts, startMs: number | undefined, now: Date): Finish | undefined {
  const backoffLimit = job.spec.backoffLimit ?? 6;
  if (counts.failed > backoffLimit) return { type: 'Failed', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' };
  const ads = job.spec.activeDeadlineSeconds;
  if (ads != null && startMs !== undefined && now.getTime() - startMs >= ads * 1000) {
    return { type: 'Failed', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' };
  }
  const completions = job.spec.completions;
  const done = completions == null ? counts.succeeded > 0 && counts.active.length === 0 : counts.succeeded >= completions;
  if (done) return { type: 'Complete', reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods' };
  return undefined;
}

function setCondition(conditions: JobCondition[], c: JobCondition): JobCondition[] {
  const cur = conditions.find((x) => x.type === c.type);
  if (cur && cur.status === c.status && cur.reason === c.reason) return conditions;
  return [...conditions.filter((x) => x.type !== c.type), c];
}

/** A new pod from the template, owned by job and labelled with its name and uid. */
export function podFromJob(job: Job): Pod {
  return podFromOwnerTemplate(job, job.spec.template, KIND, API_VERSION, jobPodLabels(job.metadata.uid ?? '', job.metadata.name ?? ''));
}

// ---- the controller -----------------------------------------------------------

export function createJobController(opts: JobControllerOptions): Controller {
  const { client } = opts;
  const log = opts.logger.child({ component: 'job-controller' });
  const clock = opts.clock ?? (() => new Date());
  const burst = opts.burstPods ?? DEFAULT_BURST;
  const events = opts.events ?? createEventRecorder({ client, source: { component: 'job-controller' }, logger: opts.logger });
  const expectations = createExpectations({ clock, timeoutMs: opts.expectationsTimeoutMs });
  const ownedPods = createOwnedPods({ client, events, expectations });
  const keyOf = (o: KubeObject) => `${o.metadata.namespace ?? 'default'}/${o.metadata.name ?? ''}`;

  function podToKeys(event: ControllerEvent): string[] {
    const pod = event.object as Pod;
    const ref = controllerRef(pod);
    if (!ref || ref.kind !== KIND || groupOf(ref.apiVersion) !== 'batch') return [];
    const key = `${pod.metadata.namespace ?? 'default'}/${ref.name}`;
    if (!event.resync) {
      if (event.type === 'ADDED') expectations.creationObserved(key);
      if (event.type === 'DELETED' || pod.metadata.deletionTimestamp) expectations.deletionObserved(key, pod.metadata.uid ?? '');
    }
    return [key];
  }

  /** Creates count pods; the error of the first failed create, if any. */
  async function createPods(key: string, job: Job, count: number): Promise<{ created: Pod[]; error?: unknown }> {
    const result = await ownedPods.create(key, job, count, () => podFromJob(job));
    if (result.created.length) log.info({ job: key, created: result.created.length }, 'created pods');
    return result;
  }

  /** Deletes these pods; the uids that are gone or going, and the first error. */
  async function deletePods(key: string, job: Job, victims: readonly Pod[]): Promise<{ deleted: Set<string>; error?: unknown }> {
    const { failed, error } = await ownedPods.delete(key, job, victims);
    const deleted = new Set(victims.map((p) => p.metadata.uid ?? '').filter((uid) => !failed.has(uid)));
    if (victims.length) log.info({ job: key, deleted: deleted.size }, 'deleted pods');
    return { deleted, error };
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
    if (jsonEqual(status, job.status ?? {})) return job;
    try {
      // Status only, without a resourceVersion: a spec change meanwhile brings its own pass.
      return await client.updateStatus<Job>(JOB_RESOURCE, { ...job, metadata: { ...job.metadata, resourceVersion: undefined }, status });
    } catch (err) {
      if (err instanceof NotFound) return { ...job, status };
      throw err;
    }
  }

  async function reconcile(key: string): Promise<ReconcileResult | void> {
    const slash = key.indexOf('/');
    const ns = key.slice(0, slash);
    const name = key.slice(slash + 1);
    const job = client.get<Job>(JOB_RESOURCE, ns, name);
    if (!job) {
      expectations.forget(key);
      return;
    }
    if (job.metadata.deletionTimestamp) return;
    const now = clock();
    const uid = job.metadata.uid ?? '';
    const owned = client.list<Pod>('pods', { namespace: ns }).items.filter((p) => controllerRef(p)?.uid === uid);
    const counts = countPods(owned);
    const prev = job.status;
    let conditions = prev?.conditions ?? [];
    const finished = !!conditionTrue(job, 'Complete') || !!conditionTrue(job, 'Failed');
    const ts = rfc3339(now);
    const cond = (type: string, reason: string, msg: string, status: JobCondition['status'] = 'True'): JobCondition => ({
      type,
      status,
      reason,
      message: msg,
      lastProbeTime: ts,
      lastTransitionTime: ts,
    });
    let startTime = prev?.startTime;
    let completionTime = prev?.completionTime;
    let active = counts.active;
    let error: unknown;
    let requeueAfterMs: number | undefined;

    const removeActive = async (victims: readonly Pod[]) => {
      if (!victims.length || !expectations.satisfied(key)) return;
      const r = await deletePods(key, job, victims);
      active = active.filter((p) => !r.deleted.has(p.metadata.uid ?? ''));
      error ??= r.error;
    };

    if (finished) {
      // Finished Jobs keep their pods; a failed one's stragglers still go.
      if (conditionTrue(job, 'Failed')) await removeActive(counts.active);
    } else if (job.spec.suspend) {
      await removeActive(counts.active);
      conditions = setCondition(conditions, cond('Suspended', 'JobSuspended', 'Job suspended'));
      startTime = undefined;
    } else {
      if (conditionTrue(job, 'Suspended')) {
        conditions = setCondition(conditions, cond('Suspended', 'JobResumed', 'Job resumed', 'False'));
        startTime = undefined;
      }
      startTime ??= ts;
      const startMs = Date.parse(startTime);
      const finish = finishOf(job, counts, startMs, now);
      if (finish?.type === 'Failed') {
        await removeActive(counts.active);
        conditions = setCondition(conditions, cond('FailureTarget', finish.reason, finish.message));
        conditions = setCondition(conditions, cond('Failed', finish.reason, finish.message));
        await events.warning(job, finish.reason, finish.message);
      } else if (finish?.type === 'Complete') {
        conditions = setCondition(conditions, cond('SuccessCriteriaMet', finish.reason, finish.message));
        conditions = setCondition(conditions, cond('Complete', finish.reason, finish.message));
        completionTime = ts;
        await events.normal(job, 'Completed', 'Job completed');
      } else {
        const diff = wantActive(job, counts.succeeded) - counts.active.length;
        if (expectations.satisfied(key)) {
          if (diff > 0) {
            const r = await createPods(key, job, Math.min(diff, burst));
            active = [...active, ...r.created];
            error ??= r.error;
          } else if (diff < 0) {
            await removeActive(rankPodsForDeletion(counts.active).slice(0, Math.min(-diff, burst)));
          }
        }
        const ads = job.spec.activeDeadlineSeconds;
        if (ads != null) requeueAfterMs = Math.max(0, startMs + ads * 1000 - now.getTime());
      }
    }

    const status: JobStatus = {
      active: active.length,
      succeeded: counts.succeeded,
      failed: counts.failed,
      ready: active.filter(isPodReady).length,
    };
    if (startTime) status.startTime = startTime;
    if (completionTime) status.completionTime = completionTime;
    if (conditions.length) status.conditions = conditions;
    const written = await writeStatus(job, status);
    if (error !== undefined) throw error;
    const ttl = await deleteAfterTtl(key, written, now);
    return ttl ?? (requeueAfterMs === undefined ? undefined : { requeueAfterMs });
  }

  return defineController({
    name: 'job-controller',
    resyncMs: opts.resyncMs,
    watches: [
      {
        resource: JOB_RESOURCE,
        toKeys: (e) => {
          if (e.type === 'DELETED') expectations.forget(keyOf(e.object));
          return [keyOf(e.object)];
        },
      },
      { resource: 'pods', toKeys: podToKeys },
    ],
    onStart: () => expectations.clear(),
    reconcile,
  });
}
