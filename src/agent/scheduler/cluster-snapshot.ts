// The scheduler's view of the cluster: one NodeInfo per node with what its
// bound pods already request, the host ports they hold and how many there are,
// kept up to date pod by pod (the binder feeds it watch events; a bind is
// "assumed" into it at once, as kube-scheduler's cache does, so the next pod
// sees it before the write comes back). A label index per namespace lets the
// affinity and spread plugins find matching pods without scanning them all.
import type { KubeObject, Pod } from '../api/object-types.ts';
import { LOCAL_VOLUME_ROOT_ANNOTATION, type PersistentVolume, type PersistentVolumeClaim } from '../api/persistent-volume-types.ts';
import type { CompiledLabelSelector, Requirement } from './label-selector.ts';
import { effectiveTaints } from './condition-taints.ts';
import { parseAllocatable, type Resources } from './pod-requests.ts';
import { buildPodInfo, isPodInfo, podKey, type AffinityTerm, type PodInfo } from './pod-info.ts';
import type { SchedNode, Taint } from './scheduling-shapes.ts';

export interface NodeInfo {
  readonly name: string;
  /** Undefined while pods name a node the snapshot has not seen (such a node is never a candidate). */
  node: SchedNode | undefined;
  labels: Readonly<Record<string, string>>;
  /** spec.taints plus the not-ready / unreachable taints of its Ready condition (condition-taints.ts). */
  taints: readonly Taint[];
  unschedulable: boolean;
  ready: boolean;
  /** Undefined when the node reports no allocatable yet: its capacity is unknown, not zero. */
  allocatable: Resources | undefined;
  allowedPodNumber: number;
  readonly requested: Resources;
  readonly nonZeroRequested: { milliCpu: number; memory: number };
  readonly pods: Map<string, PodInfo>;
  /** pods.size plus pods known only as a count (schedulePod's legacy per-node counts). */
  podCount: number;
  /** Host ports in use: `ip proto/port` and `proto/port` (any IP) -> how many pods hold it. */
  readonly usedPorts: Map<string, number>;
  readonly usedPortsAnyIp: Map<string, number>;
}

export type TermKind = 'requiredAffinity' | 'requiredAntiAffinity' | 'preferredAffinity' | 'preferredAntiAffinity';

/** One pod (anti-)affinity term of a counted pod. */
export interface IndexedTerm {
  readonly pod: PodInfo;
  readonly term: AffinityTerm;
  readonly kind: TermKind;
  /** The preferred term's weight; 0 for required terms. */
  readonly weight: number;
}

export interface ClusterSnapshot {
  /** Nodes with a Node object, sorted by name (a stable order for the rotating search). */
  nodes(): readonly NodeInfo[];
  node(name: string): NodeInfo | undefined;
  /** Adds or updates a node; true when anything a filter or score reads changed. */
  setNode(node: SchedNode): boolean;
  removeNode(name: string): boolean;
  /**
   * Takes a pod as the store has it: bound and not finished means counted on
   * its node, anything else means not counted (an assumed pod stays counted
   * until its bound version, or its deletion, arrives).
   */
  setPod(pod: Pod): void;
  /** True when the pod had been counted. */
  removePod(namespace: string, name: string): boolean;
  /** Counts a pod on nodeName before the binding is written (a PodInfo from the cycle saves parsing it again). */
  assume(pod: Pod | PodInfo, nodeName: string): void;
  /** Undoes assume after a failed bind. */
  forget(namespace: string, name: string): void;
  pod(namespace: string, name: string): PodInfo | undefined;
  /** Counted pods in the given namespaces (all when undefined) whose labels match. */
  forEachMatchingPod(namespaces: ReadonlySet<string> | undefined, selector: CompiledLabelSelector, visit: (p: PodInfo) => void): void;
  /**
   * The terms of counted pods that may select a pod with these labels: a
   * superset found through the terms' label index (callers still check
   * termMatches), so the symmetric affinity checks cost what matches, not
   * every pod with a term.
   */
  forEachTermPossiblySelecting(labels: Readonly<Record<string, string>>, visit: (t: IndexedTerm) => void): void;
  setNamespaceLabels(namespace: string, labels: Record<string, string> | undefined): void;
  namespaceLabels(namespace: string): Readonly<Record<string, string>> | undefined;
  /** Nodes per value of a node label (the topology domains of that key). */
  topologyDomains(key: string): ReadonlyMap<string, number>;
  /** Adds placeholder pods to a node's count (schedulePod's legacy Map argument). */
  addPodCount(nodeName: string, count: number): void;
  /** Adds or updates a claim; true when anything the volume filter reads changed. */
  setClaim(claim: PersistentVolumeClaim): boolean;
  removeClaim(namespace: string, name: string): boolean;
  claim(namespace: string, name: string): PersistentVolumeClaim | undefined;
  /** Adds or updates a volume; true when anything the volume filter reads changed. */
  setVolume(volume: PersistentVolume): boolean;
  removeVolume(name: string): boolean;
  volume(name: string): PersistentVolume | undefined;
  volumes(): Iterable<PersistentVolume>;
}

