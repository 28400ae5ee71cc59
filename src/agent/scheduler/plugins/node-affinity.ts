// NodeAffinity: spec.nodeSelector and the required node affinity must both
// hold (filter); each preferred term that holds adds its weight, normalized so
// the best node scores 100 (score).
import type { FilterPlugin, ScorePlugin } from '../framework.ts';
import { defaultNormalizeScore, stateOf } from '../framework.ts';
import { compileNodeSelectorTerm, type NodeMatcher } from '../node-selector.ts';
import type { SchedPodSpecExtras } from '../scheduling-shapes.ts';

export const NODE_AFFINITY = 'NodeAffinity';
export const ERR_NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector";

interface Preferred {
  weight: number;
  match: NodeMatcher;
}

export function createNodeAffinityPlugin(opts: { weight?: number } = {}): FilterPlugin & ScorePlugin {
  return {
    name: NODE_AFFINITY,
    weight: opts.weight ?? 2,
    preFilter: (pod) => (pod.requiredNodeMatcher ? undefined : 'skip'),
    filter(pod, node) {
      const m = pod.requiredNodeMatcher;
      return m && !m(node.labels, node.name) ? ERR_NODE_AFFINITY : undefined;
    },
    preScore(pod, _nodes, ctx) {
      const terms = (pod.pod.spec as SchedPodSpecExtras).affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
      const preferred: Preferred[] = [];
      for (const t of terms) {
        if (!t?.weight) continue;
        const match = compileNodeSelectorTerm(t.preference);
        if (match) preferred.push({ weight: t.weight, match });
      }
      if (preferred.length === 0) return 'skip';
      ctx.state.set(NODE_AFFINITY, preferred);
      return undefined;
    },
    score(_pod, node, ctx) {
      let sum = 0;
      for (const p of stateOf<Preferred[]>(ctx, NODE_AFFINITY) ?? []) if (p.match(node.labels, node.name)) sum += p.weight;
      return sum;
    },
    normalize(scores) {
      defaultNormalizeScore(scores, false);
    },
  };
}
