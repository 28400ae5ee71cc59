import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryStore } from '../../../src/agent/store/memory-store.ts';
import { createRegistry, FOREGROUND_FINALIZER, ORPHAN_FINALIZER, type Registry } from '../../../src/agent/api/registry.ts';
import type { KubeObject, OwnerReference, Pod } from '../../../src/agent/api/object-types.ts';
import { silentLogger } from '../../../src/agent/logger.ts';
import { createControllerManager, type ControllerManager } from '../../../src/agent/controllers/controller.ts';
import { createGarbageCollector, gcKey } from '../../../src/agent/controllers/garbage-collector.ts';
import { waitFor } from '../../support/wait-for.ts';

const T0 = Date.parse('2026-03-01T10:00:00Z');
const GRACE = 5000;

interface Env {
  registry: Registry;
  clock: { now: number };
  mgr: ControllerManager;
  gc: ReturnType<typeof createGarbageCollector>;
}

const managers: ControllerManager[] = [];
afterEach(async () => {
  for (const m of managers.splice(0)) await m.stop();
});

async function setup(): Promise<Env> {
  const clock = { now: T0 };
  const store = createMemoryStore();
  await store.start();
  const registry = createRegistry({ store, logger: silentLogger(), clock: () => new Date(clock.now) });
  await registry.ensureDefaultNamespaces();
  const gc = createGarbageCollector({ client: registry, logger: silentLogger(), clock: () => new Date(clock.now), orphanGraceMs: GRACE });
  const mgr = createControllerManager({ client: registry, logger: silentLogger(), controllers: [gc], baseDelayMs: 10 });
  managers.push(mgr);
  return { registry, clock, mgr, gc };
}

function replicaSet(name: string): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name, namespace: 'default' },
    spec: {
      replicas: 0,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } },
    },
  };
}

function refTo(owner: KubeObject, extra: Partial<OwnerReference> = {}): OwnerReference {
  return { apiVersion: owner.apiVersion, kind: owner.kind, name: owner.metadata.name!, uid: owner.metadata.uid!, controller: true, blockOwnerDeletion: true, ...extra };
}

async function podOf(env: Env, name: string, owners: OwnerReference[]): Promise<Pod> {
  return env.registry.create<Pod>('pods', {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', ownerReferences: owners },
    spec: { containers: [{ name: 'c', image: 'busybox' }] },
  });
}

const pod = (env: Env, name: string) => env.registry.get<Pod>('pods', 'default', name);
const rs = (env: Env, name: string) => env.registry.get('replicasets.apps', 'default', name);

/** Lets the created objects age past the grace: their owners are then judged at once. */
function age(env: Env): void {
  env.clock.now += GRACE + 1000;
}

