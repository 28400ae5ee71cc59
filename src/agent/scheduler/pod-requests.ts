// What a pod asks of a node, as kube-scheduler counts it (component-helpers
// PodRequests): app containers and sidecars side by side, regular init
// containers one at a time (each alongside the sidecars started before it), the
// larger of the two, plus the pod's overhead. Quantities are read with the
// kubelet's own rounding (container-resources.ts), so the two never disagree.
import type { Container, Pod } from '../api/object-types.ts';
import { byteValue, milliValue } from '../kubelet/container-resources.ts';
import { isSidecar } from '../kubelet/pod-status.ts';
import type { SchedPodSpecExtras } from './scheduling-shapes.ts';

export interface Resources {
  milliCpu: number;
  memory: number;
  ephemeralStorage: number;
  /** Extended resources (`nvidia.com/gpu`), hugepages and any other countable resource. */
  scalar: Map<string, number>;
}

/** kube-scheduler's stand-ins for a container that requests no CPU or memory, used only for scoring. */
export const DEFAULT_MILLI_CPU_REQUEST = 100;
export const DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024;

type Amounts = Map<string, number>;

function amount(name: string, text: string): number {
  try {
    return (name === 'cpu' ? milliValue(text) : byteValue(text)) ?? 0;
  } catch {
    // Admission validated quantities; an unreadable one asks for nothing rather than failing the pass.
    return 0;
  }
}

function parseList(list: Record<string, string> | undefined): Amounts {
  const out: Amounts = new Map();
  if (list) for (const name of Object.keys(list)) out.set(name, amount(name, list[name]!));
  return out;
}

function addTo(sum: Amounts, more: Amounts): void {
  for (const [k, v] of more) sum.set(k, (sum.get(k) ?? 0) + v);
}

function maxInto(into: Amounts, other: Amounts): void {
  for (const [k, v] of other) if (v > (into.get(k) ?? 0)) into.set(k, v);
}

function containerRequests(c: Container, nonZero: boolean): Amounts {
  const r = parseList(c.resources?.requests);
  if (nonZero) {
    // Only a missing request gets the default; an explicit 0 stays 0 (NonMissingContainerRequests).
    if (!r.has('cpu')) r.set('cpu', DEFAULT_MILLI_CPU_REQUEST);
    if (!r.has('memory')) r.set('memory', DEFAULT_MEMORY_REQUEST);
  }
  return r;
}

function toResources(a: Amounts): Resources {
  const out: Resources = { milliCpu: 0, memory: 0, ephemeralStorage: 0, scalar: new Map() };
  for (const [k, v] of a) {
    if (k === 'cpu') out.milliCpu = v;
    else if (k === 'memory') out.memory = v;
    else if (k === 'ephemeral-storage') out.ephemeralStorage = v;
    else if (k !== 'pods') out.scalar.set(k, v);
  }
  return out;
}

/**
 * The pod's effective requests. With nonZero, containers that leave CPU or
 * memory unset count as 100m / 200Mi (what the scoring plugins use, so that
 * best-effort pods still spread).
 */
export function podRequests(pod: Pod, opts: { nonZero?: boolean } = {}): Resources {
  const nonZero = opts.nonZero ?? false;
  const reqs: Amounts = new Map();
  for (const c of pod.spec.containers ?? []) addTo(reqs, containerRequests(c, nonZero));
  const sidecars: Amounts = new Map();
  const initMax: Amounts = new Map();
  for (const c of pod.spec.initContainers ?? []) {
    const r = containerRequests(c, nonZero);
    if (isSidecar(c)) {
      addTo(reqs, r);
      addTo(sidecars, r);
      maxInto(initMax, sidecars);
    } else {
      addTo(r, sidecars);
      maxInto(initMax, r);
    }
  }
  maxInto(reqs, initMax);
  addTo(reqs, parseList((pod.spec as SchedPodSpecExtras).overhead));
  return toResources(reqs);
}

/** A node's allocatable list in the same units; `pods` is returned separately. */
export function parseAllocatable(list: Record<string, string>): { resources: Resources; pods: number } {
  const a = parseList(list);
  return { resources: toResources(a), pods: a.get('pods') ?? 0 };
}
