// Node conditions as taints (Kubernetes' TaintNodesByCondition): the scheduler
// never reads a node's Ready condition itself, the TaintToleration filter
// decides on the not-ready / unreachable taints. The node-lifecycle controller
// writes those taints (controllers/node-lifecycle.ts), but only once it has seen
// the condition; until then the snapshot adds the same taints itself, so a pod
// that does not tolerate them never lands on a node in its first not-ready seconds.
import type { SchedNode, Taint } from './scheduling-shapes.ts';
import { TAINT_NOT_READY } from './scheduling-shapes.ts';

export const TAINT_UNREACHABLE = 'node.kubernetes.io/unreachable';

/**
 * The taints node's Ready condition stands for: none when True, unreachable
 * when Unknown, not-ready when False or not reported yet; each NoSchedule and
 * NoExecute, as the node-lifecycle controller sets them.
 */
export function conditionTaints(node: SchedNode): Taint[] {
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready')?.status;
  if (ready === 'True') return [];
  const key = ready === 'Unknown' ? TAINT_UNREACHABLE : TAINT_NOT_READY;
  return [
    { key, effect: 'NoSchedule' },
    { key, effect: 'NoExecute' },
  ];
}

/** node's own taints plus those of its conditions it does not carry yet (same key and effect). */
export function effectiveTaints(node: SchedNode): Taint[] {
  const own = Array.isArray(node.spec?.taints) ? node.spec.taints : [];
  const missing = conditionTaints(node).filter((t) => !own.some((o) => o.key === t.key && o.effect === t.effect));
  return missing.length ? [...own, ...missing] : own;
}
