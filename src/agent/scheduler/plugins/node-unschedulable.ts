// NodeUnschedulable: cordoned nodes (spec.unschedulable) take only pods that
// tolerate node.kubernetes.io/unschedulable:NoSchedule. Mesh also keeps pods
// off nodes whose Ready condition is not True (kube does that through the
// not-ready taint, which Mesh's node lifecycle does not set), with the same
// escape: a pod tolerating node.kubernetes.io/not-ready:NoSchedule may go there.
import type { FilterPlugin } from '../framework.ts';
import { TAINT_NOT_READY, TAINT_UNSCHEDULABLE } from '../scheduling-shapes.ts';
import { tolerationsTolerate } from '../tolerations.ts';

export const NODE_UNSCHEDULABLE = 'NodeUnschedulable';
export const ERR_NODE_NOT_READY = 'node(s) were not ready';
export const ERR_NODE_UNSCHEDULABLE = 'node(s) were unschedulable';

const UNSCHEDULABLE_TAINT = { key: TAINT_UNSCHEDULABLE, effect: 'NoSchedule' };
const NOT_READY_TAINT = { key: TAINT_NOT_READY, effect: 'NoSchedule' };

export function createNodeUnschedulablePlugin(): FilterPlugin {
  return {
    name: NODE_UNSCHEDULABLE,
    filter(pod, node) {
      if (!node.ready && !tolerationsTolerate(pod.tolerations, NOT_READY_TAINT)) return ERR_NODE_NOT_READY;
      if (node.unschedulable && !tolerationsTolerate(pod.tolerations, UNSCHEDULABLE_TAINT)) return ERR_NODE_UNSCHEDULABLE;
      return undefined;
    },
  };
}
