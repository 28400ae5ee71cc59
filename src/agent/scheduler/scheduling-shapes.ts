// The parts of Node and Pod objects the scheduler reads, typed as Kubernetes
// defines them (core/v1). object-types.ts leaves these untyped because nothing
// else in the agent reads them; they pass through the API untouched.
import type { KubeObject } from '../api/object-types.ts';

export type TaintEffect = 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';

export interface Taint {
  key: string;
  value?: string;
  effect: TaintEffect | string;
}

export interface Toleration {
  key?: string;
  operator?: 'Exists' | 'Equal' | string;
  value?: string;
  effect?: TaintEffect | string;
  tolerationSeconds?: number;
}

export interface SchedNode extends KubeObject {
  spec?: { unschedulable?: boolean; taints?: Taint[] };
  status?: {
    conditions?: { type: string; status: string }[];
    allocatable?: Record<string, string>;
  };
}

export interface NodeSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Gt' | 'Lt' | string;
  values?: string[];
}

export interface NodeSelectorTerm {
  matchExpressions?: NodeSelectorRequirement[];
  matchFields?: NodeSelectorRequirement[];
}

export interface LabelSelectorShape {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

export interface PodAffinityTermShape {
  labelSelector?: LabelSelectorShape | null;
  namespaces?: string[];
  namespaceSelector?: LabelSelectorShape | null;
  topologyKey: string;
}

export interface WeightedPodAffinityTermShape {
  weight: number;
  podAffinityTerm: PodAffinityTermShape;
}

export interface AffinityShape {
  nodeAffinity?: {
    requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms?: NodeSelectorTerm[] } | null;
    preferredDuringSchedulingIgnoredDuringExecution?: { weight: number; preference?: NodeSelectorTerm }[];
  };
  podAffinity?: {
    requiredDuringSchedulingIgnoredDuringExecution?: PodAffinityTermShape[];
    preferredDuringSchedulingIgnoredDuringExecution?: WeightedPodAffinityTermShape[];
  };
  podAntiAffinity?: {
    requiredDuringSchedulingIgnoredDuringExecution?: PodAffinityTermShape[];
    preferredDuringSchedulingIgnoredDuringExecution?: WeightedPodAffinityTermShape[];
  };
}

export interface TopologySpreadConstraintShape {
  maxSkew: number;
  topologyKey: string;
  whenUnsatisfiable: 'DoNotSchedule' | 'ScheduleAnyway' | string;
  labelSelector?: LabelSelectorShape | null;
  minDomains?: number;
  matchLabelKeys?: string[];
  nodeAffinityPolicy?: 'Honor' | 'Ignore';
  nodeTaintsPolicy?: 'Honor' | 'Ignore';
}

/** Pod spec fields the scheduler reads beyond object-types' PodSpec. */
export interface SchedPodSpecExtras {
  tolerations?: Toleration[];
  affinity?: AffinityShape;
  topologySpreadConstraints?: TopologySpreadConstraintShape[];
  overhead?: Record<string, string>;
}

export const LABEL_HOSTNAME = 'kubernetes.io/hostname';
export const TAINT_UNSCHEDULABLE = 'node.kubernetes.io/unschedulable';
export const TAINT_NOT_READY = 'node.kubernetes.io/not-ready';
