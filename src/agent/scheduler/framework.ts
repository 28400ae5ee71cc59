// The plugin contract of the scheduler, after kube-scheduler's framework: a
// pod passes every Filter plugin on a node or the node is out (the plugin says
// why, in kube's words); the nodes left are scored by every Score plugin
// (0..100 each, times the plugin's weight) and the highest total wins.
// PreFilter / PreScore run once per pod to precompute what the per-node calls
// read, so no plugin does O(pods) work per node.
import type { ClusterSnapshot, NodeInfo } from './cluster-snapshot.ts';
import type { PodInfo } from './pod-info.ts';

export const MAX_NODE_SCORE = 100;

/** A reason the node cannot take the pod (several, e.g. one per insufficient resource), or undefined when it can. */
export type FilterResult = undefined | string | readonly string[];

export interface SchedulingContext {
  readonly snapshot: ClusterSnapshot;
  /** Per-pod state written by PreFilter / PreScore, keyed by plugin name. */
  readonly state: Map<string, unknown>;
}

/**
 * What PreFilter decides for a pod: go on (undefined), 'skip' this plugin's
 * Filter for the pod (it cannot reject any node), or reject every node.
 */
export type PreFilterResult = undefined | 'skip' | { unschedulable: string };

export interface FilterPlugin {
  readonly name: string;
  /** Once per pod before any filter. */
  preFilter?(pod: PodInfo, ctx: SchedulingContext): PreFilterResult;
  filter(pod: PodInfo, node: NodeInfo, ctx: SchedulingContext): FilterResult;
}

export interface ScorePlugin {
  readonly name: string;
  readonly weight: number;
  /** Once per pod with the feasible nodes; 'skip' leaves this plugin out for the pod. */
  preScore?(pod: PodInfo, nodes: readonly NodeInfo[], ctx: SchedulingContext): 'skip' | undefined;
  /** 0..100, or any raw number when normalize maps the set to 0..100. */
  score(pod: PodInfo, node: NodeInfo, ctx: SchedulingContext): number;
  normalize?(scores: number[], nodes: readonly NodeInfo[], ctx: SchedulingContext): void;
}

export type SchedulerPlugin = FilterPlugin | ScorePlugin | (FilterPlugin & ScorePlugin);

export function isFilterPlugin(p: SchedulerPlugin): p is FilterPlugin {
  return typeof (p as FilterPlugin).filter === 'function';
}

export function isScorePlugin(p: SchedulerPlugin): p is ScorePlugin {
  return typeof (p as ScorePlugin).score === 'function';
}

/** Typed access to a plugin's per-pod state. */
export function stateOf<T>(ctx: SchedulingContext, name: string): T | undefined {
  return ctx.state.get(name) as T | undefined;
}

/** kube's DefaultNormalizeScore: scale so the highest becomes 100 (or the lowest, reversed). */
export function defaultNormalizeScore(scores: number[], reverse: boolean): void {
  let max = 0;
  for (const s of scores) if (s > max) max = s;
  if (max === 0) {
    if (reverse) scores.fill(MAX_NODE_SCORE);
    return;
  }
  for (let i = 0; i < scores.length; i++) {
    const s = Math.trunc((MAX_NODE_SCORE * scores[i]!) / max);
    scores[i] = reverse ? MAX_NODE_SCORE - s : s;
  }
}
