// autoscaling/v1 HorizontalPodAutoscaler <-> the stored autoscaling/v2 one, with the
// rules of the Kubernetes API server (pkg/apis/autoscaling/v1/conversion.go). v1
// holds only a CPU utilization target, so the v1 view carries everything else in
// annotations, in v1's own metric shapes; a v1 write restores it from them, so a
// get-modify-put through v1 loses nothing.
import type { KubeObject } from '../object-types.ts';
import type { VersionConverter } from '../version-conversion.ts';

export const METRICS_ANNOTATION = 'autoscaling.alpha.kubernetes.io/metrics';
export const CURRENT_METRICS_ANNOTATION = 'autoscaling.alpha.kubernetes.io/current-metrics';
export const CONDITIONS_ANNOTATION = 'autoscaling.alpha.kubernetes.io/conditions';
export const BEHAVIOR_ANNOTATION = 'autoscaling.alpha.kubernetes.io/behavior';
const ROUND_TRIP_ANNOTATIONS = [METRICS_ANNOTATION, CURRENT_METRICS_ANNOTATION, CONDITIONS_ANNOTATION, BEHAVIOR_ANNOTATION];

/** v1's implicit target, made explicit when a v1 object names no metric at all. */
const DEFAULT_CPU_UTILIZATION = 80;

type Json = Record<string, unknown>;

function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function objOf(v: unknown): Json {
  return isObj(v) ? v : {};
}

function list(v: unknown): Json[] {
  return Array.isArray(v) ? v.filter(isObj) : [];
}

/** Drops undefined and null fields, as omitempty does. */
function compact(o: Json): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== null) out[k] = v;
  return out;
}

/**
 * A field of a JSON object decoded the way Go's encoding/json matches names:
 * exactly, else case-insensitively. The behavior annotation is written by
 * Kubernetes with Go field names (`ScaleUp`), the others with JSON tags.
 */
function field(o: Json, name: string): unknown {
  if (name in o) return o[name];
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(o)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

/** An annotation's JSON, or undefined when it is absent or does not parse (Kubernetes ignores those). */
function parseAnnotation(annotations: Json, key: string): unknown {
  const text = annotations[key];
  if (typeof text !== 'string') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function withoutRoundTripAnnotations(annotations: unknown): Json {
  const out = { ...objOf(annotations) };
  for (const k of ROUND_TRIP_ANNOTATIONS) delete out[k];
  return out;
}

function isCpuUtilizationTarget(m: Json): boolean {
  const r = objOf(m.resource);
  return m.type === 'Resource' && r.name === 'cpu' && objOf(r.target).averageUtilization != null;
}

function cpuUtilizationMetric(utilization: unknown): Json {
  return { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: utilization } } };
}

// --- metric specs ---------------------------------------------------------

/**
 * A v2 metric spec (side `target`) or status (side `current`) in v1's flat
 * shape, where v2's `target.averageValue` is `targetAverageValue` and
 * `current.averageValue` is `currentAverageValue` (Object's averageValue keeps its name).
 */
function metricToV1(m: Json, side: 'target' | 'current'): Json {
  const type = m.type;
  const v1 = (name: string) => side + name[0]!.toUpperCase() + name.slice(1);
  switch (type) {
    case 'Resource':
    case 'ContainerResource': {
      const key = type === 'Resource' ? 'resource' : 'containerResource';
      const r = objOf(m[key]);
      const x = objOf(r[side]);
      return { type, [key]: compact({ name: r.name, container: r.container, [v1('averageUtilization')]: x.averageUtilization, [v1('averageValue')]: x.averageValue }) };
    }
    case 'Pods': {
      const p = objOf(m.pods);
      const id = objOf(p.metric);
      return { type, pods: compact({ metricName: id.name, selector: id.selector, [v1('averageValue')]: objOf(p[side]).averageValue }) };
    }
    case 'Object': {
      const o = objOf(m.object);
      const id = objOf(o.metric);
      const x = objOf(o[side]);
      return { type, object: compact({ target: o.describedObject, metricName: id.name, selector: id.selector, [v1('value')]: x.value, averageValue: x.averageValue }) };
    }
    case 'External': {
      const e = objOf(m.external);
      const id = objOf(e.metric);
      const x = objOf(e[side]);
      return { type, external: compact({ metricName: id.name, metricSelector: id.selector, [v1('value')]: x.value, [v1('averageValue')]: x.averageValue }) };
    }
    default:
      // The controller reports an unreadable metric with an empty type; keep it, so statuses stay aligned with specs.
      return side === 'target' ? compact({ type }) : { type: type ?? '' };
  }
}

