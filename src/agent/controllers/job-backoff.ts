// The Job's pod failure back-off, as Kubernetes computes it: a replacement for
// a failed pod waits 10 s, doubling with each consecutive failure (failures
// since the last success) up to a cap, counted from the last failure's finish
// time. The record lives in the leader's memory, as kube's does; a new leader
// starts it afresh. Pure functions only.
import type { ContainerStatus, Pod } from '../api/object-types.ts';

/** Kubernetes' DefaultJobPodFailureBackOff. */
export const DEFAULT_POD_FAILURE_BACKOFF_MS = 10_000;
/** The cap kube documents for the Job back-off (six minutes). */
export const MAX_POD_FAILURE_BACKOFF_MS = 360_000;

export interface BackoffRecord {
  failuresAfterLastSuccess: number;
  /** Epoch ms of the last counted failure, when there is one. */
  lastFailureAt?: number;
}

export const NO_BACKOFF: BackoffRecord = { failuresAfterLastSuccess: 0 };

function latestFinish(statuses: readonly ContainerStatus[], include: (s: ContainerStatus) => boolean): number | null | undefined {
  let latest: number | undefined;
  for (const s of statuses) {
    if (!include(s)) continue;
    const t = 'terminated' in s.state ? Date.parse(s.state.terminated.finishedAt ?? '') : NaN;
    // A container not yet finished means the containers tell nothing.
    if (!Number.isFinite(t)) return null;
    latest = latest === undefined ? t : Math.max(latest, t);
  }
  return latest;
}

/**
 * When the pod finished: its containers' (and sidecars') latest finish, else
 * when Ready turned False, else its deletion time less the grace period, else
 * its creation.
 */
export function podFinishedAt(pod: Pod): number {
  const sidecars = new Set((pod.spec.initContainers ?? []).filter((c) => c.restartPolicy === 'Always').map((c) => c.name));
  const app = latestFinish(pod.status?.containerStatuses ?? [], () => true);
  const side = app === null ? null : latestFinish(pod.status?.initContainerStatuses ?? [], (s) => sidecars.has(s.name));
  if (app != null && side !== null) return Math.max(app, side ?? app);
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready');
  const readyAt = Date.parse(ready?.status === 'False' ? (ready.lastTransitionTime ?? '') : '');
  if (Number.isFinite(readyAt)) return readyAt;
  const deletedAt = Date.parse(pod.metadata.deletionTimestamp ?? '');
  if (Number.isFinite(deletedAt)) return deletedAt - (pod.metadata.deletionGracePeriodSeconds ?? 0) * 1000;
  const created = Date.parse(pod.metadata.creationTimestamp ?? '');
  return Number.isFinite(created) ? created : 0;
}

/**
 * The record after this pass's newly counted pods: failures add up until a
 * success; with both, only the failures that finished after the last success count.
 */
export function nextBackoffRecord(prev: BackoffRecord, newSucceeded: readonly Pod[], newFailed: readonly Pod[]): BackoffRecord {
  if (newFailed.length === 0) return newSucceeded.length === 0 ? prev : NO_BACKOFF;
  const failedAt = newFailed.map(podFinishedAt).sort((a, b) => a - b);
  const lastFailure = failedAt[failedAt.length - 1]!;
  if (newSucceeded.length === 0) {
    return { failuresAfterLastSuccess: prev.failuresAfterLastSuccess + newFailed.length, lastFailureAt: lastFailure };
  }
  const lastSuccess = Math.max(...newSucceeded.map(podFinishedAt));
  const after = failedAt.filter((t) => t > lastSuccess);
  return after.length ? { failuresAfterLastSuccess: after.length, lastFailureAt: lastFailure } : NO_BACKOFF;
}

/** The back-off after this many consecutive failures: base, doubled per further failure, capped. */
export function backoffDelayMs(failures: number, baseMs = DEFAULT_POD_FAILURE_BACKOFF_MS, maxMs = MAX_POD_FAILURE_BACKOFF_MS): number {
  if (failures <= 0) return 0;
  let d = baseMs;
  for (let i = 1; i < failures && d < maxMs; i++) d *= 2;
  return Math.min(d, maxMs);
}

/** How long new pods must still wait at now; 0 when they may be created. */
export function remainingBackoffMs(record: BackoffRecord, nowMs: number, baseMs?: number, maxMs?: number): number {
  if (record.failuresAfterLastSuccess <= 0 || record.lastFailureAt === undefined) return 0;
  const elapsed = nowMs - record.lastFailureAt;
  return Math.max(0, backoffDelayMs(record.failuresAfterLastSuccess, baseMs, maxMs) - elapsed);
}
