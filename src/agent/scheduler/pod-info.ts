// A pod parsed once for scheduling (kube's framework.PodInfo): its requests,
// host ports, tolerations and affinity terms compiled, so filters and scores
// never re-read quantities or selectors per node.
import type { Pod } from '../api/object-types.ts';
import { compileLabelSelector, MATCH_NOTHING, type CompiledLabelSelector } from './label-selector.ts';
import { compileNodeSelectorTerms, type NodeMatcher } from './node-selector.ts';
import { podRequests, type Resources } from './pod-requests.ts';
import type { PodAffinityTermShape, SchedPodSpecExtras, Toleration, WeightedPodAffinityTermShape } from './scheduling-shapes.ts';
import { isSidecar } from '../kubelet/pod-status.ts';

export interface HostPort {
  /** 0.0.0.0 when unset. */
  ip: string;
  protocol: string;
  port: number;
}

export interface AffinityTerm {
  /** Namespaces named by the term (its pod's own when it names none and has no namespaceSelector). */
  namespaces: ReadonlySet<string>;
  /** MATCH_NOTHING when absent; `{}` matches every namespace. */
  namespaceSelector: CompiledLabelSelector;
  selector: CompiledLabelSelector;
  topologyKey: string;
}

export interface WeightedAffinityTerm extends AffinityTerm {
  weight: number;
}

export interface PodInfo {
  pod: Pod;
  readonly key: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The node it is counted on (spec.nodeName, or where it was assumed). */
  readonly nodeName: string | undefined;
  readonly terminating: boolean;
  readonly requests: Resources;
  /** CPU and memory with kube's defaults for containers that request none (used by scores). */
  readonly nonZeroMilliCpu: number;
  readonly nonZeroMemory: number;
  readonly hostPorts: readonly HostPort[];
  readonly tolerations: readonly Toleration[];
  readonly requiredAffinityTerms: readonly AffinityTerm[];
  readonly requiredAntiAffinityTerms: readonly AffinityTerm[];
  readonly preferredAffinityTerms: readonly WeightedAffinityTerm[];
  readonly preferredAntiAffinityTerms: readonly WeightedAffinityTerm[];
  /** Any pod (anti-)affinity term at all: such pods are indexed for the symmetric checks. */
  readonly hasPodAffinity: boolean;
  /** nodeSelector AND required node affinity; undefined when the pod may go anywhere. */
  readonly requiredNodeMatcher: NodeMatcher | undefined;
}

const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});

export function isPodInfo(p: Pod | PodInfo): p is PodInfo {
  return 'requests' in p && 'key' in p;
}

export function podKey(namespace: string | undefined, name: string | undefined): string {
  return `${namespace ?? 'default'}/${name ?? ''}`;
}

function compileTerm(t: PodAffinityTermShape | undefined, ownNamespace: string): AffinityTerm | undefined {
  if (!t || typeof t.topologyKey !== 'string' || !t.topologyKey) return undefined;
  const names = t.namespaces ?? [];
  const nsSelector = t.namespaceSelector === undefined || t.namespaceSelector === null ? MATCH_NOTHING : compileLabelSelector(t.namespaceSelector);
  const namespaces = new Set(names.length === 0 && nsSelector.nothing ? [ownNamespace] : names);
  return { namespaces, namespaceSelector: nsSelector, selector: compileLabelSelector(t.labelSelector), topologyKey: t.topologyKey };
}

function compileTerms(terms: PodAffinityTermShape[] | undefined, ns: string): AffinityTerm[] {
  return (terms ?? []).map((t) => compileTerm(t, ns)).filter((t): t is AffinityTerm => t !== undefined);
}

function compileWeighted(terms: WeightedPodAffinityTermShape[] | undefined, ns: string): WeightedAffinityTerm[] {
  const out: WeightedAffinityTerm[] = [];
  for (const w of terms ?? []) {
    if (!w?.weight) continue;
    const t = compileTerm(w.podAffinityTerm, ns);
    if (t) out.push({ ...t, weight: w.weight });
  }
  return out;
}

/** Whether the term selects a pod of namespace ns with these labels. */
export function termMatches(
  term: AffinityTerm,
  ns: string,
  labels: Readonly<Record<string, string>>,
  namespaceLabels: (ns: string) => Readonly<Record<string, string>> | undefined,
): boolean {
  if (!term.namespaces.has(ns)) {
    if (term.namespaceSelector.nothing) return false;
    if (!term.namespaceSelector.empty && !term.namespaceSelector.matches(namespaceLabels(ns))) return false;
  }
  return term.selector.matches(labels);
}

function hostPortsOf(pod: Pod): HostPort[] {
  const out: HostPort[] = [];
  // Sidecars run for the pod's whole life, so their ports are held like app containers'.
  const containers = [...(pod.spec.initContainers ?? []).filter(isSidecar), ...(pod.spec.containers ?? [])];
  for (const c of containers) {
    for (const p of c.ports ?? []) {
      const port = p.hostPort ?? (pod.spec.hostNetwork ? p.containerPort : 0);
      if (!port || port <= 0) continue;
      out.push({ ip: p.hostIP || '0.0.0.0', protocol: p.protocol || 'TCP', port });
    }
  }
  return out;
}

function nodeMatcherOf(pod: Pod): NodeMatcher | undefined {
  const selector = pod.spec.nodeSelector;
  const selectorEntries = selector ? Object.entries(selector) : [];
  const required = (pod.spec as SchedPodSpecExtras).affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  const terms = required ? compileNodeSelectorTerms(required.nodeSelectorTerms) : undefined;
  if (selectorEntries.length === 0 && !terms) return undefined;
  return (labels, name) => {
    for (const [k, v] of selectorEntries) if (labels[k] !== v) return false;
    return terms ? terms(labels, name) : true;
  };
}

export function buildPodInfo(pod: Pod): PodInfo {
  const namespace = pod.metadata.namespace ?? 'default';
  const spec = pod.spec as Pod['spec'] & SchedPodSpecExtras;
  const affinity = spec.affinity;
  const nonZero = podRequests(pod, { nonZero: true });
  const requiredAffinityTerms = compileTerms(affinity?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution, namespace);
  const requiredAntiAffinityTerms = compileTerms(affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution, namespace);
  const preferredAffinityTerms = compileWeighted(affinity?.podAffinity?.preferredDuringSchedulingIgnoredDuringExecution, namespace);
  const preferredAntiAffinityTerms = compileWeighted(affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution, namespace);
  return {
    pod,
    key: podKey(namespace, pod.metadata.name),
    namespace,
    labels: pod.metadata.labels ?? NO_LABELS,
    nodeName: pod.spec.nodeName || undefined,
    terminating: !!pod.metadata.deletionTimestamp,
    requests: podRequests(pod),
    nonZeroMilliCpu: nonZero.milliCpu,
    nonZeroMemory: nonZero.memory,
    hostPorts: hostPortsOf(pod),
    tolerations: Array.isArray(spec.tolerations) ? spec.tolerations : [],
    requiredAffinityTerms,
    requiredAntiAffinityTerms,
    preferredAffinityTerms,
    preferredAntiAffinityTerms,
    hasPodAffinity:
      requiredAffinityTerms.length + requiredAntiAffinityTerms.length + preferredAffinityTerms.length + preferredAntiAffinityTerms.length > 0,
    requiredNodeMatcher: nodeMatcherOf(pod),
  };
}
