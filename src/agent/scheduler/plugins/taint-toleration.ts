// TaintToleration: a NoSchedule or NoExecute taint the pod does not tolerate
// keeps it off the node (the message names the first such taint, as kube's);
// PreferNoSchedule taints only lower the node's score, reversed-normalized so
// the node with the fewest untolerated ones scores 100.
import type { FilterPlugin, ScorePlugin } from '../framework.ts';
import { defaultNormalizeScore, stateOf } from '../framework.ts';
import type { Toleration } from '../scheduling-shapes.ts';
import { firstUntoleratedTaint, tolerationsTolerate } from '../tolerations.ts';

export const TAINT_TOLERATION = 'TaintToleration';

export function untoleratedTaintMessage(key: string, value: string | undefined): string {
  return `node(s) had untolerated taint {${key}: ${value ?? ''}}`;
}

export function createTaintTolerationPlugin(opts: { weight?: number } = {}): FilterPlugin & ScorePlugin {
  return {
    name: TAINT_TOLERATION,
    weight: opts.weight ?? 3,
    filter(pod, node) {
      if (node.taints.length === 0) return undefined;
      const taint = firstUntoleratedTaint(node.taints, pod.tolerations);
      return taint ? untoleratedTaintMessage(taint.key, taint.value) : undefined;
    },
    preScore(pod, nodes, ctx) {
      // Without any PreferNoSchedule taint every node would score 100: the same for all, so skip the work.
      if (!nodes.some((n) => n.taints.some((t) => t.effect === 'PreferNoSchedule'))) return 'skip';
      ctx.state.set(TAINT_TOLERATION, pod.tolerations.filter((t) => !t.effect || t.effect === 'PreferNoSchedule'));
      return undefined;
    },
    score(_pod, node, ctx) {
      if (node.taints.length === 0) return 0;
      const tolerations = stateOf<Toleration[]>(ctx, TAINT_TOLERATION) ?? [];
      let n = 0;
      for (const taint of node.taints) if (taint.effect === 'PreferNoSchedule' && !tolerationsTolerate(tolerations, taint)) n++;
      return n;
    },
    normalize(scores) {
      defaultNormalizeScore(scores, true);
    },
  };
}
