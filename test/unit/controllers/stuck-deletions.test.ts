import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject, Pod } from '../../../src/agent/api/object-types.ts';
import { silentLogger } from '../../../src/agent/logger.ts';
import { createControllerManager, type ControllerManager } from '../../../src/agent/controllers/controller.ts';
import { createGarbageCollector, gcKey } from '../../../src/agent/controllers/garbage-collector.ts';
import { decideStuckDeletion, isPendingDeletion, type StuckDeletionOptions } from '../../../src/agent/controllers/stuck-deletions.ts';
import { createFakeObjectClient, type FakeObjectClient } from '../../support/fake-object-client.ts';
import { createFakeClock, type FakeClock } from '../../support/fake-clock.ts';

const GRACE = 5000;
const MARGIN = 10_000;
const OPTS: StuckDeletionOptions = { graceMs: GRACE, kubeletMarginMs: MARGIN };
const LONG_AGO = '2020-01-01T00:00:00Z';

function configMap(name: string, meta: KubeObject['metadata'] = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default', uid: `uid-${name}`, ...meta } };
}

function pod(name: string, nodeName: string | undefined, meta: KubeObject['metadata'] = {}, grace = 30): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', uid: `uid-${name}`, ...meta },
    spec: { containers: [{ name: 'c', image: 'busybox' }], terminationGracePeriodSeconds: grace, ...(nodeName ? { nodeName } : {}) },
  };
}

function node(name: string, ready: 'True' | 'False' | 'Unknown' = 'True'): KubeObject {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name, uid: `uid-node-${name}` }, status: { conditions: [{ type: 'Ready', status: ready }] } };
}

const deleting = (extra: KubeObject['metadata'] = {}): KubeObject['metadata'] => ({ deletionTimestamp: LONG_AGO, ...extra });

describe('decideStuckDeletion (pure)', () => {
  const now = 1_000_000;
  it('leaves objects that are not deleting, or that a finalizer still holds', () => {
    assert.deepEqual(decideStuckDeletion({ obj: configMap('a'), since: 0, now }, OPTS), { action: 'none' });
    const held = configMap('b', deleting({ finalizers: ['example.com/hold'] }));
    assert.equal(isPendingDeletion(held), false);
    assert.deepEqual(decideStuckDeletion({ obj: held, since: 0, now }, OPTS), { action: 'none' });
  });

  it('deletes an object left deleting with no finalizers once the grace has passed since it was first seen', () => {
    const obj = configMap('a', deleting());
    assert.deepEqual(decideStuckDeletion({ obj, since: now - GRACE + 1500, now }, OPTS), { action: 'wait', afterMs: 1500 });
    const d = decideStuckDeletion({ obj, since: now - GRACE, now }, OPTS);
    assert.equal(d.action, 'delete');
    assert.equal(d.action === 'delete' && d.force, false);
  });

  it('leaves a pod on a Ready node to its kubelet for its grace period and the margin, then forces it', () => {
    const obj = pod('p', 'n1', deleting({ deletionGracePeriodSeconds: 20 }));
    const limit = 20_000 + MARGIN;
    assert.deepEqual(decideStuckDeletion({ obj, since: now - limit + 1, now, node: { state: 'ready' } }, OPTS), { action: 'wait', afterMs: 1 });
    const d = decideStuckDeletion({ obj, since: now - limit, now, node: { state: 'ready' } }, OPTS);
    assert.equal(d.action === 'delete' && d.force, true);
    // A grace period of 0 still waits at least the replication grace.
    const zero = pod('z', 'n1', deleting({ deletionGracePeriodSeconds: 0 }));
    assert.deepEqual(decideStuckDeletion({ obj: zero, since: now - 1000, now, node: { state: 'ready' } }, OPTS), { action: 'wait', afterMs: MARGIN - 1000 });
  });

  it('forces a pod of a gone or not-ready node once both have lasted the grace', () => {
    const obj = pod('p', 'n1', deleting({ deletionGracePeriodSeconds: 30 }));
    for (const state of ['missing', 'notReady'] as const) {
      const nodeJustDown = decideStuckDeletion({ obj, since: now - 60_000, now, node: { state, since: now - 2000 } }, OPTS);
      assert.deepEqual(nodeJustDown, { action: 'wait', afterMs: GRACE - 2000 }, state);
      const podJustSeen = decideStuckDeletion({ obj, since: now - 1000, now, node: { state, since: now - 60_000 } }, OPTS);
      assert.deepEqual(podJustSeen, { action: 'wait', afterMs: GRACE - 1000 }, state);
      const d = decideStuckDeletion({ obj, since: now - GRACE, now, node: { state, since: now - GRACE } }, OPTS);
      assert.equal(d.action === 'delete' && d.force, true, state);
    }
  });

  it('waits for a Namespace until it is empty, and the grace then starts again', () => {
    const ns: KubeObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team', uid: 'u', ...deleting() } };
    assert.deepEqual(decideStuckDeletion({ obj: ns, since: 0, now, namespaceEmpty: false }, OPTS), { action: 'wait', afterMs: GRACE, restart: true });
    assert.equal(decideStuckDeletion({ obj: ns, since: now - GRACE, now, namespaceEmpty: true }, OPTS).action, 'delete');
  });
});

