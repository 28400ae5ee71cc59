// Pure: which pod to evict first under memory pressure, and the message it gets.
// Order: BestEffort, then Burstable, then Guaranteed; within a class, pods using
// more memory than they requested go first, then lower priority, then the pod
// using the most memory above its request (Kubernetes' rankMemoryPressure keys).
import type { Container, Pod } from '../api/object-types.ts';
import { podQosClass, type QosClass, type QosPodSpec } from '../api/admission/qos.ts';
import { byteValue } from './container-resources.ts';
import { isSidecar } from './pod-status.ts';

export interface EvictionCandidate {
  pod: Pod;
  /** Working-set bytes per container name; absent when unknown. */
  usage?: Map<string, number>;
}

const QOS_ORDER: Record<QosClass, number> = { BestEffort: 0, Burstable: 1, Guaranteed: 2 };

/** status.qosClass as admission set it; computed for pods that lack it. */
export function qosOf(pod: Pod): QosClass {
  const s = pod.status?.qosClass;
  if (s === 'BestEffort' || s === 'Burstable' || s === 'Guaranteed') return s;
  // Requests default to limits (as admission does) for pods that skipped it.
  const defaulted = (cs: Container[] | undefined) =>
    cs?.map((c) => ({ resources: { limits: c.resources?.limits, requests: { ...(c.resources?.limits ?? {}), ...(c.resources?.requests ?? {}) } } }));
  return podQosClass({ containers: defaulted(pod.spec.containers), initContainers: defaulted(pod.spec.initContainers) } as QosPodSpec);
}

function memoryRequest(c: Container): number {
  try {
    return byteValue(c.resources?.requests?.memory) ?? 0;
  } catch {
    return 0;
  }
}

/** The pod's memory request: max(sum of side-by-side containers, largest init container). */
export function podMemoryRequest(pod: Pod): number {
  const inits = pod.spec.initContainers ?? [];
  const running = [...inits.filter(isSidecar), ...pod.spec.containers].reduce((s, c) => s + memoryRequest(c), 0);
  const init = Math.max(0, ...inits.filter((c) => !isSidecar(c)).map(memoryRequest));
  return Math.max(running, init);
}

export function podMemoryUsage(c: EvictionCandidate): number {
  let sum = 0;
  for (const v of c.usage?.values() ?? []) sum += v;
  return sum;
}

/** Candidates sorted so that the first one is evicted first. */
export function rankForMemoryEviction(candidates: EvictionCandidate[]): EvictionCandidate[] {
  const keyed = candidates.map((c) => {
    const usage = podMemoryUsage(c);
    const request = podMemoryRequest(c.pod);
    return {
      c,
      qos: QOS_ORDER[qosOf(c.pod)],
      exceeds: usage > request ? 0 : 1,
      priority: c.pod.spec.priority ?? 0,
      above: usage - request,
      name: `${c.pod.metadata.namespace ?? 'default'}/${c.pod.metadata.name ?? ''}`,
    };
  });
  keyed.sort(
    (a, b) =>
      a.qos - b.qos ||
      a.exceeds - b.exceeds ||
      a.priority - b.priority ||
      b.above - a.above ||
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
  return keyed.map((k) => k.c);
}

export function formatKi(bytes: number): string {
  return `${Math.max(0, Math.round(bytes / 1024))}Ki`;
}

/** Kubernetes' eviction message for the memory signal. */
export function memoryEvictionMessage(c: EvictionCandidate, thresholdText: string, availableBytes: number): string {
  let msg = `The node was low on resource: memory. Threshold quantity: ${thresholdText}, available: ${formatKi(availableBytes)}. `;
  const containers = [...(c.pod.spec.initContainers ?? []), ...c.pod.spec.containers];
  for (const ct of containers) {
    const used = c.usage?.get(ct.name);
    if (used === undefined) continue;
    const req = memoryRequest(ct);
    if (used > req) {
      msg += `Container ${ct.name} was using ${formatKi(used)}, request is ${ct.resources?.requests?.memory ?? '0'}, has larger consumption of memory. `;
    }
  }
  return msg.trimEnd();
}
