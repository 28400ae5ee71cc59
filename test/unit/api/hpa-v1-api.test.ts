// HorizontalPodAutoscalers served as autoscaling/v1 over the stored autoscaling/v2
// objects, through the real HTTPS server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, openWatch, startHarness, type Harness } from './server-harness.ts';
import { BEHAVIOR_ANNOTATION, CONDITIONS_ANNOTATION, METRICS_ANNOTATION } from '../../../src/agent/api/conversion/hpa-v1.ts';

const TABLE_ACCEPT = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json';
const V1 = '/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers';
const V2 = '/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers';
const KEY = 'horizontalpodautoscalers.autoscaling';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

const cpu = (n: number) => ({ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: n } } });
const memory = { type: 'Resource', resource: { name: 'memory', target: { type: 'AverageValue', averageValue: '100Mi' } } };

/** What `kubectl autoscale deployment <name> --cpu-percent=50 --min=1 --max=5` sends. */
function v1Body(name: string, cpuPercent = 50) {
  return {
    apiVersion: 'autoscaling/v1',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name },
    spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name }, minReplicas: 1, maxReplicas: 5, targetCPUUtilizationPercentage: cpuPercent },
  };
}

function v2Body(name: string, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name },
    spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name }, minReplicas: 1, maxReplicas: 5, metrics: [cpu(60), memory], ...extra },
  };
}

async function created(path: string, body: unknown) {
  const r = await call(h, path, { method: 'POST', body });
  assert.equal(r.status, 201, r.text);
  return r.json;
}

test('discovery lists autoscaling/v1 with HPAs, and v2 stays preferred', async () => {
  const apis = await call(h, '/apis');
  const group = apis.json.groups.find((g: any) => g.name === 'autoscaling');
  assert.deepEqual(group.versions.map((v: any) => v.groupVersion), ['autoscaling/v2', 'autoscaling/v1']);
  assert.equal(group.preferredVersion.groupVersion, 'autoscaling/v2');
  const doc = await call(h, '/apis/autoscaling');
  assert.equal(doc.json.kind, 'APIGroup');
  assert.deepEqual(doc.json.versions.map((v: any) => v.version), ['v2', 'v1']);
  assert.equal(doc.json.preferredVersion.version, 'v2');
  for (const version of ['v1', 'v2']) {
    const list = await call(h, `/apis/autoscaling/${version}`);
    assert.equal(list.status, 200, version);
    assert.equal(list.json.groupVersion, `autoscaling/${version}`);
    const hpa = list.json.resources.find((r: any) => r.name === 'horizontalpodautoscalers');
    assert.equal(hpa.kind, 'HorizontalPodAutoscaler');
    assert.deepEqual(hpa.shortNames, ['hpa']);
    assert.ok(list.json.resources.some((r: any) => r.name === 'horizontalpodautoscalers/status'), version);
  }
});

test('an HPA created through v1 is stored as v2 and reads under both versions', async () => {
  const out = await created(V1, v1Body('made-v1'));
  assert.equal(out.apiVersion, 'autoscaling/v1');
  assert.equal(out.spec.targetCPUUtilizationPercentage, 50);
  assert.equal(out.spec.metrics, undefined);
  assert.deepEqual(out.status, { currentReplicas: 0, desiredReplicas: 0 });
  const stored = h.registry.get(KEY, 'default', 'made-v1')!;
  assert.equal(stored.apiVersion, 'autoscaling/v2');
  assert.deepEqual((stored.spec as any).metrics, [cpu(50)]);
  assert.equal(stored.metadata.annotations, undefined);
  const asV2 = await call(h, `${V2}/made-v1`);
  assert.equal(asV2.json.apiVersion, 'autoscaling/v2');
  assert.deepEqual(asV2.json.spec.metrics, [cpu(50)]);
  const asV1 = await call(h, `${V1}/made-v1`);
  assert.equal(asV1.json.apiVersion, 'autoscaling/v1');
  assert.equal(asV1.json.metadata.uid, asV2.json.metadata.uid);
  assert.equal(asV1.json.metadata.resourceVersion, asV2.json.metadata.resourceVersion);
});

