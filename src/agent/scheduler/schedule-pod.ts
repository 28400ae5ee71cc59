// The pure core of scheduling: given a pod and the nodes, pick a node or say
// why none fits. The consensus issue replaces this with the full filter/score
// framework; its callers (the binder) stay the same.
import type { KubeObject, Pod } from '../api/object-types.ts';

export type ScheduleResult = { nodeName: string } | { unschedulable: string };

interface NodeTaint {
  key: string;
  value?: string;
  effect: string;
}

interface Toleration {
  key?: string;
  operator?: 'Exists' | 'Equal';
  value?: string;
  effect?: string;
}

interface NodeLike extends KubeObject {
  spec?: { unschedulable?: boolean; taints?: NodeTaint[] };
  status?: { conditions?: { type: string; status: string }[] };
}

function isReady(node: NodeLike): boolean {
  return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

function matchesSelector(node: NodeLike, selector: Record<string, string> | undefined): boolean {
  if (!selector) return true;
  const labels = node.metadata.labels ?? {};
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

function tolerates(t: Toleration, taint: NodeTaint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.operator === 'Exists') return !t.key || t.key === taint.key;
  return t.key === taint.key && (t.value ?? '') === (taint.value ?? '');
}

/** A taint that forbids scheduling (NoSchedule, NoExecute) and that no toleration covers. */
function untoleratedTaint(node: NodeLike, tolerations: Toleration[]): NodeTaint | undefined {
  return node.spec?.taints?.find(
    (taint) => taint.effect !== 'PreferNoSchedule' && !tolerations.some((t) => tolerates(t, taint)),
  );
}

/**
 * Filters nodes in a fixed order and counts why each was rejected, as
 * kube-scheduler reports it; among the nodes that fit, the one running the
 * fewest pods wins (ties by name, so every run decides the same).
 */
export function schedulePod(pod: Pod, nodes: NodeLike[], podsPerNode: ReadonlyMap<string, number> = new Map()): ScheduleResult {
  const reasons = new Map<string, number>();
  const reject = (why: string) => reasons.set(why, (reasons.get(why) ?? 0) + 1);
  const fit: NodeLike[] = [];
  for (const node of nodes) {
    if (!isReady(node)) reject('node(s) were not ready');
    else if (node.spec?.unschedulable) reject('node(s) were unschedulable');
    else if (!matchesSelector(node, pod.spec.nodeSelector)) reject("node(s) didn't match Pod's node affinity/selector");
    else {
      const taint = untoleratedTaint(node, (pod.spec.tolerations ?? []) as Toleration[]);
      if (taint) reject(`node(s) had untolerated taint {${taint.key}: ${taint.value ?? ''}}`);
      else fit.push(node);
    }
  }
  if (fit.length === 0) {
    const parts = [...reasons.entries()].sort((a, b) => a[0].localeCompare(b[0])).map(([why, n]) => `${n} ${why}`);
    return { unschedulable: `0/${nodes.length} nodes are available${parts.length ? `: ${parts.join(', ')}` : ''}.` };
  }
  const load = (n: NodeLike) => podsPerNode.get(n.metadata.name ?? '') ?? 0;
  fit.sort((a, b) => load(a) - load(b) || (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  return { nodeName: fit[0]!.metadata.name! };
}
