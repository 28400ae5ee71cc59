// The HorizontalPodAutoscaler controller (autoscaling/v2), leader-only, with
// Kubernetes' podautoscaler semantics:
// - every sync period (15 s) each HPA reads its target's scale (spec.replicas
//   and the label selector of a Deployment, ReplicaSet or StatefulSet), the
//   pods the selector matches, their usage from the metrics cache (the same
//   numbers metrics.k8s.io and `mesh top pods` show: metrics/pod-usage.ts) and
//   their requests from the pod specs;
// - each Resource metric proposes a count (hpa-replica-calculator.ts), the
//   highest wins, and stabilization, rate limits and min/max clamping
//   (hpa-behavior.ts) turn it into the count written to the target's
//   spec.replicas, as `kubectl scale` would;
// - status carries currentReplicas, desiredReplicas, currentMetrics,
//   lastScaleTime and the AbleToScale / ScalingActive / ScalingLimited
//   conditions with Kubernetes' reasons, and the same Events are recorded.
// Recommendations and scale events live in memory, as in kube-controller-manager:
// a new leader starts from the current count, so it waits a full
// stabilization window before it scales anything down.
import type { ObjectClient } from '../api/object-client.ts';
import type { KubeObject, Pod } from '../api/object-types.ts';
import { rfc3339 } from '../api/registry.ts';
import { RESOURCE_TYPES, resourceKey } from '../api/resources.ts';
import { labelSelectorFromObject, type LabelSelector, type LabelSelectorObject } from '../api/selectors.ts';
import { createEventRecorder, type EventRecorder } from '../event-recorder.ts';
import type { Logger } from '../logger.ts';
import type { MetricsCache } from '../metrics/metrics-cache.ts';
import { podMetricsEntry, podUsage } from '../metrics/pod-usage.ts';
import { milliQuantity } from '../metrics/quantity-format.ts';
import { defineController, type Controller } from './controller.ts';
import { emptyHistory, normalizeWithBehavior, normalizeWithoutBehavior, recordScale, type HpaHistory } from './hpa-behavior.ts';
import {
  calculateResourceReplicas,
  DEFAULT_TOLERANCE,
  milliOf,
  type PodMetric,
  type ResourceTarget,
  type Tolerance,
} from './hpa-replica-calculator.ts';
import type { HorizontalPodAutoscaler, HpaCondition, HpaStatus, MetricSpec, MetricStatus } from './hpa-types.ts';
import { getByKey, writeStatusIfChanged } from './keyed-object.ts';
import { errorMessage } from './owned-pods.ts';

export const HPA_RESOURCE = 'horizontalpodautoscalers.autoscaling';
const DEFAULT_SYNC_PERIOD_MS = 15_000;

export interface HpaControllerOptions {
  client: ObjectClient;
  /** The agent's metrics cache: every node's newest sample. */
  metrics: MetricsCache;
  logger: Logger;
  /** Where SuccessfulRescale/FailedGetResourceMetric/... go; by default Events of component `horizontal-pod-autoscaler`. */
  events?: EventRecorder;
  clock?: () => Date;
  /** How often each HPA is evaluated (default 15 s, kube's --horizontal-pod-autoscaler-sync-period). */
  syncPeriodMs?: number;
  /** Ratio band around 1 that changes nothing (default 0.1), unless the behavior sets its own. */
  tolerance?: number;
  /** Scale-down stabilization of HPAs without spec.behavior (default 5 min). */
  downscaleStabilizationMs?: number;
  /** For CPU: how long after start a pod's readiness is distrusted (default 5 min). */
  cpuInitializationPeriodMs?: number;
  /** For CPU: a pod unready this soon after start has never been ready (default 30 s). */
  initialReadinessDelayMs?: number;
}

interface ScaleTarget {
  resource: string;
  object: KubeObject & { spec?: { replicas?: number; selector?: LabelSelectorObject } };
}