interface NamespaceIndex {
  all: Set<PodInfo>;
  byLabel: Map<string, Map<string, Set<PodInfo>>>;
}

const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});

function emptyResources(): Resources {
  return { milliCpu: 0, memory: 0, ephemeralStorage: 0, scalar: new Map() };
}

function isReady(node: SchedNode): boolean {
  for (const c of node.status?.conditions ?? []) if (c.type === 'Ready') return c.status === 'True';
  return false;
}

function sameRecord(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (a[k] !== b[k]) return false;
  return true;
}

function isCounted(pod: Pod): boolean {
  const phase = pod.status?.phase;
  return !!pod.spec?.nodeName && phase !== 'Succeeded' && phase !== 'Failed';
}

function portKeys(ip: string, protocol: string, port: number): [string, string] {
  return [`${ip} ${protocol}/${port}`, `${protocol}/${port}`];
}

function bump(m: Map<string, number>, k: string, d: number): void {
  const v = (m.get(k) ?? 0) + d;
  if (v <= 0) m.delete(k);
  else m.set(k, v);
}

export function createClusterSnapshot(): ClusterSnapshot {
  const infos = new Map<string, NodeInfo>();
  const podNode = new Map<string, NodeInfo>();
  const assumed = new Set<string>();
  const byNamespace = new Map<string, NamespaceIndex>();
  const termsOf = new Map<PodInfo, { entry: IndexedTerm; key?: string; value?: string }[]>();
  const termsByLabel = new Map<string, Map<string, Set<IndexedTerm>>>();
  const termsUnindexed = new Set<IndexedTerm>();
  const nsLabels = new Map<string, Readonly<Record<string, string>>>();
  const claims = new Map<string, PersistentVolumeClaim>();
  const pvs = new Map<string, PersistentVolume>();
  let list: NodeInfo[] | undefined;
  // Per label key; dropped whenever a node comes, goes or relabels (rare next to pod changes).
  const domains = new Map<string, Map<string, number>>();

  function info(name: string): NodeInfo {
    let n = infos.get(name);
    if (!n) {
      n = {
        name,
        node: undefined,
        labels: NO_LABELS,
        taints: [],
        unschedulable: false,
        ready: false,
        allocatable: undefined,
        allowedPodNumber: Infinity,
        requested: emptyResources(),
        nonZeroRequested: { milliCpu: 0, memory: 0 },
        pods: new Map(),
        podCount: 0,
        usedPorts: new Map(),
        usedPortsAnyIp: new Map(),
      };
      infos.set(name, n);
    }
    return n;
  }

  function applyPod(n: NodeInfo, p: PodInfo, sign: 1 | -1): void {
    const r = n.requested;
    r.milliCpu += sign * p.requests.milliCpu;
    r.memory += sign * p.requests.memory;
    r.ephemeralStorage += sign * p.requests.ephemeralStorage;
    for (const [k, v] of p.requests.scalar) {
      const next = (r.scalar.get(k) ?? 0) + sign * v;
      if (next === 0) r.scalar.delete(k);
      else r.scalar.set(k, next);
    }
    n.nonZeroRequested.milliCpu += sign * p.nonZeroMilliCpu;
    n.nonZeroRequested.memory += sign * p.nonZeroMemory;
    for (const hp of p.hostPorts) {
      const [exact, any] = portKeys(hp.ip, hp.protocol, hp.port);
      bump(n.usedPorts, exact, sign);
      bump(n.usedPortsAnyIp, any, sign);
    }
    n.podCount += sign;
  }

  function nsIndex(ns: string): NamespaceIndex {
    let idx = byNamespace.get(ns);
    if (!idx) byNamespace.set(ns, (idx = { all: new Set(), byLabel: new Map() }));
    return idx;
  }

  function index(p: PodInfo, add: boolean): void {
    const idx = nsIndex(p.namespace);
    if (add) idx.all.add(p);
    else idx.all.delete(p);
    for (const k of Object.keys(p.labels)) {
      let values = idx.byLabel.get(k);
      if (!values) {
        if (!add) continue;
        idx.byLabel.set(k, (values = new Map()));
      }
      const v = p.labels[k]!;
      let set = values.get(v);
      if (!set) {
        if (!add) continue;
        values.set(v, (set = new Set()));
      }
      if (add) set.add(p);
      else {
        set.delete(p);
        if (set.size === 0) values.delete(v);
        if (values.size === 0) idx.byLabel.delete(k);
      }
    }
    if (idx.all.size === 0) byNamespace.delete(p.namespace);
    if (p.hasPodAffinity) indexTerms(p, add);
  }

  function indexTerms(p: PodInfo, add: boolean): void {
    if (!add) {
      for (const { entry, key, value } of termsOf.get(p) ?? []) {
        if (key === undefined) {
          termsUnindexed.delete(entry);
          continue;
        }
        const values = termsByLabel.get(key)!;
        const set = values.get(value!)!;
        set.delete(entry);
        if (set.size === 0) values.delete(value!);
        if (values.size === 0) termsByLabel.delete(key);
      }
      termsOf.delete(p);
      return;
    }
    const placed: { entry: IndexedTerm; key?: string; value?: string }[] = [];
    const put = (term: AffinityTerm, kind: TermKind, weight: number) => {
      if (term.selector.nothing) return;
      const entry: IndexedTerm = { pod: p, term, kind, weight };
      // Filed under the values of its first In requirement: a pod has one value per key, so it meets the term at most once.
      const req = term.selector.requirements.find((r) => r.op === 'In');
      if (!req) {
        termsUnindexed.add(entry);
        placed.push({ entry });
        return;
      }
      let values = termsByLabel.get(req.key);
      if (!values) termsByLabel.set(req.key, (values = new Map()));
      for (const v of req.values) {
        let set = values.get(v);
        if (!set) values.set(v, (set = new Set()));
        set.add(entry);
        placed.push({ entry, key: req.key, value: v });
      }
    };
    for (const t of p.requiredAffinityTerms) put(t, 'requiredAffinity', 0);
    for (const t of p.requiredAntiAffinityTerms) put(t, 'requiredAntiAffinity', 0);
    for (const t of p.preferredAffinityTerms) put(t, 'preferredAffinity', t.weight);
    for (const t of p.preferredAntiAffinityTerms) put(t, 'preferredAntiAffinity', t.weight);
    termsOf.set(p, placed);
  }

  function add(p: PodInfo, nodeName: string): void {
    const n = info(nodeName);
    n.pods.set(p.key, p);
    podNode.set(p.key, n);
    applyPod(n, p, 1);
    index(p, true);
  }

  function remove(key: string): boolean {
    const n = podNode.get(key);
    if (!n) return false;
    const p = n.pods.get(key)!;
    n.pods.delete(key);
    podNode.delete(key);
    applyPod(n, p, -1);
    index(p, false);
    if (!n.node && n.pods.size === 0 && n.podCount === 0) infos.delete(n.name);
    return true;
  }

  /** The candidate set a selector can be narrowed to through one of its requirements. */
  function candidates(idx: NamespaceIndex, reqs: readonly Requirement[]): Iterable<PodInfo>[] {
    let best: Iterable<PodInfo>[] | undefined;
    let bestSize = Infinity;
    for (const r of reqs) {
      if (r.op !== 'In' && r.op !== 'Exists') continue;
      const values = idx.byLabel.get(r.key);
      if (!values) return [];
      const sets: Set<PodInfo>[] = [];
      let size = 0;
      if (r.op === 'In') {
        for (const v of r.values) {
          const s = values.get(v);
          if (s) {
            sets.push(s);
            size += s.size;
          }
        }
      } else {
        for (const s of values.values()) {
          sets.push(s);
          size += s.size;
        }
      }
      if (size < bestSize) {
        best = sets;
        bestSize = size;
        if (size === 0) break;
      }
    }
    return best ?? [idx.all];
  }

  const snapshot: ClusterSnapshot = {
    nodes() {
      if (!list) {
        list = [...infos.values()].filter((n) => n.node !== undefined);
        list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      }
      return list;
    },
    node: (name) => infos.get(name),
    setNode(node) {
      const name = node.metadata.name ?? '';
      const n = info(name);
      const labels = node.metadata.labels ?? NO_LABELS;
      const taints = effectiveTaints(node);
      const unschedulable = !!node.spec?.unschedulable;
      const ready = isReady(node);
      const alloc = node.status?.allocatable;
      const changed =
        n.node === undefined ||
        !sameRecord(n.labels, labels) ||
        JSON.stringify(n.taints) !== JSON.stringify(taints) ||
        n.unschedulable !== unschedulable ||
        n.ready !== ready ||
        JSON.stringify(n.node.status?.allocatable) !== JSON.stringify(alloc) ||
        n.node.metadata.annotations?.[LOCAL_VOLUME_ROOT_ANNOTATION] !== node.metadata.annotations?.[LOCAL_VOLUME_ROOT_ANNOTATION];
      if (n.node === undefined) list = undefined;
      if (n.node === undefined || !sameRecord(n.labels, labels)) domains.clear();
      n.node = node;
      if (changed) {
        n.labels = labels;
        n.taints = taints;
        n.unschedulable = unschedulable;
        n.ready = ready;
        if (alloc && typeof alloc === 'object') {
          const parsed = parseAllocatable(alloc);
          n.allocatable = parsed.resources;
          n.allowedPodNumber = parsed.pods;
        } else {
          n.allocatable = undefined;
          n.allowedPodNumber = Infinity;
        }
      }
      return changed;
    },
    removeNode(name) {
      const n = infos.get(name);
      if (!n?.node) return false;
      n.node = undefined;
      list = undefined;
      domains.clear();
      if (n.pods.size === 0) infos.delete(name);
      return true;
    },
    setPod(pod) {
      const key = podKey(pod.metadata.namespace, pod.metadata.name);
      if (!isCounted(pod)) {
        // A pod we bound may still show up unbound (an older write echoing back) until the binding lands.
        if (assumed.has(key) && !pod.spec?.nodeName && !pod.metadata.deletionTimestamp && isCountedPhase(pod)) return;
        assumed.delete(key);
        remove(key);
        return;
      }
      assumed.delete(key);
      const nodeName = pod.spec.nodeName!;
      const old = podNode.get(key);
      if (old && old.name === nodeName && old.pods.get(key)!.pod === pod) return;
      remove(key);
      add(buildPodInfo(pod), nodeName);
    },
    removePod(namespace, name) {
      const key = podKey(namespace, name);
      assumed.delete(key);
      return remove(key);
    },
    assume(pod, nodeName) {
      const parsed = isPodInfo(pod) ? pod : undefined;
      const raw = parsed ? parsed.pod : (pod as Pod);
      const bound: Pod = { ...raw, spec: { ...raw.spec, nodeName } };
      const info: PodInfo = parsed ? { ...parsed, pod: bound, nodeName } : buildPodInfo(bound);
      remove(info.key);
      add(info, nodeName);
      assumed.add(info.key);
    },
    forget(namespace, name) {
      const key = podKey(namespace, name);
      if (assumed.delete(key)) remove(key);
    },
    pod(namespace, name) {
      const key = podKey(namespace, name);
      return podNode.get(key)?.pods.get(key);
    },
    forEachMatchingPod(namespaces, selector, visit) {
      if (selector.nothing) return;
      const scan = (idx: NamespaceIndex | undefined) => {
        if (!idx) return;
        for (const set of candidates(idx, selector.requirements)) for (const p of set) if (selector.matches(p.labels)) visit(p);
      };
      if (namespaces) for (const ns of namespaces) scan(byNamespace.get(ns));
      else for (const idx of byNamespace.values()) scan(idx);
    },
    forEachTermPossiblySelecting(labels, visit) {
      for (const e of termsUnindexed) visit(e);
      if (termsByLabel.size === 0) return;
      for (const k of Object.keys(labels)) {
        const set = termsByLabel.get(k)?.get(labels[k]!);
        if (set) for (const e of set) visit(e);
      }
    },
    setNamespaceLabels(namespace, labels) {
      if (labels) nsLabels.set(namespace, labels);
      else nsLabels.delete(namespace);
    },
    namespaceLabels: (namespace) => nsLabels.get(namespace),
    topologyDomains(key) {
      let m = domains.get(key);
      if (!m) {
        m = new Map();
        for (const n of snapshot.nodes()) {
          const v = n.labels[key];
          if (v !== undefined) m.set(v, (m.get(v) ?? 0) + 1);
        }
        domains.set(key, m);
      }
      return m;
    },
    addPodCount(nodeName, count) {
      info(nodeName).podCount += count;
    },
    setClaim(claim) {
      const key = podKey(claim.metadata.namespace, claim.metadata.name);
      const changed = !sameStorageObject(claims.get(key), claim);
      claims.set(key, claim);
      return changed;
    },
    removeClaim: (namespace, name) => claims.delete(podKey(namespace, name)),
    claim: (namespace, name) => claims.get(podKey(namespace, name)),
    setVolume(volume) {
      const name = volume.metadata.name ?? '';
      const changed = !sameStorageObject(pvs.get(name), volume);
      pvs.set(name, volume);
      return changed;
    },
    removeVolume: (name) => pvs.delete(name),
    volume: (name) => pvs.get(name),
    volumes: () => pvs.values(),
  };
  return snapshot;
}

