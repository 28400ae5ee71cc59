// InterPodAffinity, as kube's: a node fails when the pod's required affinity
// finds no matching pod in the node's topology domain (unless no pod anywhere
// matches and the pod matches its own terms: the first of a group), when its
// required anti-affinity finds one, or when an existing pod's required
// anti-affinity selects this pod in that domain (the symmetric rule).
// Preferred terms, both the pod's and existing pods' (and existing pods'
// required affinity, weight 1), add or subtract their weight per domain; the
// totals are normalized min..max to 0..100. Term matching goes through the
// snapshot's label index, so the cost follows the matching pods, not all pods.
import type { NodeInfo } from '../cluster-snapshot.ts';
import type { FilterPlugin, SchedulingContext, ScorePlugin } from '../framework.ts';
import { MAX_NODE_SCORE, stateOf } from '../framework.ts';
import { termMatches, type AffinityTerm, type PodInfo } from '../pod-info.ts';

export const INTER_POD_AFFINITY = 'InterPodAffinity';
export const ERR_AFFINITY = "node(s) didn't match pod affinity rules";
export const ERR_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules";
export const ERR_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules";

const FILTER_STATE = `${INTER_POD_AFFINITY}/filter`;
const SCORE_STATE = `${INTER_POD_AFFINITY}/score`;
/** kube's hardPodAffinityWeight default: an existing pod's required affinity counts like a preferred term of weight 1. */
const HARD_POD_AFFINITY_WEIGHT = 1;

/** topologyKey -> value -> count (or score). */
type TopologyCounts = Map<string, Map<string, number>>;

interface FilterState {
  existingAnti: TopologyCounts;
  affinity: TopologyCounts;
  anyAffinityMatch: boolean;
  selfAffine: boolean;
  anti: TopologyCounts;
}

function bump(m: TopologyCounts, key: string, value: string, d: number): void {
  let values = m.get(key);
  if (!values) m.set(key, (values = new Map()));
  values.set(value, (values.get(value) ?? 0) + d);
}

function countAt(m: TopologyCounts, key: string, node: NodeInfo): number {
  const v = node.labels[key];
  return v === undefined ? 0 : (m.get(key)?.get(v) ?? 0);
}

/** Known node of a counted pod (pods whose Node object is gone do not count). */
function nodeOf(ctx: SchedulingContext, p: PodInfo): NodeInfo | undefined {
  const n = p.nodeName ? ctx.snapshot.node(p.nodeName) : undefined;
  return n?.node ? n : undefined;
}

/** Namespaces the index must look in: the term's list, or all when a namespaceSelector may add more. */
function lookupNamespaces(term: AffinityTerm): ReadonlySet<string> | undefined {
  return term.namespaceSelector.nothing ? term.namespaces : undefined;
}

function forEachTermMatch(ctx: SchedulingContext, term: AffinityTerm, visit: (p: PodInfo, node: NodeInfo) => void): void {
  const nsLabels = ctx.snapshot.namespaceLabels;
  ctx.snapshot.forEachMatchingPod(lookupNamespaces(term), term.selector, (p) => {
    if (!termMatches(term, p.namespace, p.labels, nsLabels)) return;
    const node = nodeOf(ctx, p);
    if (node) visit(p, node);
  });
}

function matchesAll(terms: readonly AffinityTerm[], p: PodInfo, ctx: SchedulingContext): boolean {
  for (const t of terms) if (!termMatches(t, p.namespace, p.labels, ctx.snapshot.namespaceLabels)) return false;
  return true;
}

