// How many replicas one Resource metric asks for, as Kubernetes' podautoscaler
// ReplicaCalculator computes it (GetResourceReplicas / GetRawResourceReplicas).
// Pure: the pods, their samples and the clock come in; nothing is read here.
//
// - Utilization = sum(usage) / sum(requests) over the pods that have a sample,
//   truncated to a whole percent; ratio = utilization / target.
// - A ratio within the tolerance keeps the current count.
// - Pods being deleted or Failed/Succeeded are ignored; Pending pods count as
//   unready; for CPU, a pod is unready while it is not Ready within its first
//   cpuInitializationPeriod (or its sample predates the Ready transition by
//   less than one window), or after that when it has never been Ready.
// - When pods are missing samples or unready, the ratio is recomputed with
//   missing pods at 0% on a scale-up and at 100% (or the target, if higher) on
//   a scale-down, and unready pods at 0% on a scale-up; a change of direction
//   or a change within tolerance then keeps the current count.
// Values are in thousandths of the unit (millicores, millibytes) as Kubernetes'
// MilliValue gives them.
import type { Container, Pod } from '../api/object-types.ts';
import { parseQuantityExact } from '../api/admission/quantity.ts';

export interface PodMetric {
  /** Usage in thousandths of the unit. */
  value: number;
  /** End of the measurement window, ms since the epoch (the measuring node's clock). */
  timestamp: number;
  windowMs: number;
}

export interface Tolerance {
  /** A ratio below 1 - scaleDown scales down. */
  scaleDown: number;
  /** A ratio above 1 + scaleUp scales up. */
  scaleUp: number;
}

export const DEFAULT_TOLERANCE = 0.1;
const DEFAULT_CPU_INITIALIZATION_PERIOD_MS = 5 * 60_000;
const DEFAULT_INITIAL_READINESS_DELAY_MS = 30_000;

export type ResourceTarget = { type: 'Utilization'; averageUtilization: number } | { type: 'AverageValue'; averageMilli: number };

export interface ReplicaCalculation {
  currentReplicas: number;
  pods: readonly Pod[];
  /** By pod name. */
  metrics: ReadonlyMap<string, PodMetric>;
  resource: string;
  target: ResourceTarget;
  tolerance: Tolerance;
  now: number;
  cpuInitializationPeriodMs?: number;
  initialReadinessDelayMs?: number;
}

export type ReplicaProposal =
  | {
      ok: true;
      replicas: number;
      /** Percent of request, for Utilization targets. */
      utilization?: number;
      /** Average usage per pod in thousandths of the unit. */
      rawAverage: number;
      /** When the samples were taken (the oldest one used). */
      timestamp: number;
    }
  | { ok: false; error: string };

interface Groups {
  readyCount: number;
  unready: Set<string>;
  missing: Set<string>;
  ignored: Set<string>;
}

function readyCondition(pod: Pod) {
  return pod.status?.conditions?.find((c) => c.type === 'Ready');
}

function groupPods(c: ReplicaCalculation): Groups {
  const cpuInit = c.cpuInitializationPeriodMs ?? DEFAULT_CPU_INITIALIZATION_PERIOD_MS;
  const readinessDelay = c.initialReadinessDelayMs ?? DEFAULT_INITIAL_READINESS_DELAY_MS;
  const g: Groups = { readyCount: 0, unready: new Set(), missing: new Set(), ignored: new Set() };
  for (const pod of c.pods) {
    const name = pod.metadata.name ?? '';
    const phase = pod.status?.phase;
    if (pod.metadata.deletionTimestamp || phase === 'Failed' || phase === 'Succeeded') {
      g.ignored.add(name);
      continue;
    }
    if (phase === 'Pending') {
      g.unready.add(name);
      continue;
    }
    const metric = c.metrics.get(name);
    if (!metric) {
      g.missing.add(name);
      continue;
    }
    if (c.resource === 'cpu') {
      // A starting pod's CPU burst says nothing about its steady load.
      const cond = readyCondition(pod);
      const start = Date.parse(pod.status?.startTime ?? '');
      let unready: boolean;
      if (!cond || !Number.isFinite(start)) {
        unready = true;
      } else {
        const transition = Date.parse(cond.lastTransitionTime ?? '');
        // No transition time reads as the zero time, as in Kubernetes.
        const since = Number.isFinite(transition) ? transition : -Infinity;
        if (start + cpuInit > c.now) {
          unready = cond.status === 'False' || metric.timestamp < since + metric.windowMs;
        } else {
          unready = cond.status === 'False' && start + readinessDelay > since;
        }
      }
      if (unready) {
        g.unready.add(name);
        continue;
      }
    }
    g.readyCount++;
  }
  return g;
}

/** Thousandths of a quantity, rounded up as resource.Quantity's MilliValue. */
export function milliOf(q: string | number): number {
  const e = parseQuantityExact(q);
  const shift = e.exp10 + 3;
  if (shift >= 0) return Number(e.mantissa * 10n ** BigInt(shift));
  const d = 10n ** BigInt(-shift);
  const whole = e.mantissa / d;
  return Number(e.mantissa % d > 0n ? whole + 1n : whole);
}

