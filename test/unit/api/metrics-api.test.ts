// metrics.k8s.io shapes and routing over a real registry (memory store) and a
// cache fed directly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createMemoryStore } from '../../../src/agent/store/memory-store.ts';
import { createRegistry } from '../../../src/agent/api/registry.ts';
import { silentLogger } from '../../../src/agent/logger.ts';
import { createMetricsApi } from '../../../src/agent/api/metrics-api.ts';
import { requestLabels } from '../../../src/agent/api/request-labels.ts';
import { apiGroupList } from '../../../src/agent/api/discovery.ts';
import { ApiError } from '../../../src/agent/api/errors.ts';
import { createMetricsCache } from '../../../src/agent/metrics/metrics-cache.ts';
import type { Pod } from '../../../src/agent/api/object-types.ts';

async function setup() {
  const store = createMemoryStore();
  await store.start();
  const registry = createRegistry({ store, logger: silentLogger() });
  await registry.ensureDefaultNamespaces();
  const cache = createMetricsCache();
  const api = createMetricsApi({ cache, client: registry });
  const pods: Record<string, Pod> = {};
  for (const [name, ns, app] of [['web', 'default', 'web'], ['db', 'default', 'db'], ['cron', 'kube-system', 'cron'], ['new', 'default', 'web']]) {
    pods[name] = await registry.create<Pod>('pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: ns, labels: { app } },
      spec: { containers: [{ name: 'c', image: 'busybox' }] },
    });
  }
  for (const name of ['n1', 'n2']) {
    await registry.create('nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { zone: name === 'n1' ? 'a' : 'b' } }, spec: {} });
  }
  const usage = (cpu: number, mem: number) => ({ cpuNanoCores: cpu, memoryWorkingSetBytes: mem });
  const podSample = (p: Pod, cpu: number) => ({
    namespace: p.metadata.namespace!,
    name: p.metadata.name!,
    uid: p.metadata.uid!,
    containers: [{ name: 'c', usage: usage(cpu, 2048) }],
  });
  cache.put({
    nodeName: 'n1',
    timestamp: '2026-01-01T00:00:10.000Z',
    windowSeconds: 10.5,
    usage: usage(250_000_000, 1024 * 1024),
    pods: [podSample(pods.web!, 1000), podSample(pods.cron!, 3000), { ...podSample(pods.db!, 5), uid: 'an-earlier-db' }],
  });
  // n2 has no sample; pod "new" has none either.
  return { api, registry, cache, pods };
}

async function get(api: ReturnType<typeof createMetricsApi>, path: string, method = 'GET'): Promise<{ status: number; body: any }> {
  let status = 0;
  let text = '';
  const res = {
    writeHead(code: number) {
      status = code;
      return res;
    },
    end(t: string) {
      text = t;
    },
  } as unknown as ServerResponse;
  try {
    const url = new URL(path, 'https://localhost');
    await api.handle({ method } as IncomingMessage, res, url);
    return { status, body: JSON.parse(text) };
  } catch (err) {
    assert.ok(err instanceof ApiError, String(err));
    return { status: err.code, body: { message: err.message } };
  }
}

test('discovery: /apis lists the group, and the group and version documents are served', async () => {
  const { api } = await setup();
  const list = apiGroupList([api.group]);
  const g = list.groups.find((x) => x.name === 'metrics.k8s.io');
  assert.deepEqual(g?.preferredVersion, { groupVersion: 'metrics.k8s.io/v1beta1', version: 'v1beta1' });
  assert.equal((await get(api, '/apis/metrics.k8s.io')).body.kind, 'APIGroup');
  const rl = (await get(api, '/apis/metrics.k8s.io/v1beta1')).body;
  assert.equal(rl.groupVersion, 'metrics.k8s.io/v1beta1');
  assert.deepEqual(rl.resources.map((r: any) => [r.name, r.kind, r.namespaced]), [['nodes', 'NodeMetrics', false], ['pods', 'PodMetrics', true]]);
});

