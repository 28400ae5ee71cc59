// The batch.kubernetes.io/job-tracking finalizer from the pod side: removing it,
// and releasing it from pods no running Job will count (kube's orphan-pod
// clean-up). A pod keeps the finalizer until its Job counted it, so a pod
// deleted meanwhile (by a user, an eviction or the garbage collector) stays,
// marked, until the finalizer goes; these are the paths that make it go when
// its Job cannot:
// - the pod has no controller any more (its Job was deleted with Orphan);
// - its Job is gone: at once when the pod is being deleted, otherwise once the
//   pod is older than a grace, since the store is eventually consistent and a
//   Job may reach this agent after its pods (as in the garbage collector);
// - its Job finished (the Job's own pass releases those too).
// It also completes a pod deletion that replication left pending: a deletion
// marked on one agent while the finalizer was removed on another merges into
// a pod with deletionTimestamp, grace 0 and no finalizers that no write removes.
import type { ObjectClient } from '../api/object-client.ts';
import type { OwnerReference, Pod } from '../api/object-types.ts';
import { ApiError, Conflict, NotFound } from '../api/errors.ts';
import type { Logger } from '../logger.ts';
import type { ControllerEvent, ReconcileResult } from './controller.ts';
import type { Job } from './job-controller.ts';
import { hasTrackingFinalizer, isJobFinished, JOB_TRACKING_FINALIZER } from './job-plan.ts';
import { controllerRef, groupOf } from './owner-refs.ts';

const ORPHAN_PREFIX = 'orphan-pod:';
/** As the garbage collector's orphanGraceMs. */
export const DEFAULT_ORPHAN_GRACE_MS = 5000;
/** Immediate retries of a finalizer removal that raced another write to the pod. */
const CONFLICT_RETRIES = 2;

export interface TrackingFinalizers {
  /** Removes the finalizer from each pod; the uids it is gone from (or whose pod is gone) and the first error. */
  strip(pods: readonly Pod[]): Promise<{ stripped: Set<string>; error?: unknown }>;
  /** Orphan-pod work-queue keys for a pod change. */
  podKeys(event: ControllerEvent): string[];
  /** Orphan-pod keys of the pods of a Job that was just deleted. */
  deletedJobKeys(job: Job): string[];
  isOrphanKey(key: string): boolean;
  reconcileOrphan(key: string): Promise<ReconcileResult | void>;
}

export interface TrackingFinalizersOptions {
  client: ObjectClient;
  jobResource: string;
  log: Logger;
  clock: () => Date;
  orphanGraceMs?: number;
}

export function isJobRef(ref: OwnerReference): boolean {
  return ref.kind === 'Job' && groupOf(ref.apiVersion) === 'batch';
}

/** A deletion that nothing holds any more but that was never completed. */
export function deletionLeftPending(pod: Pod): boolean {
  return !!pod.metadata.deletionTimestamp && pod.metadata.deletionGracePeriodSeconds === 0 && !pod.metadata.finalizers?.length;
}

export function createTrackingFinalizers(opts: TrackingFinalizersOptions): TrackingFinalizers {
  const { client, jobResource, log, clock } = opts;
  const graceMs = opts.orphanGraceMs ?? DEFAULT_ORPHAN_GRACE_MS;
  const ns = (pod: Pod) => pod.metadata.namespace ?? 'default';
  const orphanKey = (pod: Pod) => `${ORPHAN_PREFIX}${ns(pod)}/${pod.metadata.name ?? ''}`;

  function jobOf(pod: Pod, ref: OwnerReference): Job | undefined {
    const job = client.get<Job>(jobResource, ns(pod), ref.name);
    return job?.metadata.uid === ref.uid ? job : undefined;
  }

  async function stripOne(pod: Pod): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      // Re-read: the update must carry the pod's newest state, not the pass's snapshot.
      const fresh = client.get<Pod>('pods', ns(pod), pod.metadata.name ?? '');
      if (!fresh || fresh.metadata.uid !== pod.metadata.uid || !hasTrackingFinalizer(fresh)) return;
      const finalizers = (fresh.metadata.finalizers ?? []).filter((f) => f !== JOB_TRACKING_FINALIZER);
      try {
        await client.update<Pod>('pods', { ...fresh, metadata: { ...fresh.metadata, finalizers } });
        return;
      } catch (err) {
        if (err instanceof NotFound) return;
        if (err instanceof Conflict && attempt < CONFLICT_RETRIES) continue;
        throw err;
      }
    }
  }

  async function completeDeletion(pod: Pod): Promise<void> {
    try {
      await client.delete('pods', ns(pod), pod.metadata.name ?? '', { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid } });
      log.info({ pod: `${ns(pod)}/${pod.metadata.name}` }, 'completed a pod deletion left pending');
    } catch (err) {
      if (!(err instanceof ApiError && (err.code === 404 || err.code === 409))) throw err;
    }
  }

  return {
    async strip(pods) {
      const results = await Promise.allSettled(pods.map(stripOne));
      const stripped = new Set<string>();
      let error: unknown;
      results.forEach((r, i) => {
        if (r.status === 'fulfilled') stripped.add(pods[i]!.metadata.uid ?? '');
        else error ??= r.reason;
      });
      return { stripped, error };
    },

    podKeys(event) {
      if (event.type === 'DELETED') return [];
      const pod = event.object as Pod;
      const ref = controllerRef(pod);
      if (ref && !isJobRef(ref)) return [];
      if (ref && deletionLeftPending(pod)) return [orphanKey(pod)];
      if (!hasTrackingFinalizer(pod)) return [];
      return !ref || !jobOf(pod, ref) ? [orphanKey(pod)] : [];
    },

    deletedJobKeys(job) {
      const uid = job.metadata.uid;
      if (!uid) return [];
      return client
        .list<Pod>('pods', { namespace: job.metadata.namespace })
        .items.filter((p) => controllerRef(p)?.uid === uid && hasTrackingFinalizer(p))
        .map(orphanKey);
    },

    isOrphanKey: (key) => key.startsWith(ORPHAN_PREFIX),

    async reconcileOrphan(key) {
      const rest = key.slice(ORPHAN_PREFIX.length);
      const slash = rest.indexOf('/');
      const pod = client.get<Pod>('pods', rest.slice(0, slash), rest.slice(slash + 1));
      if (!pod) return;
      const ref = controllerRef(pod);
      if (ref && !isJobRef(ref)) return; // another owner's pod: not ours to release
      if (deletionLeftPending(pod)) return completeDeletion(pod);
      if (!hasTrackingFinalizer(pod)) return;
      if (ref) {
        const job = jobOf(pod, ref);
        if (job && !isJobFinished(job)) return; // its Job counts it
        if (!job && !pod.metadata.deletionTimestamp) {
          const created = Date.parse(pod.metadata.creationTimestamp ?? '');
          const age = Number.isFinite(created) ? clock().getTime() - created : Infinity;
          if (age < graceMs) return { requeueAfterMs: graceMs - age };
        }
      }
      await stripOne(pod);
      log.info({ pod: `${ns(pod)}/${pod.metadata.name}` }, 'removed the tracking finalizer of a pod no running job counts');
    },
  };
}
