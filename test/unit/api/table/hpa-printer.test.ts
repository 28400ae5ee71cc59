import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderTable } from '../../../../src/agent/api/table/index.ts';
import { formatHpaMetrics } from '../../../../src/agent/api/table/hpa-printer.ts';
import { findByKey } from '../../../../src/agent/api/resources.ts';
import type { KubeObject } from '../../../../src/agent/api/object-types.ts';

const NOW = new Date('2026-05-01T12:00:00Z');
const cpu = (t: Record<string, unknown>) => ({ type: 'Resource', resource: { name: 'cpu', target: t } });

test('kubectl get hpa columns: NAME REFERENCE TARGETS MINPODS MAXPODS REPLICAS AGE', () => {
  const hpa: KubeObject = {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: 'web', namespace: 'default', creationTimestamp: new Date(NOW.getTime() - 3 * 60_000).toISOString() },
    spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' }, minReplicas: 1, maxReplicas: 5, metrics: [cpu({ type: 'Utilization', averageUtilization: 50 })] },
    status: { currentReplicas: 3, desiredReplicas: 3, currentMetrics: [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 85, averageValue: '85m' } } }] },
  };
  const t = renderTable(findByKey('horizontalpodautoscalers.autoscaling')!, [hpa], { includeObject: 'None', now: NOW });
  assert.deepEqual(t.columnDefinitions.map((c) => c.name), ['Name', 'Reference', 'Targets', 'MinPods', 'MaxPods', 'Replicas', 'Age']);
  assert.deepEqual(t.rows[0]!.cells, ['web', 'Deployment/web', 'cpu: 85%/50%', '1', 5, 3, '3m']);
});

test('TARGETS: unknown until measured, averages, and at most two metrics', () => {
  assert.equal(formatHpaMetrics([cpu({ type: 'Utilization', averageUtilization: 50 })], undefined), 'cpu: <unknown>/50%');
  // A metric that could not be read leaves an empty status entry.
  assert.equal(formatHpaMetrics([cpu({ type: 'Utilization', averageUtilization: 50 })], [{ type: '' }]), 'cpu: <unknown>/50%');
  const mem = { type: 'Resource', resource: { name: 'memory', target: { type: 'AverageValue', averageValue: '200Mi' } } };
  assert.equal(
    formatHpaMetrics([mem], [{ type: 'Resource', resource: { name: 'memory', current: { averageValue: '104857600' } } }]),
    'memory: 104857600/200Mi',
  );
  assert.equal(formatHpaMetrics([], []), '<none>');
  assert.equal(formatHpaMetrics([mem, mem, mem], []), 'memory: <unknown>/200Mi, memory: <unknown>/200Mi + 1 more...');
});
