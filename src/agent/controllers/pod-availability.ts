// When a pod counts as ready and as available (ready for minReadySeconds), and
// when the next one will be: the workload controllers requeue for that moment,
// since no watch event marks a pod turning available.
import type { Pod } from '../api/object-types.ts';

export function readyCondition(pod: Pod) {
  return pod.status?.conditions?.find((c) => c.type === 'Ready');
}

export function isPodReady(pod: Pod): boolean {
  return readyCondition(pod)?.status === 'True';
}

/** Ready, and for at least minReadySeconds. */
export function isPodAvailable(pod: Pod, minReadySeconds: number, now: Date): boolean {
  if (!isPodReady(pod)) return false;
  if (minReadySeconds <= 0) return true;
  const since = Date.parse(readyCondition(pod)?.lastTransitionTime ?? '');
  return Number.isFinite(since) && since + minReadySeconds * 1000 <= now.getTime();
}

/** Milliseconds until the next ready pod becomes available; undefined when none waits. */
export function nextAvailableInMs(pods: readonly Pod[], minReadySeconds: number, now: Date): number | undefined {
  if (minReadySeconds <= 0) return undefined;
  let next: number | undefined;
  for (const p of pods) {
    if (!isPodReady(p) || isPodAvailable(p, minReadySeconds, now)) continue;
    const since = Date.parse(readyCondition(p)?.lastTransitionTime ?? '');
    if (!Number.isFinite(since)) continue;
    const ms = since + minReadySeconds * 1000 - now.getTime();
    next = next === undefined ? ms : Math.min(next, ms);
  }
  return next;
}

/** nextAvailableInMs as a reconcile result: a requeue for then, or none. */
export function requeueWhenAvailable(pods: readonly Pod[], minReadySeconds: number, now: Date): { requeueAfterMs: number } | undefined {
  const next = nextAvailableInMs(pods, minReadySeconds, now);
  return next === undefined ? undefined : { requeueAfterMs: next };
}
