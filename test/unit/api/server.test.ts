import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { call, openWatch, startHarness, type Harness } from './server-harness.ts';
import type { PodLogSource } from '../../../src/agent/kubelet/log-source.ts';

const TABLE_ACCEPT = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';

let h: Harness;
const logCalls: unknown[] = [];
const logSource: PodLogSource = {
  async streamLogs(pod, opts) {
    logCalls.push(opts);
    return Readable.from([`hello from ${pod.metadata.name}\n`, 'second line\n']);
  },
};

before(async () => {
  h = await startHarness({ logSource, historyLimit: 5 });
});
after(async () => {
  await h.close();
});

function pod(name: string, labels: Record<string, string> = {}) {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, labels }, spec: { containers: [{ name: 'c', image: 'busybox' }] } };
}

test('requests without credentials get a 401 Status', async () => {
  const r = await call(h, '/api/v1/namespaces', { auth: 'none' });
  assert.equal(r.status, 401);
  assert.equal(r.json.kind, 'Status');
  assert.equal(r.json.reason, 'Unauthorized');
  const wrong = await call(h, '/api/v1/namespaces', { auth: 'none', headers: { Authorization: 'Bearer nope' } });
  assert.equal(wrong.status, 401);
  const health = await call(h, '/healthz', { auth: 'none' });
  assert.equal(health.status, 200);
  assert.equal(health.text, 'ok');
});

test('the admin token and the admin client certificate both authenticate', async () => {
  const byToken = await call(h, '/api/v1/namespaces', { auth: 'token' });
  assert.equal(byToken.status, 200);
  const byCert = await call(h, '/api/v1/namespaces', { auth: 'cert' });
  assert.equal(byCert.status, 200);
  assert.equal(byCert.json.kind, 'NamespaceList');
});

test('version and discovery documents', async () => {
  const v = await call(h, '/version');
  assert.match(v.json.gitVersion, /^v1\.32\.0-mesh\.0\.1\.0$/);
  assert.equal(v.json.major, '1');
  assert.equal(v.json.minor, '32');
  const api = await call(h, '/api');
  assert.equal(api.json.kind, 'APIVersions');
  assert.deepEqual(api.json.versions, ['v1']);
  const apis = await call(h, '/apis');
  assert.equal(apis.json.kind, 'APIGroupList');
  assert.ok(apis.json.groups.some((g: any) => g.name === 'apps' && g.preferredVersion.groupVersion === 'apps/v1'));
  const core = await call(h, '/api/v1');
  assert.equal(core.json.kind, 'APIResourceList');
  assert.equal(core.json.groupVersion, 'v1');
  const pods = core.json.resources.find((r: any) => r.name === 'pods');
  assert.deepEqual({ namespaced: pods.namespaced, kind: pods.kind, singularName: pods.singularName }, { namespaced: true, kind: 'Pod', singularName: 'pod' });
  assert.ok(pods.verbs.includes('watch'));
  assert.deepEqual(pods.shortNames, ['po']);
  for (const sub of ['pods/status', 'pods/log', 'pods/binding']) assert.ok(core.json.resources.some((r: any) => r.name === sub), sub);
  const apps = await call(h, '/apis/apps/v1');
  const scale = apps.json.resources.find((r: any) => r.name === 'deployments/scale');
  assert.equal(scale.kind, 'Scale');
  assert.equal(scale.group, 'autoscaling');
  assert.equal((await call(h, '/apis/nope/v1')).status, 404);
});

test('openapi stubs', async () => {
  const v2 = await call(h, '/openapi/v2');
  assert.equal(v2.status, 200);
  assert.equal(v2.headers['content-type'], 'application/octet-stream');
  assert.equal(v2.text, '');
  const v3 = await call(h, '/openapi/v3');
  assert.deepEqual(v3.json, { paths: {} });
});

