// PodTopologySpread: pods matching a constraint's selector (in the pod's
// namespace, terminating ones not counted) are counted per topology domain
// (node label value). DoNotSchedule constraints reject a node when placing the
// pod there would make its domain exceed the least-loaded domain by more than
// maxSkew (minDomains: fewer domains than that count the minimum as 0);
// ScheduleAnyway constraints score emptier domains higher. Only nodes that
// carry every constraint's key count, and by default only those the pod's
// node affinity/selector admits (nodeAffinityPolicy Honor, nodeTaintsPolicy
// Ignore), as in kube.
import type { NodeInfo } from '../cluster-snapshot.ts';
import type { FilterPlugin, SchedulingContext, ScorePlugin } from '../framework.ts';
import { MAX_NODE_SCORE, stateOf } from '../framework.ts';
import { compileLabelSelector, selectorOf, type CompiledLabelSelector, type Requirement } from '../label-selector.ts';
import type { PodInfo } from '../pod-info.ts';
import { LABEL_HOSTNAME, type SchedPodSpecExtras, type TopologySpreadConstraintShape } from '../scheduling-shapes.ts';
import { firstUntoleratedTaint } from '../tolerations.ts';

export const POD_TOPOLOGY_SPREAD = 'PodTopologySpread';
export const ERR_SPREAD = "node(s) didn't match pod topology spread constraints";
export const ERR_SPREAD_MISSING_LABEL = `${ERR_SPREAD} (missing required label)`;

const FILTER_STATE = `${POD_TOPOLOGY_SPREAD}/filter`;
const SCORE_STATE = `${POD_TOPOLOGY_SPREAD}/score`;

interface Constraint {
  maxSkew: number;
  topologyKey: string;
  minDomains: number;
  selector: CompiledLabelSelector;
  honorAffinity: boolean;
  honorTaints: boolean;
  selfMatch: number;
}

interface FilterState {
  constraints: { c: Constraint; counts: Map<string, number>; min: number }[];
}

interface ScoreState {
  constraints: { c: Constraint; counts: Map<string, number> | undefined; perNode: Map<string, number>; weight: number }[];
  ignored: Set<string>;
}

function compileConstraints(pod: PodInfo, when: string): Constraint[] {
  const raw = (pod.pod.spec as SchedPodSpecExtras).topologySpreadConstraints;
  if (!Array.isArray(raw)) return [];
  const out: Constraint[] = [];
  for (const t of raw as TopologySpreadConstraintShape[]) {
    if (t?.whenUnsatisfiable !== when || !t.topologyKey) continue;
    let selector = compileLabelSelector(t.labelSelector);
    // matchLabelKeys narrows the selector to pods sharing this pod's values (e.g. pod-template-hash).
    const extra: Requirement[] = [];
    for (const key of t.matchLabelKeys ?? []) {
      const v = pod.labels[key];
      if (v !== undefined) extra.push({ key, op: 'In', values: new Set([v]) });
    }
    if (extra.length && !selector.nothing) selector = selectorOf([...selector.requirements, ...extra]);
    out.push({
      maxSkew: Math.max(1, t.maxSkew ?? 1),
      topologyKey: t.topologyKey,
      minDomains: t.minDomains ?? 0,
      selector,
      honorAffinity: (t.nodeAffinityPolicy ?? 'Honor') === 'Honor',
      honorTaints: t.nodeTaintsPolicy === 'Honor',
      selfMatch: selector.matches(pod.labels) ? 1 : 0,
    });
  }
  return out;
}

function hasAllKeys(node: NodeInfo, constraints: readonly Constraint[]): boolean {
  for (const c of constraints) if (node.labels[c.topologyKey] === undefined) return false;
  return true;
}

function nodeIncluded(pod: PodInfo, c: Constraint, node: NodeInfo): boolean {
  if (c.honorAffinity && pod.requiredNodeMatcher && !pod.requiredNodeMatcher(node.labels, node.name)) return false;
  if (c.honorTaints && firstUntoleratedTaint(node.taints, pod.tolerations)) return false;
  return true;
}

/** Matching pods per node name; an empty selector counts nothing (kube's countPodsMatchSelector). */
function countPerNode(pod: PodInfo, c: Constraint, ctx: SchedulingContext): Map<string, number> {
  const perNode = new Map<string, number>();
  if (c.selector.empty) return perNode;
  ctx.snapshot.forEachMatchingPod(new Set([pod.namespace]), c.selector, (p) => {
    if (p.terminating || !p.nodeName) return;
    perNode.set(p.nodeName, (perNode.get(p.nodeName) ?? 0) + 1);
  });
  return perNode;
}

/**
 * Matching pods per domain, counting only pods on nodes that carry every
 * constraint's key and that the constraint includes. Walks the matching pods
 * (through the label index), not the nodes. With `only`, adds to the domains
 * already in it and ignores the rest.
 */