describe('garbage collector: deletions left pending', () => {
  interface Env {
    client: FakeObjectClient;
    clock: FakeClock;
    gc: ReturnType<typeof createGarbageCollector>;
    mgr: ControllerManager;
  }
  const managers: ControllerManager[] = [];
  afterEach(async () => {
    for (const m of managers.splice(0)) await m.stop();
  });

  async function setup(): Promise<Env> {
    const client = createFakeObjectClient();
    const clock = createFakeClock(Date.parse('2026-05-01T12:00:00Z'));
    const gc = createGarbageCollector({
      client,
      logger: silentLogger(),
      clock: () => new Date(clock.now()),
      orphanGraceMs: GRACE,
      kubeletMarginMs: MARGIN,
      resources: ['configmaps', 'pods', 'nodes', 'namespaces'],
    });
    const mgr = createControllerManager({ client, logger: silentLogger(), controllers: [gc], baseDelayMs: 5 });
    managers.push(mgr);
    await mgr.start();
    return { client, clock, gc, mgr };
  }

  /** Time passes, then the collector looks at everything again (its requeue timers are real ones). */
  async function after(env: Env, ms: number): Promise<void> {
    await env.clock.advance(ms);
    env.mgr.resync();
    await env.mgr.idle();
  }

  const deletes = (env: Env) => env.client.writes.filter((w) => w.op === 'delete');

  /** A delete on one agent (finalizer still there) merged with the finalizer's removal on another. */
  async function mergeIntoPending(env: Env, resource: string, obj: KubeObject): Promise<void> {
    const created = await env.client.create(resource, { ...obj, metadata: { ...obj.metadata, finalizers: ['example.com/hold'] } });
    const marked = await env.client.update(resource, { ...created, metadata: { ...created.metadata, deletionTimestamp: LONG_AGO } });
    await env.client.update(resource, { ...marked, metadata: { ...marked.metadata, finalizers: [] } });
  }

  it('removes a merged deletion after the grace (counted from when it was first seen), not before', async () => {
    const env = await setup();
    await mergeIntoPending(env, 'configmaps', configMap('merged'));
    await env.mgr.idle();
    await after(env, GRACE - 1);
    assert.ok(env.client.get('configmaps', 'default', 'merged'), 'an old deletionTimestamp does not shorten the grace');
    assert.deepEqual(deletes(env), []);
    const early = await env.gc.reconcile(gcKey('configmaps', env.client.get('configmaps', 'default', 'merged')!));
    assert.deepEqual(early, { requeueAfterMs: 1 });

    await after(env, 1);
    assert.equal(env.client.get('configmaps', 'default', 'merged'), undefined);
    assert.deepEqual(deletes(env).map((w) => [w.name, w.opts]), [['merged', { preconditions: { uid: 'uid-merged' } }]]);
  });

  it('leaves an object a finalizer still holds', async () => {
    const env = await setup();
    await env.client.create('configmaps', configMap('held', deleting({ finalizers: ['example.com/hold'] })));
    await after(env, GRACE * 10);
    assert.deepEqual(deletes(env), []);
    assert.ok(env.client.get('configmaps', 'default', 'held'));
  });

  it('a recreated object of the same name starts its own grace', async () => {
    const env = await setup();
    await env.client.create('configmaps', configMap('again', deleting()));
    await env.clock.advance(GRACE - 1000);
    // Gone and made again elsewhere, and deleting again: a new uid.
    await env.client.delete('configmaps', 'default', 'again');
    await env.client.create('configmaps', configMap('again', deleting({ uid: 'uid-again-2' })));
    env.client.writes.length = 0;
    await after(env, 1000);
    assert.deepEqual(deletes(env), [], 'the new object has been seen for 1 s only');
    await after(env, GRACE - 1000);
    assert.deepEqual(deletes(env).map((w) => w.opts?.preconditions?.uid), ['uid-again-2']);
    assert.equal(env.client.get('configmaps', 'default', 'again'), undefined);
  });

  it('leaves a bound pod on a live node to its kubelet until its grace period and the margin have passed', async () => {
    const env = await setup();
    await env.client.create('nodes', node('n1'));
    await mergeIntoPending(env, 'pods', pod('web', 'n1', { deletionGracePeriodSeconds: 20 }));
    await env.mgr.idle();
    await after(env, GRACE);
    await after(env, 20_000 + MARGIN - GRACE - 1);
    assert.deepEqual(deletes(env), [], 'its kubelet may still be stopping it');
    assert.ok(env.client.get('pods', 'default', 'web'));

    await after(env, 1);
    assert.deepEqual(deletes(env).map((w) => [w.name, w.opts]), [['web', { preconditions: { uid: 'uid-web' }, gracePeriodSeconds: 0 }]]);
    assert.equal(env.client.get('pods', 'default', 'web'), undefined);
  });

  it('force-deletes a pod of a deleted node after the grace, and looks again when its node goes', async () => {
    const env = await setup();
    await env.client.create('nodes', node('n1'));
    await mergeIntoPending(env, 'pods', pod('web', 'n1', { deletionGracePeriodSeconds: 30 }));
    await after(env, 1000);
    const podKey = gcKey('pods', env.client.get('pods', 'default', 'web')!);
    const nodeWatch = env.gc.watches.find((w) => w.resource === 'nodes')!;
    // The change as the collector's watch gets it (here before the store's own event, which then changes nothing).
    const gone = { type: 'DELETED' as const, resource: 'nodes', object: env.client.get('nodes', '', 'n1')! };
    assert.ok([...nodeWatch.toKeys(gone)].includes(podKey), 'the node going brings its pending pods back');
    await env.client.delete('nodes', '', 'n1');

    await after(env, GRACE - 1);
    assert.deepEqual(deletes(env).map((w) => w.resource), ['nodes'], 'the node has been gone for less than the grace');
    await after(env, 1);
    const podDeletes = deletes(env).filter((w) => w.resource === 'pods');
    assert.deepEqual(podDeletes.map((w) => [w.name, w.opts]), [['web', { preconditions: { uid: 'uid-web' }, gracePeriodSeconds: 0 }]]);
    assert.equal(env.client.get('pods', 'default', 'web'), undefined);
  });

  it('force-deletes a pod of a node that is not ready past the grace, which a live node would have waited for', async () => {
    const env = await setup();
    await env.client.create('nodes', node('n1'));
    await mergeIntoPending(env, 'pods', pod('web', 'n1', { deletionGracePeriodSeconds: 30 }));
    await after(env, GRACE);
    assert.deepEqual(deletes(env), []);
    await env.client.updateStatus('nodes', { ...env.client.get('nodes', '', 'n1')!, status: { conditions: [{ type: 'Ready', status: 'Unknown' }] } });
    await after(env, GRACE - 1);
    assert.deepEqual(deletes(env), []);
    await after(env, 1);
    assert.deepEqual(deletes(env).map((w) => [w.name, w.opts?.gracePeriodSeconds]), [['web', 0]]);
  });

  it('an unbound pod left pending goes after the grace without forcing', async () => {
    const env = await setup();
    await mergeIntoPending(env, 'pods', pod('loose', undefined));
    await after(env, GRACE);
    assert.deepEqual(deletes(env).map((w) => [w.name, w.opts]), [['loose', { preconditions: { uid: 'uid-loose' } }]]);
  });

  it('waits for a deleting Namespace to be empty, then for the grace', async () => {
    const env = await setup();
    await mergeIntoPending(env, 'namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team', uid: 'uid-team' } });
    await env.client.create('configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'left', namespace: 'team', uid: 'uid-left' } });
    await after(env, GRACE * 3);
    assert.deepEqual(deletes(env), []);
    await env.client.delete('configmaps', 'team', 'left');
    await after(env, GRACE);
    assert.deepEqual(deletes(env).map((w) => w.resource), ['configmaps'], 'the grace starts once it is seen empty');
    await after(env, GRACE);
    assert.deepEqual(deletes(env).map((w) => [w.resource, w.name]), [['configmaps', 'left'], ['namespaces', 'team']]);
    assert.equal(env.client.get('namespaces', '', 'team'), undefined);
  });
});
