import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryStore } from '../../../src/agent/store/memory-store.ts';
import { silentLogger } from '../../../src/agent/logger.ts';
import { createRegistry, type Registry } from '../../../src/agent/api/registry.ts';
import { ApiError } from '../../../src/agent/api/errors.ts';
import type { KubeObject, Pod } from '../../../src/agent/api/object-types.ts';
import type { StoreEvent } from '../../../src/agent/store/object-store.ts';

const T0 = new Date('2025-01-02T03:04:05.678Z');

async function setup(): Promise<{ registry: Registry; clock: { now: Date } }> {
  const clock = { now: T0 };
  const store = createMemoryStore();
  await store.start();
  const registry = createRegistry({ store, logger: silentLogger(), clock: () => clock.now });
  await registry.ensureDefaultNamespaces();
  return { registry, clock };
}

function pod(name: string, extra: Partial<Pod['spec']> = {}, meta: KubeObject['metadata'] = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', ...meta },
    spec: { containers: [{ name: 'c', image: 'busybox' }], ...extra },
  };
}

async function rejects(p: Promise<unknown>, code: number, reason: string, message?: RegExp): Promise<ApiError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ApiError, `expected an ApiError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.equal(err.reason, reason);
    if (message) assert.match(err.message, message);
    return err;
  }
  assert.fail(`expected ${reason}`);
}

test('default namespaces exist and are Active', async () => {
  const { registry } = await setup();
  const names = registry.list('namespaces').items.map((n) => n.metadata.name).sort();
  assert.deepEqual(names, ['default', 'kube-node-lease', 'kube-public', 'kube-system']);
  assert.equal((registry.get('namespaces', '', 'default')!.status as { phase: string }).phase, 'Active');
  await registry.ensureDefaultNamespaces(); // idempotent
  assert.equal(registry.list('namespaces').items.length, 4);
});

test('create fills uid, timestamps, generation and resourceVersion; ignores client values', async () => {
  const { registry } = await setup();
  const p = await registry.create('pods', pod('a', {}, { uid: 'mine', resourceVersion: '999', creationTimestamp: '2000-01-01T00:00:00Z' }));
  assert.match(p.metadata.uid!, /^[0-9a-f-]{36}$/);
  assert.notEqual(p.metadata.uid, 'mine');
  assert.equal(p.metadata.creationTimestamp, '2025-01-02T03:04:05Z');
  assert.equal(p.metadata.generation, 1);
  assert.ok(p.metadata.resourceVersion && p.metadata.resourceVersion !== '999');
  assert.equal(p.apiVersion, 'v1');
  assert.equal(p.kind, 'Pod');
  const cm = await registry.create<KubeObject>('configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: '1' } });
  assert.equal(cm.metadata.generation, undefined, 'types without spec have no generation');
  assert.equal(cm.metadata.namespace, 'default', 'namespace defaults to default');
});

test('generateName gets a 5 character suffix', async () => {
  const { registry } = await setup();
  const a = await registry.create('pods', pod('', {}, { name: undefined, generateName: 'web-' }));
  const b = await registry.create('pods', pod('', {}, { name: undefined, generateName: 'web-' }));
  assert.match(a.metadata.name!, /^web-[a-z0-9]{5}$/);
  assert.notEqual(a.metadata.name, b.metadata.name);
  await rejects(registry.create('pods', pod('', {}, { name: undefined })), 422, 'Invalid', /name or generateName is required/);
});

test('namespaced objects need an existing namespace that matches the path', async () => {
  const { registry } = await setup();
  await rejects(registry.create('pods', pod('a', {}, { namespace: 'nope' })), 404, 'NotFound', /namespaces "nope" not found/);
  await rejects(registry.create('pods', pod('a', {}, { namespace: 'kube-system' }), { namespace: 'default' }), 400, 'BadRequest', /does not match/);
  const p = await registry.create('pods', pod('a', {}, { namespace: undefined }), { namespace: 'kube-system' });
  assert.equal(p.metadata.namespace, 'kube-system');
  const ns = await registry.create<KubeObject>('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x', namespace: 'junk' } });
  assert.equal(ns.metadata.namespace, undefined, 'cluster-scoped objects carry no namespace');
});

test('a duplicate create is AlreadyExists', async () => {
  const { registry } = await setup();
  await registry.create('pods', pod('a'));
  await rejects(registry.create('pods', pod('a')), 409, 'AlreadyExists');
});

test('kind mismatch is BadRequest', async () => {
  const { registry } = await setup();
  await rejects(registry.create('pods', { ...pod('a'), kind: 'Service' }), 400, 'BadRequest', /kind/);
});

test('generation bumps only when spec changes', async () => {
  const { registry } = await setup();
  const d = await registry.create<KubeObject>('deployments.apps', {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web' },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } },
    },
  });
  assert.equal(d.metadata.generation, 1);
  const relabelled = await registry.update<KubeObject>('deployments.apps', { ...d, metadata: { ...d.metadata, labels: { x: 'y' } } });
  assert.equal(relabelled.metadata.generation, 1);
  assert.notEqual(relabelled.metadata.resourceVersion, d.metadata.resourceVersion);
  const scaled = await registry.update<KubeObject>('deployments.apps', { ...relabelled, spec: { ...(relabelled.spec as object), replicas: 3 } });
  assert.equal(scaled.metadata.generation, 2);
  const same = await registry.update('deployments.apps', scaled);
  assert.equal(same.metadata.resourceVersion, scaled.metadata.resourceVersion, 'a no-op update writes nothing');
});

test('a stale resourceVersion on update is a Conflict; a missing one is unconditional', async () => {
  const { registry } = await setup();
  const cm = await registry.create<KubeObject>('configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: '1' } });
  await registry.update('configmaps', { ...cm, data: { a: '2' } });
  await rejects(registry.update('configmaps', { ...cm, data: { a: '3' } }), 409, 'Conflict', /has been modified/);
  const { resourceVersion: _rv, ...meta } = cm.metadata;
  const forced = await registry.update('configmaps', { ...cm, metadata: meta, data: { a: '4' } });
  assert.deepEqual(forced.data, { a: '4' });
  await rejects(registry.update('configmaps', { ...cm, metadata: { name: 'missing' } }), 404, 'NotFound');
});

test('uid and creationTimestamp are immutable', async () => {
  const { registry } = await setup();
  const cm = await registry.create<KubeObject>('configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } });
  await rejects(registry.update('configmaps', { ...cm, metadata: { ...cm.metadata, uid: 'other' } }), 422, 'Invalid', /metadata.uid/);
  await rejects(
    registry.update('configmaps', { ...cm, metadata: { ...cm.metadata, creationTimestamp: '2001-01-01T00:00:00Z' } }),
    422,
    'Invalid',
    /creationTimestamp/,
  );
});

test('status is reset on create for pods but kept for nodes', async () => {
  const { registry } = await setup();
  const p = await registry.create('pods', { ...pod('a'), status: { phase: 'Running', podIP: '1.2.3.4' } });
  assert.notEqual((p.status as { phase?: string } | undefined)?.phase, 'Running');
  assert.equal((p.status as { podIP?: string } | undefined)?.podIP, undefined);
  const n = await registry.create<KubeObject>('nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' }, spec: {}, status: { addresses: [{ type: 'InternalIP', address: '10.0.0.1' }] } });
  assert.deepEqual((n.status as { addresses: unknown[] }).addresses, [{ type: 'InternalIP', address: '10.0.0.1' }]);
});

test('status changes through the main resource are ignored, and spec changes through /status', async () => {
  const { registry } = await setup();
  const p = await registry.create('pods', pod('a'));
  const withStatus = await registry.updateStatus('pods', { ...p, status: { phase: 'Running' }, spec: { ...p.spec, activeDeadlineSeconds: 5 } as Pod['spec'], metadata: { ...p.metadata, labels: { sneaky: 'yes' } } });
  assert.equal(withStatus.status?.phase, 'Running');
  assert.equal((withStatus.spec as { activeDeadlineSeconds?: number }).activeDeadlineSeconds, undefined);
  assert.equal(withStatus.metadata.labels?.sneaky, undefined);
  const viaMain = await registry.update('pods', { ...withStatus, status: { phase: 'Failed' }, metadata: { ...withStatus.metadata, labels: { a: 'b' } } });
  assert.equal(viaMain.status?.phase, 'Running');
  assert.equal(viaMain.metadata.labels?.a, 'b');
});

test('pod spec updates may only change images (and a few fields)', async () => {
  const { registry } = await setup();
  const p = await registry.create('pods', pod('a'));
  const newImage = await registry.update('pods', { ...p, spec: { ...p.spec, containers: [{ ...p.spec.containers[0]!, image: 'busybox:2' }] } });
  assert.equal(newImage.spec.containers[0]!.image, 'busybox:2');
  const err = await rejects(
    registry.update('pods', { ...newImage, spec: { ...newImage.spec, containers: [{ ...newImage.spec.containers[0]!, command: ['sh'] }] } }),
    422,
    'Invalid',
    /pod updates may not change fields other than/,
  );
  assert.equal(err.details.causes?.[0]?.field, 'spec');
});

test('objects with finalizers are marked, then removed once the finalizers are gone', async () => {
  const { registry, clock } = await setup();
  const cm = await registry.create<KubeObject>('configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', finalizers: ['example.com/hold'] } });
  clock.now = new Date(T0.getTime() + 10_000);
  const marked = await registry.deleteDetailed('configmaps', 'default', 'c');
  assert.equal(marked.removed, false);
  assert.equal(marked.object.metadata.deletionTimestamp, '2025-01-02T03:04:15Z');
  assert.ok(registry.get('configmaps', 'default', 'c'));
  const current = registry.get('configmaps', 'default', 'c')!;
  // A client cannot clear deletionTimestamp.
  const stillMarked = await registry.update('configmaps', { ...current, metadata: { ...current.metadata, deletionTimestamp: undefined, labels: { a: 'b' } } });
  assert.equal(stillMarked.metadata.deletionTimestamp, '2025-01-02T03:04:15Z');
  await registry.update('configmaps', { ...stillMarked, metadata: { ...stillMarked.metadata, finalizers: [] } });
  assert.equal(registry.get('configmaps', 'default', 'c'), undefined);
  assert.ok(cm.metadata.uid);
});

test('bound pods are deleted gracefully and removed by a grace-0 delete', async () => {
  const { registry } = await setup();
  await registry.create('pods', pod('bound', { terminationGracePeriodSeconds: 20 }));
  await registry.bind('default', 'bound', 'node-1');
  const marked = await registry.deleteDetailed('pods', 'default', 'bound');
  assert.equal(marked.removed, false);
  assert.equal(marked.object.metadata.deletionTimestamp, '2025-01-02T03:04:25Z');
  assert.equal(marked.object.metadata.deletionGracePeriodSeconds, 20);
  const shorter = await registry.deleteDetailed('pods', 'default', 'bound', { gracePeriodSeconds: 5 });
  assert.equal(shorter.object.metadata.deletionGracePeriodSeconds, 5);
  const longer = await registry.deleteDetailed('pods', 'default', 'bound', { gracePeriodSeconds: 60 });
  assert.equal(longer.object.metadata.deletionGracePeriodSeconds, 5, 'a later delete never lengthens the grace period');
  const gone = await registry.deleteDetailed('pods', 'default', 'bound', { gracePeriodSeconds: 0 });
  assert.equal(gone.removed, true);
  assert.equal(registry.get('pods', 'default', 'bound'), undefined);

  await registry.create('pods', pod('default-grace'));
  await registry.bind('default', 'default-grace', 'node-1');
  const d = await registry.deleteDetailed('pods', 'default', 'default-grace');
  assert.equal(d.object.metadata.deletionGracePeriodSeconds, 30);

  await registry.create('pods', pod('unbound'));
  const u = await registry.deleteDetailed('pods', 'default', 'unbound');
  assert.equal(u.removed, true);
  assert.equal(registry.get('pods', 'default', 'unbound'), undefined);
});

test('a second delete finishes a deletion that replication left with no finalizers', async () => {
  // The merged state of a delete on one agent and a finalizer removal on another: marked, nothing holds it.
  const clock = { now: T0 };
  const store = createMemoryStore();
  await store.start();
  const registry = createRegistry({ store, logger: silentLogger(), clock: () => clock.now });
  await registry.ensureDefaultNamespaces();
  async function merged<T extends KubeObject>(resource: string, obj: T, bind?: string): Promise<T> {
    const created = await registry.create<T>(resource, obj);
    const bound = bind ? await registry.bind('default', created.metadata.name!, bind) : created;
    const next = structuredClone(bound) as KubeObject;
    next.metadata.deletionTimestamp = '2025-01-02T03:00:00Z';
    next.metadata.deletionGracePeriodSeconds = bind ? 30 : 0;
    delete next.metadata.finalizers;
    return (await store.update(registry.resolve(resource).plural, next)) as T;
  }

  const cm = await merged<KubeObject>('configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'default', finalizers: ['example.com/hold'] } });
  assert.ok(registry.get('configmaps', 'default', 'c')?.metadata.deletionTimestamp);
  const gone = await registry.deleteDetailed('configmaps', 'default', 'c', { preconditions: { uid: cm.metadata.uid } });
  assert.equal(gone.removed, true);
  assert.equal(registry.get('configmaps', 'default', 'c'), undefined);

  // A bound pod still in its grace period is its kubelet's: a plain delete leaves it, a grace-0 delete removes it.
  await merged<Pod>('pods', pod('bound', {}, { finalizers: ['example.com/hold'] }), 'node-1');
  const marked = await registry.deleteDetailed('pods', 'default', 'bound');
  assert.equal(marked.removed, false);
  assert.ok(registry.get('pods', 'default', 'bound'));
  const forced = await registry.deleteDetailed('pods', 'default', 'bound', { gracePeriodSeconds: 0 });
  assert.equal(forced.removed, true);
  assert.equal(registry.get('pods', 'default', 'bound'), undefined);

  // An unbound pod, and a Namespace with nothing left in it, go with a plain delete.
  await merged<Pod>('pods', pod('unbound', {}, { finalizers: ['example.com/hold'] }));
  assert.equal((await registry.deleteDetailed('pods', 'default', 'unbound')).removed, true);
  await merged<KubeObject>('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team', finalizers: ['example.com/hold'] } });
  assert.equal((await registry.deleteDetailed('namespaces', '', 'team')).removed, true);
  assert.equal(registry.get('namespaces', '', 'team'), undefined);
});

test('delete preconditions are checked', async () => {
  const { registry } = await setup();
  const p = await registry.create('pods', pod('a'));
  await rejects(registry.delete('pods', 'default', 'a', { preconditions: { uid: 'wrong' } }), 409, 'Conflict', /Precondition failed: UID/);
  await rejects(registry.delete('pods', 'default', 'a', { preconditions: { resourceVersion: '1' } }), 409, 'Conflict', /ResourceVersion/);
  await registry.delete('pods', 'default', 'a', { preconditions: { uid: p.metadata.uid, resourceVersion: p.metadata.resourceVersion } });
  assert.equal(registry.get('pods', 'default', 'a'), undefined);
  await rejects(registry.delete('pods', 'default', 'a'), 404, 'NotFound');
});

test('deleting a namespace deletes its objects; bound pods keep it Terminating', async () => {
  const { registry } = await setup();
  await registry.create<KubeObject>('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team' } });
  await registry.create<KubeObject>('configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'team' } });
  await registry.create('pods', pod('p', {}, { namespace: 'team' }));
  await registry.bind('team', 'p', 'n1');
  const r = await registry.deleteDetailed('namespaces', '', 'team');
  assert.equal(r.removed, false);
  assert.equal((registry.get('namespaces', '', 'team')!.status as { phase: string }).phase, 'Terminating');
  assert.equal(registry.get('configmaps', 'team', 'c'), undefined);
  assert.ok(registry.get('pods', 'team', 'p')?.metadata.deletionTimestamp);
  await rejects(registry.create<KubeObject>('configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'd', namespace: 'team' } }), 403, 'Forbidden', /being terminated/);
  await registry.delete('pods', 'team', 'p', { gracePeriodSeconds: 0 });
  assert.equal(registry.get('namespaces', '', 'team'), undefined, 'the namespace goes with its last object');
});

test('bind sets nodeName once', async () => {
  const { registry } = await setup();
  await registry.create('pods', pod('a'));
  const bound = await registry.bind('default', 'a', 'n1');
  assert.equal(bound.spec.nodeName, 'n1');
  assert.ok(bound.status?.conditions?.some((c) => c.type === 'PodScheduled' && c.status === 'True'));
  await rejects(registry.bind('default', 'a', 'n2'), 409, 'Conflict', /already assigned to node "n1"/);
  await rejects(registry.bind('default', 'missing', 'n2'), 404, 'NotFound');
});

test('dryRun validates without storing', async () => {
  const { registry } = await setup();
  const p = await registry.create('pods', pod('a'), { dryRun: true });
  assert.equal(p.metadata.name, 'a');
  assert.equal(registry.get('pods', 'default', 'a'), undefined);
});

test('list and watch filter by label and field selectors', async () => {
  const { registry } = await setup();
  await registry.create('pods', pod('a', {}, { labels: { app: 'web' } }));
  await registry.create('pods', pod('b', {}, { labels: { app: 'db' } }));
  assert.deepEqual(registry.list('pods', { labelSelector: 'app=web' }).items.map((p) => p.metadata.name), ['a']);
  assert.deepEqual(registry.list('pods', { fieldSelector: 'metadata.name=b' }).items.map((p) => p.metadata.name), ['b']);
  assert.equal(registry.list('pods', { namespace: 'kube-system' }).items.length, 0);

  const events: StoreEvent[] = [];
  const stop = registry.watch('pods', { labelSelector: 'app=web' }, (e) => events.push(e));
  const b = registry.get('pods', 'default', 'b')!;
  await registry.update('pods', { ...b, metadata: { ...b.metadata, labels: { app: 'web' } } }); // b enters
  const a = registry.get('pods', 'default', 'a')!;
  await registry.update('pods', { ...a, metadata: { ...a.metadata, labels: { app: 'other' } } }); // a leaves
  await registry.create('pods', pod('c', {}, { labels: { app: 'db' } })); // never matches
  stop();
  assert.deepEqual(events.map((e) => `${e.type} ${e.object.metadata.name}`), ['ADDED b', 'DELETED a']);
});

test('unknown resources are NotFound', async () => {
  const { registry } = await setup();
  assert.throws(() => registry.list('widgets'), (e: unknown) => e instanceof ApiError && e.code === 404);
});

test('a missing object of a grouped type is named once with its group, as Kubernetes names it', async () => {
  const { registry } = await setup();
  const err = await rejects(registry.delete('deployments.apps', 'default', 'nope'), 404, 'NotFound', /^deployments\.apps "nope" not found$/);
  assert.deepEqual(err.details, { name: 'nope', group: 'apps', kind: 'deployments' });
  await rejects(registry.update('deployments.apps', { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'nope', namespace: 'default' } }), 404, 'NotFound', /^deployments\.apps "nope" not found$/);
});
