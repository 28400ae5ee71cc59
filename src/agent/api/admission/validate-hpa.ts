// autoscaling/v2 HorizontalPodAutoscaler rules, worded as Kubernetes' validation
// words them. Mesh's metrics are the kubelets' CPU and memory samples, so only
// Resource metrics on cpu or memory are accepted; the other source types
// (Pods, Object, External, ContainerResource) are refused by name instead of
// being stored and then never acted on.
import type { StatusCause } from '../errors.ts';
import { child, forbidden, index, invalid, notSupported, required } from './field-errors.ts';
import { compareQuantities, isQuantity, QUANTITY_FORMAT_ERROR } from './quantity.ts';
import type { HorizontalPodAutoscalerShape } from './schemas.ts';
import { nonNegative } from './validate-workloads.ts';

type Spec = NonNullable<HorizontalPodAutoscalerShape['spec']>;
type MetricSpec = NonNullable<Spec['metrics']>[number];
type ScalingRules = NonNullable<NonNullable<Spec['behavior']>['scaleUp']>;

const SUPPORTED_METRIC_TYPES = ['Resource'] as const;
const SUPPORTED_METRIC_RESOURCES = ['cpu', 'memory'] as const;
const KNOWN_METRIC_TYPES = ['Object', 'Pods', 'Resource', 'External', 'ContainerResource'];
/** The source field each metric type fills. */
const SOURCE_FIELDS: Record<string, keyof MetricSpec> = {
  Object: 'object',
  Pods: 'pods',
  Resource: 'resource',
  External: 'external',
  ContainerResource: 'containerResource',
};
const TARGET_TYPES = ['Utilization', 'AverageValue'];
const SELECT_POLICIES = ['Max', 'Min', 'Disabled'];
const POLICY_TYPES = ['Pods', 'Percent'];
const MAX_STABILIZATION_WINDOW_SECONDS = 3600;
const MAX_PERIOD_SECONDS = 1800;

/** Kubernetes' IsValidPathSegmentName: the name goes into a URL path. */
function pathSegmentErrors(v: string): string[] {
  if (v === '.' || v === '..') return [`may not be '${v}'`];
  const out: string[] = [];
  for (const bad of ['/', '%']) if (v.includes(bad)) out.push(`may not contain '${bad}'`);
  return out;
}

function validateTargetRef(spec: Spec, path: string): StatusCause[] {
  const ref = spec.scaleTargetRef ?? {};
  const causes: StatusCause[] = [];
  for (const key of ['kind', 'name'] as const) {
    const v = ref[key];
    const p = child(path, key);
    if (!v) causes.push(required(p));
    else causes.push(...pathSegmentErrors(v).map((m) => invalid(p, v, m)));
  }
  return causes;
}

function positiveQuantity(v: string | number, path: string): StatusCause[] {
  if (!isQuantity(v)) return [invalid(path, v, QUANTITY_FORMAT_ERROR)];
  return compareQuantities(v, 0) > 0 ? [] : [invalid(path, v, 'must be positive')];
}

function validateResourceMetric(m: MetricSpec, path: string): StatusCause[] {
  const src = m.resource;
  if (!src) return [required(child(path, 'resource'), 'must populate information for the given metric source')];
  const causes: StatusCause[] = [];
  const namePath = child(child(path, 'resource'), 'name');
  if (!src.name) causes.push(required(namePath, 'must specify a resource name'));
  else if (!(SUPPORTED_METRIC_RESOURCES as readonly string[]).includes(src.name)) causes.push(notSupported(namePath, src.name, SUPPORTED_METRIC_RESOURCES));

  const tPath = child(child(path, 'resource'), 'target');
  const t = src.target ?? {};
  const utilization = t.averageUtilization;
  const average = t.averageValue;
  if (!t.type) causes.push(required(child(tPath, 'type'), 'must specify a metric target type'));
  else if (!TARGET_TYPES.includes(t.type)) causes.push(notSupported(child(tPath, 'type'), t.type, TARGET_TYPES));
  if (t.value != null) causes.push(forbidden(child(tPath, 'value'), 'a Resource metric targets an average: use averageUtilization or averageValue'));
  if (utilization != null && utilization < 1) causes.push(invalid(child(tPath, 'averageUtilization'), utilization, 'must be greater than 0'));
  if (average != null) causes.push(...positiveQuantity(average, child(tPath, 'averageValue')));
  if (utilization != null && average != null) {
    causes.push(forbidden(child(tPath, 'averageValue'), 'may not set both a target raw value and a target utilization'));
  } else if (t.type === 'Utilization' && utilization == null) {
    causes.push(required(child(tPath, 'averageUtilization'), 'must set a target utilization for target type Utilization'));
  } else if (t.type === 'AverageValue' && average == null) {
    causes.push(required(child(tPath, 'averageValue'), 'must set a target raw value for target type AverageValue'));
  } else if (t.type === 'Utilization' && average != null) {
    causes.push(forbidden(child(tPath, 'averageValue'), 'target type Utilization takes averageUtilization'));
  } else if (t.type === 'AverageValue' && utilization != null) {
    causes.push(forbidden(child(tPath, 'averageUtilization'), 'target type AverageValue takes averageValue'));
  }
  return causes;
}