export function createInterPodAffinityPlugin(opts: { weight?: number } = {}): FilterPlugin & ScorePlugin {
  return {
    name: INTER_POD_AFFINITY,
    weight: opts.weight ?? 2,
    preFilter(pod, ctx) {
      const existingAnti: TopologyCounts = new Map();
      const nsLabels = ctx.snapshot.namespaceLabels;
      ctx.snapshot.forEachTermPossiblySelecting(pod.labels, ({ pod: p, term: t, kind }) => {
        if (kind !== 'requiredAntiAffinity') return;
        const node = nodeOf(ctx, p);
        const v = node?.labels[t.topologyKey];
        if (v !== undefined && termMatches(t, pod.namespace, pod.labels, nsLabels)) bump(existingAnti, t.topologyKey, v, 1);
      });
      const affinity: TopologyCounts = new Map();
      let anyAffinityMatch = false;
      const required = pod.requiredAffinityTerms;
      if (required.length) {
        // An existing pod counts for the pod's affinity only when it matches every term.
        forEachTermMatch(ctx, required[0]!, (p, node) => {
          if (!matchesAll(required, p, ctx)) return;
          for (const t of required) {
            const v = node.labels[t.topologyKey];
            if (v !== undefined) {
              bump(affinity, t.topologyKey, v, 1);
              anyAffinityMatch = true;
            }
          }
        });
      }
      const anti: TopologyCounts = new Map();
      for (const t of pod.requiredAntiAffinityTerms) {
        forEachTermMatch(ctx, t, (_p, node) => {
          const v = node.labels[t.topologyKey];
          if (v !== undefined) bump(anti, t.topologyKey, v, 1);
        });
      }
      // Nothing can reject a node: skip the per-node calls.
      if (existingAnti.size === 0 && required.length === 0 && anti.size === 0) return 'skip';
      const state: FilterState = { existingAnti, affinity, anyAffinityMatch, selfAffine: required.length > 0 && matchesAll(required, pod, ctx), anti };
      ctx.state.set(FILTER_STATE, state);
      return undefined;
    },
    filter(pod, node, ctx) {
      const s = stateOf<FilterState>(ctx, FILTER_STATE)!;
      if (pod.requiredAffinityTerms.length) {
        let podsExist = true;
        for (const t of pod.requiredAffinityTerms) {
          if (node.labels[t.topologyKey] === undefined) return ERR_AFFINITY;
          if (countAt(s.affinity, t.topologyKey, node) <= 0) podsExist = false;
        }
        // The first pod of a group that is affine to itself may go anywhere the keys exist.
        if (!podsExist && !(!s.anyAffinityMatch && s.selfAffine)) return ERR_AFFINITY;
      }
      if (s.anti.size) {
        for (const t of pod.requiredAntiAffinityTerms) if (countAt(s.anti, t.topologyKey, node) > 0) return ERR_ANTI_AFFINITY;
      }
      if (s.existingAnti.size) {
        for (const key of s.existingAnti.keys()) if (countAt(s.existingAnti, key, node) > 0) return ERR_EXISTING_ANTI_AFFINITY;
      }
      return undefined;
    },
    preScore(pod, _nodes, ctx) {
      const scores: TopologyCounts = new Map();
      const nsLabels = ctx.snapshot.namespaceLabels;
      for (const [terms, sign] of [
        [pod.preferredAffinityTerms, 1],
        [pod.preferredAntiAffinityTerms, -1],
      ] as const) {
        for (const t of terms) {
          forEachTermMatch(ctx, t, (_p, node) => {
            const v = node.labels[t.topologyKey];
            if (v !== undefined) bump(scores, t.topologyKey, v, sign * t.weight);
          });
        }
      }
      ctx.snapshot.forEachTermPossiblySelecting(pod.labels, ({ pod: p, term: t, kind, weight }) => {
        if (kind === 'requiredAntiAffinity') return;
        const node = nodeOf(ctx, p);
        const v = node?.labels[t.topologyKey];
        if (v === undefined || !termMatches(t, pod.namespace, pod.labels, nsLabels)) return;
        bump(scores, t.topologyKey, v, kind === 'requiredAffinity' ? HARD_POD_AFFINITY_WEIGHT : kind === 'preferredAffinity' ? weight : -weight);
      });
      if (scores.size === 0) return 'skip';
      ctx.state.set(SCORE_STATE, scores);
      return undefined;
    },
    score(_pod, node, ctx) {
      const scores = stateOf<TopologyCounts>(ctx, SCORE_STATE)!;
      let sum = 0;
      for (const key of scores.keys()) sum += countAt(scores, key, node);
      return sum;
    },
    normalize(scores) {
      let min = Infinity;
      let max = -Infinity;
      for (const s of scores) {
        if (s < min) min = s;
        if (s > max) max = s;
      }
      const diff = max - min;
      for (let i = 0; i < scores.length; i++) scores[i] = diff > 0 ? Math.trunc((MAX_NODE_SCORE * (scores[i]! - min)) / diff) : 0;
    },
  };
}
