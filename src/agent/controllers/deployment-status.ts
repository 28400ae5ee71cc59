// A Deployment's status and conditions, as Kubernetes' Deployment controller
// computes them (sync.go calculateStatus, progress.go, util's condition
// helpers): counts summed from its ReplicaSets, Available against
// replicas - maxUnavailable, and Progressing, which times out when no progress
// is seen for progressDeadlineSeconds. Pure: `now` comes in.
import { rfc3339 } from '../api/registry.ts';
import type { ReplicaSet } from './replicaset-controller.ts';
import {
  desiredReplicas,
  maxUnavailable,
  replicasOf,
  type Deployment,
  type DeploymentCondition,
  type DeploymentStatus,
} from './deployment-rollout.ts';

export const PROGRESSING = 'Progressing';
export const AVAILABLE = 'Available';
export const REPLICA_FAILURE = 'ReplicaFailure';

/** The reasons of the conditions, as Kubernetes spells them. */
export const REASON = {
  newReplicaSetCreated: 'NewReplicaSetCreated',
  foundNewReplicaSet: 'FoundNewReplicaSet',
  replicaSetUpdated: 'ReplicaSetUpdated',
  newReplicaSetAvailable: 'NewReplicaSetAvailable',
  progressDeadlineExceeded: 'ProgressDeadlineExceeded',
  replicaSetCreateError: 'ReplicaSetCreateError',
  paused: 'DeploymentPaused',
  resumed: 'DeploymentResumed',
  minimumReplicasAvailable: 'MinimumReplicasAvailable',
  minimumReplicasUnavailable: 'MinimumReplicasUnavailable',
} as const;

// Kubernetes reads a deadline of MaxInt32 as "none".
const NO_DEADLINE = 2 ** 31 - 1;

export function hasProgressDeadline(d: Deployment): boolean {
  const s = d.spec.progressDeadlineSeconds;
  return s !== undefined && s !== null && s !== NO_DEADLINE;
}

export function getCondition(status: DeploymentStatus | undefined, type: string): DeploymentCondition | undefined {
  return status?.conditions?.find((c) => c.type === type);
}

export function newCondition(type: string, status: DeploymentCondition['status'], reason: string, message: string, now: Date): DeploymentCondition {
  const t = rfc3339(now);
  return { type, status, lastUpdateTime: t, lastTransitionTime: t, reason, message };
}

/**
 * Sets a condition (SetDeploymentCondition): nothing changes when status and
 * reason are the same; the transition time stays when only the reason changes.
 */
export function setCondition(status: DeploymentStatus, c: DeploymentCondition): void {
  const cur = getCondition(status, c.type);
  if (cur && cur.status === c.status && cur.reason === c.reason) return;
  const next = cur && cur.status === c.status ? { ...c, lastTransitionTime: cur.lastTransitionTime } : c;
  status.conditions = [...(status.conditions ?? []).filter((x) => x.type !== c.type), next];
}

export function removeCondition(status: DeploymentStatus, type: string): void {
  const rest = (status.conditions ?? []).filter((c) => c.type !== type);
  if (rest.length) status.conditions = rest;
  else delete status.conditions;
}

const total = (sets: readonly ReplicaSet[], f: (rs: ReplicaSet) => number) => sets.reduce((n, rs) => n + f(rs), 0);

/** calculateStatus: the counts, the Available condition, and the other conditions as they were. */
export function calculateStatus(d: Deployment, sets: readonly ReplicaSet[], newSet: ReplicaSet | undefined, now: Date): DeploymentStatus {
  const available = total(sets, (rs) => rs.status?.availableReplicas ?? 0);
  const status: DeploymentStatus = {
    replicas: total(sets, (rs) => rs.status?.replicas ?? 0),
    updatedReplicas: newSet?.status?.replicas ?? 0,
    readyReplicas: total(sets, (rs) => rs.status?.readyReplicas ?? 0),
    availableReplicas: available,
    // Negative while scaling down (more available than desired): none unavailable then.
    unavailableReplicas: Math.max(0, total(sets, replicasOf) - available),
  };
  if (d.metadata.generation !== undefined) status.observedGeneration = d.metadata.generation;
  if (d.status?.collisionCount !== undefined) status.collisionCount = d.status.collisionCount;
  if (d.status?.conditions?.length) status.conditions = d.status.conditions.map((c) => ({ ...c }));
  if (available >= desiredReplicas(d) - maxUnavailable(d)) {
    setCondition(status, newCondition(AVAILABLE, 'True', REASON.minimumReplicasAvailable, 'Deployment has minimum availability.', now));
  } else {
    setCondition(status, newCondition(AVAILABLE, 'False', REASON.minimumReplicasUnavailable, 'Deployment does not have minimum availability.', now));
  }
  return status;
}