interface KeyState {
  uid: string;
  generation: number | undefined;
  lastSync: number;
  history: HpaHistory;
}

interface MetricsOutcome {
  /** -1 when no metric gave a usable count. */
  replicas: number;
  metricName: string;
  statuses: MetricStatus[];
  error?: string;
}

type SetCondition = (type: HpaCondition['type'], status: HpaCondition['status'], reason: string, message: string) => void;

const ABLE_TO_SCALE = 'AbleToScale';
const SCALING_ACTIVE = 'ScalingActive';
const SCALING_LIMITED = 'ScalingLimited';

function targetOf(m: MetricSpec): ResourceTarget | string {
  const t = m.resource?.target;
  // Kubernetes reads a raw value target first, whatever the type says.
  if (t?.averageValue !== undefined && t.averageValue !== null) {
    try {
      return { type: 'AverageValue', averageMilli: milliOf(t.averageValue) };
    } catch {
      return `invalid averageValue ${String(t.averageValue)}`;
    }
  }
  if (t?.averageUtilization === undefined || t.averageUtilization === null) {
    return 'invalid resource metric source: neither an average utilization target nor an average value (usage) target was set';
  }
  return { type: 'Utilization', averageUtilization: t.averageUtilization };
}

export function createHpaController(opts: HpaControllerOptions): Controller {
  const { client, metrics } = opts;
  const log = opts.logger.child({ component: 'hpa-controller' });
  const clock = opts.clock ?? (() => new Date());
  const events = opts.events ?? createEventRecorder({ client, source: { component: 'horizontal-pod-autoscaler' }, logger: opts.logger, clock });
  const syncPeriodMs = opts.syncPeriodMs ?? DEFAULT_SYNC_PERIOD_MS;
  const defaultTolerance = opts.tolerance ?? DEFAULT_TOLERANCE;
  const state = new Map<string, KeyState>();
  const keyOf = (o: KubeObject) => `${o.metadata.namespace ?? 'default'}/${o.metadata.name ?? ''}`;

  function resolveTarget(hpa: HorizontalPodAutoscaler): ScaleTarget | string {
    const ref = hpa.spec.scaleTargetRef ?? { kind: '', name: '' };
    const gv = ref.apiVersion ?? '';
    const parts = gv.split('/');
    if (parts.length > 2) return `unexpected GroupVersion string: ${gv}`;
    const group = parts.length === 2 ? parts[0]! : '';
    const type = RESOURCE_TYPES.find((t) => t.group === group && t.kind === ref.kind);
    if (!type) return `no matches for kind "${ref.kind}" in group "${group}"`;
    const resource = resourceKey(type);
    if (!type.subresources.includes('scale')) return `${resource} "${ref.name}" has no scale subresource`;
    const object = client.get<ScaleTarget['object']>(resource, hpa.metadata.namespace ?? 'default', ref.name);
    if (!object) return `${resource} "${ref.name}" not found`;
    return { resource, object };
  }

  function podMetrics(pods: readonly Pod[], resource: string): Map<string, PodMetric> {
    const out = new Map<string, PodMetric>();
    for (const pod of pods) {
      const entry = podMetricsEntry(metrics, pod);
      if (!entry) continue;
      const usage = podUsage(entry);
      out.set(pod.metadata.name ?? '', {
        // Millicores rounded up, as `mesh top pods` prints them; memory in millibytes, as Kubernetes' MilliValue.
        value: resource === 'cpu' ? Math.ceil(usage.cpuNanoCores / 1e6) : usage.memoryWorkingSetBytes * 1000,
        timestamp: Date.parse(entry.node.timestamp),
        windowMs: entry.node.windowSeconds * 1000,
      });
    }
    return out;
  }

  function toleranceOf(hpa: HorizontalPodAutoscaler): Tolerance {
    const of = (q: string | number | undefined) => {
      if (q === undefined || q === null) return defaultTolerance;
      try {
        return milliOf(q) / 1000;
      } catch {
        return defaultTolerance;
      }
    };
    return { scaleUp: of(hpa.spec.behavior?.scaleUp?.tolerance), scaleDown: of(hpa.spec.behavior?.scaleDown?.tolerance) };
  }

  async function computeReplicasForMetrics(
    hpa: HorizontalPodAutoscaler,
    target: ScaleTarget,
    currentReplicas: number,
    now: number,
    setCondition: SetCondition,
  ): Promise<MetricsOutcome> {
    const specs = hpa.spec.metrics ?? [];
    let selector: LabelSelector | undefined;
    const sel = target.object.spec?.selector;
    if (sel) {
      try {
        selector = labelSelectorFromObject(sel);
      } catch (err) {
        const msg = `couldn't convert selector into a corresponding internal selector object: ${errorMessage(err)}`;
        await events.warning(hpa, 'InvalidSelector', msg);
        setCondition(SCALING_ACTIVE, 'False', 'InvalidSelector', msg);
        return { replicas: -1, metricName: '', statuses: [], error: msg };
      }
    }
    if (!selector || selector.empty) {
      await events.warning(hpa, 'SelectorRequired', 'selector is required');
      setCondition(SCALING_ACTIVE, 'False', 'InvalidSelector', "the HPA target's scale is missing a selector");
      return { replicas: -1, metricName: '', statuses: [], error: 'selector is required' };
    }
    const ns = hpa.metadata.namespace ?? 'default';
    const pods = client.list<Pod>('pods', { namespace: ns }).items.filter((p) => selector.matches(p.metadata.labels));
    const tolerance = toleranceOf(hpa);

    let replicas = 0;
    let metricName = '';
    let invalid = 0;
    let firstError: string | undefined;
    let invalidCondition: { reason: string; message: string } | undefined;
    const statuses: MetricStatus[] = [];
    for (const spec of specs) {
      const resource = spec.resource?.name ?? '';
      let error: string | undefined;
      if (spec.type !== 'Resource' || !spec.resource) {
        error = `unsupported metric source type "${spec.type}"`;
      } else {
        const t = targetOf(spec);
        if (typeof t === 'string') {
          error = `failed to get ${resource} utilization: ${t}`;
        } else {
          const sampled = podMetrics(pods, resource);
          const proposal =
            sampled.size === 0
              ? ({ ok: false, error: `unable to get metrics for resource ${resource}: no metrics returned from resource metrics API` } as const)
              : calculateResourceReplicas({
                  currentReplicas,
                  pods,
                  metrics: sampled,
                  resource,
                  target: t,
                  tolerance,
                  now,
                  cpuInitializationPeriodMs: opts.cpuInitializationPeriodMs,
                  initialReadinessDelayMs: opts.initialReadinessDelayMs,
                });
          if (!proposal.ok) {
            error = `failed to get ${resource} utilization: ${proposal.error}`;
          } else {
            const current =
              t.type === 'Utilization'
                ? { averageUtilization: proposal.utilization, averageValue: milliQuantity(proposal.rawAverage) }
                : { averageValue: milliQuantity(proposal.rawAverage) };
            statuses.push({ type: 'Resource', resource: { name: resource, current } });
            const name = t.type === 'Utilization' ? `${resource} resource utilization (percentage of request)` : `${resource} resource`;
            if (replicas === 0 || proposal.replicas > replicas) {
              replicas = proposal.replicas;
              metricName = name;
            }
            continue;
          }
        }
      }
      invalid++;
      firstError ??= error;
      // An empty entry keeps currentMetrics aligned with spec.metrics, as Kubernetes does.
      statuses.push({ type: '' });
      await events.warning(hpa, 'FailedGetResourceMetric', error);
      invalidCondition ??= { reason: 'FailedGetResourceMetric', message: `the HPA was unable to compute the replica count: ${error}` };
    }
    const error = invalid > 0 ? `invalid metrics (${invalid} invalid out of ${specs.length}), first error is: ${firstError}` : undefined;
    // A broken metric must not let the others scale down what it may be holding up.
    if (invalid >= specs.length || (invalid > 0 && replicas < currentReplicas)) {
      if (invalidCondition) setCondition(SCALING_ACTIVE, 'False', invalidCondition.reason, invalidCondition.message);
      return { replicas: -1, metricName: '', statuses, error: error ?? 'no metrics to compute a replica count from' };
    }
    setCondition(SCALING_ACTIVE, 'True', 'ValidMetricFound', `the HPA was able to successfully calculate a replica count from ${metricName}`);
    return { replicas, metricName, statuses, error };
  }

  async function writeStatus(hpa: HorizontalPodAutoscaler, status: HpaStatus): Promise<void> {
    await writeStatusIfChanged(client, HPA_RESOURCE, hpa, status);
  }

  async function sync(key: string, hpa: HorizontalPodAutoscaler, st: KeyState, now: Date): Promise<void> {
    const nowMs = now.getTime();
    const ts = rfc3339(now);
    const prev = hpa.status;
    const conditions: HpaCondition[] = structuredClone(prev?.conditions ?? []);
    const setCondition: SetCondition = (type, status, reason, message) => {
      let c = conditions.find((x) => x.type === type);
      if (!c) conditions.push((c = { type, status }));
      if (c.status !== status || !c.lastTransitionTime) c.lastTransitionTime = ts;
      c.status = status;
      c.reason = reason;
      c.message = message;
    };
    const status = (currentReplicas: number, desiredReplicas: number, statuses: MetricStatus[], rescaled: boolean): HpaStatus => {
      const s: HpaStatus = { currentReplicas, desiredReplicas };
      if (hpa.metadata.generation !== undefined) s.observedGeneration = hpa.metadata.generation;
      const lastScaleTime = rescaled ? ts : prev?.lastScaleTime;
      if (lastScaleTime) s.lastScaleTime = lastScaleTime;
      if (statuses.length) s.currentMetrics = statuses;
      if (conditions.length) s.conditions = conditions;
      return s;
    };

    const target = resolveTarget(hpa);
    if (typeof target === 'string') {
      await events.warning(hpa, 'FailedGetScale', target);
      setCondition(ABLE_TO_SCALE, 'False', 'FailedGetScale', `the HPA controller was unable to get the target's current scale: ${target}`);
      await writeStatus(hpa, status(prev?.currentReplicas ?? 0, prev?.desiredReplicas ?? 0, prev?.currentMetrics ?? [], false));
      return;
    }
    setCondition(ABLE_TO_SCALE, 'True', 'SucceededGetScale', "the HPA controller was able to get the target's current scale");
    const currentReplicas = target.object.spec?.replicas ?? 0;
    // The first look counts as a recommendation of the current size: no scale-down right after a (re)start.
    if (st.history.recommendations.length === 0) st.history.recommendations.push({ value: currentReplicas, at: nowMs });

    const minReplicas = hpa.spec.minReplicas ?? 1;
    const maxReplicas = hpa.spec.maxReplicas;
    let desired = 0;
    let reason = '';
    let rescale = true;
    let statuses: MetricStatus[] = [];
    if (currentReplicas === 0 && minReplicas !== 0) {
      rescale = false;
      setCondition(SCALING_ACTIVE, 'False', 'ScalingDisabled', 'scaling is disabled since the replica count of the target is zero');
    } else if (currentReplicas > maxReplicas) {
      reason = 'Current number of replicas above Spec.MaxReplicas';
      desired = maxReplicas;
    } else if (currentReplicas < minReplicas) {
      reason = 'Current number of replicas below Spec.MinReplicas';
      desired = minReplicas;
    } else {
      const m = await computeReplicasForMetrics(hpa, target, currentReplicas, nowMs, setCondition);
      statuses = m.statuses;
      if (m.replicas === -1) {
        await writeStatus(hpa, status(currentReplicas, prev?.desiredReplicas ?? currentReplicas, statuses, false));
        await events.warning(hpa, 'FailedComputeMetricsReplicas', m.error ?? 'no metrics');
        log.warn({ hpa: key, error: m.error }, 'could not compute a replica count');
        return;
      }
      let rescaleMetric = '';
      if (m.replicas > desired) {
        desired = m.replicas;
        rescaleMetric = m.metricName;
      }
      if (desired > currentReplicas) reason = `${rescaleMetric} above target`;
      if (desired < currentReplicas) reason = 'All metrics below target';
      const args = { current: currentReplicas, desired, min: minReplicas, max: maxReplicas, now: nowMs, history: st.history };
      const n = hpa.spec.behavior
        ? normalizeWithBehavior({ ...args, behavior: hpa.spec.behavior })
        : normalizeWithoutBehavior({ ...args, downscaleWindowMs: opts.downscaleStabilizationMs });
      st.history = { ...st.history, recommendations: n.recommendations };
      setCondition(ABLE_TO_SCALE, 'True', n.ableToScale.reason, n.ableToScale.message);
      setCondition(SCALING_LIMITED, n.scalingLimited.status, n.scalingLimited.reason, n.scalingLimited.message);
      desired = n.replicas;
      rescale = desired !== currentReplicas;
    }

    if (rescale) {
      try {
        await client.update(target.resource, { ...target.object, spec: { ...target.object.spec, replicas: desired } });
      } catch (err) {
        const msg = errorMessage(err);
        await events.warning(hpa, 'FailedRescale', `New size: ${desired}; reason: ${reason}; error: ${msg}`);
        setCondition(ABLE_TO_SCALE, 'False', 'FailedUpdateScale', `the HPA controller was unable to update the target scale: ${msg}`);
        await writeStatus(hpa, status(currentReplicas, prev?.desiredReplicas ?? currentReplicas, statuses, false));
        log.warn({ hpa: key, err, desired }, 'could not rescale');
        return;
      }
      setCondition(ABLE_TO_SCALE, 'True', 'SucceededRescale', `the HPA controller was able to update the target scale to ${desired}`);
      await events.normal(hpa, 'SuccessfulRescale', `New size: ${desired}; reason: ${reason}`);
      st.history = recordScale(st.history, hpa.spec.behavior, currentReplicas, desired, nowMs);
      log.info({ hpa: key, target: `${target.resource}/${target.object.metadata.name}`, from: currentReplicas, to: desired, reason }, 'rescaled');
    } else {
      desired = currentReplicas;
    }
    await writeStatus(hpa, status(currentReplicas, desired, statuses, rescale));
  }

  async function reconcile(key: string): Promise<void> {
    const hpa = getByKey<HorizontalPodAutoscaler>(client, HPA_RESOURCE, key);
    if (!hpa) {
      state.delete(key);
      return;
    }
    if (hpa.metadata.deletionTimestamp) return;
    const now = clock();
    let st = state.get(key);
    if (!st || st.uid !== (hpa.metadata.uid ?? '')) {
      st = { uid: hpa.metadata.uid ?? '', generation: undefined, lastSync: -Infinity, history: emptyHistory() };
      state.set(key, st);
    }
    // Our own status writes and the resync bring the key back; between syncs only a spec change counts.
    // Half a period of slack absorbs timer jitter between the resync and the clock.
    if (st.generation === hpa.metadata.generation && now.getTime() - st.lastSync < syncPeriodMs / 2) return;
    st.generation = hpa.metadata.generation;
    st.lastSync = now.getTime();
    await sync(key, hpa, st, now);
  }

  return defineController({
    name: 'hpa-controller',
    resyncMs: syncPeriodMs,
    watches: [
      {
        resource: HPA_RESOURCE,
        toKeys: (e) => {
          if (e.type === 'DELETED') state.delete(keyOf(e.object));
          return e.type === 'DELETED' ? [] : [keyOf(e.object)];
        },
      },
    ],
    onStart: () => state.clear(),
    reconcile,
  });
}