function metricSpecFromV1(m: Json): Json {
  const type = field(m, 'type');
  switch (type) {
    case 'Resource':
    case 'ContainerResource': {
      const key = type === 'Resource' ? 'resource' : 'containerResource';
      const r = objOf(field(m, key));
      const utilization = field(r, 'targetAverageUtilization');
      const target = compact({
        type: utilization == null ? 'AverageValue' : 'Utilization',
        averageUtilization: utilization,
        averageValue: field(r, 'targetAverageValue'),
      });
      return { type, [key]: compact({ name: field(r, 'name'), container: field(r, 'container'), target }) };
    }
    case 'Pods': {
      const p = objOf(field(m, 'pods'));
      const metric = compact({ name: field(p, 'metricName'), selector: field(p, 'selector') });
      return { type, pods: { metric, target: compact({ type: 'AverageValue', averageValue: field(p, 'targetAverageValue') }) } };
    }
    case 'Object': {
      const o = objOf(field(m, 'object'));
      const averageValue = field(o, 'averageValue');
      const target = compact({ type: averageValue == null ? 'Value' : 'AverageValue', value: field(o, 'targetValue'), averageValue });
      const metric = compact({ name: field(o, 'metricName'), selector: field(o, 'selector') });
      return { type, object: compact({ describedObject: field(o, 'target'), metric, target }) };
    }
    case 'External': {
      const e = objOf(field(m, 'external'));
      const value = field(e, 'targetValue');
      const target = compact({ type: value == null ? 'AverageValue' : 'Value', value, averageValue: field(e, 'targetAverageValue') });
      const metric = compact({ name: field(e, 'metricName'), selector: field(e, 'metricSelector') });
      return { type, external: { metric, target } };
    }
    default:
      return compact({ type });
  }
}

// --- metric statuses ------------------------------------------------------

function metricStatusFromV1(m: Json): Json {
  const type = field(m, 'type');
  switch (type) {
    case 'Resource':
    case 'ContainerResource': {
      const key = type === 'Resource' ? 'resource' : 'containerResource';
      const r = objOf(field(m, key));
      const current = compact({ averageUtilization: field(r, 'currentAverageUtilization'), averageValue: field(r, 'currentAverageValue') });
      return { type, [key]: compact({ name: field(r, 'name'), container: field(r, 'container'), current }) };
    }
    case 'Pods': {
      const p = objOf(field(m, 'pods'));
      const metric = compact({ name: field(p, 'metricName'), selector: field(p, 'selector') });
      return { type, pods: { metric, current: compact({ averageValue: field(p, 'currentAverageValue') }) } };
    }
    case 'Object': {
      const o = objOf(field(m, 'object'));
      const metric = compact({ name: field(o, 'metricName'), selector: field(o, 'selector') });
      const current = compact({ value: field(o, 'currentValue'), averageValue: field(o, 'averageValue') });
      return { type, object: compact({ describedObject: field(o, 'target'), metric, current }) };
    }
    case 'External': {
      const e = objOf(field(m, 'external'));
      const metric = compact({ name: field(e, 'metricName'), selector: field(e, 'metricSelector') });
      const current = compact({ value: field(e, 'currentValue'), averageValue: field(e, 'currentAverageValue') });
      return { type, external: { metric, current } };
    }
    default:
      return { type: typeof type === 'string' ? type : '' };
  }
}

// --- behavior and conditions ----------------------------------------------

/** Kubernetes marshals its internal behavior type here, which has no JSON tags: Go field names, nil as null. */
function behaviorAnnotation(behavior: Json): string {
  const rules = (v: unknown) => {
    if (!isObj(v)) return null;
    const out: Json = {
      StabilizationWindowSeconds: v.stabilizationWindowSeconds ?? null,
      SelectPolicy: v.selectPolicy ?? null,
      Policies: Array.isArray(v.policies)
        ? list(v.policies).map((p) => ({ Type: p.type ?? '', Value: p.value ?? 0, PeriodSeconds: p.periodSeconds ?? 0 }))
        : null,
    };
    if (v.tolerance != null) out.Tolerance = v.tolerance;
    return out;
  };
  return JSON.stringify({ ScaleUp: rules(behavior.scaleUp), ScaleDown: rules(behavior.scaleDown) });
}

function behaviorFromAnnotation(parsed: unknown): Json | undefined {
  if (!isObj(parsed)) return undefined;
  const rules = (v: unknown) => {
    if (!isObj(v)) return undefined;
    const policies = field(v, 'policies');
    return compact({
      stabilizationWindowSeconds: field(v, 'stabilizationWindowSeconds'),
      selectPolicy: field(v, 'selectPolicy'),
      policies: Array.isArray(policies)
        ? list(policies).map((p) => compact({ type: field(p, 'type'), value: field(p, 'value'), periodSeconds: field(p, 'periodSeconds') }))
        : undefined,
      tolerance: field(v, 'tolerance'),
    });
  };
  const behavior = compact({ scaleUp: rules(field(parsed, 'scaleUp')), scaleDown: rules(field(parsed, 'scaleDown')) });
  return Object.keys(behavior).length > 0 ? behavior : undefined;
}

function condition(c: Json): Json {
  return compact({
    type: field(c, 'type'),
    status: field(c, 'status'),
    lastTransitionTime: field(c, 'lastTransitionTime'),
    reason: field(c, 'reason'),
    message: field(c, 'message'),
  });
}