test('a v2 HPA reads through v1 with what v1 cannot hold in annotations, and a v1 update keeps it', async () => {
  const behavior = { scaleDown: { stabilizationWindowSeconds: 120, selectPolicy: 'Min', policies: [{ type: 'Pods', value: 1, periodSeconds: 30 }] } };
  await created(V2, v2Body('made-v2', { behavior }));
  const storedBefore = h.registry.get(KEY, 'default', 'made-v2')!;
  const v1 = (await call(h, `${V1}/made-v2`)).json;
  assert.equal(v1.spec.targetCPUUtilizationPercentage, 60);
  assert.deepEqual(JSON.parse(v1.metadata.annotations[METRICS_ANNOTATION]), [{ type: 'Resource', resource: { name: 'memory', targetAverageValue: '100Mi' } }]);
  assert.ok(v1.metadata.annotations[BEHAVIOR_ANNOTATION].includes('"StabilizationWindowSeconds":120'));

  v1.spec.maxReplicas = 9;
  const put = await call(h, `${V1}/made-v2`, { method: 'PUT', body: v1 });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.json.apiVersion, 'autoscaling/v1');
  assert.equal(put.json.spec.maxReplicas, 9);
  const stored = h.registry.get(KEY, 'default', 'made-v2')!;
  const spec = stored.spec as any;
  assert.equal(spec.maxReplicas, 9);
  // As in Kubernetes, the CPU target comes back after the metrics from the annotation.
  assert.deepEqual(spec.metrics, [memory, cpu(60)]);
  assert.deepEqual(spec.behavior, (storedBefore.spec as any).behavior);
  assert.equal(stored.metadata.annotations, undefined);
});

test('a v1 body with another apiVersion is rejected', async () => {
  const r = await call(h, V1, { method: 'POST', body: { ...v1Body('mismatch'), apiVersion: 'autoscaling/v2' } });
  assert.equal(r.status, 400);
  assert.match(r.json.message, /does not match the expected API version \(autoscaling\/v1\)/);
  assert.equal(h.registry.get(KEY, 'default', 'mismatch'), undefined);
});

test('v1 lists, tables and watches show v1 objects', async () => {
  await created(V1, v1Body('listed', 40));
  const list = await call(h, V1);
  assert.equal(list.json.kind, 'HorizontalPodAutoscalerList');
  assert.equal(list.json.apiVersion, 'autoscaling/v1');
  assert.ok(list.json.items.length >= 1);
  for (const item of list.json.items) {
    assert.equal(item.apiVersion, 'autoscaling/v1');
    assert.equal(item.spec.metrics, undefined);
  }
  assert.equal(list.json.items.find((i: any) => i.metadata.name === 'listed').spec.targetCPUUtilizationPercentage, 40);

  const table = await call(h, `${V1}?includeObject=Object`, { headers: { Accept: TABLE_ACCEPT } });
  assert.equal(table.json.kind, 'Table');
  const names = table.json.columnDefinitions.map((c: any) => c.name);
  assert.deepEqual(names.slice(0, 3), ['Name', 'Reference', 'Targets']);
  const row = table.json.rows.find((r: any) => r.cells[0] === 'listed');
  assert.equal(row.cells[2], 'cpu: <unknown>/40%');
  assert.equal(row.object.apiVersion, 'autoscaling/v1');
  assert.equal(row.object.spec.targetCPUUtilizationPercentage, 40);
  const meta = await call(h, `${V1}/made-v2`, { headers: { Accept: TABLE_ACCEPT } });
  assert.equal(meta.json.rows[0].object.kind, 'PartialObjectMetadata');
  assert.ok(meta.json.rows[0].object.metadata.annotations[METRICS_ANNOTATION]);

  const w = await openWatch(h, `${V1}?watch=true&fieldSelector=metadata.name=watched`);
  assert.equal(w.status, 200);
  await created(V2, v2Body('watched'));
  const [added] = await w.next(1);
  assert.equal(added.type, 'ADDED');
  assert.equal(added.object.apiVersion, 'autoscaling/v1');
  assert.equal(added.object.spec.targetCPUUtilizationPercentage, 60);
  const patched = await call(h, `${V2}/watched`, { method: 'PATCH', raw: JSON.stringify({ spec: { maxReplicas: 8 } }), headers: { 'Content-Type': 'application/merge-patch+json' } });
  assert.equal(patched.status, 200, patched.text);
  const [modified] = await w.next(1);
  assert.equal(modified.type, 'MODIFIED');
  assert.equal(modified.object.apiVersion, 'autoscaling/v1');
  assert.equal(modified.object.spec.maxReplicas, 8);
  const del = await call(h, `${V1}/watched`, { method: 'DELETE' });
  assert.equal(del.status, 200, del.text);
  assert.equal(del.json.kind, 'Status');
  const [deleted] = await w.next(1);
  assert.equal(deleted.type, 'DELETED');
  assert.equal(deleted.object.apiVersion, 'autoscaling/v1');
  w.close();
});