function containersCounted(pod: Pod): Container[] {
  // Sidecars (restartable init containers) run alongside the app, so their requests count.
  return [...(pod.spec.containers ?? []), ...(pod.spec.initContainers ?? []).filter((c) => c.restartPolicy === 'Always')];
}

/** Each pod's request of the resource, or the error naming the first container without one. */
export function podRequests(pods: readonly Pod[], resource: string): { requests: Map<string, number> } | { error: string } {
  const requests = new Map<string, number>();
  for (const pod of pods) {
    let sum = 0;
    for (const c of containersCounted(pod)) {
      const q = c.resources?.requests?.[resource];
      if (q === undefined || q === null) return { error: `missing request for ${resource} in container ${c.name} of Pod ${pod.metadata.name ?? ''}` };
      try {
        sum += milliOf(q);
      } catch {
        return { error: `invalid request for ${resource} in container ${c.name} of Pod ${pod.metadata.name ?? ''}` };
      }
    }
    requests.set(pod.metadata.name ?? '', sum);
  }
  return { requests };
}

interface Ratio {
  ratio: number;
  utilization?: number;
  rawAverage: number;
}

function utilizationRatio(metrics: ReadonlyMap<string, number>, requests: ReadonlyMap<string, number>, target: number): Ratio | undefined {
  let usage = 0;
  let requested = 0;
  let n = 0;
  for (const [name, value] of metrics) {
    const r = requests.get(name);
    if (r === undefined) continue;
    usage += value;
    requested += r;
    n++;
  }
  if (requested === 0) return undefined;
  const utilization = Math.trunc((usage * 100) / requested);
  return { ratio: utilization / target, utilization, rawAverage: Math.trunc(usage / n) };
}

function averageRatio(metrics: ReadonlyMap<string, number>, targetMilli: number): Ratio {
  let usage = 0;
  for (const v of metrics.values()) usage += v;
  const rawAverage = Math.trunc(usage / metrics.size);
  return { ratio: rawAverage / targetMilli, rawAverage };
}

function isWithinTolerance(ratio: number, t: Tolerance): boolean {
  return 1 - t.scaleDown <= ratio && ratio <= 1 + t.scaleUp;
}

export function calculateResourceReplicas(c: ReplicaCalculation): ReplicaProposal {
  if (c.pods.length === 0) return { ok: false, error: 'no pods returned by selector while calculating replica count' };
  const g = groupPods(c);
  const names = new Set(c.pods.map((p) => p.metadata.name ?? ''));
  const used = new Map<string, number>();
  let timestamp = Infinity;
  for (const [name, m] of c.metrics) {
    if (!names.has(name) || g.ignored.has(name) || g.unready.has(name)) continue;
    used.set(name, m.value);
    timestamp = Math.min(timestamp, m.timestamp);
  }
  if (used.size === 0) return { ok: false, error: 'did not receive metrics for targeted pods (pods might be unready)' };

  let requests: Map<string, number> | undefined;
  if (c.target.type === 'Utilization') {
    const r = podRequests(c.pods, c.resource);
    if ('error' in r) return { ok: false, error: r.error };
    requests = r.requests;
  }
  const target = c.target;
  const ratioOf = (m: ReadonlyMap<string, number>): Ratio | undefined =>
    target.type === 'Utilization' ? utilizationRatio(m, requests!, target.averageUtilization) : averageRatio(m, target.averageMilli);

  const first = ratioOf(used);
  if (!first) return { ok: false, error: 'no metrics returned matched known pods' };
  const result = (replicas: number): ReplicaProposal => ({ ok: true, replicas, utilization: first.utilization, rawAverage: first.rawAverage, timestamp });

  const scaleUpWithUnready = g.unready.size > 0 && first.ratio > 1;
  if (!scaleUpWithUnready && g.missing.size === 0) {
    if (isWithinTolerance(first.ratio, c.tolerance)) return result(c.currentReplicas);
    return result(Math.ceil(first.ratio * g.readyCount));
  }

  const filled = new Map(used);
  for (const name of g.missing) {
    if (first.ratio < 1) {
      // On a scale-down a pod without a sample may be busy: assume it uses its request (or the target, if higher).
      const assumed = target.type === 'Utilization' ? ((requests!.get(name) ?? 0) * Math.max(100, target.averageUtilization)) / 100 : target.averageMilli;
      filled.set(name, Math.trunc(assumed));
    } else if (first.ratio > 1 || target.type === 'AverageValue') {
      // On a scale-up it may not be serving yet: assume it uses nothing.
      filled.set(name, 0);
    }
  }
  if (scaleUpWithUnready) for (const name of g.unready) filled.set(name, 0);

  const second = ratioOf(filled);
  if (!second) return { ok: false, error: 'no metrics returned matched known pods' };
  if (isWithinTolerance(second.ratio, c.tolerance) || (first.ratio < 1 && second.ratio > 1) || (first.ratio > 1 && second.ratio < 1)) {
    return result(c.currentReplicas);
  }
  const replicas = Math.ceil(second.ratio * filled.size);
  if ((second.ratio < 1 && replicas > c.currentReplicas) || (second.ratio > 1 && replicas < c.currentReplicas)) return result(c.currentReplicas);
  return result(replicas);
}