// --- whole objects --------------------------------------------------------

function v2ToV1(stored: KubeObject): KubeObject {
  const spec = objOf(stored.spec);
  const status = objOf(stored.status);
  const metrics = list(spec.metrics);
  const cpuTarget = metrics.find(isCpuUtilizationTarget);
  const others = metrics.filter((m) => !isCpuUtilizationTarget(m)).map((m) => metricToV1(m, 'target'));
  const currentMetrics = list(status.currentMetrics);
  let currentCpu: unknown;
  for (const m of currentMetrics) {
    const r = objOf(m.resource);
    if (m.type === 'Resource' && r.name === 'cpu' && objOf(r.current).averageUtilization != null) currentCpu = objOf(r.current).averageUtilization;
  }
  const conditions = list(status.conditions);

  const annotations = withoutRoundTripAnnotations(stored.metadata?.annotations);
  if (others.length > 0) annotations[METRICS_ANNOTATION] = JSON.stringify(others);
  if (currentMetrics.length > 0) annotations[CURRENT_METRICS_ANNOTATION] = JSON.stringify(currentMetrics.map((m) => metricToV1(m, 'current')));
  if (isObj(spec.behavior)) annotations[BEHAVIOR_ANNOTATION] = behaviorAnnotation(spec.behavior);
  if (conditions.length > 0) annotations[CONDITIONS_ANNOTATION] = JSON.stringify(conditions.map(condition));
  const metadata = { ...stored.metadata };
  if (Object.keys(annotations).length > 0) metadata.annotations = annotations as Record<string, string>;
  else delete metadata.annotations;

  return {
    ...stored,
    metadata,
    spec: compact({
      scaleTargetRef: spec.scaleTargetRef,
      minReplicas: spec.minReplicas,
      maxReplicas: spec.maxReplicas,
      targetCPUUtilizationPercentage: cpuTarget ? objOf(objOf(cpuTarget.resource).target).averageUtilization : undefined,
    }),
    // v1's status is not optional: its replica counts are always there.
    status: compact({
      observedGeneration: status.observedGeneration,
      lastScaleTime: status.lastScaleTime,
      currentReplicas: status.currentReplicas ?? 0,
      desiredReplicas: status.desiredReplicas ?? 0,
      currentCPUUtilizationPercentage: currentCpu,
    }),
  };
}

function v1ToV2(served: KubeObject): KubeObject {
  if (!isObj(served)) return served;
  const raw = objOf(served.metadata);
  const annotations = objOf(raw.annotations);
  const spec = objOf(served.spec);

  const metrics = list(parseAnnotation(annotations, METRICS_ANNOTATION)).map(metricSpecFromV1);
  // The CPU target goes after the others, where a v2 -> v1 -> v2 round trip puts it in Kubernetes too.
  if (spec.targetCPUUtilizationPercentage != null) metrics.push(cpuUtilizationMetric(spec.targetCPUUtilizationPercentage));
  if (metrics.length === 0) metrics.push(cpuUtilizationMetric(DEFAULT_CPU_UTILIZATION));

  const out: KubeObject = { ...served, spec: compact({
    scaleTargetRef: spec.scaleTargetRef,
    minReplicas: spec.minReplicas,
    maxReplicas: spec.maxReplicas,
    metrics,
    behavior: behaviorFromAnnotation(parseAnnotation(annotations, BEHAVIOR_ANNOTATION)),
  }) };

  const status = isObj(served.status) ? served.status : undefined;
  const currentMetrics = parseAnnotation(annotations, CURRENT_METRICS_ANNOTATION);
  const conditions = parseAnnotation(annotations, CONDITIONS_ANNOTATION);
  if (status || Array.isArray(currentMetrics) || Array.isArray(conditions)) {
    const s = objOf(status);
    const cpu = s.currentCPUUtilizationPercentage;
    out.status = compact({
      observedGeneration: s.observedGeneration,
      lastScaleTime: s.lastScaleTime,
      currentReplicas: s.currentReplicas,
      desiredReplicas: s.desiredReplicas,
      // The annotation, when there is one, has more than the single CPU figure.
      currentMetrics: Array.isArray(currentMetrics)
        ? list(currentMetrics).map(metricStatusFromV1)
        : cpu != null
          ? [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: cpu } } }]
          : undefined,
      conditions: Array.isArray(conditions) ? list(conditions).map(condition) : undefined,
    });
  } else {
    delete out.status;
  }

  if (isObj(served.metadata)) {
    const metadata = { ...served.metadata };
    const kept = withoutRoundTripAnnotations(annotations);
    if (Object.keys(kept).length > 0) metadata.annotations = kept as Record<string, string>;
    else delete metadata.annotations;
    out.metadata = metadata;
  }
  return out;
}

export const hpaV1Converter: VersionConverter = { toStored: v1ToV2, toServed: v2ToV1 };