test('patches apply to the v1 view and go back to v2', async () => {
  await created(V2, v2Body('patched'));
  const merge = await call(h, `${V1}/patched`, {
    method: 'PATCH',
    raw: JSON.stringify({ spec: { targetCPUUtilizationPercentage: 75 } }),
    headers: { 'Content-Type': 'application/merge-patch+json' },
  });
  assert.equal(merge.status, 200, merge.text);
  assert.equal(merge.json.apiVersion, 'autoscaling/v1');
  assert.equal(merge.json.spec.targetCPUUtilizationPercentage, 75);
  assert.deepEqual((h.registry.get(KEY, 'default', 'patched')!.spec as any).metrics, [memory, cpu(75)]);

  const strategic = await call(h, `${V1}/patched`, {
    method: 'PATCH',
    raw: JSON.stringify({ spec: { maxReplicas: 7 } }),
    headers: { 'Content-Type': 'application/strategic-merge-patch+json' },
  });
  assert.equal(strategic.status, 200, strategic.text);
  assert.equal((h.registry.get(KEY, 'default', 'patched')!.spec as any).maxReplicas, 7);

  // Dropping the metrics annotation from the v1 view drops those metrics, as on Kubernetes.
  const path = `/metadata/annotations/${METRICS_ANNOTATION.replace('/', '~1')}`;
  const json = await call(h, `${V1}/patched`, {
    method: 'PATCH',
    raw: JSON.stringify([{ op: 'remove', path }, { op: 'replace', path: '/spec/minReplicas', value: 2 }]),
    headers: { 'Content-Type': 'application/json-patch+json' },
  });
  assert.equal(json.status, 200, json.text);
  const spec = h.registry.get(KEY, 'default', 'patched')!.spec as any;
  assert.deepEqual(spec.metrics, [cpu(75)]);
  assert.equal(spec.minReplicas, 2);
});

test('status written through v1 maps to v2 status, conditions restored from their annotation', async () => {
  await created(V1, v1Body('reported'));
  const current = (await call(h, `${V1}/reported/status`)).json;
  assert.equal(current.apiVersion, 'autoscaling/v1');
  const conditions = [{ type: 'AbleToScale', status: 'True', lastTransitionTime: '2025-01-01T00:00:00Z', reason: 'ReadyForNewScale', message: 'ok' }];
  current.status = { currentReplicas: 2, desiredReplicas: 3, currentCPUUtilizationPercentage: 42 };
  current.metadata.annotations = { [CONDITIONS_ANNOTATION]: JSON.stringify(conditions) };
  const put = await call(h, `${V1}/reported/status`, { method: 'PUT', body: current });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.json.status.currentCPUUtilizationPercentage, 42);
  const stored = h.registry.get(KEY, 'default', 'reported')!;
  assert.deepEqual(stored.status, {
    currentReplicas: 2,
    desiredReplicas: 3,
    currentMetrics: [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 42 } } }],
    conditions,
  });
  assert.equal(stored.metadata.annotations, undefined);
  const v2 = (await call(h, `${V2}/reported`)).json;
  assert.equal(v2.status.desiredReplicas, 3);
});

test('deletecollection through v1 answers with a v1 list', async () => {
  await created(V1, v1Body('swept'));
  const r = await call(h, `${V1}?labelSelector=`, { method: 'DELETE' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.apiVersion, 'autoscaling/v1');
  assert.ok(r.json.items.length >= 1);
  for (const item of r.json.items) assert.equal(item.apiVersion, 'autoscaling/v1');
  assert.equal(h.registry.list(KEY, { namespace: 'default' }).items.length, 0);
});
