// HorizontalPodAutoscaler rows as kubectl prints them: REFERENCE is kind/name,
// TARGETS pairs each metric's current value (status.currentMetrics, by index)
// with its target, `cpu: 85%/50%`, at most two and then `+ N more...`.
import { timestampAge } from '../format-duration.ts';
import type { KubeObject } from '../object-types.ts';
import { AGE_COLUMN, NAME_COLUMN, column, type Printer } from './types.ts';

type Any = Record<string, any>;

function obj(v: unknown): Any {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Any) : {};
}

function metricText(spec: Any, status: Any | undefined): string {
  switch (spec.type) {
    case 'Resource': {
      const name = String(spec.resource?.name ?? '');
      const target = obj(obj(spec.resource).target);
      const current = obj(obj(status?.resource).current);
      if (target.averageValue !== undefined && target.averageValue !== null) {
        const cur = status?.resource && current.averageValue !== undefined ? String(current.averageValue) : '<unknown>';
        return `${name}: ${cur}/${String(target.averageValue)}`;
      }
      const cur = status?.resource && typeof current.averageUtilization === 'number' ? `${current.averageUtilization}%` : '<unknown>';
      const want = typeof target.averageUtilization === 'number' ? `${target.averageUtilization}%` : '<auto>';
      return `${name}: ${cur}/${want}`;
    }
    default:
      return '<unknown type>';
  }
}

/** kubectl's formatHPAMetrics. */
export function formatHpaMetrics(specs: unknown, statuses: unknown): string {
  const list = Array.isArray(specs) ? specs.map(obj) : [];
  if (list.length === 0) return '<none>';
  const current = Array.isArray(statuses) ? statuses.map(obj) : [];
  const max = 2;
  const texts = list.slice(0, max).map((s, i) => metricText(s, current[i]));
  const text = texts.join(', ');
  return list.length > max ? `${text} + ${list.length - max} more...` : text;
}

export const hpaPrinter: Printer = {
  columns: [
    NAME_COLUMN,
    column('Reference', 'scaleTargetRef points to the target resource to scale, and is used to the pods for which metrics should be collected, as well as to actually change the replica count.'),
    column('Targets', 'metrics contains the specifications for which to use to calculate the desired replica count (the maximum replica count across all metrics will be used).'),
    column('MinPods', 'minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.'),
    column('MaxPods', 'maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up.'),
    column('Replicas', 'currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the autoscaler.'),
    AGE_COLUMN,
  ],
  cells: (o: KubeObject, now: Date) => {
    const spec = obj(o.spec);
    const status = obj(o.status);
    const ref = obj(spec.scaleTargetRef);
    return [
      o.metadata.name ?? '',
      `${ref.kind ?? ''}/${ref.name ?? ''}`,
      formatHpaMetrics(spec.metrics, status.currentMetrics),
      typeof spec.minReplicas === 'number' ? String(spec.minReplicas) : '<unset>',
      typeof spec.maxReplicas === 'number' ? spec.maxReplicas : 0,
      typeof status.currentReplicas === 'number' ? status.currentReplicas : 0,
      timestampAge(o.metadata.creationTimestamp, now),
    ];
  },
};