test('create, get, list, update, patch and delete round trip', async () => {
  const created = await call(h, '/api/v1/namespaces/default/configmaps', {
    method: 'POST',
    body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'rt', labels: { app: 'rt' } }, data: { a: '1' } },
  });
  assert.equal(created.status, 201);
  assert.ok(created.json.metadata.uid);
  const got = await call(h, '/api/v1/namespaces/default/configmaps/rt');
  assert.equal(got.status, 200);
  assert.deepEqual(got.json.data, { a: '1' });
  const list = await call(h, '/api/v1/namespaces/default/configmaps?labelSelector=app%3Drt');
  assert.equal(list.json.kind, 'ConfigMapList');
  assert.equal(list.json.apiVersion, 'v1');
  assert.ok(list.json.metadata.resourceVersion);
  assert.deepEqual(list.json.items.map((i: any) => [i.kind, i.apiVersion, i.metadata.name]), [['ConfigMap', 'v1', 'rt']]);
  const all = await call(h, '/api/v1/configmaps');
  assert.ok(all.json.items.some((i: any) => i.metadata.name === 'rt'), 'all-namespaces list');

  const updated = await call(h, '/api/v1/namespaces/default/configmaps/rt', { method: 'PUT', body: { ...got.json, data: { a: '2' } } });
  assert.equal(updated.status, 200);
  assert.deepEqual(updated.json.data, { a: '2' });
  const stale = await call(h, '/api/v1/namespaces/default/configmaps/rt', { method: 'PUT', body: { ...got.json, data: { a: '3' } } });
  assert.equal(stale.status, 409);
  assert.equal(stale.json.reason, 'Conflict');

  const merge = await call(h, '/api/v1/namespaces/default/configmaps/rt', {
    method: 'PATCH',
    raw: JSON.stringify({ data: { b: 'x' } }),
    headers: { 'Content-Type': 'application/merge-patch+json' },
  });
  assert.equal(merge.status, 200, merge.text);
  assert.deepEqual(merge.json.data, { a: '2', b: 'x' });
  const jsonPatch = await call(h, '/api/v1/namespaces/default/configmaps/rt', {
    method: 'PATCH',
    raw: JSON.stringify([{ op: 'remove', path: '/data/a' }]),
    headers: { 'Content-Type': 'application/json-patch+json' },
  });
  assert.deepEqual(jsonPatch.json.data, { b: 'x' });
  const smp = await call(h, '/api/v1/namespaces/default/configmaps/rt', {
    method: 'PATCH',
    raw: JSON.stringify({ metadata: { labels: { extra: 'y' } } }),
    headers: { 'Content-Type': 'application/strategic-merge-patch+json' },
  });
  assert.deepEqual(smp.json.metadata.labels, { app: 'rt', extra: 'y' });
  const ssa = await call(h, '/api/v1/namespaces/default/configmaps/rt', { method: 'PATCH', raw: '{}', headers: { 'Content-Type': 'application/apply-patch+yaml' } });
  assert.equal(ssa.status, 415);
  assert.match(ssa.json.message, /server-side apply/);

  const del = await call(h, '/api/v1/namespaces/default/configmaps/rt', { method: 'DELETE' });
  assert.equal(del.status, 200);
  assert.equal(del.json.kind, 'Status');
  assert.equal(del.json.status, 'Success');
  const gone = await call(h, '/api/v1/namespaces/default/configmaps/rt');
  assert.equal(gone.status, 404);
  assert.equal(gone.json.message, 'configmaps "rt" not found');
});

test('apps group paths, the scale subresource and dryRun', async () => {
  const dep = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web' },
    spec: { replicas: 1, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } } },
  };
  const dry = await call(h, '/apis/apps/v1/namespaces/default/deployments?dryRun=All', { method: 'POST', body: dep });
  assert.equal(dry.status, 201);
  assert.equal((await call(h, '/apis/apps/v1/namespaces/default/deployments/web')).status, 404);
  assert.equal((await call(h, '/apis/apps/v1/namespaces/default/deployments', { method: 'POST', body: dep })).status, 201);
  const scale = await call(h, '/apis/apps/v1/namespaces/default/deployments/web/scale');
  assert.equal(scale.json.kind, 'Scale');
  assert.equal(scale.json.spec.replicas, 1);
  assert.equal(scale.json.status.selector, 'app=web');
  const patched = await call(h, '/apis/apps/v1/namespaces/default/deployments/web/scale', {
    method: 'PATCH',
    raw: JSON.stringify({ spec: { replicas: 4 } }),
    headers: { 'Content-Type': 'application/merge-patch+json' },
  });
  assert.equal(patched.status, 200, patched.text);
  const after = await call(h, '/apis/apps/v1/namespaces/default/deployments/web');
  assert.equal(after.json.spec.replicas, 4);
  assert.equal(after.json.metadata.generation, 2);
});

test('YAML bodies are accepted for create', async () => {
  const yaml = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  k: v\n';
  const r = await call(h, '/api/v1/namespaces/default/configmaps', { method: 'POST', raw: yaml, headers: { 'Content-Type': 'application/yaml' } });
  assert.equal(r.status, 201, r.text);
  assert.deepEqual(r.json.data, { k: 'v' });
});

