// autoscaling/v2 HorizontalPodAutoscaler defaulting (SetDefaults_HorizontalPodAutoscaler):
// minReplicas 1, a CPU target of 80% when no metric is given, and, only when
// spec.behavior is present, every unset part of its scaleUp and scaleDown
// rules. An HPA without behavior keeps none, as on Kubernetes; the controller
// then applies the same rules (hpa-behavior.ts).
import { isObj, setDefault, type Json } from './defaults-pod.ts';

const DEFAULT_CPU_UTILIZATION = 80;
/** The controller's --horizontal-pod-autoscaler-downscale-stabilization default. */
export const DEFAULT_DOWNSCALE_STABILIZATION_SECONDS = 300;

export interface ScalingPolicyDefaults {
  type: 'Pods' | 'Percent';
  value: number;
  periodSeconds: number;
}

export interface ScalingRulesDefaults {
  stabilizationWindowSeconds: number;
  selectPolicy: 'Max' | 'Min' | 'Disabled';
  policies: ScalingPolicyDefaults[];
}

/** Fresh copies, so a caller may keep and change what it gets. */
export function defaultScaleUpRules(): ScalingRulesDefaults {
  return {
    stabilizationWindowSeconds: 0,
    selectPolicy: 'Max',
    policies: [
      { type: 'Pods', value: 4, periodSeconds: 15 },
      { type: 'Percent', value: 100, periodSeconds: 15 },
    ],
  };
}

export function defaultScaleDownRules(): ScalingRulesDefaults {
  // Kubernetes leaves the window unset here for its command-line flag to fill;
  // Mesh has no such flag, so the stored value is the one that applies.
  return {
    stabilizationWindowSeconds: DEFAULT_DOWNSCALE_STABILIZATION_SECONDS,
    selectPolicy: 'Max',
    policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
  };
}

function defaultRules(behavior: Json, key: 'scaleUp' | 'scaleDown'): void {
  const defaults = key === 'scaleUp' ? defaultScaleUpRules() : defaultScaleDownRules();
  setDefault(behavior, key, {});
  const rules = behavior[key];
  if (!isObj(rules)) return;
  setDefault(rules, 'stabilizationWindowSeconds', defaults.stabilizationWindowSeconds);
  setDefault(rules, 'selectPolicy', defaults.selectPolicy);
  setDefault(rules, 'policies', defaults.policies);
}

export function defaultHpa(hpa: Json): void {
  const spec = hpa.spec;
  if (!isObj(spec)) return;
  setDefault(spec, 'minReplicas', 1);
  if (spec.metrics === undefined || spec.metrics === null || (Array.isArray(spec.metrics) && spec.metrics.length === 0)) {
    spec.metrics = [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: DEFAULT_CPU_UTILIZATION } } }];
  }
  if (isObj(spec.behavior)) {
    defaultRules(spec.behavior, 'scaleUp');
    defaultRules(spec.behavior, 'scaleDown');
  }
}
