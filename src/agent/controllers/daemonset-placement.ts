// Where a DaemonSet's pods belong, as Kubernetes' DaemonSet controller decides
// it (NodeShouldRunDaemonPod), with the scheduler's own predicates so both agree:
// - shouldRun: the node matches spec.nodeName, nodeSelector and the required
//   node affinity, and every NoSchedule/NoExecute taint is tolerated;
// - shouldContinueRunning: as shouldRun, except an untolerated NoSchedule taint
//   alone does not evict a pod already there (only NoExecute does).
// A node's spec.unschedulable does not count: DaemonSet pods tolerate it.
// Also the pod a DaemonSet puts on a node: the template, the automatic
// tolerations, and a required matchFields affinity pinning it to that node.
import type { Pod, PodSpec } from '../api/object-types.ts';
import { compileNodeSelectorTerms } from '../scheduler/node-selector.ts';
import type { AffinityShape, NodeSelectorTerm, SchedNode, SchedPodSpecExtras, Toleration } from '../scheduler/scheduling-shapes.ts';
import { TAINT_NOT_READY, TAINT_UNSCHEDULABLE } from '../scheduler/scheduling-shapes.ts';
import { tolerationsTolerate } from '../scheduler/tolerations.ts';

export const CONTROLLER_REVISION_HASH = 'controller-revision-hash';

/** The tolerations kube's DaemonSet controller adds to every daemon pod (AddOrUpdateDaemonPodTolerations). */
export function daemonTolerations(spec: PodSpec): Toleration[] {
  const auto: Toleration[] = [
    { key: TAINT_NOT_READY, operator: 'Exists', effect: 'NoExecute' },
    { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
    { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
    { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
    { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' },
    { key: TAINT_UNSCHEDULABLE, operator: 'Exists', effect: 'NoSchedule' },
  ];
  if (spec.hostNetwork) auto.push({ key: 'node.kubernetes.io/network-unavailable', operator: 'Exists', effect: 'NoSchedule' });
  const own = ((spec as SchedPodSpecExtras).tolerations ?? []).slice();
  // kube replaces a toleration of the same key and effect rather than adding a second.
  for (const t of auto) {
    const i = own.findIndex((o) => o.key === t.key && o.effect === t.effect);
    if (i >= 0) own[i] = t;
    else own.push(t);
  }
  return own;
}

export interface Placement {
  shouldRun: boolean;
  shouldContinueRunning: boolean;
}

/** Whether a pod with this spec (tolerations already including daemonTolerations) belongs on node. */
export function placementOn(spec: PodSpec, tolerations: readonly Toleration[], node: SchedNode): Placement {
  const no: Placement = { shouldRun: false, shouldContinueRunning: false };
  const name = node.metadata.name ?? '';
  if (spec.nodeName && spec.nodeName !== name) return no;
  const labels = node.metadata.labels ?? {};
  for (const [k, v] of Object.entries(spec.nodeSelector ?? {})) if (labels[k] !== v) return no;
  const required = (spec as SchedPodSpecExtras).affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (required && !compileNodeSelectorTerms(required.nodeSelectorTerms)(labels, name)) return no;
  let noSchedule = false;
  for (const taint of node.spec?.taints ?? []) {
    if (taint.effect !== 'NoSchedule' && taint.effect !== 'NoExecute') continue;
    if (tolerationsTolerate(tolerations, taint)) continue;
    if (taint.effect === 'NoExecute') return no;
    noSchedule = true;
  }
  return { shouldRun: !noSchedule, shouldContinueRunning: true };
}

/**
 * The affinity with the required terms pinned to nodeName
 * (ReplaceDaemonSetPodNodeNameNodeAffinity): every term gets matchFields
 * metadata.name In [nodeName] in place of any metadata.name field it had.
 */
export function pinToNode(affinity: AffinityShape | undefined, nodeName: string): AffinityShape {
  const field = { key: 'metadata.name', operator: 'In', values: [nodeName] };
  const out = structuredClone(affinity ?? {});
  const nodeAffinity = (out.nodeAffinity ??= {});
  const terms = nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  const pinned: NodeSelectorTerm[] = terms.length
    ? terms.map((t) => ({ ...t, matchFields: [...(t.matchFields ?? []).filter((f) => f.key !== 'metadata.name'), field] }))
    : [{ matchFields: [field] }];
  nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution = { nodeSelectorTerms: pinned };
  return out;
}

/** The node a daemon pod is on, or is pinned to while not yet bound (GetTargetNodeName). */
export function targetNodeOf(pod: Pod): string | undefined {
  if (pod.spec.nodeName) return pod.spec.nodeName;
  const terms = (pod.spec as SchedPodSpecExtras).affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  for (const t of terms) {
    for (const f of t.matchFields ?? []) {
      if (f.key === 'metadata.name' && f.operator === 'In' && f.values?.length === 1) return f.values[0];
    }
  }
  return undefined;
}