/** What the volume filter reads of a claim or volume: its spec, status, labels, class annotation and deletion. */
function sameStorageObject(a: PersistentVolume | PersistentVolumeClaim | undefined, b: PersistentVolume | PersistentVolumeClaim): boolean {
  if (!a) return false;
  return (
    JSON.stringify(a.spec) === JSON.stringify(b.spec) &&
    JSON.stringify(a.status) === JSON.stringify(b.status) &&
    JSON.stringify(a.metadata.labels) === JSON.stringify(b.metadata.labels) &&
    JSON.stringify(a.metadata.annotations) === JSON.stringify(b.metadata.annotations) &&
    a.metadata.deletionTimestamp === b.metadata.deletionTimestamp &&
    a.metadata.uid === b.metadata.uid
  );
}

function isCountedPhase(pod: Pod): boolean {
  const phase = pod.status?.phase;
  return phase !== 'Succeeded' && phase !== 'Failed';
}

/** A snapshot of these nodes and pods, built in one pass. */
export function buildClusterSnapshot(nodes: readonly KubeObject[], pods: readonly Pod[] = []): ClusterSnapshot {
  const s = createClusterSnapshot();
  for (const n of nodes) s.setNode(n as SchedNode);
  for (const p of pods) s.setPod(p);
  return s;
}