/** All replicas updated and available, and the status is of the current spec. */
export function deploymentComplete(d: Deployment, s: DeploymentStatus): boolean {
  const replicas = desiredReplicas(d);
  return (
    (s.updatedReplicas ?? 0) === replicas &&
    (s.replicas ?? 0) === replicas &&
    (s.availableReplicas ?? 0) === replicas &&
    (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 0)
  );
}

/** Progress since the stored status: more updated, fewer old, more ready or more available replicas. */
export function deploymentProgressing(d: Deployment, s: DeploymentStatus): boolean {
  const old = d.status ?? {};
  const oldOld = (old.replicas ?? 0) - (old.updatedReplicas ?? 0);
  const newOld = (s.replicas ?? 0) - (s.updatedReplicas ?? 0);
  return (
    (s.updatedReplicas ?? 0) > (old.updatedReplicas ?? 0) ||
    newOld < oldOld ||
    (s.readyReplicas ?? 0) > (old.readyReplicas ?? 0) ||
    (s.availableReplicas ?? 0) > (old.availableReplicas ?? 0)
  );
}

function deadlineOf(d: Deployment, c: DeploymentCondition): number {
  return Date.parse(c.lastUpdateTime ?? '') + (d.spec.progressDeadlineSeconds ?? 0) * 1000;
}

/** No progress for progressDeadlineSeconds since the Progressing condition was last updated. */
export function deploymentTimedOut(d: Deployment, s: DeploymentStatus, now: Date): boolean {
  if (!hasProgressDeadline(d)) return false;
  const c = getCondition(s, PROGRESSING);
  if (!c) return false;
  // A finished rollout is not measured; a timed-out one stays timed out.
  if (c.reason === REASON.newReplicaSetAvailable) return false;
  if (c.reason === REASON.progressDeadlineExceeded) return true;
  const deadline = deadlineOf(d, c);
  return Number.isFinite(deadline) && deadline < now.getTime();
}

/** ReplicaFailure of the new set, else of any set, as a Deployment condition. */
function replicaFailure(sets: readonly ReplicaSet[], newSet: ReplicaSet | undefined): DeploymentCondition | undefined {
  for (const rs of newSet ? [newSet, ...sets] : sets) {
    const c = rs.status?.conditions?.find((x) => x.type === REPLICA_FAILURE);
    if (c) return { type: REPLICA_FAILURE, status: c.status, lastUpdateTime: c.lastTransitionTime, lastTransitionTime: c.lastTransitionTime, reason: c.reason, message: c.message };
  }
  return undefined;
}

/** syncRolloutStatus: calculateStatus, then Progressing (complete, progressing, or timed out) and ReplicaFailure. */
export function rolloutStatus(d: Deployment, sets: readonly ReplicaSet[], newSet: ReplicaSet | undefined, now: Date): DeploymentStatus {
  const s = calculateStatus(d, sets, newSet, now);
  if (!hasProgressDeadline(d)) removeCondition(s, PROGRESSING);
  const current = getCondition(d.status, PROGRESSING);
  const alreadyComplete = s.replicas === s.updatedReplicas && current?.reason === REASON.newReplicaSetAvailable;
  const subject = newSet ? `ReplicaSet "${newSet.metadata.name}"` : `Deployment "${d.metadata.name}"`;
  if (hasProgressDeadline(d) && !alreadyComplete) {
    if (deploymentComplete(d, s)) {
      setCondition(s, newCondition(PROGRESSING, 'True', REASON.newReplicaSetAvailable, `${subject} has successfully progressed.`, now));
    } else if (deploymentProgressing(d, s)) {
      // Progress refreshes lastUpdateTime even with the same reason: the deadline counts from it.
      const c = newCondition(PROGRESSING, 'True', REASON.replicaSetUpdated, `${subject} is progressing.`, now);
      if (current?.status === 'True') c.lastTransitionTime = current.lastTransitionTime;
      removeCondition(s, PROGRESSING);
      setCondition(s, c);
    } else if (deploymentTimedOut(d, s, now)) {
      setCondition(s, newCondition(PROGRESSING, 'False', REASON.progressDeadlineExceeded, `${subject} has timed out progressing.`, now));
    }
  }
  const failure = replicaFailure(sets, newSet);
  if (failure) setCondition(s, failure);
  else removeCondition(s, REPLICA_FAILURE);
  return s;
}

/**
 * requeueStuckDeployment: when to look again so a stalled rollout times out
 * without waiting for a resync; undefined when nothing is being measured.
 * One second past the deadline, as the condition times have second precision.
 */
export function progressCheckInMs(d: Deployment, s: DeploymentStatus, now: Date): number | undefined {
  const c = getCondition(s, PROGRESSING);
  if (!hasProgressDeadline(d) || !c) return undefined;
  if (deploymentComplete(d, s) || c.reason === REASON.progressDeadlineExceeded || c.reason === REASON.newReplicaSetAvailable) return undefined;
  if (c.reason === REASON.paused) return undefined;
  const deadline = deadlineOf(d, c);
  if (!Number.isFinite(deadline)) return undefined;
  return Math.max(0, deadline - now.getTime()) + 1000;
}