test('bad bodies: malformed JSON is 400, oversized is 413, namespace mismatch is 400', async () => {
  const bad = await call(h, '/api/v1/namespaces/default/configmaps', { method: 'POST', raw: '{nope', headers: { 'Content-Type': 'application/json' } });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.kind, 'Status');
  const big = await call(h, '/api/v1/namespaces/default/configmaps', {
    method: 'POST',
    body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'big' }, data: { a: 'x'.repeat(3 * 1024 * 1024 + 10) } },
  });
  assert.equal(big.status, 413);
  const mismatch = await call(h, '/api/v1/namespaces/default/configmaps', {
    method: 'POST',
    body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'm', namespace: 'kube-system' } },
  });
  assert.equal(mismatch.status, 400);
  const noNs = await call(h, '/api/v1/namespaces/missing/configmaps', { method: 'POST', body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'm' } } });
  assert.equal(noNs.status, 404);
  assert.equal(noNs.json.message, 'namespaces "missing" not found');
  assert.equal((await call(h, '/api/v1/widgets')).status, 404);
});

test('an invalid object is a 422 Status with causes, and nothing is stored', async () => {
  const r = await call(h, '/api/v1/namespaces/default/pods', { method: 'POST', body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bad' }, spec: { containers: [] } } });
  assert.equal(r.status, 422);
  assert.equal(r.json.kind, 'Status');
  assert.equal(r.json.reason, 'Invalid');
  assert.ok(Array.isArray(r.json.details.causes) && r.json.details.causes.length > 0);
  assert.ok(r.json.details.causes.some((c: any) => String(c.field).startsWith('spec.containers')));
  assert.equal((await call(h, '/api/v1/namespaces/default/pods/bad')).status, 404);
});

test('Table output for lists and single objects (v1 and v1beta1)', async () => {
  await call(h, '/api/v1/namespaces/default/pods', { method: 'POST', body: pod('tbl') });
  const r = await call(h, '/api/v1/namespaces/default/pods', { headers: { Accept: TABLE_ACCEPT } });
  assert.equal(r.status, 200);
  assert.equal(r.json.kind, 'Table');
  assert.equal(r.json.apiVersion, 'meta.k8s.io/v1');
  assert.ok(Array.isArray(r.json.columnDefinitions) && r.json.columnDefinitions.length > 0);
  assert.ok(r.json.rows.some((row: any) => row.object?.metadata?.name === 'tbl'));
  assert.ok(r.json.metadata.resourceVersion);
  const beta = await call(h, '/api/v1/namespaces/default/pods/tbl', { headers: { Accept: 'application/json;as=Table;v=v1beta1;g=meta.k8s.io' } });
  assert.equal(beta.json.apiVersion, 'meta.k8s.io/v1beta1');
  assert.equal(beta.json.rows.length, 1);
  const plain = await call(h, '/api/v1/namespaces/default/pods/tbl', { headers: { Accept: 'application/json' } });
  assert.equal(plain.json.kind, 'Pod');
});

test('watch streams ADDED, MODIFIED and DELETED events', async () => {
  await call(h, '/api/v1/namespaces/default/configmaps', { method: 'POST', body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'w-existing' } } });
  const w = await openWatch(h, '/api/v1/namespaces/default/configmaps?watch=true');
  assert.equal(w.status, 200);
  assert.equal(w.headers['transfer-encoding'], 'chunked');
  const initial = await w.next(1);
  assert.equal(initial[0].type, 'ADDED');
  // Earlier tests may have left objects; drain to the one we made last.
  const existing = (await call(h, '/api/v1/namespaces/default/configmaps')).json.items.length;
  if (existing > 1) await w.next(existing - 1);
  const created = await call(h, '/api/v1/namespaces/default/configmaps', { method: 'POST', body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'w1' } } });
  await call(h, '/api/v1/namespaces/default/configmaps/w1', { method: 'PUT', body: { ...created.json, data: { x: '1' } } });
  await call(h, '/api/v1/namespaces/default/configmaps/w1', { method: 'DELETE' });
  const events = await w.next(3);
  assert.deepEqual(events.map((e) => `${e.type} ${e.object.metadata.name}`), ['ADDED w1', 'MODIFIED w1', 'DELETED w1']);
  assert.equal(events[1].object.kind, 'ConfigMap');
  w.close();
});

