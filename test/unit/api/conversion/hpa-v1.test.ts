import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../../src/agent/api/object-types.ts';
import {
  BEHAVIOR_ANNOTATION,
  CONDITIONS_ANNOTATION,
  CURRENT_METRICS_ANNOTATION,
  METRICS_ANNOTATION,
  hpaV1Converter,
} from '../../../../src/agent/api/conversion/hpa-v1.ts';

const { toServed, toStored } = hpaV1Converter;
type Obj = KubeObject & { spec: any; status?: any };

const cpu = (n: number) => ({ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: n } } });
const memory = { type: 'Resource', resource: { name: 'memory', target: { type: 'AverageValue', averageValue: '100Mi' } } };
const podsMetric = {
  type: 'Pods',
  pods: { metric: { name: 'qps', selector: { matchLabels: { a: 'b' } } }, target: { type: 'AverageValue', averageValue: '10' } },
};
const objectMetric = {
  type: 'Object',
  object: {
    describedObject: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: 'main' },
    metric: { name: 'requests' },
    target: { type: 'Value', value: '2k' },
  },
};
const externalMetric = { type: 'External', external: { metric: { name: 'queue' }, target: { type: 'AverageValue', averageValue: '30' } } };
const behavior = {
  scaleUp: { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Pods', value: 4, periodSeconds: 15 }] },
  scaleDown: { stabilizationWindowSeconds: 300, selectPolicy: 'Min', policies: [{ type: 'Percent', value: 10, periodSeconds: 60 }] },
};
const conditions = [
  { type: 'AbleToScale', status: 'True', lastTransitionTime: '2025-01-01T00:00:00Z', reason: 'ReadyForNewScale', message: 'ok' },
  { type: 'ScalingActive', status: 'False', lastTransitionTime: '2025-01-01T00:00:00Z', reason: 'FailedGetResourceMetric', message: 'no metrics' },
];

function v2(spec: Record<string, unknown>, status?: Record<string, unknown>, annotations?: Record<string, string>): Obj {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: 'web', namespace: 'default', ...(annotations ? { annotations } : {}) },
    spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' }, minReplicas: 1, maxReplicas: 5, ...spec },
    ...(status ? { status } : {}),
  };
}

function v1(spec: Record<string, unknown>, annotations?: Record<string, string>, status?: Record<string, unknown>): Obj {
  return {
    apiVersion: 'autoscaling/v1',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: 'web', namespace: 'default', ...(annotations ? { annotations } : {}) },
    spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' }, minReplicas: 1, maxReplicas: 5, ...spec },
    ...(status ? { status } : {}),
  };
}

function annotationJson(o: KubeObject, key: string): unknown {
  const text = o.metadata.annotations?.[key];
  assert.equal(typeof text, 'string', `annotation ${key}`);
  return JSON.parse(text!);
}

