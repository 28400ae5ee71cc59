import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryStore } from '../../../src/agent/store/memory-store.ts';
import { createRegistry, type Registry } from '../../../src/agent/api/registry.ts';
import type { ObjectClient } from '../../../src/agent/api/object-client.ts';
import type { KubeObject, Pod, PodCondition } from '../../../src/agent/api/object-types.ts';
import { Forbidden } from '../../../src/agent/api/errors.ts';
import type { StoreEvent } from '../../../src/agent/store/object-store.ts';
import { silentLogger } from '../../../src/agent/logger.ts';
import { createControllerManager, type Controller, type ControllerManager } from '../../../src/agent/controllers/controller.ts';
import {
  createReplicaSetController,
  rankPodsForDeletion,
  type ReplicaSet,
} from '../../../src/agent/controllers/replicaset-controller.ts';
import { slowStartBatch } from '../../../src/agent/controllers/slow-start-batch.ts';

const T0 = Date.parse('2026-04-01T08:00:00Z');
const RS = 'replicasets.apps';

interface Env {
  registry: Registry;
  clock: { now: number };
  mgr: ControllerManager;
  rsc: Controller;
}

const managers: ControllerManager[] = [];
afterEach(async () => {
  for (const m of managers.splice(0)) await m.stop();
});

async function setup(opts: { client?: (r: Registry) => ObjectClient; burstReplicas?: number } = {}): Promise<Env> {
  const clock = { now: T0 };
  const store = createMemoryStore();
  await store.start();
  const registry = createRegistry({ store, logger: silentLogger(), clock: () => new Date(clock.now) });
  await registry.ensureDefaultNamespaces();
  const client = opts.client ? opts.client(registry) : registry;
  const rsc = createReplicaSetController({ client, logger: silentLogger(), clock: () => new Date(clock.now), burstReplicas: opts.burstReplicas });
  const mgr = createControllerManager({ client, logger: silentLogger(), controllers: [rsc], baseDelayMs: 5, maxDelayMs: 50 });
  managers.push(mgr);
  return { registry, clock, mgr, rsc };
}

function replicaSet(name: string, replicas: number, extra: Partial<ReplicaSet['spec']> = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name, namespace: 'default' },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name, tier: 'web' } }, spec: { containers: [{ name: 'c', image: 'busybox:1' }] } },
      ...extra,
    },
  };
}

function podsOf(env: Env, app: string): Pod[] {
  return env.registry.list<Pod>('pods', { labelSelector: `app=${app}` }).items;
}
const active = (pods: Pod[]) => pods.filter((p) => !p.metadata.deletionTimestamp);
const getRs = (env: Env, name: string) => env.registry.get<ReplicaSet>(RS, 'default', name)!;

async function scale(env: Env, name: string, replicas: number): Promise<void> {
  const cur = getRs(env, name);
  await env.registry.update(RS, { ...cur, spec: { ...cur.spec, replicas } });
}

async function setPodState(env: Env, pod: Pod, s: { phase?: string; ready?: boolean; readySince?: number; restarts?: number }): Promise<void> {
  const conditions: PodCondition[] = [];
  if (s.ready !== undefined) {
    conditions.push({ type: 'Ready', status: s.ready ? 'True' : 'False', lastTransitionTime: new Date(s.readySince ?? env.clock.now).toISOString().replace(/\.\d+Z$/, 'Z') });
  }
  const cur = env.registry.get<Pod>('pods', 'default', pod.metadata.name!)!;
  await env.registry.updateStatus<Pod>('pods', {
    ...cur,
    status: {
      ...cur.status,
      phase: (s.phase ?? 'Running') as 'Running',
      conditions,
      containerStatuses: [{ name: 'c', ready: !!s.ready, restartCount: s.restarts ?? 0, image: 'busybox:1', imageID: '', state: { running: {} }, lastState: {} }],
    },
  });
}

function events(env: Env, reason: string): KubeObject[] {
  return env.registry.list('events').items.filter((e) => e.reason === reason);
}