function countPerDomain(pod: PodInfo, c: Constraint, all: readonly Constraint[], ctx: SchedulingContext, only?: Map<string, number>): Map<string, number> {
  const counts = only ?? new Map<string, number>();
  if (c.selector.empty) return counts;
  ctx.snapshot.forEachMatchingPod(new Set([pod.namespace]), c.selector, (p) => {
    if (p.terminating || !p.nodeName) return;
    const node = ctx.snapshot.node(p.nodeName);
    if (!node?.node || !hasAllKeys(node, all) || !nodeIncluded(pod, c, node)) return;
    const v = node.labels[c.topologyKey]!;
    const cur = counts.get(v);
    if (only && cur === undefined) return;
    counts.set(v, (cur ?? 0) + 1);
  });
  return counts;
}

/** How many domains the pod could spread over for this constraint. */
function domainCount(pod: PodInfo, c: Constraint, all: readonly Constraint[], ctx: SchedulingContext): number {
  const trivial = (!c.honorAffinity || !pod.requiredNodeMatcher) && !c.honorTaints;
  if (trivial && all.every((o) => o.topologyKey === c.topologyKey)) return ctx.snapshot.topologyDomains(c.topologyKey).size;
  const values = new Set<string>();
  for (const node of ctx.snapshot.nodes()) {
    if (hasAllKeys(node, all) && nodeIncluded(pod, c, node)) values.add(node.labels[c.topologyKey]!);
  }
  return values.size;
}

export function createPodTopologySpreadPlugin(opts: { weight?: number } = {}): FilterPlugin & ScorePlugin {
  return {
    name: POD_TOPOLOGY_SPREAD,
    weight: opts.weight ?? 2,
    preFilter(pod, ctx) {
      const constraints = compileConstraints(pod, 'DoNotSchedule');
      if (constraints.length === 0) return 'skip';
      const state: FilterState = {
        constraints: constraints.map((c) => {
          const counts = countPerDomain(pod, c, constraints, ctx);
          const domains = domainCount(pod, c, constraints, ctx);
          // Domains with no matching pod are absent from counts: while there is one, the minimum is 0.
          let min = domains === 0 ? Infinity : 0;
          if (domains > 0 && counts.size >= domains) {
            min = Infinity;
            for (const n of counts.values()) if (n < min) min = n;
          }
          if (c.minDomains > 0 && domains < c.minDomains) min = 0;
          return { c, counts, min };
        }),
      };
      ctx.state.set(FILTER_STATE, state);
      return undefined;
    },
    filter(_pod, node, ctx) {
      const state = stateOf<FilterState>(ctx, FILTER_STATE)!;
      for (const { c, counts, min } of state.constraints) {
        const v = node.labels[c.topologyKey];
        if (v === undefined) return ERR_SPREAD_MISSING_LABEL;
        if ((counts.get(v) ?? 0) + c.selfMatch - min > c.maxSkew) return ERR_SPREAD;
      }
      return undefined;
    },
    preScore(pod, nodes, ctx) {
      const constraints = compileConstraints(pod, 'ScheduleAnyway');
      if (constraints.length === 0) return 'skip';
      const ignored = new Set<string>();
      const counts = constraints.map((c) => (c.topologyKey === LABEL_HOSTNAME ? undefined : new Map<string, number>()));
      for (const node of nodes) {
        if (!hasAllKeys(node, constraints)) {
          ignored.add(node.name);
          continue;
        }
        for (let i = 0; i < constraints.length; i++) counts[i]?.set(node.labels[constraints[i]!.topologyKey]!, 0);
      }
      const perNode = constraints.map((c, i) => (counts[i] ? new Map<string, number>() : countPerNode(pod, c, ctx)));
      for (let i = 0; i < constraints.length; i++) if (counts[i]) countPerDomain(pod, constraints[i]!, constraints, ctx, counts[i]);
      const state: ScoreState = {
        ignored,
        constraints: constraints.map((c, i) => {
          const size = counts[i] ? counts[i]!.size : nodes.length - ignored.size;
          return { c, counts: counts[i], perNode: perNode[i]!, weight: Math.log(size + 2) };
        }),
      };
      ctx.state.set(SCORE_STATE, state);
      return undefined;
    },
    score(_pod, node, ctx) {
      const state = stateOf<ScoreState>(ctx, SCORE_STATE)!;
      if (state.ignored.has(node.name)) return 0;
      let score = 0;
      for (const { c, counts, perNode, weight } of state.constraints) {
        const v = node.labels[c.topologyKey];
        if (v === undefined) continue;
        const cnt = counts ? (counts.get(v) ?? 0) : (perNode.get(node.name) ?? 0);
        score += cnt * weight + (c.maxSkew - 1);
      }
      return Math.round(score);
    },
    normalize(scores, nodes, ctx) {
      const state = stateOf<ScoreState>(ctx, SCORE_STATE)!;
      let min = Infinity;
      let max = 0;
      for (let i = 0; i < scores.length; i++) {
        if (state.ignored.has(nodes[i]!.name)) continue;
        min = Math.min(min, scores[i]!);
        max = Math.max(max, scores[i]!);
      }
      for (let i = 0; i < scores.length; i++) {
        if (state.ignored.has(nodes[i]!.name)) scores[i] = 0;
        else if (max === 0) scores[i] = MAX_NODE_SCORE;
        else scores[i] = Math.trunc((MAX_NODE_SCORE * (max + min - scores[i]!)) / max);
      }
    },
  };
}