test('watch from a resourceVersion replays later events; a too-old one is 410', async () => {
  const c = await call(h, '/api/v1/namespaces/default/configmaps', { method: 'POST', body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'rv1' } } });
  const rv = c.json.metadata.resourceVersion;
  await call(h, '/api/v1/namespaces/default/configmaps', { method: 'POST', body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'rv2' } } });
  const w = await openWatch(h, `/api/v1/watch/namespaces/default/configmaps?resourceVersion=${rv}`);
  const [e] = await w.next(1);
  assert.equal(`${e.type} ${e.object.metadata.name}`, 'ADDED rv2');
  w.close();
  for (let i = 0; i < 8; i++) {
    await call(h, '/api/v1/namespaces/default/configmaps', { method: 'POST', body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `old-${i}` } } });
  }
  const old = await call(h, `/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=${rv}`);
  assert.equal(old.status, 410);
  assert.equal(old.json.kind, 'Status');
  assert.equal(old.json.code, 410);
  assert.equal(old.json.reason, 'Expired');
});

test('watch honours timeoutSeconds and label selectors', async () => {
  const w = await openWatch(h, '/api/v1/namespaces/default/pods?watch=true&labelSelector=app%3Dsel&timeoutSeconds=1');
  await call(h, '/api/v1/namespaces/default/pods', { method: 'POST', body: pod('sel-no', { app: 'other' }) });
  await call(h, '/api/v1/namespaces/default/pods', { method: 'POST', body: pod('sel-yes', { app: 'sel' }) });
  const [e] = await w.next(1);
  assert.equal(e.object.metadata.name, 'sel-yes');
  const t0 = Date.now();
  await w.ended;
  assert.ok(Date.now() - t0 < 2500, 'the watch ended by its timeout');
});

test('watch with a Table accept header streams Table objects', async () => {
  const w = await openWatch(h, '/api/v1/namespaces/default/pods?watch=true&labelSelector=app%3Dtw', { Accept: TABLE_ACCEPT });
  await call(h, '/api/v1/namespaces/default/pods', { method: 'POST', body: pod('tw1', { app: 'tw' }) });
  await call(h, '/api/v1/namespaces/default/pods', { method: 'POST', body: pod('tw2', { app: 'tw' }) });
  const [a, b] = await w.next(2);
  assert.equal(a.object.kind, 'Table');
  assert.ok(a.object.columnDefinitions.length > 0);
  assert.equal(b.object.kind, 'Table');
  assert.equal(b.object.rows.length, 1);
  w.close();
});

test('pod binding, status subresource, graceful delete and logs', async () => {
  await call(h, '/api/v1/namespaces/default/pods', { method: 'POST', body: pod('life') });
  const bind = await call(h, '/api/v1/namespaces/default/pods/life/binding', {
    method: 'POST',
    body: { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'life' }, target: { apiVersion: 'v1', kind: 'Node', name: 'n1' } },
  });
  assert.equal(bind.status, 201, bind.text);
  const again = await call(h, '/api/v1/namespaces/default/pods/life/binding', { method: 'POST', body: { target: { name: 'n2' } } });
  assert.equal(again.status, 409);

  const cur = (await call(h, '/api/v1/namespaces/default/pods/life')).json;
  const st = await call(h, '/api/v1/namespaces/default/pods/life/status', { method: 'PUT', body: { ...cur, status: { phase: 'Running' } } });
  assert.equal(st.json.status.phase, 'Running');
  const sp = await call(h, '/api/v1/namespaces/default/pods/life/status', {
    method: 'PATCH',
    raw: JSON.stringify({ status: { podIP: '10.244.0.5' } }),
    headers: { 'Content-Type': 'application/merge-patch+json' },
  });
  assert.equal(sp.json.status.podIP, '10.244.0.5');
  assert.equal(sp.json.status.phase, 'Running');

  const logs = await call(h, '/api/v1/namespaces/default/pods/life/log?container=c&tailLines=10&timestamps=true');
  assert.equal(logs.status, 200, logs.text);
  assert.match(String(logs.headers['content-type']), /^text\/plain/);
  assert.equal(logs.text, 'hello from life\nsecond line\n');
  assert.deepEqual(logCalls.at(-1), { container: 'c', follow: false, tailLines: 10, timestamps: true, previous: false, sinceSeconds: undefined });

  const del = await call(h, '/api/v1/namespaces/default/pods/life', { method: 'DELETE', body: { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 15 } });
  assert.equal(del.status, 200, del.text);
  assert.equal(del.json.kind, 'Pod');
  assert.equal(del.json.metadata.deletionGracePeriodSeconds, 15);
  assert.equal((await call(h, '/api/v1/namespaces/default/pods/life')).status, 200, 'still there for the kubelet');
  const force = await call(h, '/api/v1/namespaces/default/pods/life?gracePeriodSeconds=0', { method: 'DELETE' });
  assert.equal(force.status, 200);
  assert.equal((await call(h, '/api/v1/namespaces/default/pods/life')).status, 404);
});

