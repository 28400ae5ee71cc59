// The autoscaling/v2 HorizontalPodAutoscaler fields the controller reads and writes.
import type { KubeObject } from '../api/object-types.ts';

export type MetricResourceName = 'cpu' | 'memory';

export interface MetricTarget {
  type: 'Utilization' | 'AverageValue' | string;
  averageUtilization?: number;
  averageValue?: string | number;
}

export interface MetricSpec {
  type: 'Resource' | string;
  resource?: { name: MetricResourceName | string; target: MetricTarget };
}

export interface ScalingPolicy {
  type: 'Pods' | 'Percent' | string;
  value: number;
  periodSeconds: number;
}

export interface ScalingRules {
  stabilizationWindowSeconds?: number;
  selectPolicy?: 'Max' | 'Min' | 'Disabled' | string;
  policies?: ScalingPolicy[];
  tolerance?: string | number;
}

export interface HpaBehavior {
  scaleUp?: ScalingRules;
  scaleDown?: ScalingRules;
}

export interface MetricStatus {
  /** Empty for a metric that could not be read, as Kubernetes leaves it (keeps spec and status aligned). */
  type: 'Resource' | '';
  resource?: { name: string; current: { averageUtilization?: number; averageValue?: string } };
}

export interface HpaCondition {
  type: 'AbleToScale' | 'ScalingActive' | 'ScalingLimited';
  status: 'True' | 'False' | 'Unknown';
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

export interface HpaStatus {
  observedGeneration?: number;
  lastScaleTime?: string;
  currentReplicas: number;
  desiredReplicas: number;
  currentMetrics?: MetricStatus[];
  conditions?: HpaCondition[];
}

export interface HorizontalPodAutoscaler extends KubeObject {
  spec: {
    scaleTargetRef: { apiVersion?: string; kind: string; name: string };
    minReplicas?: number;
    maxReplicas: number;
    metrics?: MetricSpec[];
    behavior?: HpaBehavior;
  };
  status?: HpaStatus;
}
