import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, startHarness, type Harness } from './server-harness.ts';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

const BASE = '/apis/apps/v1/namespaces/default/statefulsets';

const sts = {
  apiVersion: 'apps/v1',
  kind: 'StatefulSet',
  metadata: { name: 'db' },
  spec: {
    replicas: 2,
    serviceName: 'db',
    selector: { matchLabels: { app: 'db' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['data'] }] },
    template: { metadata: { labels: { app: 'db', tier: 'data' } }, spec: { containers: [{ name: 'c', image: 'postgres:16' }] } },
  },
};

test('the scale subresource of a StatefulSet reads and writes spec.replicas', async () => {
  const created = await call(h, BASE, { method: 'POST', body: sts });
  assert.equal(created.status, 201, created.text);
  await h.registry.updateStatus('statefulsets.apps', { ...created.json, status: { replicas: 2, readyReplicas: 1 } }, { namespace: 'default', name: 'db' });

  const scale = await call(h, `${BASE}/db/scale`);
  assert.equal(scale.status, 200, scale.text);
  assert.equal(scale.json.kind, 'Scale');
  assert.equal(scale.json.apiVersion, 'autoscaling/v1');
  assert.equal(scale.json.spec.replicas, 2);
  assert.equal(scale.json.status.replicas, 2);
  assert.equal(scale.json.status.selector, 'app=db,tier in (data)', 'the whole selector, as an autoscaler needs it');

  const put = await call(h, `${BASE}/db/scale`, { method: 'PUT', body: { ...scale.json, spec: { replicas: 5 } } });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.json.spec.replicas, 5);
  let stored = await call(h, `${BASE}/db`);
  assert.equal(stored.json.spec.replicas, 5);
  assert.equal(stored.json.metadata.generation, 2);

  const patched = await call(h, `${BASE}/db/scale`, {
    method: 'PATCH',
    raw: JSON.stringify({ spec: { replicas: 0 } }),
    headers: { 'Content-Type': 'application/merge-patch+json' },
  });
  assert.equal(patched.status, 200, patched.text);
  stored = await call(h, `${BASE}/db`);
  assert.equal(stored.json.spec.replicas, 0);
  assert.equal(stored.json.spec.template.spec.containers[0].image, 'postgres:16', 'only replicas changed');

  const stale = await call(h, `${BASE}/db/scale`, { method: 'PUT', body: { ...scale.json, spec: { replicas: 3 } } });
  assert.equal(stale.status, 409, 'a stale resourceVersion conflicts');
  const negative = await call(h, `${BASE}/db/scale`, { method: 'PUT', body: { spec: { replicas: -1 } } });
  assert.equal(negative.status, 400);
});
