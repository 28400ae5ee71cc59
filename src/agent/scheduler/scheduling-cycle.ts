// One scheduling cycle for one pod over a snapshot, as kube-scheduler runs it:
// PreFilter, then Filter over the nodes starting where the last pod's search
// stopped, until enough feasible nodes are found (percentageOfNodesToScore),
// then PreScore / Score / NormalizeScore over those and the best total wins.
// Pure: the snapshot is only read.
import type { Pod } from '../api/object-types.ts';
import type { ClusterSnapshot, NodeInfo } from './cluster-snapshot.ts';
import { createDefaultPlugins } from './default-plugins.ts';
import {
  isFilterPlugin,
  isScorePlugin,
  type FilterPlugin,
  type FilterResult,
  type SchedulerPlugin,
  type SchedulingContext,
  type ScorePlugin,
} from './framework.ts';
import { buildPodInfo, isPodInfo, type PodInfo } from './pod-info.ts';

export type ScheduleResult = { nodeName: string } | { unschedulable: string };

export interface ScheduleOptions {
  /** Defaults to kube's default profile (createDefaultPlugins()). */
  plugins?: readonly SchedulerPlugin[];
  /** Picks among equally scored nodes; without it the tie goes to the node with fewest pods, then by name. */
  random?: () => number;
  /** 1..100; unset or 0 means kube's adaptive default. */
  percentageOfNodesToScore?: number;
  /** Where in the node list the search starts (the previous outcome's nextStartIndex). */
  startIndex?: number;
}

export interface ScheduleOutcome {
  result: ScheduleResult;
  /** The pod as parsed for the cycle: pass it to ClusterSnapshot.assume. */
  podInfo: PodInfo;
  nextStartIndex: number;
  /** Nodes the filters ran on, and how many of them fit. */
  evaluatedNodes: number;
  feasibleNodes: number;
}

export const ERR_NO_NODES = 'no nodes available to schedule pods';
const MIN_FEASIBLE_NODES_TO_FIND = 100;
const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5;

/**
 * kube's numFeasibleNodesToFind: all nodes below 100; otherwise a share that
 * shrinks with cluster size (50% - 1% per 125 nodes, at least 5%), never
 * fewer than 100 nodes.
 */
export function numFeasibleNodesToFind(numAllNodes: number, percentage = 0): number {
  if (numAllNodes < MIN_FEASIBLE_NODES_TO_FIND) return numAllNodes;
  let pct = percentage;
  if (pct <= 0) pct = Math.max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND, 50 - Math.trunc(numAllNodes / 125));
  if (pct >= 100) return numAllNodes;
  const n = Math.trunc((numAllNodes * pct) / 100);
  return Math.max(n, MIN_FEASIBLE_NODES_TO_FIND);
}

/** kube's FitError text: reason counts as "N reason", sorted as strings, after "0/N nodes are available". */
export function fitErrorMessage(numAllNodes: number, reasons: ReadonlyMap<string, number>, preFilterMessage?: string): string {
  let msg = `0/${numAllNodes} nodes are available:`;
  if (preFilterMessage) return `${msg} ${preFilterMessage}.`;
  const parts = [...reasons].map(([why, n]) => `${n} ${why}`).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (parts.length) msg += ` ${parts.join(', ')}.`;
  return msg;
}

function runFilters(filters: readonly FilterPlugin[], pod: PodInfo, node: NodeInfo, ctx: SchedulingContext): FilterResult {
  for (const f of filters) {
    const r = f.filter(pod, node, ctx);
    if (r !== undefined && (typeof r === 'string' || r.length > 0)) return r;
  }
  return undefined;
}

function pickBest(nodes: readonly NodeInfo[], totals: Float64Array, random: (() => number) | undefined): NodeInfo {
  let best = 0;
  let ties = 1;
  for (let i = 1; i < nodes.length; i++) {
    const d = totals[i]! - totals[best]!;
    if (d > 0) {
      best = i;
      ties = 1;
    } else if (d === 0) {
      if (random) {
        // Reservoir sampling: each of the k tied nodes ends up chosen with probability 1/k.
        ties++;
        if (random() * ties < 1) best = i;
      } else {
        const a = nodes[i]!;
        const b = nodes[best]!;
        if (a.podCount < b.podCount || (a.podCount === b.podCount && a.name < b.name)) best = i;
      }
    }
  }
  return nodes[best]!;
}

/** Schedules one pod over the snapshot without changing it. */
export function scheduleOne(pod: Pod | PodInfo, snapshot: ClusterSnapshot, opts: ScheduleOptions = {}): ScheduleOutcome {
  const plugins = opts.plugins ?? createDefaultPlugins();
  const filters: FilterPlugin[] = plugins.filter(isFilterPlugin);
  const scores: ScorePlugin[] = plugins.filter(isScorePlugin);
  const info = isPodInfo(pod) ? pod : buildPodInfo(pod);
  const done = (result: ScheduleResult, nextStartIndex: number, evaluatedNodes: number, feasibleNodes: number): ScheduleOutcome => ({
    result,
    podInfo: info,
    nextStartIndex,
    evaluatedNodes,
    feasibleNodes,
  });
  const nodes = snapshot.nodes();
  const total = nodes.length;
  const start = total ? (((opts.startIndex ?? 0) % total) + total) % total : 0;
  if (total === 0) return done({ unschedulable: ERR_NO_NODES }, start, 0, 0);

  const ctx: SchedulingContext = { snapshot, state: new Map() };
  const active: FilterPlugin[] = [];
  for (const f of filters) {
    const pre = f.preFilter?.(info, ctx);
    if (pre === 'skip') continue;
    if (pre) return done({ unschedulable: fitErrorMessage(total, new Map(), pre.unschedulable) }, start, 0, 0);
    active.push(f);
  }

  const want = numFeasibleNodesToFind(total, opts.percentageOfNodesToScore);
  const feasible: NodeInfo[] = [];
  // Reasons matter only when nothing fits, so they are tallied only then.
  const rejected: Exclude<FilterResult, undefined>[] = [];
  let evaluated = 0;
  let at = start;
  for (; evaluated < total && feasible.length < want; evaluated++) {
    const node = nodes[at]!;
    if (++at === total) at = 0;
    const r = runFilters(active, info, node, ctx);
    if (r === undefined) feasible.push(node);
    else rejected.push(r);
  }
  const nextStartIndex = at;
  if (feasible.length === 0) {
    const reasons = new Map<string, number>();
    for (const r of rejected) {
      if (typeof r === 'string') reasons.set(r, (reasons.get(r) ?? 0) + 1);
      else for (const why of r) reasons.set(why, (reasons.get(why) ?? 0) + 1);
    }
    return done({ unschedulable: fitErrorMessage(total, reasons) }, nextStartIndex, evaluated, 0);
  }
  if (feasible.length === 1) {
    return done({ nodeName: feasible[0]!.name }, nextStartIndex, evaluated, 1);
  }

  const totals = new Float64Array(feasible.length);
  const raw: number[] = new Array<number>(feasible.length);
  for (const s of scores) {
    if (s.weight === 0 || s.preScore?.(info, feasible, ctx) === 'skip') continue;
    for (let i = 0; i < feasible.length; i++) raw[i] = s.score(info, feasible[i]!, ctx);
    s.normalize?.(raw, feasible, ctx);
    for (let i = 0; i < feasible.length; i++) totals[i]! += raw[i]! * s.weight;
  }
  const best = pickBest(feasible, totals, opts.random);
  return done({ nodeName: best.name }, nextStartIndex, evaluated, feasible.length);
}