test('deletecollection deletes what the selector matches', async () => {
  for (const n of ['dc1', 'dc2']) await call(h, '/api/v1/namespaces/default/configmaps', { method: 'POST', body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: n, labels: { dc: 'yes' } } } });
  await call(h, '/api/v1/namespaces/default/configmaps', { method: 'POST', body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'dc3' } } });
  const r = await call(h, '/api/v1/namespaces/default/configmaps?labelSelector=dc%3Dyes', { method: 'DELETE' });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.items.map((i: any) => i.metadata.name).sort(), ['dc1', 'dc2']);
  assert.equal((await call(h, '/api/v1/namespaces/default/configmaps/dc1')).status, 404);
  assert.equal((await call(h, '/api/v1/namespaces/default/configmaps/dc3')).status, 200);
});

test('cluster-scoped resources and namespace deletion', async () => {
  const ns = await call(h, '/api/v1/namespaces', { method: 'POST', body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'tmp' } } });
  assert.equal(ns.status, 201);
  await call(h, '/api/v1/namespaces/tmp/configmaps', { method: 'POST', body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'inside' } } });
  const del = await call(h, '/api/v1/namespaces/tmp', { method: 'DELETE' });
  assert.equal(del.status, 200);
  assert.equal(del.json.kind, 'Namespace');
  assert.equal((await call(h, '/api/v1/namespaces/tmp')).status, 404);
  assert.equal((await call(h, '/api/v1/namespaces/tmp/configmaps/inside')).status, 404);
});

test('a client certificate from another CA is not accepted', async () => {
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { request } = await import('node:https');
  const { ensurePki } = await import('../../../src/agent/api/pki.ts');
  const dir = await mkdtemp(join(tmpdir(), 'mesh-other-ca-'));
  try {
    const other = await ensurePki(dir);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: h.server.port(), path: '/api/v1/namespaces', ca: h.pki.caCertPem, servername: 'localhost', cert: other.adminCertPem, key: other.adminKeyPem },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 401);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a PATCH that names no resourceVersion is applied again to the newest object when a concurrent write wins', async () => {
  const path = '/api/v1/namespaces/default/configmaps/race';
  assert.equal((await call(h, '/api/v1/namespaces/default/configmaps', { method: 'POST', body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'race' }, data: { a: '1' } } })).status, 201);
  const registry = h.registry as { update: typeof h.registry.update };
  const real = registry.update;
  let calls = 0;
  // The first write of each PATCH loses to another writer, as when a controller updates the object meanwhile.
  registry.update = async (resource, obj, opts) => {
    if (calls++ === 0) {
      const cur = h.registry.get('configmaps', 'default', 'race')!;
      await real(resource, { ...cur, data: { ...(cur as any).data, other: `x${Date.now()}-${Math.random()}` } }, { namespace: 'default', name: 'race' });
    }
    return real(resource, obj, opts);
  };
  try {
    const merge = await call(h, path, { method: 'PATCH', raw: JSON.stringify({ data: { a: '2' } }), headers: { 'Content-Type': 'application/merge-patch+json' } });
    assert.equal(merge.status, 200, merge.text);
    assert.equal(merge.json.data.a, '2');
    assert.match(merge.json.data.other, /^x/, 'the concurrent write is kept');
    assert.equal(calls, 2, 'one lost write, one retry');
    // A patch that pins the resourceVersion gets the conflict.
    calls = 0;
    const rv = merge.json.metadata.resourceVersion;
    const pinned = await call(h, path, { method: 'PATCH', raw: JSON.stringify({ metadata: { resourceVersion: rv }, data: { a: '3' } }), headers: { 'Content-Type': 'application/merge-patch+json' } });
    assert.equal(pinned.status, 409, pinned.text);
  } finally {
    registry.update = real;
  }
});