describe('replicaset controller', () => {
  it('scales up from the template with owned, generateName pods, and reports status', async () => {
    const env = await setup();
    await env.mgr.start();
    const rs = await env.registry.create(RS, replicaSet('web', 3));
    await env.mgr.idle();
    const pods = podsOf(env, 'web');
    assert.equal(pods.length, 3);
    for (const p of pods) {
      assert.match(p.metadata.name!, /^web-[a-z0-9]{5}$/);
      assert.deepEqual(p.metadata.ownerReferences, [
        { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: rs.metadata.uid, controller: true, blockOwnerDeletion: true },
      ]);
      assert.deepEqual(p.metadata.labels, { app: 'web', tier: 'web' });
      assert.equal(p.spec.containers[0]!.imagePullPolicy, 'IfNotPresent', 'the registry defaulted the pod');
    }
    assert.equal(events(env, 'SuccessfulCreate').length, 3);
    const st = getRs(env, 'web').status!;
    assert.deepEqual(
      { replicas: st.replicas, fully: st.fullyLabeledReplicas, ready: st.readyReplicas, available: st.availableReplicas, gen: st.observedGeneration },
      { replicas: 3, fully: 3, ready: 0, available: 0, gen: 1 },
    );
  });

  it('does not create again on repeated reconciles', async () => {
    const env = await setup();
    await env.mgr.start();
    await env.registry.create(RS, replicaSet('idem', 2));
    await env.mgr.idle();
    for (let i = 0; i < 3; i++) await env.rsc.reconcile('default/idem');
    env.mgr.resync();
    await env.mgr.idle();
    assert.equal(podsOf(env, 'idem').length, 2);
  });

  it('waits to see its own creates before acting again (expectations)', async () => {
    // A client whose view of pods lags: the list shows a frozen snapshot and pod events are held back.
    let frozen: Pod[] | undefined;
    const held: (() => void)[] = [];
    const env = await setup({
      client: (r) => ({
        ...r,
        list: ((resource: string, o?: { namespace?: string }) =>
          resource === 'pods' && frozen ? { items: structuredClone(frozen), resourceVersion: '0' } : r.list(resource, o)) as ObjectClient['list'],
        watch: (resource, req, h) =>
          r.watch(resource, req, (e: StoreEvent) => (resource === 'pods' && frozen ? held.push(() => h(e)) : h(e))),
      }),
    });
    await env.mgr.start();
    frozen = [];
    await env.registry.create(RS, replicaSet('lag', 3));
    await env.mgr.idle();
    assert.equal(podsOf(env, 'lag').length, 3);
    // The stale view still shows no pods; without expectations this would create 3 more.
    await env.rsc.reconcile('default/lag');
    await env.rsc.reconcile('default/lag');
    assert.equal(podsOf(env, 'lag').length, 3, 'no double create while its writes are unseen');

    frozen = undefined;
    for (const f of held.splice(0)) f();
    await env.mgr.idle();
    await env.rsc.reconcile('default/lag');
    assert.equal(podsOf(env, 'lag').length, 3);
    assert.equal(getRs(env, 'lag').status?.replicas, 3);
  });

  it('creates at most burstReplicas per pass and finishes in later passes', async () => {
    const env = await setup({ burstReplicas: 2 });
    const creates: number[] = [];
    let thisPass = 0;
    const wrapped = env.rsc.reconcile;
    const counting = { ...env.rsc, reconcile: async (k: string) => {
      thisPass = 0;
      const r = await wrapped(k);
      creates.push(thisPass);
      return r;
    } };
    const off = env.registry.watch('pods', {}, (e) => {
      if (e.type === 'ADDED') thisPass++;
    });
    const mgr = createControllerManager({ client: env.registry, logger: silentLogger(), controllers: [counting] });
    managers.push(mgr);
    await mgr.start();
    await env.registry.create(RS, replicaSet('burst', 5));
    await mgr.idle();
    off();
    assert.equal(podsOf(env, 'burst').length, 5);
    assert.ok(Math.max(...creates) <= 2, `passes created ${creates}`);
  });

  it('scales down in Kubernetes order: unscheduled, then pending, then not ready, then ready', async () => {
    const env = await setup();
    await env.mgr.start();
    await env.registry.create(RS, replicaSet('down', 4));
    await env.mgr.idle();
    const [a, b, c, d] = podsOf(env, 'down').sort((x, y) => x.metadata.name!.localeCompare(y.metadata.name!));
    // a stays unscheduled; b scheduled but Pending; c running, not ready; d running and ready.
    for (const p of [b!, c!, d!]) await env.registry.bind('default', p.metadata.name!, 'node-1');
    await setPodState(env, b!, { phase: 'Pending' });
    await setPodState(env, c!, { phase: 'Running', ready: false });
    await setPodState(env, d!, { phase: 'Running', ready: true });
    await env.mgr.idle();

    const order: string[] = [];
    for (const n of [3, 2, 1]) {
      await scale(env, 'down', n);
      await env.mgr.idle();
      const gone = [a!, b!, c!, d!].map((p) => p.metadata.name!).filter((name) => !active(podsOf(env, 'down')).some((p) => p.metadata.name === name) && !order.includes(name));
      assert.equal(gone.length, 1, `one pod per step, got ${gone}`);
      order.push(gone[0]!);
    }
    assert.deepEqual(order, [a!, b!, c!].map((p) => p.metadata.name));
    assert.deepEqual(active(podsOf(env, 'down')).map((p) => p.metadata.name), [d!.metadata.name]);
    assert.ok(podsOf(env, 'down').find((p) => p.metadata.name === c!.metadata.name)?.metadata.deletionTimestamp, 'bound pods are deleted gracefully');
    assert.equal(events(env, 'SuccessfulDelete').length, 3);
    assert.equal(getRs(env, 'down').status?.replicas, 1, 'pods being deleted do not count');
  });

  it('ranks more restarts, then newer pods, first among equals; honours pod-deletion-cost', () => {
    const mk = (name: string, created: string, restarts: number, extra: Partial<Pod['metadata']> = {}): Pod => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, creationTimestamp: created, ...extra },
      spec: { nodeName: `node-${name}`, containers: [] },
      status: {
        phase: 'Running',
        conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2026-01-01T00:00:00Z' }],
        containerStatuses: [{ name: 'c', ready: true, restartCount: restarts, image: '', imageID: '', state: { running: {} }, lastState: {} }],
      },
    });
    const old0 = mk('old0', '2026-01-01T00:00:00Z', 0);
    const new0 = mk('new0', '2026-01-02T00:00:00Z', 0);
    const old5 = mk('old5', '2026-01-01T00:00:00Z', 5);
    const costly = mk('costly', '2026-01-03T00:00:00Z', 9, { annotations: { 'controller.kubernetes.io/pod-deletion-cost': '100' } });
    assert.deepEqual(rankPodsForDeletion([old0, costly, new0, old5]).map((p) => p.metadata.name), ['old5', 'new0', 'old0', 'costly']);
    // Two pods doubled up on one node go before a pod alone on its node.
    const s1 = { ...mk('s1', '2026-01-01T00:00:00Z', 0), spec: { nodeName: 'shared', containers: [] } };
    const s2 = { ...mk('s2', '2026-01-01T00:00:00Z', 0), spec: { nodeName: 'shared', containers: [] } };
    const alone = mk('alone', '2026-01-05T00:00:00Z', 0);
    assert.equal(rankPodsForDeletion([alone, s1, s2]).at(-1)?.metadata.name, 'alone');
  });

  it('adopts matching orphans, never steals pods with another controller', async () => {
    const env = await setup();
    const mkPod = (name: string, owners?: KubeObject['metadata']['ownerReferences']) =>
      env.registry.create<Pod>('pods', {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace: 'default', labels: { app: 'adopt' }, ownerReferences: owners },
        spec: { containers: [{ name: 'c', image: 'busybox:1' }] },
      });
    await mkPod('orphan');
    await mkPod('taken', [{ apiVersion: 'batch/v1', kind: 'Job', name: 'j', uid: 'job-uid', controller: true }]);
    await mkPod('mere-dependent', [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'cm', uid: 'cm-uid' }]);
    await env.mgr.start();
    const rs = await env.registry.create(RS, replicaSet('adopt', 3));
    await env.mgr.idle();

    const pods = podsOf(env, 'adopt');
    const byName = (n: string) => pods.find((p) => p.metadata.name === n)!;
    assert.equal(byName('orphan').metadata.ownerReferences?.[0]?.uid, rs.metadata.uid);
    assert.equal(byName('orphan').metadata.ownerReferences?.[0]?.controller, true);
    assert.deepEqual(byName('taken').metadata.ownerReferences?.map((r) => r.uid), ['job-uid'], 'not stolen');
    assert.deepEqual(byName('mere-dependent').metadata.ownerReferences?.map((r) => r.uid), ['cm-uid', rs.metadata.uid], 'a non-controller owner is kept');
    assert.equal(pods.filter((p) => p.metadata.ownerReferences?.some((r) => r.uid === rs.metadata.uid)).length, 3);
    assert.equal(pods.length, 4, 'one created: two adopted plus one new make three');
    assert.equal(getRs(env, 'adopt').status?.fullyLabeledReplicas, 1, 'adopted pods lack the tier label');
  });

  it('releases a pod that stops matching and replaces it', async () => {
    const env = await setup();
    await env.mgr.start();
    await env.registry.create(RS, replicaSet('rel', 2));
    await env.mgr.idle();
    const victim = podsOf(env, 'rel')[0]!;
    await env.registry.update('pods', { ...victim, metadata: { ...victim.metadata, labels: { app: 'debugging' } } });
    await env.mgr.idle();
    const released = env.registry.get<Pod>('pods', 'default', victim.metadata.name!)!;
    assert.equal(released.metadata.ownerReferences, undefined, 'released');
    assert.equal(podsOf(env, 'rel').length, 2, 'replaced');
    assert.ok(!podsOf(env, 'rel').some((p) => p.metadata.name === victim.metadata.name));
  });

  it('counts available replicas only after minReadySeconds, and asks to be requeued for it', async () => {
    const env = await setup();
    await env.mgr.start();
    await env.registry.create(RS, replicaSet('slow', 2, { minReadySeconds: 10 }));
    await env.mgr.idle();
    const [p1, p2] = podsOf(env, 'slow');
    await setPodState(env, p1!, { ready: true, readySince: env.clock.now });
    await setPodState(env, p2!, { ready: false });
    await env.mgr.idle();
    let st = getRs(env, 'slow').status!;
    assert.equal(st.readyReplicas, 1);
    assert.equal(st.availableReplicas, 0);

    env.clock.now += 4000;
    const r = await env.rsc.reconcile('default/slow');
    assert.equal(r && r.requeueAfterMs, 6000, 'looked at again when the pod becomes available');

    env.clock.now += 6000;
    await env.rsc.reconcile('default/slow');
    st = getRs(env, 'slow').status!;
    assert.equal(st.availableReplicas, 1);
    assert.equal(st.readyReplicas, 1);
    assert.equal(await env.rsc.reconcile('default/slow'), undefined, 'nothing left to wait for');
  });

  it('reports ReplicaFailure while creates fail, in slow-start batches, and clears it after', async () => {
    let failing = true;
    let attempts = 0;
    const env = await setup({
      client: (r) => ({
        ...r,
        create: (async (resource: string, obj: KubeObject) => {
          if (resource === 'pods') {
            attempts++;
            if (failing) throw new Forbidden('pods "x" is forbidden: exceeded quota');
          }
          return r.create(resource, obj);
        }) as ObjectClient['create'],
      }),
    });
    await env.registry.create(RS, replicaSet('fail', 5));
    await assert.rejects(env.rsc.reconcile('default/fail'), /exceeded quota/);
    assert.equal(attempts, 1, 'the first batch of one failed: nothing more was tried');
    const cond = getRs(env, 'fail').status?.conditions?.find((c) => c.type === 'ReplicaFailure');
    assert.equal(cond?.status, 'True');
    assert.equal(cond?.reason, 'FailedCreate');
    assert.match(cond?.message ?? '', /exceeded quota/);
    assert.equal(events(env, 'FailedCreate').length, 1);

    failing = false;
    await env.rsc.reconcile('default/fail');
    assert.equal(podsOf(env, 'fail').length, 5);
    assert.equal(getRs(env, 'fail').status?.conditions, undefined, 'cleared once creates succeed');
  });

  it('leaves a ReplicaSet that is being deleted alone', async () => {
    const env = await setup();
    await env.registry.create(RS, { ...replicaSet('going', 2), metadata: { name: 'going', namespace: 'default', finalizers: ['example.com/hold'] } });
    await env.registry.delete(RS, 'default', 'going');
    await env.mgr.start();
    await env.mgr.idle();
    assert.equal(podsOf(env, 'going').length, 0);
  });

  it('slowStartBatch runs 1, 2, 4, ... and stops after a failing batch', async () => {
    // Calls of one batch all start before any of them ends: group them by how many had ended.
    let finished = 0;
    const startedAfter: number[] = [];
    const ok = await slowStartBatch(10, 1, async () => {
      startedAfter.push(finished);
      await new Promise((r) => setImmediate(r));
      finished++;
    });
    assert.deepEqual(ok, { succeeded: 10, skipped: 0 });
    const sizes = [...new Set(startedAfter)].map((v) => startedAfter.filter((x) => x === v).length);
    assert.deepEqual(sizes, [1, 2, 4, 3]);
    const failed = await slowStartBatch(10, 1, async (i) => {
      if (i === 2) throw new Error('boom');
    });
    assert.equal(failed.succeeded, 2);
    assert.equal(failed.skipped, 7, 'batches 1 and 2 ran (3 calls); 7 never made');
    assert.match(String(failed.error), /boom/);
  });
});