describe('autoscaling/v2 -> v1', () => {
  it('maps a lone CPU utilization target to targetCPUUtilizationPercentage with no annotations', () => {
    const out = toServed(v2({ metrics: [cpu(65)] })) as Obj;
    assert.deepEqual(out.spec, {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
      minReplicas: 1,
      maxReplicas: 5,
      targetCPUUtilizationPercentage: 65,
    });
    assert.equal(out.metadata.annotations, undefined);
    // v1's replica counts are not optional.
    assert.deepEqual(out.status, { currentReplicas: 0, desiredReplicas: 0 });
  });

  it('puts every metric v1 cannot hold into the metrics annotation, in v1 shapes', () => {
    const out = toServed(v2({ metrics: [memory, cpu(50), podsMetric, objectMetric, externalMetric] })) as Obj;
    assert.equal(out.spec.targetCPUUtilizationPercentage, 50);
    assert.deepEqual(annotationJson(out, METRICS_ANNOTATION), [
      { type: 'Resource', resource: { name: 'memory', targetAverageValue: '100Mi' } },
      { type: 'Pods', pods: { metricName: 'qps', selector: { matchLabels: { a: 'b' } }, targetAverageValue: '10' } },
      {
        type: 'Object',
        object: { target: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: 'main' }, metricName: 'requests', targetValue: '2k' },
      },
      { type: 'External', external: { metricName: 'queue', targetAverageValue: '30' } },
    ]);
  });

  it('a CPU target by average value is not a utilization target and goes to the annotation', () => {
    const cpuValue = { type: 'Resource', resource: { name: 'cpu', target: { type: 'AverageValue', averageValue: '500m' } } };
    const out = toServed(v2({ metrics: [cpuValue] })) as Obj;
    assert.equal(out.spec.targetCPUUtilizationPercentage, undefined);
    assert.deepEqual(annotationJson(out, METRICS_ANNOTATION), [{ type: 'Resource', resource: { name: 'cpu', targetAverageValue: '500m' } }]);
  });

  it('maps status, taking the current CPU utilization and keeping all current metrics and conditions in annotations', () => {
    const status = {
      observedGeneration: 3,
      lastScaleTime: '2025-01-01T00:00:00Z',
      currentReplicas: 2,
      desiredReplicas: 4,
      currentMetrics: [
        { type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 91, averageValue: '455m' } } },
        { type: 'Resource', resource: { name: 'memory', current: { averageValue: '80Mi' } } },
        { type: '' },
      ],
      conditions,
    };
    const out = toServed(v2({ metrics: [cpu(50), memory] }, status)) as Obj;
    assert.deepEqual(out.status, {
      observedGeneration: 3,
      lastScaleTime: '2025-01-01T00:00:00Z',
      currentReplicas: 2,
      desiredReplicas: 4,
      currentCPUUtilizationPercentage: 91,
    });
    assert.deepEqual(annotationJson(out, CURRENT_METRICS_ANNOTATION), [
      { type: 'Resource', resource: { name: 'cpu', currentAverageUtilization: 91, currentAverageValue: '455m' } },
      { type: 'Resource', resource: { name: 'memory', currentAverageValue: '80Mi' } },
      { type: '' },
    ]);
    assert.deepEqual(annotationJson(out, CONDITIONS_ANNOTATION), conditions);
  });

  it('writes behavior with Go field names, as Kubernetes marshals its internal type', () => {
    const out = toServed(v2({ metrics: [cpu(50)], behavior: { scaleDown: behavior.scaleDown } })) as Obj;
    assert.deepEqual(annotationJson(out, BEHAVIOR_ANNOTATION), {
      ScaleUp: null,
      ScaleDown: { StabilizationWindowSeconds: 300, SelectPolicy: 'Min', Policies: [{ Type: 'Percent', Value: 10, PeriodSeconds: 60 }] },
    });
  });

  it('replaces stale round-trip annotations and keeps the user annotations', () => {
    const stale = { [METRICS_ANNOTATION]: '[{"type":"Pods"}]', [BEHAVIOR_ANNOTATION]: '{}', team: 'infra' };
    const out = toServed(v2({ metrics: [cpu(50)] }, undefined, stale)) as Obj;
    assert.deepEqual(out.metadata.annotations, { team: 'infra' });
  });

  it('does not change its input', () => {
    const input = v2({ metrics: [cpu(50), memory], behavior }, { currentReplicas: 1, desiredReplicas: 1, conditions });
    const before = structuredClone(input);
    toServed(input);
    assert.deepEqual(input, before);
  });
});