function validateMetric(m: MetricSpec, path: string): StatusCause[] {
  const typePath = child(path, 'type');
  if (!m.type) return [required(typePath, 'must specify a metric source type')];
  if (!KNOWN_METRIC_TYPES.includes(m.type)) return [notSupported(typePath, m.type, SUPPORTED_METRIC_TYPES)];
  if (m.type !== 'Resource') {
    // Known to Kubernetes, but Mesh has no custom or external metrics API to read them from.
    return [
      {
        reason: 'FieldValueNotSupported',
        message: `Unsupported value: "${m.type}": ${m.type} metrics are not supported here; Mesh autoscales on Resource metrics (cpu, memory) only`,
        field: typePath,
      },
    ];
  }
  const causes = validateResourceMetric(m, path);
  for (const [type, field] of Object.entries(SOURCE_FIELDS)) {
    if (type !== m.type && m[field] != null) causes.push(forbidden(child(path, field), 'must populate the given metric source only'));
  }
  return causes;
}

function validateRules(rules: ScalingRules | null | undefined, path: string): StatusCause[] {
  if (!rules) return [];
  const causes: StatusCause[] = [];
  const w = rules.stabilizationWindowSeconds;
  const wPath = child(path, 'stabilizationWindowSeconds');
  if (w != null && w < 0) causes.push(invalid(wPath, w, 'must be greater than or equal to zero'));
  if (w != null && w > MAX_STABILIZATION_WINDOW_SECONDS) causes.push(invalid(wPath, w, `must be less than or equal to ${MAX_STABILIZATION_WINDOW_SECONDS}`));
  if (rules.selectPolicy != null && !SELECT_POLICIES.includes(rules.selectPolicy)) {
    causes.push(notSupported(child(path, 'selectPolicy'), rules.selectPolicy, SELECT_POLICIES));
  }
  const pPath = child(path, 'policies');
  const policies = rules.policies ?? [];
  if (policies.length === 0) causes.push(required(pPath, 'must specify at least one Policy'));
  policies.forEach((p, i) => {
    const ip = index(pPath, i);
    if (!p.type || !POLICY_TYPES.includes(p.type)) causes.push(notSupported(child(ip, 'type'), p.type ?? '', POLICY_TYPES));
    if (p.value == null || p.value <= 0) causes.push(invalid(child(ip, 'value'), p.value ?? 0, 'must be greater than zero'));
    const period = p.periodSeconds;
    if (period == null || period <= 0) causes.push(invalid(child(ip, 'periodSeconds'), period ?? 0, 'must be greater than zero'));
    else if (period > MAX_PERIOD_SECONDS) causes.push(invalid(child(ip, 'periodSeconds'), period, `must be less than or equal to ${MAX_PERIOD_SECONDS}`));
  });
  const tol = rules.tolerance;
  if (tol != null) {
    if (!isQuantity(tol)) causes.push(invalid(child(path, 'tolerance'), tol, QUANTITY_FORMAT_ERROR));
    else if (compareQuantities(tol, 0) < 0) causes.push(invalid(child(path, 'tolerance'), tol, 'must be greater than or equal to zero'));
  }
  return causes;
}

export function validateHpa(hpa: HorizontalPodAutoscalerShape): StatusCause[] {
  const spec: Spec = hpa.spec ?? {};
  const causes = validateTargetRef(spec, 'spec.scaleTargetRef');
  const min = spec.minReplicas;
  const max = spec.maxReplicas;
  if (min != null && min < 1) causes.push(invalid('spec.minReplicas', min, 'must be greater than or equal to 1'));
  if (max == null) causes.push(required('spec.maxReplicas'));
  else if (max < 1) causes.push(invalid('spec.maxReplicas', max, 'must be greater than 0'));
  else if (min != null && max < min) causes.push(invalid('spec.maxReplicas', max, 'must be greater than or equal to `minReplicas`'));
  (spec.metrics ?? []).forEach((m, i) => causes.push(...validateMetric(m, index('spec.metrics', i))));
  const behavior = spec.behavior;
  if (behavior) {
    causes.push(...validateRules(behavior.scaleUp, 'spec.behavior.scaleUp'));
    causes.push(...validateRules(behavior.scaleDown, 'spec.behavior.scaleDown'));
  }
  causes.push(...nonNegative(hpa.status?.currentReplicas, 'status.currentReplicas'));
  causes.push(...nonNegative(hpa.status?.desiredReplicas, 'status.desiredReplicas'));
  return causes;
}