describe('garbage collector', () => {
  it('background: dependents of a deleted owner are deleted', async () => {
    const env = await setup();
    const owner = await env.registry.create('replicasets.apps', replicaSet('web'));
    await podOf(env, 'web-1', [refTo(owner)]);
    await podOf(env, 'web-2', [refTo(owner)]);
    await podOf(env, 'unrelated', []);
    age(env);
    await env.mgr.start();
    await env.mgr.idle();
    assert.ok(pod(env, 'web-1'), 'a live owner keeps its dependents');

    // No policy: Background, as kubectl sends: the owner goes at once.
    const res = await env.registry.deleteDetailed('replicasets.apps', 'default', 'web');
    assert.equal(res.removed, true);
    await env.mgr.idle();
    assert.equal(pod(env, 'web-1'), undefined);
    assert.equal(pod(env, 'web-2'), undefined);
    assert.ok(pod(env, 'unrelated'), 'objects without owners are never collected');
  });

  it('background: a dependent with another live owner loses only the dangling reference', async () => {
    const env = await setup();
    const a = await env.registry.create('replicasets.apps', replicaSet('a'));
    const b = await env.registry.create('replicasets.apps', replicaSet('b'));
    await podOf(env, 'shared', [refTo(a), refTo(b, { controller: false })]);
    age(env);
    await env.mgr.start();
    await env.registry.delete('replicasets.apps', 'default', 'a');
    await env.mgr.idle();
    const p = pod(env, 'shared');
    assert.ok(p, 'still held by b');
    assert.deepEqual(p.metadata.ownerReferences?.map((r) => r.uid), [b.metadata.uid]);
  });

  it('an absent owner counts as gone only once the dependent is older than the grace', async () => {
    const env = await setup();
    const ghost = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'not-here-yet', uid: 'uid-not-replicated-yet', controller: true };
    await podOf(env, 'early', [ghost]);
    env.clock.now += 2000;
    const first = await env.gc.reconcile(gcKey('pods', pod(env, 'early')!));
    assert.ok(pod(env, 'early'), 'young dependent kept: its owner may not have replicated yet');
    assert.equal(first && first.requeueAfterMs, GRACE - 2000, 'looked at again when the grace ends');

    env.clock.now += GRACE;
    await env.gc.reconcile(gcKey('pods', pod(env, 'early')!));
    assert.equal(pod(env, 'early'), undefined, 'still no owner after the grace: collected');
  });

  it('an owner replaced by a new object of the same name (other uid) counts as gone', async () => {
    const env = await setup();
    const old = await env.registry.create('replicasets.apps', replicaSet('same'));
    await podOf(env, 'stale', [refTo(old)]);
    age(env);
    // Replaced while the collector was not running: no DELETED event seen.
    await env.registry.delete('replicasets.apps', 'default', 'same');
    const replacement = await env.registry.create('replicasets.apps', replicaSet('same'));
    assert.notEqual(replacement.metadata.uid, old.metadata.uid);
    await env.mgr.start();
    await env.mgr.idle();
    assert.equal(pod(env, 'stale'), undefined);
    assert.ok(rs(env, 'same'), 'the new owner is untouched');
  });

  it('never collects on an owner of a kind it cannot resolve', async () => {
    const env = await setup();
    await podOf(env, 'custom', [{ apiVersion: 'example.com/v1', kind: 'Widget', name: 'w', uid: 'w-uid', controller: true }]);
    age(env);
    await env.mgr.start();
    await env.mgr.idle();
    assert.ok(pod(env, 'custom'));
  });

  it('foreground: the owner waits for blocking dependents, then goes', async () => {
    const env = await setup();
    const owner = await env.registry.create('replicasets.apps', replicaSet('fg'));
    await podOf(env, 'fg-unbound', [refTo(owner)]);
    await podOf(env, 'fg-bound', [refTo(owner)]);
    await env.registry.bind('default', 'fg-bound', 'node-1');
    await podOf(env, 'fg-nonblocking', [refTo(owner, { blockOwnerDeletion: false })]);
    await env.registry.bind('default', 'fg-nonblocking', 'node-1');
    age(env);
    await env.mgr.start();

    const res = await env.registry.deleteDetailed('replicasets.apps', 'default', 'fg', { propagationPolicy: 'Foreground' });
    assert.equal(res.removed, false, 'the registry only marks a foreground deletion');
    assert.ok(res.object.metadata.deletionTimestamp);
    assert.deepEqual(res.object.metadata.finalizers, [FOREGROUND_FINALIZER]);
    await env.mgr.idle();

    assert.equal(pod(env, 'fg-unbound'), undefined, 'an unbound dependent goes at once');
    assert.ok(pod(env, 'fg-bound')?.metadata.deletionTimestamp, 'a bound dependent is deleted gracefully');
    assert.ok(pod(env, 'fg-nonblocking')?.metadata.deletionTimestamp, 'non-blocking dependents are deleted too');
    assert.ok(rs(env, 'fg'), 'the owner waits for its blocking dependent');

    // The kubelet finishes the non-blocking pod: the owner still waits.
    await env.registry.delete('pods', 'default', 'fg-nonblocking', { gracePeriodSeconds: 0 });
    await env.mgr.idle();
    assert.ok(rs(env, 'fg'));

    // The kubelet finishes the blocking one: now the owner goes.
    await env.registry.delete('pods', 'default', 'fg-bound', { gracePeriodSeconds: 0 });
    await env.mgr.idle();
    assert.equal(pod(env, 'fg-bound'), undefined);
    assert.equal(rs(env, 'fg'), undefined);
  });

  it('foreground: an owner with no dependents goes as soon as the collector sees it', async () => {
    const env = await setup();
    await env.registry.create('replicasets.apps', replicaSet('lonely'));
    await env.mgr.start();
    await env.registry.delete('replicasets.apps', 'default', 'lonely', { propagationPolicy: 'Foreground' });
    await env.mgr.idle();
    assert.equal(rs(env, 'lonely'), undefined);
  });

  it('foreground: a dependent that has dependents of its own is deleted in the foreground too', async () => {
    const env = await setup();
    const deploy = await env.registry.create('deployments.apps', {
      ...replicaSet('chain'),
      apiVersion: 'apps/v1',
      kind: 'Deployment',
    });
    const mid = await env.registry.create('replicasets.apps', { ...replicaSet('chain-1'), metadata: { name: 'chain-1', namespace: 'default', ownerReferences: [refTo(deploy)] } });
    await podOf(env, 'chain-pod', [refTo(mid)]);
    await env.registry.bind('default', 'chain-pod', 'node-1');
    age(env);
    await env.mgr.start();
    await env.registry.delete('deployments.apps', 'default', 'chain', { propagationPolicy: 'Foreground' });
    await env.mgr.idle();
    assert.deepEqual(rs(env, 'chain-1')?.metadata.finalizers, [FOREGROUND_FINALIZER], 'the middle of the chain waits in the foreground');
    assert.ok(env.registry.get('deployments.apps', 'default', 'chain'), 'the top waits for the middle');
    assert.ok(pod(env, 'chain-pod')?.metadata.deletionTimestamp);

    await env.registry.delete('pods', 'default', 'chain-pod', { gracePeriodSeconds: 0 });
    await env.mgr.idle();
    assert.equal(rs(env, 'chain-1'), undefined);
    assert.equal(env.registry.get('deployments.apps', 'default', 'chain'), undefined);
  });

  it('foreground: a bound pod held by the finalizer leaves once its kubelet is done and the finalizer goes', async () => {
    const env = await setup();
    await podOf(env, 'held', []);
    await env.registry.bind('default', 'held', 'node-1');
    await env.mgr.start();
    const marked = await env.registry.deleteDetailed('pods', 'default', 'held', { propagationPolicy: 'Foreground' });
    assert.equal(marked.removed, false);
    await env.mgr.idle();
    // The collector removed its finalizer, but the kubelet has not stopped the containers yet.
    assert.deepEqual(pod(env, 'held')?.metadata.finalizers ?? [], []);
    assert.ok(pod(env, 'held'));
    await env.registry.delete('pods', 'default', 'held', { gracePeriodSeconds: 0 });
    assert.equal(pod(env, 'held'), undefined);
  });

  it('foreground: a bound pod whose kubelet finished first leaves when the finalizer goes', async () => {
    const env = await setup();
    await podOf(env, 'early-kubelet', []);
    await env.registry.bind('default', 'early-kubelet', 'node-1');
    await env.registry.delete('pods', 'default', 'early-kubelet', { propagationPolicy: 'Foreground' });
    // The kubelet stopped the containers and deletes with grace 0; the finalizer still holds the pod.
    await env.registry.delete('pods', 'default', 'early-kubelet', { gracePeriodSeconds: 0 });
    const held = pod(env, 'early-kubelet');
    assert.equal(held?.metadata.deletionGracePeriodSeconds, 0);
    assert.deepEqual(held?.metadata.finalizers, [FOREGROUND_FINALIZER]);
    await env.mgr.start();
    await env.mgr.idle();
    assert.equal(pod(env, 'early-kubelet'), undefined);
  });

  it('orphan: dependents lose their reference, then the owner goes', async () => {
    const env = await setup();
    const owner = await env.registry.create('replicasets.apps', replicaSet('orph'));
    const other = await env.registry.create('replicasets.apps', replicaSet('other'));
    await podOf(env, 'orph-1', [refTo(owner)]);
    await podOf(env, 'orph-2', [refTo(owner, { controller: false }), refTo(other)]);
    age(env);
    await env.mgr.start();

    const res = await env.registry.deleteDetailed('replicasets.apps', 'default', 'orph', { propagationPolicy: 'Orphan' });
    assert.equal(res.removed, false);
    assert.deepEqual(res.object.metadata.finalizers, [ORPHAN_FINALIZER]);
    await env.mgr.idle();

    assert.equal(rs(env, 'orph'), undefined, 'the owner is gone');
    assert.equal(pod(env, 'orph-1')?.metadata.ownerReferences, undefined, 'orphaned, not deleted');
    assert.deepEqual(pod(env, 'orph-2')?.metadata.ownerReferences?.map((r) => r.uid), [other.metadata.uid], 'other owners stay');
  });

  it('a second delete may switch the propagation policy of an object still being deleted', async () => {
    const env = await setup();
    const owner = await env.registry.create('replicasets.apps', { ...replicaSet('switch'), metadata: { name: 'switch', namespace: 'default', finalizers: ['example.com/hold'] } });
    await podOf(env, 'switch-1', [refTo(owner)]);
    age(env);
    const first = await env.registry.deleteDetailed('replicasets.apps', 'default', 'switch', { propagationPolicy: 'Orphan' });
    assert.deepEqual(first.object.metadata.finalizers, ['example.com/hold', ORPHAN_FINALIZER]);
    const second = await env.registry.deleteDetailed('replicasets.apps', 'default', 'switch', { propagationPolicy: 'Foreground' });
    assert.deepEqual(second.object.metadata.finalizers, ['example.com/hold', FOREGROUND_FINALIZER]);
    assert.equal(second.object.metadata.deletionTimestamp, first.object.metadata.deletionTimestamp);
    await env.mgr.start();
    await env.mgr.idle();
    assert.equal(pod(env, 'switch-1'), undefined, 'foreground deleted the dependent');
    assert.deepEqual(rs(env, 'switch')?.metadata.finalizers, ['example.com/hold'], 'only the foreign finalizer is left');
  });

  it('picks up work left while it was not leading', async () => {
    const env = await setup();
    const owner = await env.registry.create('replicasets.apps', replicaSet('later'));
    await podOf(env, 'later-1', [refTo(owner)]);
    age(env);
    await env.registry.delete('replicasets.apps', 'default', 'later');
    assert.ok(pod(env, 'later-1'), 'nothing collects while no collector runs');
    await env.mgr.start();
    await waitFor(() => pod(env, 'later-1') === undefined, 'collected after start');
  });
});
