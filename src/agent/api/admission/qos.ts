// Pod QoS class, computed as Kubernetes' GetPodQOS does. The kubelet uses it to
// pick eviction order, so it lives here beside the quantity parser it needs.
import { addExact, compareExact, parseQuantityExact, type ExactQuantity } from './quantity.ts';

export type QosClass = 'Guaranteed' | 'Burstable' | 'BestEffort';

interface QosContainer {
  resources?: { requests?: Record<string, unknown> | null; limits?: Record<string, unknown> | null } | null;
}
export interface QosPodSpec {
  containers?: QosContainer[] | null;
  initContainers?: QosContainer[] | null;
}

const QOS_RESOURCES = new Set(['cpu', 'memory']);
const ZERO: ExactQuantity = { mantissa: 0n, exp10: 0 };

function positive(v: unknown): ExactQuantity | undefined {
  if (typeof v !== 'string' && typeof v !== 'number') return undefined;
  try {
    const q = parseQuantityExact(v);
    return compareExact(q, ZERO) > 0 ? q : undefined;
  } catch {
    return undefined;
  }
}

function accumulate(into: Map<string, ExactQuantity>, name: string, q: ExactQuantity): void {
  const prev = into.get(name);
  into.set(name, prev ? addExact(prev, q) : q);
}

/**
 * Guaranteed: every container has cpu and memory limits, and summed requests equal
 * summed limits. BestEffort: no cpu/memory requests or limits anywhere. Else Burstable.
 * A request left out counts as equal to its limit, as API defaulting makes it,
 * so an undefaulted spec (e.g. a pod seen before admission) classifies the same.
 */
export function podQosClass(spec: QosPodSpec): QosClass {
  const requests = new Map<string, ExactQuantity>();
  const limits = new Map<string, ExactQuantity>();
  let guaranteed = true;
  for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
    const effectiveRequests = { ...(c.resources?.limits ?? {}), ...(c.resources?.requests ?? {}) };
    for (const [name, v] of Object.entries(effectiveRequests)) {
      const q = QOS_RESOURCES.has(name) ? positive(v) : undefined;
      if (q) accumulate(requests, name, q);
    }
    const found = new Set<string>();
    for (const [name, v] of Object.entries(c.resources?.limits ?? {})) {
      const q = QOS_RESOURCES.has(name) ? positive(v) : undefined;
      if (!q) continue;
      found.add(name);
      accumulate(limits, name, q);
    }
    if (!found.has('cpu') || !found.has('memory')) guaranteed = false;
  }
  if (requests.size === 0 && limits.size === 0) return 'BestEffort';
  if (guaranteed) {
    for (const [name, req] of requests) {
      const lim = limits.get(name);
      if (!lim || compareExact(lim, req) !== 0) {
        guaranteed = false;
        break;
      }
    }
  }
  return guaranteed && requests.size === limits.size ? 'Guaranteed' : 'Burstable';
}
