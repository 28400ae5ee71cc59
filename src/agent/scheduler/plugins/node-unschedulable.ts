// NodeUnschedulable: cordoned nodes (spec.unschedulable) take only pods that
// tolerate node.kubernetes.io/unschedulable:NoSchedule. A node that is not
// Ready is not this plugin's concern: as in Kubernetes, its condition is a
// taint (condition-taints.ts) and TaintToleration decides.
import type { FilterPlugin } from '../framework.ts';
import { TAINT_UNSCHEDULABLE } from '../scheduling-shapes.ts';
import { tolerationsTolerate } from '../tolerations.ts';

export const NODE_UNSCHEDULABLE = 'NodeUnschedulable';
export const ERR_NODE_UNSCHEDULABLE = 'node(s) were unschedulable';

const UNSCHEDULABLE_TAINT = { key: TAINT_UNSCHEDULABLE, effect: 'NoSchedule' };

export function createNodeUnschedulablePlugin(): FilterPlugin {
  return {
    name: NODE_UNSCHEDULABLE,
    filter(pod, node) {
      if (node.unschedulable && !tolerationsTolerate(pod.tolerations, UNSCHEDULABLE_TAINT)) return ERR_NODE_UNSCHEDULABLE;
      return undefined;
    },
  };
}
