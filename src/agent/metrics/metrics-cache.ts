// The newest metrics sample of every node, in memory, so any agent answers for
// the whole cluster. Ages are judged by when a sample arrived here (local
// clock), since other nodes' clocks may differ; a node that stops sending
// drops out after maxAgeMs.
import type { NodeMetricsSample, PodMetricsSample } from './metrics-sample.ts';

export interface PodMetricsEntry {
  pod: PodMetricsSample;
  /** The sample of the node the pod runs on. */
  node: NodeMetricsSample;
}

export interface MetricsCache {
  /** Keeps sample as its node's newest unless an even newer one is held. */
  put(sample: NodeMetricsSample): void;
  node(nodeName: string): NodeMetricsSample | undefined;
  /** Every node with a fresh sample, by name. */
  nodes(): NodeMetricsSample[];
  pod(namespace: string, name: string): PodMetricsEntry | undefined;
  /** Every pod of every fresh sample (one namespace when given), by namespace and name. */
  pods(namespace?: string): PodMetricsEntry[];
}

export const DEFAULT_MAX_AGE_MS = 60_000;

export function createMetricsCache(opts: { maxAgeMs?: number; now?: () => number } = {}): MetricsCache {
  const maxAgeMs = opts.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
  const now = opts.now ?? Date.now;
  const held = new Map<string, { sample: NodeMetricsSample; receivedAt: number }>();

  function fresh(): NodeMetricsSample[] {
    const t = now();
    const out: NodeMetricsSample[] = [];
    for (const [name, e] of held) {
      if (t - e.receivedAt > maxAgeMs) held.delete(name);
      else out.push(e.sample);
    }
    return out.sort((a, b) => a.nodeName.localeCompare(b.nodeName));
  }

  function pods(namespace?: string): PodMetricsEntry[] {
    // A pod that moved may still be in its old node's last sample: the newest wins.
    const byKey = new Map<string, PodMetricsEntry>();
    for (const node of fresh()) {
      for (const pod of node.pods) {
        if (namespace !== undefined && pod.namespace !== namespace) continue;
        const key = `${pod.namespace}/${pod.name}`;
        const prev = byKey.get(key);
        if (!prev || Date.parse(node.timestamp) > Date.parse(prev.node.timestamp)) byKey.set(key, { pod, node });
      }
    }
    return [...byKey.values()].sort(
      (a, b) => a.pod.namespace.localeCompare(b.pod.namespace) || a.pod.name.localeCompare(b.pod.name),
    );
  }

  return {
    put(sample) {
      const prev = held.get(sample.nodeName);
      if (prev && Date.parse(prev.sample.timestamp) > Date.parse(sample.timestamp)) return;
      held.set(sample.nodeName, { sample, receivedAt: now() });
    },
    node: (name) => fresh().find((s) => s.nodeName === name),
    nodes: fresh,
    pod: (namespace, name) => pods(namespace).find((e) => e.pod.name === name),
    pods,
  };
}
