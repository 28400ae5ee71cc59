// Builders for scheduler tests: nodes and pods with just the fields a case
// needs, and helpers that run one plugin over a snapshot as the cycle would.
import type { Container, Pod } from '../../../src/agent/api/object-types.ts';
import { buildClusterSnapshot, type ClusterSnapshot } from '../../../src/agent/scheduler/cluster-snapshot.ts';
import type { FilterPlugin, FilterResult, SchedulingContext, ScorePlugin } from '../../../src/agent/scheduler/framework.ts';
import { buildPodInfo } from '../../../src/agent/scheduler/pod-info.ts';
import type { SchedNode, SchedPodSpecExtras, Taint } from '../../../src/agent/scheduler/scheduling-shapes.ts';

export interface NodeOpts {
  labels?: Record<string, string>;
  taints?: Taint[];
  unschedulable?: boolean;
  ready?: boolean;
  allocatable?: Record<string, string>;
}

export function node(name: string, opts: NodeOpts = {}): SchedNode {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...opts.labels } },
    spec: { unschedulable: opts.unschedulable ?? false, ...(opts.taints ? { taints: opts.taints } : {}) },
    status: {
      conditions: [{ type: 'Ready', status: opts.ready === false ? 'False' : 'True' }],
      ...(opts.allocatable ? { allocatable: opts.allocatable } : {}),
    },
  };
}

/** A node with room for `pods` pods and the given cpu / memory. */
export function sizedNode(name: string, cpu: string, memory: string, opts: NodeOpts = {}): SchedNode {
  return node(name, { ...opts, allocatable: { cpu, memory, pods: '110', ...opts.allocatable } });
}

export interface PodOpts extends SchedPodSpecExtras {
  namespace?: string;
  labels?: Record<string, string>;
  requests?: Record<string, string>;
  nodeName?: string;
  nodeSelector?: Record<string, string>;
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  deleting?: boolean;
  containers?: Container[];
  initContainers?: Container[];
  hostNetwork?: boolean;
}

export function pod(name: string, opts: PodOpts = {}): Pod {
  const { namespace, labels, requests, nodeName, nodeSelector, phase, deleting, containers, initContainers, hostNetwork, ...extras } = opts;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: namespace ?? 'default',
      uid: `uid-${name}`,
      labels: labels ?? {},
      ...(deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}),
    },
    spec: {
      containers: containers ?? [{ name: 'c', image: 'i', ...(requests ? { resources: { requests } } : {}) }],
      ...(initContainers ? { initContainers } : {}),
      ...(nodeName ? { nodeName } : {}),
      ...(nodeSelector ? { nodeSelector } : {}),
      ...(hostNetwork ? { hostNetwork } : {}),
      ...extras,
    },
    status: { phase: phase ?? (nodeName ? 'Running' : 'Pending') },
  };
}

function context(snapshot: ClusterSnapshot): SchedulingContext {
  return { snapshot, state: new Map() };
}

/** Runs PreFilter then Filter on every node; the result per node name. */
export function runFilter(plugin: FilterPlugin, p: Pod, nodes: SchedNode[], bound: Pod[] = []): Map<string, FilterResult> {
  const snapshot = buildClusterSnapshot(nodes, bound);
  const ctx = context(snapshot);
  const info = buildPodInfo(p);
  const out = new Map<string, FilterResult>();
  const pre = plugin.preFilter?.(info, ctx);
  for (const n of snapshot.nodes()) {
    out.set(n.name, pre === 'skip' ? undefined : pre ? pre.unschedulable : plugin.filter(info, n, ctx));
  }
  return out;
}

/** Names of the nodes the plugin lets the pod onto. */
export function passing(plugin: FilterPlugin, p: Pod, nodes: SchedNode[], bound: Pod[] = []): string[] {
  return [...runFilter(plugin, p, nodes, bound)].filter(([, r]) => r === undefined).map(([n]) => n);
}

/** PreScore / Score / NormalizeScore with every node feasible; undefined when the plugin skips the pod. */
export function runScore(plugin: ScorePlugin, p: Pod, nodes: SchedNode[], bound: Pod[] = []): Map<string, number> | undefined {
  const snapshot = buildClusterSnapshot(nodes, bound);
  const ctx = context(snapshot);
  const info = buildPodInfo(p);
  const feasible = snapshot.nodes();
  if (plugin.preScore?.(info, feasible, ctx) === 'skip') return undefined;
  const scores = feasible.map((n) => plugin.score(info, n, ctx));
  plugin.normalize?.(scores, feasible, ctx);
  return new Map(feasible.map((n, i) => [n.name, scores[i]!]));
}