test('NodeMetrics: usage as quantities, window as a duration; nodes without a sample are left out or NotFound', async () => {
  const { api } = await setup();
  const one = await get(api, '/apis/metrics.k8s.io/v1beta1/nodes/n1');
  assert.equal(one.status, 200);
  assert.deepEqual({ ...one.body, metadata: { name: one.body.metadata.name, labels: one.body.metadata.labels } }, {
    kind: 'NodeMetrics',
    apiVersion: 'metrics.k8s.io/v1beta1',
    metadata: { name: 'n1', labels: { zone: 'a' } },
    timestamp: '2026-01-01T00:00:10.000Z',
    window: '10.5s',
    usage: { cpu: '250000000n', memory: '1024Ki' },
  });
  assert.equal((await get(api, '/apis/metrics.k8s.io/v1beta1/nodes/n2')).status, 404);
  assert.equal((await get(api, '/apis/metrics.k8s.io/v1beta1/nodes/ghost')).status, 404);
  const list = (await get(api, '/apis/metrics.k8s.io/v1beta1/nodes')).body;
  assert.equal(list.kind, 'NodeMetricsList');
  assert.deepEqual(list.items.map((i: any) => i.metadata.name), ['n1']);
  assert.deepEqual((await get(api, '/apis/metrics.k8s.io/v1beta1/nodes?labelSelector=zone%3Db')).body.items, []);
  assert.equal((await get(api, '/apis/metrics.k8s.io/v1beta1/nodes?labelSelector=zone%3Da')).body.items.length, 1);
});

test('PodMetrics: per namespace, across namespaces, by name, by label; a same-named earlier pod does not count', async () => {
  const { api } = await setup();
  const web = (await get(api, '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/web')).body;
  assert.equal(web.kind, 'PodMetrics');
  assert.deepEqual([web.metadata.name, web.metadata.namespace, web.metadata.labels], ['web', 'default', { app: 'web' }]);
  assert.deepEqual(web.containers, [{ name: 'c', usage: { cpu: '1000n', memory: '2Ki' } }]);
  assert.equal(web.window, '10.5s');

  const names = async (path: string) => (await get(api, path)).body.items.map((i: any) => `${i.metadata.namespace}/${i.metadata.name}`);
  assert.deepEqual(await names('/apis/metrics.k8s.io/v1beta1/namespaces/default/pods'), ['default/web']);
  assert.deepEqual((await names('/apis/metrics.k8s.io/v1beta1/pods')).sort(), ['default/web', 'kube-system/cron']);
  assert.deepEqual(await names('/apis/metrics.k8s.io/v1beta1/pods?labelSelector=app%3Dcron'), ['kube-system/cron']);
  assert.deepEqual(await names('/apis/metrics.k8s.io/v1beta1/namespaces/default/pods?labelSelector=app%3Dweb'), ['default/web']);
  assert.equal((await get(api, '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/db')).status, 404, 'uid differs');
  assert.equal((await get(api, '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/new')).status, 404, 'no sample');
  assert.equal((await get(api, '/apis/metrics.k8s.io/v1beta1/pods?labelSelector=app%3D%3D%3D')).status, 400);
});

test('unknown paths, writes and watches are refused', async () => {
  const { api } = await setup();
  assert.equal((await get(api, '/apis/metrics.k8s.io/v1/nodes')).status, 404);
  assert.equal((await get(api, '/apis/metrics.k8s.io/v1beta1/services')).status, 404);
  assert.equal((await get(api, '/apis/metrics.k8s.io/v1beta1/nodes/n1/extra')).status, 404);
  assert.equal((await get(api, '/apis/metrics.k8s.io/v1beta1/nodes', 'POST')).status, 405);
  assert.equal((await get(api, '/apis/metrics.k8s.io/v1beta1/pods?watch=true')).status, 405);
});

test('request labels: verbs as the apiserver names them, bounded resources', () => {
  const l = (m: string, p: string) => requestLabels(m, new URL(p, 'https://x'));
  assert.deepEqual(l('GET', '/api/v1/namespaces/default/pods'), { verb: 'LIST', resource: 'pods' });
  assert.deepEqual(l('GET', '/api/v1/namespaces/default/pods/web'), { verb: 'GET', resource: 'pods' });
  assert.deepEqual(l('GET', '/api/v1/namespaces/default/pods/web/log'), { verb: 'GET', resource: 'pods/log' });
  assert.deepEqual(l('GET', '/api/v1/pods?watch=true'), { verb: 'WATCH', resource: 'pods' });
  assert.deepEqual(l('GET', '/api/v1/watch/pods'), { verb: 'WATCH', resource: 'pods' });
  assert.deepEqual(l('PATCH', '/apis/apps/v1/namespaces/x/deployments/d'), { verb: 'PATCH', resource: 'deployments' });
  assert.deepEqual(l('GET', '/apis/metrics.k8s.io/v1beta1/namespaces/x/pods'), { verb: 'LIST', resource: 'pods.metrics.k8s.io' });
  assert.deepEqual(l('GET', '/apis/metrics.k8s.io/v1beta1/nodes/n1'), { verb: 'GET', resource: 'nodes.metrics.k8s.io' });
  assert.deepEqual(l('GET', '/api/v1/namespaces/x/made-up-things'), { verb: 'GET', resource: '' });
  assert.deepEqual(l('GET', '/healthz'), { verb: 'GET', resource: '' });
});
