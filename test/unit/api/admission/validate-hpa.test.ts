import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Invalid } from '../../../../src/agent/api/errors.ts';
import type { KubeObject } from '../../../../src/agent/api/object-types.ts';
import { findByKind, findByKey } from '../../../../src/agent/api/resources.ts';
import { autoscalerFor } from '../../../../src/cli/commands/autoscale.ts';
import { checkAs, registry } from './fixtures.ts';

const HPAS = 'horizontalpodautoscalers.autoscaling';
type Obj = KubeObject & { spec: any };

function hpa(spec: Record<string, unknown> = {}): Obj {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: 'web', namespace: 'default' },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
      maxReplicas: 5,
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } }],
      ...spec,
    },
  };
}

function cpu(target: Record<string, unknown>) {
  return [{ type: 'Resource', resource: { name: 'cpu', target } }];
}

/** Defaults a copy and validates it: `field: message` per cause. */
function check(obj: Obj): string[] {
  return checkAs(findByKey(HPAS)!, obj);
}

describe('HorizontalPodAutoscaler admission', () => {
  it('serves autoscaling/v2 (not v1) with a status subresource', () => {
    const t = findByKind('autoscaling/v2', 'HorizontalPodAutoscaler');
    assert.ok(t);
    assert.equal(t.plural, 'horizontalpodautoscalers');
    assert.deepEqual(t.shortNames, ['hpa']);
    assert.deepEqual(t.subresources, ['status']);
    assert.equal(findByKind('autoscaling/v1', 'HorizontalPodAutoscaler'), undefined);
  });

  it('fills minReplicas, the 80% CPU default metric, and no behavior unless one is given', async () => {
    const r = await registry();
    const created = await r.create<Obj>(HPAS, hpa({ metrics: undefined }));
    assert.equal(created.spec.minReplicas, 1);
    assert.deepEqual(created.spec.metrics, cpu({ type: 'Utilization', averageUtilization: 80 }));
    assert.equal(created.spec.behavior, undefined);
  });

  it('fills every unset part of a given behavior with the Kubernetes rules', async () => {
    const r = await registry();
    const created = await r.create<Obj>(HPAS, hpa({ behavior: { scaleDown: { stabilizationWindowSeconds: 60 } } }));
    assert.deepEqual(created.spec.behavior, {
      scaleUp: {
        stabilizationWindowSeconds: 0,
        selectPolicy: 'Max',
        policies: [
          { type: 'Pods', value: 4, periodSeconds: 15 },
          { type: 'Percent', value: 100, periodSeconds: 15 },
        ],
      },
      scaleDown: { stabilizationWindowSeconds: 60, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] },
    });
    const other = await r.create<Obj>(HPAS, { ...hpa({ behavior: { scaleUp: { selectPolicy: 'Min' } } }), metadata: { name: 'b', namespace: 'default' } });
    assert.equal(other.spec.behavior.scaleUp.selectPolicy, 'Min');
    assert.equal(other.spec.behavior.scaleDown.stabilizationWindowSeconds, 300);
  });

  it('accepts what `kubectl autoscale deployment web --cpu-percent=50 --min=1 --max=5` sends (v2) and mesh autoscale', async () => {
    const r = await registry();
    const kubectl: Obj = {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'web', creationTimestamp: null } as unknown as Obj['metadata'],
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
        minReplicas: 1,
        maxReplicas: 5,
        metrics: cpu({ type: 'Utilization', averageUtilization: 50 }),
      },
      status: { currentMetrics: null, desiredReplicas: 0 },
    };
    const created = await r.create<Obj>(HPAS, kubectl, { namespace: 'default' });
    assert.equal(created.spec.maxReplicas, 5);
    const mesh = autoscalerFor(findByKey('deployments.apps')!, 'api', 'default', { min: 2, max: 4, cpuPercent: 60 }) as Obj;
    const made = await r.create<Obj>(HPAS, mesh);
    assert.deepEqual(made.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'api' });
    assert.deepEqual([made.spec.minReplicas, made.spec.maxReplicas], [2, 4]);
    assert.deepEqual(made.spec.metrics, cpu({ type: 'Utilization', averageUtilization: 60 }));
  });

  it('requires the target kind and name, minReplicas >= 1 and maxReplicas >= minReplicas', async () => {
    const r = await registry();
    const err = await r.create(HPAS, hpa({ scaleTargetRef: { apiVersion: 'apps/v1' }, minReplicas: 0 })).catch((e: unknown) => e);
    assert.ok(err instanceof Invalid);
    assert.equal(err.code, 422);
    assert.deepEqual(
      (err.details.causes ?? []).map((c) => c.field),
      ['spec.scaleTargetRef.kind', 'spec.scaleTargetRef.name', 'spec.minReplicas'],
    );
    assert.deepEqual(check(hpa({ minReplicas: 4, maxReplicas: 3 })), ['spec.maxReplicas: Invalid value: 3: must be greater than or equal to `minReplicas`']);
    assert.deepEqual(check(hpa({ maxReplicas: undefined })), ['spec.maxReplicas: Required value']);
    assert.deepEqual(check(hpa({ scaleTargetRef: { kind: 'Deployment', name: 'a/b' } })), ['spec.scaleTargetRef.name: Invalid value: "a/b": may not contain \'/\'']);
  });

  it('takes Resource metrics on cpu or memory with a Utilization or AverageValue target', () => {
    assert.deepEqual(check(hpa({ metrics: [{ type: 'Resource', resource: { name: 'memory', target: { type: 'AverageValue', averageValue: '200Mi' } } }] })), []);
    assert.deepEqual(check(hpa({ metrics: [{ type: 'Resource', resource: { name: 'gpu', target: { type: 'Utilization', averageUtilization: 50 } } }] })), [
      'spec.metrics[0].resource.name: Unsupported value: "gpu": supported values: "cpu", "memory"',
    ]);
    assert.deepEqual(check(hpa({ metrics: cpu({ type: 'Utilization', averageUtilization: 0 }) })), [
      'spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be greater than 0',
    ]);
    assert.deepEqual(check(hpa({ metrics: cpu({ type: 'Utilization' }) })), [
      'spec.metrics[0].resource.target.averageUtilization: Required value: must set a target utilization for target type Utilization',
    ]);
    assert.deepEqual(check(hpa({ metrics: cpu({ type: 'AverageValue', averageValue: 'lots' }) })), [
      "spec.metrics[0].resource.target.averageValue: Invalid value: \"lots\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
    ]);
    assert.deepEqual(check(hpa({ metrics: cpu({ type: 'AverageValue', averageValue: '0' }) })), [
      'spec.metrics[0].resource.target.averageValue: Invalid value: "0": must be positive',
    ]);
    assert.deepEqual(check(hpa({ metrics: cpu({ type: 'Value', value: '1' }) })).map((c) => c.split(':')[0]), [
      'spec.metrics[0].resource.target.type',
      'spec.metrics[0].resource.target.value',
    ]);
    assert.deepEqual(check(hpa({ metrics: cpu({ type: 'Utilization', averageUtilization: 50, averageValue: '1' }) })), [
      'spec.metrics[0].resource.target.averageValue: Forbidden: may not set both a target raw value and a target utilization',
    ]);
  });

  it('refuses the metric types Mesh cannot read, naming the field', async () => {
    const r = await registry();
    for (const type of ['Pods', 'Object', 'External', 'ContainerResource']) {
      const err = await r.create(HPAS, hpa({ metrics: [{ type, [type.charAt(0).toLowerCase() + type.slice(1)]: {} }] })).catch((e: unknown) => e);
      assert.ok(err instanceof Invalid, type);
      const [cause] = err.details.causes ?? [];
      assert.equal(cause?.field, 'spec.metrics[0].type');
      assert.equal(cause?.reason, 'FieldValueNotSupported');
      assert.match(cause!.message, new RegExp(`"${type}": ${type} metrics are not supported here`));
    }
    assert.deepEqual(check(hpa({ metrics: [{ type: 'Bogus' }] })), ['spec.metrics[0].type: Unsupported value: "Bogus": supported values: "Resource"']);
    assert.deepEqual(check(hpa({ metrics: [{ resource: { name: 'cpu' } }] })), ['spec.metrics[0].type: Required value: must specify a metric source type']);
    assert.deepEqual(check(hpa({ metrics: [{ type: 'Resource' }] })), ['spec.metrics[0].resource: Required value: must populate information for the given metric source']);
    assert.deepEqual(check(hpa({ metrics: [{ ...cpu({ type: 'Utilization', averageUtilization: 5 })[0], pods: {} }] })), [
      'spec.metrics[0].pods: Forbidden: must populate the given metric source only',
    ]);
  });

  it('checks behavior policies', () => {
    const bad = check(
      hpa({
        behavior: {
          scaleUp: { stabilizationWindowSeconds: 3601, selectPolicy: 'Most', policies: [{ type: 'Nodes', value: 0, periodSeconds: 1801 }] },
          scaleDown: { stabilizationWindowSeconds: -1, policies: [{ type: 'Pods', value: 1, periodSeconds: 0 }] },
        },
      }),
    );
    assert.deepEqual(bad, [
      'spec.behavior.scaleUp.stabilizationWindowSeconds: Invalid value: 3601: must be less than or equal to 3600',
      'spec.behavior.scaleUp.selectPolicy: Unsupported value: "Most": supported values: "Max", "Min", "Disabled"',
      'spec.behavior.scaleUp.policies[0].type: Unsupported value: "Nodes": supported values: "Pods", "Percent"',
      'spec.behavior.scaleUp.policies[0].value: Invalid value: 0: must be greater than zero',
      'spec.behavior.scaleUp.policies[0].periodSeconds: Invalid value: 1801: must be less than or equal to 1800',
      'spec.behavior.scaleDown.stabilizationWindowSeconds: Invalid value: -1: must be greater than or equal to zero',
      'spec.behavior.scaleDown.policies[0].periodSeconds: Invalid value: 0: must be greater than zero',
    ]);
    assert.deepEqual(check(hpa({ behavior: { scaleUp: { policies: [] } } })), ['spec.behavior.scaleUp.policies: Required value: must specify at least one Policy']);
  });

  it('reports a field of the wrong JSON type alone', () => {
    assert.deepEqual(check(hpa({ maxReplicas: 'five' })).map((c) => c.split(':')[0]), ['spec.maxReplicas']);
  });
});