describe('autoscaling/v1 -> v2', () => {
  it('maps targetCPUUtilizationPercentage to a CPU utilization metric', () => {
    const out = toStored(v1({ targetCPUUtilizationPercentage: 50 })) as Obj;
    assert.deepEqual(out.spec, {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
      minReplicas: 1,
      maxReplicas: 5,
      metrics: [cpu(50)],
    });
    assert.equal(out.status, undefined);
  });

  it('makes the implicit 80% CPU target explicit when no metric is named', () => {
    assert.deepEqual((toStored(v1({})) as Obj).spec.metrics, [cpu(80)]);
  });

  it('restores other metrics from the annotation, before the CPU target, and drops the annotation', () => {
    const ann = { [METRICS_ANNOTATION]: JSON.stringify([{ type: 'Resource', resource: { name: 'memory', targetAverageValue: '100Mi' } }]), team: 'infra' };
    const out = toStored(v1({ targetCPUUtilizationPercentage: 70 }, ann)) as Obj;
    assert.deepEqual(out.spec.metrics, [memory, cpu(70)]);
    assert.deepEqual(out.metadata.annotations, { team: 'infra' });
  });

  it('an annotation that does not parse is ignored, as Kubernetes does', () => {
    const out = toStored(v1({ targetCPUUtilizationPercentage: 60 }, { [METRICS_ANNOTATION]: '{not json', [BEHAVIOR_ANNOTATION]: '[' })) as Obj;
    assert.deepEqual(out.spec.metrics, [cpu(60)]);
    assert.equal(out.spec.behavior, undefined);
    assert.equal(out.metadata.annotations, undefined);
  });

  it('reads behavior with Go field names or JSON names; an empty one is no behavior', () => {
    const goNames = JSON.stringify({ ScaleUp: null, ScaleDown: { StabilizationWindowSeconds: 120, SelectPolicy: 'Max', Policies: [{ Type: 'Pods', Value: 1, PeriodSeconds: 30 }] } });
    assert.deepEqual((toStored(v1({}, { [BEHAVIOR_ANNOTATION]: goNames })) as Obj).spec.behavior, {
      scaleDown: { stabilizationWindowSeconds: 120, selectPolicy: 'Max', policies: [{ type: 'Pods', value: 1, periodSeconds: 30 }] },
    });
    assert.deepEqual((toStored(v1({}, { [BEHAVIOR_ANNOTATION]: JSON.stringify(behavior) })) as Obj).spec.behavior, behavior);
    assert.equal((toStored(v1({}, { [BEHAVIOR_ANNOTATION]: '{}' })) as Obj).spec.behavior, undefined);
  });

  it('maps status, preferring the current-metrics annotation to the single CPU figure', () => {
    const plain = toStored(v1({}, undefined, { currentReplicas: 2, desiredReplicas: 3, currentCPUUtilizationPercentage: 40 })) as Obj;
    assert.deepEqual(plain.status, {
      currentReplicas: 2,
      desiredReplicas: 3,
      currentMetrics: [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 40 } } }],
    });
    const ann = {
      [CURRENT_METRICS_ANNOTATION]: JSON.stringify([{ type: 'Pods', pods: { metricName: 'qps', currentAverageValue: '7' } }]),
      [CONDITIONS_ANNOTATION]: JSON.stringify(conditions),
    };
    const rich = toStored(v1({}, ann, { currentReplicas: 2, desiredReplicas: 3, currentCPUUtilizationPercentage: 40 })) as Obj;
    assert.deepEqual(rich.status.currentMetrics, [{ type: 'Pods', pods: { metric: { name: 'qps' }, current: { averageValue: '7' } } }]);
    assert.deepEqual(rich.status.conditions, conditions);
    assert.equal(rich.metadata.annotations, undefined);
  });

  it('passes a body that is not an object through for the registry to reject', () => {
    assert.equal(toStored('nope' as unknown as KubeObject), 'nope');
  });
});

describe('v2 -> v1 -> v2 keeps what v1 cannot express', () => {
  it('spec metrics of every kind, behavior, current metrics and conditions survive', () => {
    const metrics = [podsMetric, objectMetric, externalMetric, memory, cpu(50)];
    const status = {
      observedGeneration: 2,
      currentReplicas: 3,
      desiredReplicas: 3,
      currentMetrics: [
        { type: 'Pods', pods: { metric: { name: 'qps' }, current: { averageValue: '9' } } },
        { type: 'Object', object: { describedObject: { kind: 'Ingress', name: 'main' }, metric: { name: 'requests' }, current: { value: '1k' } } },
        { type: 'External', external: { metric: { name: 'queue' }, current: { averageValue: '12' } } },
        { type: 'Resource', resource: { name: 'memory', current: { averageValue: '50Mi' } } },
        { type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 30 } } },
      ],
      conditions,
    };
    const original = v2({ metrics, behavior }, status, { team: 'infra' });
    const back = toStored(toServed(original)) as Obj;
    assert.deepEqual(back.spec, original.spec);
    assert.deepEqual(back.status, original.status);
    assert.deepEqual(back.metadata, original.metadata);
  });

  it('a CPU target listed first comes back last, as in Kubernetes', () => {
    const back = toStored(toServed(v2({ metrics: [cpu(50), memory] }))) as Obj;
    assert.deepEqual(back.spec.metrics, [memory, cpu(50)]);
  });
});
