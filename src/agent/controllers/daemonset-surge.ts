// RollingUpdate with maxSurge > 0, as Kubernetes' DaemonSet controller does it
// (rollingUpdate's surge branch, and podsShouldBeOnNode while surging): on a
// node with an old pod, the new pod starts first, and the old one goes once the
// new one is available (Ready for minReadySeconds). At most maxSurge nodes run
// a new pod that is not available yet, but a node whose old pod is unavailable
// anyway gets its new pod at once. maxUnavailable is 0 then (validation
// refuses both non-zero); an old pod on a node that should no longer run one
// (a NoSchedule taint, say) stays until enough pods elsewhere are available.
import type { Pod } from '../api/object-types.ts';
import type { DaemonSet, NodeState } from './daemonset-controller.ts';
import { CONTROLLER_REVISION_HASH } from './daemonset-placement.ts';
import { byCreation, scaledValue } from './deployment-rollout.ts';
import { isPodReady } from './pod-availability.ts';

const isUpdated = (p: Pod, hash: string) => p.metadata.labels?.[CONTROLLER_REVISION_HASH] === hash;

/** maxSurge resolved against the desired count (rounded up, kube's SurgeCount); 0 for OnDelete. */
export function daemonMaxSurge(ds: DaemonSet, desired: number): number {
  const strategy = ds.spec.updateStrategy;
  if ((strategy?.type ?? 'RollingUpdate') !== 'RollingUpdate') return 0;
  return scaledValue(strategy?.rollingUpdate?.maxSurge ?? 0, desired, true, 'spec.updateStrategy.rollingUpdate.maxSurge');
}

/** Whether ds surges at all (kube's AllowsSurge): any maxSurge that is not 0 or 0%. */
export const allowsSurge = (ds: DaemonSet): boolean => daemonMaxSurge(ds, 1) > 0;

/**
 * Which of a node's running (not terminating, not finished) pods to delete
 * while surging: all but the oldest new and the oldest old one, and that old
 * one too once it is not ready or the new one is available.
 */
export function surgeExcess(running: readonly Pod[], hash: string, available: (p: Pod) => boolean): Pod[] {
  let oldestNew: Pod | undefined;
  let oldestOld: Pod | undefined;
  const remove: Pod[] = [];
  for (const p of [...running].sort(byCreation)) {
    if (isUpdated(p, hash) && !oldestNew) oldestNew = p;
    else if (!isUpdated(p, hash) && !oldestOld) oldestOld = p;
    else remove.push(p);
  }
  if (oldestNew && oldestOld && (!isPodReady(oldestOld) || available(oldestNew))) remove.push(oldestOld);
  return remove;
}

export interface SurgePlan {
  createOn: string[];
  remove: Pod[];
}

/** The pass of a surging rolling update, once the manage pass has nothing left to do. */
export function planSurge(nodes: readonly NodeState[], hash: string, maxSurge: number, available: (p: Pod) => boolean): SurgePlan {
  const desired = nodes.filter((n) => n.placement.shouldRun).length;
  const remove: Pod[] = [];
  const sunset: Pod[] = []; // available old pods on nodes that should no longer run one
  const allowed: string[] = []; // old pod unavailable: its replacement may start at once
  const candidates: string[] = [];
  let surging = 0;
  let availableNodes = 0;
  for (const n of [...nodes].sort((a, b) => a.name.localeCompare(b.name))) {
    const live = n.pods.filter((p) => !p.metadata.deletionTimestamp);
    const fresh = live.filter((p) => isUpdated(p, hash));
    const old = live.filter((p) => !isUpdated(p, hash));
    if (fresh.length > 1 || old.length > 1) {
      surging++; // the manage pass sorts this node out
      continue;
    }
    const [newPod] = fresh;
    const [oldPod] = old;
    if (oldPod ? available(oldPod) : newPod && available(newPod)) availableNodes++;
    if (!oldPod) continue;
    if (!newPod) {
      if (!available(oldPod)) {
        if (n.placement.shouldRun) allowed.push(n.name);
        else remove.push(oldPod);
      } else if (!n.placement.shouldRun) sunset.push(oldPod);
      else if (surging < maxSurge) candidates.push(n.name);
    } else if (!available(newPod)) {
      surging++;
    } else {
      remove.push(oldPod);
    }
  }
  // Availability first: a sunset pod goes only while more pods are available than desired.
  remove.push(...sunset.slice(0, Math.max(0, availableNodes - desired)));
  const room = Math.max(0, Math.min(maxSurge - surging, candidates.length));
  return { createOn: [...allowed, ...candidates.slice(0, room)], remove };
}
