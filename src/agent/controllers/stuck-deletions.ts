// Deletions that no agent will finish. The registry removes an object when a
// write leaves it with a deletionTimestamp and no finalizers, but the store is a
// CRDT: a delete on one agent (deletionTimestamp set, finalizers still there)
// can merge with a finalizer removal on another agent made against the older
// version. The merged object has a deletionTimestamp and no finalizers, and no
// write on any agent removes it. The garbage collector (leader-only) finishes
// such deletions once they have stayed that way past a grace, as replication
// may still be delivering a write that settles them.
//
// Pods bound to a node are special (the registry's podAwaitsKubelet): the
// node's kubelet ends a graceful deletion, so it is waited for while its node is
// Ready, up to the pod's grace period and a margin, and then the pod is
// force-deleted, as it is at once after the grace when the node is gone or not
// Ready (kube's pod GC force-deletes those too, as orphans or as terminating
// pods on a node out of service). A Namespace deleting its content is waited
// for until the namespace is empty.
//
// This module is the pure decision; the garbage collector is its shell.
import type { KubeObject } from '../api/object-types.ts';

/** Grace period of a pod that names none, as the registry's default. */
const DEFAULT_POD_GRACE_SECONDS = 30;

/** The Node a deleting pod is bound to, as the collector sees it. */
export type BoundNodeState =
  | { state: 'ready' }
  /** Missing, or Ready not True; `since`: when the collector first saw it so (ms since the epoch). */
  | { state: 'missing' | 'notReady'; since: number };

export interface StuckDeletionFacts {
  obj: KubeObject;
  /** When the collector first saw this object (this uid) deleting with no finalizers (ms since the epoch). */
  since: number;
  now: number;
  /** For a pod bound to a node: that node's state. */
  node?: BoundNodeState;
  /** For a Namespace: whether no object is left in it. */
  namespaceEmpty?: boolean;
}

export interface StuckDeletionOptions {
  /** How long an object stays deleting with no finalizers before it counts as stuck (ms). */
  graceMs: number;
  /** How long past its grace period a pod on a Ready node is left to its kubelet (ms). */
  kubeletMarginMs: number;
}

export type StuckDeletionDecision =
  /** Not a deletion left pending (or not the collector's to finish). */
  | { action: 'none' }
  /** Look again after afterMs; `restart`: the grace has not begun, it starts when next looked at. */
  | { action: 'wait'; afterMs: number; restart?: boolean }
  /** Delete it (with gracePeriodSeconds 0 when force). */
  | { action: 'delete'; force: boolean; reason: string };

/** Marked for deletion, and nothing holds it. */
export function isPendingDeletion(obj: KubeObject): boolean {
  return !!obj.metadata.deletionTimestamp && !obj.metadata.finalizers?.length;
}

/** The node a pod is bound to; undefined for other objects and unbound pods. */
export function boundNodeOf(obj: KubeObject): string | undefined {
  if (obj.kind !== 'Pod') return undefined;
  const name = (obj.spec as { nodeName?: unknown } | undefined)?.nodeName;
  return typeof name === 'string' && name ? name : undefined;
}

/** Whether a Node's agent reports it Ready (missing conditions count as unknown). */
export function isNodeReady(node: KubeObject): boolean {
  const conditions = (node.status as { conditions?: { type?: string; status?: string }[] } | undefined)?.conditions ?? [];
  return conditions.some((c) => c.type === 'Ready' && c.status === 'True');
}

function podGraceMs(obj: KubeObject): number {
  const spec = obj.spec as { terminationGracePeriodSeconds?: number } | undefined;
  const seconds = obj.metadata.deletionGracePeriodSeconds ?? spec?.terminationGracePeriodSeconds ?? DEFAULT_POD_GRACE_SECONDS;
  return Math.max(0, seconds) * 1000;
}

function after(elapsed: number, limit: number, force: boolean, reason: string): StuckDeletionDecision {
  return elapsed >= limit ? { action: 'delete', force, reason } : { action: 'wait', afterMs: limit - elapsed };
}

export function decideStuckDeletion(facts: StuckDeletionFacts, opts: StuckDeletionOptions): StuckDeletionDecision {
  const { obj, now } = facts;
  if (!isPendingDeletion(obj)) return { action: 'none' };
  const elapsed = now - facts.since;
  if (obj.kind === 'Namespace' && facts.namespaceEmpty === false) {
    // Its content is going; the grace counts from when it is seen empty.
    return { action: 'wait', afterMs: opts.graceMs, restart: true };
  }
  if (boundNodeOf(obj)) {
    // A node the caller could not tell about counts as gone since the pod was seen.
    const node = facts.node ?? { state: 'missing', since: facts.since };
    if (node.state === 'ready') {
      const limit = Math.max(opts.graceMs, podGraceMs(obj) + opts.kubeletMarginMs);
      return after(elapsed, limit, true, 'force-deleted a pod its kubelet did not finish within its grace period');
    }
    // Both the pod's state and the node's must have lasted the grace.
    const down = Math.min(elapsed, now - node.since);
    const reason = node.state === 'missing' ? 'force-deleted a pod of a node that is gone' : 'force-deleted a pod of a node that is not ready';
    return after(down, opts.graceMs, true, reason);
  }
  return after(elapsed, opts.graceMs, false, 'deleted an object whose deletion was left pending');
}
