import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryStore } from '../../../src/agent/store/memory-store.ts';
import { createRegistry, type Registry } from '../../../src/agent/api/registry.ts';
import type { KubeObject, Pod } from '../../../src/agent/api/object-types.ts';
import { silentLogger } from '../../../src/agent/logger.ts';
import { fakeKubelet, type FakeKubelet } from './fake-pod-kubelet.ts';
import { applyPatch, JSON_PATCH } from '../../../src/agent/api/patch/index.ts';
import { createControllerManager, type Controller, type ControllerManager } from '../../../src/agent/controllers/controller.ts';
import { createReplicaSetController, type ReplicaSet } from '../../../src/agent/controllers/replicaset-controller.ts';
import { createDeploymentController, podTemplateHash, type Deployment } from '../../../src/agent/controllers/deployment-controller.ts';
import {
  maxSurge,
  maxUnavailable,
  newReplicaSetTarget,
  planOldScaleDown,
  planScale,
  resolveFenceposts,
  viewOf,
  type ReplicaSetView,
} from '../../../src/agent/controllers/deployment-rollout.ts';

const T0 = Date.parse('2026-04-01T08:00:00Z');
const DEPLOY = 'deployments.apps';
const RS = 'replicasets.apps';
const HASH = 'pod-template-hash';
const REVISION = 'deployment.kubernetes.io/revision';

interface Env {
  registry: Registry;
  clock: { now: number };
  mgr: ControllerManager;
  dc: Controller;
  kubelet: FakeKubelet;
}

const managers: ControllerManager[] = [];
afterEach(async () => {
  for (const m of managers.splice(0)) await m.stop();
});

/**
 * `observe` registers watches before the controllers': the store delivers to
 * watchers in order, and a controller's reaction (its queue starts a reconcile
 * at once) is published inside that delivery, so only an earlier watcher sees
 * every state in order.
 */
async function setup(observe?: (registry: Registry) => void): Promise<Env> {
  const clock = { now: T0 };
  const now = () => new Date(clock.now);
  const store = createMemoryStore();
  await store.start();
  const registry = createRegistry({ store, logger: silentLogger(), clock: now });
  await registry.ensureDefaultNamespaces();
  observe?.(registry);
  const kubelet = fakeKubelet(registry, clock);
  const dc = createDeploymentController({ client: registry, logger: silentLogger(), clock: now });
  const rsc = createReplicaSetController({ client: registry, logger: silentLogger(), clock: now });
  const mgr = createControllerManager({ client: registry, logger: silentLogger(), controllers: [dc, rsc, kubelet.controller], baseDelayMs: 5, maxDelayMs: 50 });
  managers.push(mgr);
  await mgr.start();
  return { registry, clock, mgr, dc, kubelet };
}

function deployment(name: string, replicas: number, spec: Partial<Deployment['spec']> = {}, annotations?: Record<string, string>): Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'default', ...(annotations ? { annotations } : {}) },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'app:v1' }] } },
      ...spec,
    },
  };
}

const getD = (env: Env, name: string) => env.registry.get<Deployment>(DEPLOY, 'default', name)!;

/** The ReplicaSets a Deployment controls, by revision. */
function setsOf(env: Env, name: string): ReplicaSet[] {
  const uid = getD(env, name).metadata.uid;
  return env.registry
    .list<ReplicaSet>(RS, { namespace: 'default' })
    .items.filter((rs) => rs.metadata.ownerReferences?.some((r) => r.controller && r.uid === uid))
    .sort((a, b) => Number(a.metadata.annotations?.[REVISION]) - Number(b.metadata.annotations?.[REVISION]));
}

const podsOf = (env: Env, app: string) => env.registry.list<Pod>('pods', { labelSelector: `app=${app}` }).items;
const live = (pods: Pod[]) => pods.filter((p) => !p.metadata.deletionTimestamp);
const isReady = (p: Pod) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
const imageOf = (p: Pod | ReplicaSet | Deployment) =>
  ('template' in (p.spec as object) ? (p.spec as Deployment['spec']).template!.spec!.containers[0]! : (p as Pod).spec.containers[0]!).image;
const cond = (d: Deployment, type: string) => d.status?.conditions?.find((c) => c.type === type);

/** What `kubectl rollout status` waits for. */
function rolledOut(d: Deployment): boolean {
  const s = d.status ?? {};
  return (
    (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 0) &&
    s.updatedReplicas === d.spec.replicas &&
    s.replicas === s.updatedReplicas &&
    s.availableReplicas === s.updatedReplicas
  );
}

async function edit(env: Env, name: string, change: (d: Deployment) => void): Promise<void> {
  // A second apart, so the ReplicaSets' creation times order them.
  env.clock.now += 1000;
  const d = structuredClone(getD(env, name));
  change(d);
  await env.registry.update(DEPLOY, d);
}

const setImage = (env: Env, name: string, image: string) =>
  edit(env, name, (d) => {
    d.spec.template!.spec!.containers[0]!.image = image;
  });

function events(env: Env, reason: string): KubeObject[] {
  return env.registry.list('events').items.filter((e) => e.reason === reason);
}

describe('deployment controller', () => {
  it('creates a ReplicaSet named by the template hash, revision 1, owned, with pods; reports status', async () => {
    const env = await setup();
    const created = await env.registry.create(DEPLOY, deployment('web', 3));
    await env.mgr.idle();

    const sets = setsOf(env, 'web');
    assert.equal(sets.length, 1);
    const rs = sets[0]!;
    const d = getD(env, 'web');
    const hash = podTemplateHash(d.spec.template);
    assert.match(hash, /^[bcdfghjklmnpqrstvwxz2456789]{1,10}$/);
    assert.equal(rs.metadata.name, `web-${hash}`);
    assert.deepEqual(rs.metadata.labels, { app: 'web', [HASH]: hash });
    assert.deepEqual(rs.spec.selector, { matchLabels: { app: 'web', [HASH]: hash } });
    assert.deepEqual(rs.spec.template?.metadata?.labels, { app: 'web', [HASH]: hash });
    assert.deepEqual(rs.metadata.ownerReferences, [
      { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: created.metadata.uid, controller: true, blockOwnerDeletion: true },
    ]);
    assert.equal(rs.metadata.annotations?.[REVISION], '1');
    assert.equal(rs.metadata.annotations?.['deployment.kubernetes.io/desired-replicas'], '3');
    assert.equal(rs.metadata.annotations?.['deployment.kubernetes.io/max-replicas'], '4', '25% surge of 3 rounds up to 1');
    assert.equal(d.metadata.annotations?.[REVISION], '1');

    const pods = live(podsOf(env, 'web'));
    assert.equal(pods.length, 3);
    for (const p of pods) {
      assert.equal(p.metadata.labels?.[HASH], hash);
      assert.equal(p.metadata.ownerReferences?.[0]?.uid, rs.metadata.uid);
      assert.ok(isReady(p));
    }

    const s = d.status!;
    assert.deepEqual(
      { gen: s.observedGeneration, replicas: s.replicas, updated: s.updatedReplicas, ready: s.readyReplicas, available: s.availableReplicas, unavailable: s.unavailableReplicas },
      { gen: d.metadata.generation, replicas: 3, updated: 3, ready: 3, available: 3, unavailable: 0 },
    );
    assert.ok(rolledOut(d));
    assert.deepEqual(
      { status: cond(d, 'Available')?.status, reason: cond(d, 'Available')?.reason },
      { status: 'True', reason: 'MinimumReplicasAvailable' },
    );
    assert.deepEqual(
      { status: cond(d, 'Progressing')?.status, reason: cond(d, 'Progressing')?.reason, message: cond(d, 'Progressing')?.message },
      { status: 'True', reason: 'NewReplicaSetAvailable', message: `ReplicaSet "web-${hash}" has successfully progressed.` },
    );
    assert.equal(events(env, 'ScalingReplicaSet').length, 1);
    assert.equal(d.status?.collisionCount, undefined);
  });

  /**
   * Rolls v1 -> v2 with pods made Ready one round at a time (each round lets the
   * controllers settle first), checking every pod change: the bounds must hold
   * even when the controllers see each intermediate state.
   */
  async function rollStepwise(replicas: number, surge: number | string, unavailable: number | string) {
    let measuring = false;
    let steps = 0;
    let maxLive = 0;
    let minReady = Infinity;
    let sawProgressing = false;
    const env = await setup((registry) => {
      registry.watch('pods', {}, () => {
        if (!measuring) return;
        steps++;
        const pods = live(registry.list<Pod>('pods', { labelSelector: 'app=roll' }).items);
        maxLive = Math.max(maxLive, pods.length);
        minReady = Math.min(minReady, pods.filter(isReady).length);
      });
      registry.watch(DEPLOY, {}, (e) => {
        const c = cond(e.object as Deployment, 'Progressing');
        if (measuring && (c?.reason === 'ReplicaSetUpdated' || c?.reason === 'NewReplicaSetCreated')) sawProgressing = true;
      });
    });
    const allowed = new Set<string>();
    env.kubelet.ready = (p) => imageOf(p) === 'app:v1' || allowed.has(p.metadata.name!);
    await env.registry.create(DEPLOY, deployment('roll', replicas, { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: surge, maxUnavailable: unavailable } } }));
    await env.mgr.idle();
    assert.ok(rolledOut(getD(env, 'roll')));
    const [first] = setsOf(env, 'roll');

    measuring = true;
    await setImage(env, 'roll', 'app:v2');
    let rounds = 0;
    for (; rounds < 50; rounds++) {
      await env.mgr.idle();
      const waiting = live(podsOf(env, 'roll')).filter((p) => !isReady(p));
      if (waiting.length === 0) break;
      allowed.add(waiting[0]!.metadata.name!);
      env.clock.now += 1000;
      env.mgr.resync();
    }
    await env.mgr.idle();
    measuring = false;
    return { env, first: first!, steps, maxLive, minReady, sawProgressing, rounds };
  }

  it('rolls a template change out within maxSurge 1 / maxUnavailable 0 at every step, to a new revision', async () => {
    const { env, first, steps, maxLive, minReady, sawProgressing, rounds } = await rollStepwise(3, 1, 0);
    assert.ok(rounds >= 3 && rounds < 50, `took ${rounds} rounds`);
    assert.ok(steps >= 12, `watched ${steps} pod changes`);
    assert.equal(maxLive, 4, 'the surge of one was used and never exceeded');
    assert.equal(minReady, 3, 'never fewer than 3 ready pods');
    assert.ok(sawProgressing);
    const sets = setsOf(env, 'roll');
    assert.equal(sets.length, 2);
    const [old, next] = sets as [ReplicaSet, ReplicaSet];
    assert.equal(old.metadata.uid, first.metadata.uid);
    assert.equal(old.spec.replicas, 0);
    assert.equal(next.spec.replicas, 3);
    assert.equal(next.metadata.annotations?.[REVISION], '2');
    assert.notEqual(next.metadata.labels?.[HASH], old.metadata.labels?.[HASH]);
    assert.ok(live(podsOf(env, 'roll')).every((p) => imageOf(p) === 'app:v2' && p.metadata.ownerReferences?.[0]?.uid === next.metadata.uid));
    const d = getD(env, 'roll');
    assert.ok(rolledOut(d));
    assert.equal(d.metadata.annotations?.[REVISION], '2');
    assert.equal(cond(d, 'Progressing')?.reason, 'NewReplicaSetAvailable');
  });

  for (const [replicas, surge, unavailable, maxTotal, minReadyBound] of [
    [4, 0, 1, 4, 3],
    [4, '25%', '25%', 5, 3],
    [5, '50%', '40%', 8, 3],
    [3, '10%', '0%', 4, 3],
  ] as const) {
    it(`keeps ${replicas} replicas within maxSurge ${surge} / maxUnavailable ${unavailable} (<= ${maxTotal} live, >= ${minReadyBound} ready)`, async () => {
      const { env, maxLive, minReady } = await rollStepwise(replicas, surge, unavailable);
      assert.ok(maxLive <= maxTotal, `live pods peaked at ${maxLive}`);
      assert.ok(minReady >= minReadyBound, `ready pods fell to ${minReady}`);
      assert.ok(rolledOut(getD(env, 'roll')));
      assert.ok(live(podsOf(env, 'roll')).every((p) => imageOf(p) === 'app:v2'));
    });
  }

  it('Recreate: scales the old set to 0 and waits until its pods are gone before making the new one', async () => {
    let overlap = false;
    let newSeen = false;
    const env = await setup((registry) =>
      registry.watch('pods', {}, () => {
        const pods = registry.list<Pod>('pods', { labelSelector: 'app=rec' }).items;
        if (pods.some((p) => imageOf(p) === 'app:v2')) newSeen = true;
        if (pods.some((p) => imageOf(p) === 'app:v2') && pods.some((p) => imageOf(p) === 'app:v1')) overlap = true;
      }),
    );
    await env.registry.create(DEPLOY, deployment('rec', 2, { strategy: { type: 'Recreate' } }));
    await env.mgr.idle();
    assert.ok(rolledOut(getD(env, 'rec')));
    env.kubelet.finishes = () => false;
    await setImage(env, 'rec', 'app:v2');
    await env.mgr.idle();

    const pods = podsOf(env, 'rec');
    assert.equal(pods.length, 2);
    assert.ok(pods.every((p) => p.metadata.deletionTimestamp && imageOf(p) === 'app:v1'), 'old pods are stopping');
    assert.equal(setsOf(env, 'rec').length, 1, 'no new ReplicaSet while old pods remain');
    assert.equal(setsOf(env, 'rec')[0]!.spec.replicas, 0);
    assert.equal(cond(getD(env, 'rec'), 'Available')?.status, 'False');

    env.kubelet.finishes = () => true;
    env.mgr.resync();
    await env.mgr.idle();
    assert.ok(newSeen);
    assert.equal(overlap, false, 'old and new pods never existed together');
    const sets = setsOf(env, 'rec');
    assert.equal(sets.length, 2);
    assert.equal(sets[1]!.metadata.annotations?.[REVISION], '2');
    assert.equal(sets[1]!.spec.replicas, 2);
    const now = live(podsOf(env, 'rec'));
    assert.equal(now.length, 2);
    assert.ok(now.every((p) => imageOf(p) === 'app:v2' && isReady(p)));
    assert.ok(rolledOut(getD(env, 'rec')));
    assert.equal(cond(getD(env, 'rec'), 'Available')?.status, 'True');
  });

  it('paused: no rollout, but scaling applies; resume continues the rollout', async () => {
    const env = await setup();
    await env.registry.create(DEPLOY, deployment('pz', 2));
    await env.mgr.idle();
    const [first] = setsOf(env, 'pz');

    await edit(env, 'pz', (d) => {
      d.spec.paused = true;
    });
    await env.mgr.idle();
    let d = getD(env, 'pz');
    assert.deepEqual({ s: cond(d, 'Progressing')?.status, r: cond(d, 'Progressing')?.reason }, { s: 'Unknown', r: 'DeploymentPaused' });
    assert.equal(d.status?.observedGeneration, d.metadata.generation);

    await setImage(env, 'pz', 'app:v2');
    await edit(env, 'pz', (x) => {
      x.spec.replicas = 4;
    });
    await env.mgr.idle();
    assert.equal(setsOf(env, 'pz').length, 1, 'no new ReplicaSet while paused');
    assert.equal(setsOf(env, 'pz')[0]!.spec.replicas, 4, 'scaled while paused');
    assert.equal(setsOf(env, 'pz')[0]!.metadata.annotations?.['deployment.kubernetes.io/desired-replicas'], '4');
    const pods = live(podsOf(env, 'pz'));
    assert.equal(pods.length, 4);
    assert.ok(pods.every((p) => imageOf(p) === 'app:v1'));
    d = getD(env, 'pz');
    assert.equal(d.status?.observedGeneration, d.metadata.generation);
    assert.equal(d.status?.updatedReplicas, 0, 'the paused template has no pods');

    await edit(env, 'pz', (x) => {
      x.spec.paused = false;
    });
    await env.mgr.idle();
    const sets = setsOf(env, 'pz');
    assert.equal(sets.length, 2);
    assert.equal(sets[0]!.metadata.uid, first!.metadata.uid);
    assert.equal(sets[0]!.spec.replicas, 0);
    assert.equal(sets[1]!.spec.replicas, 4);
    assert.ok(live(podsOf(env, 'pz')).every((p) => imageOf(p) === 'app:v2'));
    d = getD(env, 'pz');
    assert.ok(rolledOut(d));
    assert.equal(cond(d, 'Progressing')?.reason, 'NewReplicaSetAvailable');
  });

  it('rollback to revision 1 reuses the first ReplicaSet and makes it revision 3', async () => {
    const env = await setup();
    await env.registry.create(DEPLOY, deployment('rb', 2));
    await env.mgr.idle();
    await setImage(env, 'rb', 'app:v2');
    await env.mgr.idle();
    const [rs1, rs2] = setsOf(env, 'rb') as [ReplicaSet, ReplicaSet];
    assert.equal(rs2.metadata.annotations?.[REVISION], '2');

    // What `kubectl rollout undo --to-revision=1` sends: a JSON patch with the old set's
    // template (without its hash label) and the Deployment's annotations.
    const template = structuredClone(rs1.spec.template!);
    delete template.metadata!.labels![HASH];
    env.clock.now += 1000;
    const cur = getD(env, 'rb');
    const patched = applyPatch(JSON_PATCH, cur, [
      { op: 'test', path: '/metadata/resourceVersion', value: cur.metadata.resourceVersion },
      { op: 'replace', path: '/spec/template', value: template },
      { op: 'replace', path: '/metadata/annotations', value: cur.metadata.annotations },
    ]);
    await env.registry.update(DEPLOY, patched);
    await env.mgr.idle();

    const sets = env.registry.list<ReplicaSet>(RS, { namespace: 'default' }).items;
    assert.equal(sets.length, 2, 'no third ReplicaSet');
    const back = sets.find((s) => s.metadata.uid === rs1.metadata.uid)!;
    const away = sets.find((s) => s.metadata.uid === rs2.metadata.uid)!;
    assert.equal(back.metadata.annotations?.[REVISION], '3');
    assert.equal(back.metadata.annotations?.['deployment.kubernetes.io/revision-history'], '1');
    assert.equal(back.spec.replicas, 2);
    assert.equal(away.spec.replicas, 0);
    const d = getD(env, 'rb');
    assert.equal(d.metadata.annotations?.[REVISION], '3');
    assert.ok(rolledOut(d));
    assert.ok(live(podsOf(env, 'rb')).every((p) => imageOf(p) === 'app:v1' && p.metadata.ownerReferences?.[0]?.uid === rs1.metadata.uid));
  });

  it('keeps revisionHistoryLimit old ReplicaSets, deleting the oldest revisions', async () => {
    const env = await setup();
    await env.registry.create(DEPLOY, deployment('hist', 1, { revisionHistoryLimit: 2 }));
    await env.mgr.idle();
    const [rs1] = setsOf(env, 'hist');
    for (const v of ['v2', 'v3', 'v4']) {
      await setImage(env, 'hist', `app:${v}`);
      await env.mgr.idle();
    }
    const sets = setsOf(env, 'hist');
    assert.deepEqual(sets.map((s) => s.metadata.annotations?.[REVISION]), ['2', '3', '4']);
    assert.deepEqual(sets.map((s) => imageOf(s)), ['app:v2', 'app:v3', 'app:v4']);
    assert.equal(env.registry.get(RS, 'default', rs1!.metadata.name!), undefined);
    assert.ok(rolledOut(getD(env, 'hist')));
  });

  it('reports ProgressDeadlineExceeded when pods never become ready, and recovers when they do', async () => {
    const env = await setup();
    env.kubelet.ready = () => false;
    await env.registry.create(DEPLOY, deployment('stuck', 2, { progressDeadlineSeconds: 30 }));
    await env.mgr.idle();
    let d = getD(env, 'stuck');
    assert.equal(cond(d, 'Progressing')?.status, 'True');
    assert.ok(['NewReplicaSetCreated', 'ReplicaSetUpdated'].includes(cond(d, 'Progressing')!.reason!));
    assert.deepEqual({ s: cond(d, 'Available')?.status, r: cond(d, 'Available')?.reason }, { s: 'False', r: 'MinimumReplicasUnavailable' });
    assert.deepEqual(
      { replicas: d.status?.replicas, updated: d.status?.updatedReplicas, available: d.status?.availableReplicas, unavailable: d.status?.unavailableReplicas },
      { replicas: 2, updated: 2, available: 0, unavailable: 2 },
    );
    assert.equal(rolledOut(d), false);
    assert.deepEqual(await env.dc.reconcile('default/stuck'), { requeueAfterMs: 31_000 }, 'looked at again a second past the deadline');

    env.clock.now += 20_000;
    assert.deepEqual(await env.dc.reconcile('default/stuck'), { requeueAfterMs: 11_000 });
    assert.equal(cond(getD(env, 'stuck'), 'Progressing')?.status, 'True', 'not yet');

    env.clock.now += 11_000;
    assert.equal(await env.dc.reconcile('default/stuck'), undefined, 'timed out: nothing left to measure');
    d = getD(env, 'stuck');
    const [rs] = setsOf(env, 'stuck');
    assert.deepEqual(
      { s: cond(d, 'Progressing')?.status, r: cond(d, 'Progressing')?.reason, m: cond(d, 'Progressing')?.message },
      { s: 'False', r: 'ProgressDeadlineExceeded', m: `ReplicaSet "${rs!.metadata.name}" has timed out progressing.` },
    );

    env.kubelet.ready = () => true;
    env.mgr.resync();
    await env.mgr.idle();
    d = getD(env, 'stuck');
    assert.deepEqual({ s: cond(d, 'Progressing')?.status, r: cond(d, 'Progressing')?.reason }, { s: 'True', r: 'NewReplicaSetAvailable' });
    assert.equal(cond(d, 'Available')?.status, 'True');
    assert.ok(rolledOut(d));
  });

  it('scales proportionally when replicas change mid-rollout (Kubernetes docs: 10 -> 15, surge 3, unavailable 2)', async () => {
    const env = await setup();
    env.kubelet.ready = (p) => imageOf(p) !== 'app:broken';
    await env.registry.create(DEPLOY, deployment('big', 10, { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 3, maxUnavailable: 2 } } }));
    await env.mgr.idle();
    await setImage(env, 'big', 'app:broken');
    await env.mgr.idle();
    let [old, next] = setsOf(env, 'big') as [ReplicaSet, ReplicaSet];
    assert.deepEqual([old.spec.replicas, next.spec.replicas], [8, 5], 'stuck: 8 available old, 5 unready new');
    assert.equal(live(podsOf(env, 'big')).length, 13);

    await edit(env, 'big', (d) => {
      d.spec.replicas = 15;
    });
    await env.mgr.idle();
    [old, next] = setsOf(env, 'big') as [ReplicaSet, ReplicaSet];
    assert.deepEqual([old.spec.replicas, next.spec.replicas], [11, 7], '5 more shared 3:2 by size');
    for (const rs of [old, next]) {
      assert.equal(rs.metadata.annotations?.['deployment.kubernetes.io/desired-replicas'], '15');
      assert.equal(rs.metadata.annotations?.['deployment.kubernetes.io/max-replicas'], '18');
    }
    assert.equal(live(podsOf(env, 'big')).length, 18);
    const d = getD(env, 'big');
    assert.equal(d.status?.observedGeneration, d.metadata.generation);
    assert.deepEqual({ replicas: d.status?.replicas, updated: d.status?.updatedReplicas, available: d.status?.availableReplicas }, { replicas: 18, updated: 7, available: 11 });
    assert.deepEqual({ s: cond(d, 'Available')?.status, r: cond(d, 'Available')?.reason }, { s: 'False', r: 'MinimumReplicasUnavailable' }, '11 < 15 - 2');
  });

  it('copies change-cause to the new ReplicaSet; a restartedAt annotation makes a new revision', async () => {
    const env = await setup();
    await env.registry.create(
      DEPLOY,
      deployment('cc', 1, {}, { 'kubernetes.io/change-cause': 'first', 'kubectl.kubernetes.io/last-applied-configuration': '{}' }),
    );
    await env.mgr.idle();
    const [rs1] = setsOf(env, 'cc');
    assert.equal(rs1!.metadata.annotations?.['kubernetes.io/change-cause'], 'first');
    assert.equal(rs1!.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration'], undefined, 'not copied');

    // `kubectl rollout restart` with a change cause.
    await edit(env, 'cc', (d) => {
      d.metadata.annotations = { ...d.metadata.annotations, 'kubernetes.io/change-cause': 'restart' };
      d.spec.template!.metadata = { ...d.spec.template!.metadata, annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-04-01T08:00:01Z' } };
    });
    await env.mgr.idle();
    const sets = setsOf(env, 'cc');
    assert.equal(sets.length, 2);
    assert.equal(sets[0]!.metadata.annotations?.['kubernetes.io/change-cause'], 'first', 'the old revision keeps its cause');
    assert.equal(sets[1]!.metadata.annotations?.['kubernetes.io/change-cause'], 'restart');
    assert.equal(sets[1]!.metadata.annotations?.[REVISION], '2');
    assert.equal(sets[1]!.metadata.name, `cc-${podTemplateHash(getD(env, 'cc').spec.template)}`);
    const [pod] = live(podsOf(env, 'cc'));
    assert.equal(pod!.metadata.annotations?.['kubectl.kubernetes.io/restartedAt'], '2026-04-01T08:00:01Z');
    assert.ok(rolledOut(getD(env, 'cc')));
  });

  it('adopts a matching orphan ReplicaSet as its current revision', async () => {
    const env = await setup();
    const d = deployment('adopt', 2);
    await env.registry.create<ReplicaSet>(RS, {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: 'legacy', namespace: 'default', labels: { app: 'adopt' } },
      spec: { replicas: 2, selector: { matchLabels: { app: 'adopt' } }, template: structuredClone(d.spec.template) },
    });
    await env.mgr.idle();
    const before = podsOf(env, 'adopt').map((p) => p.metadata.uid).sort();
    const created = await env.registry.create(DEPLOY, d);
    await env.mgr.idle();
    const sets = env.registry.list<ReplicaSet>(RS, { namespace: 'default' }).items;
    assert.equal(sets.length, 1, 'no new ReplicaSet for the same template');
    assert.equal(sets[0]!.metadata.ownerReferences?.[0]?.uid, created.metadata.uid);
    assert.equal(sets[0]!.metadata.annotations?.[REVISION], '1');
    assert.deepEqual(podsOf(env, 'adopt').map((p) => p.metadata.uid).sort(), before, 'its pods kept running');
    assert.ok(rolledOut(getD(env, 'adopt')));
  });

  it('bumps collisionCount when another ReplicaSet has the hashed name', async () => {
    const env = await setup();
    const probe = await env.registry.create(DEPLOY, deployment('col', 1), { dryRun: true });
    const taken = `col-${podTemplateHash(probe.spec.template)}`;
    await env.registry.create<ReplicaSet>(RS, {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: taken, namespace: 'default', labels: { app: 'other' } },
      spec: { replicas: 0, selector: { matchLabels: { app: 'other' } }, template: { metadata: { labels: { app: 'other' } }, spec: { containers: [{ name: 'c', image: 'other:1' }] } } },
    });
    await env.registry.create(DEPLOY, deployment('col', 1));
    await env.mgr.idle();
    const d = getD(env, 'col');
    assert.equal(d.status?.collisionCount, 1);
    const [rs] = setsOf(env, 'col');
    assert.equal(rs!.metadata.name, `col-${podTemplateHash(d.spec.template, 1)}`);
    assert.notEqual(rs!.metadata.name, taken);
    assert.equal(env.registry.get<ReplicaSet>(RS, 'default', taken)?.metadata.ownerReferences, undefined, 'the other set is left alone');
    assert.ok(rolledOut(d));
  });
});

describe('deployment rollout arithmetic', () => {
  const d = (replicas: number, maxSurge: number | string, maxUnavailable: number | string): Deployment =>
    deployment('x', replicas, { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge, maxUnavailable } } });

  it('rounds surge up and unavailable down; 0/0 after rounding allows one unavailable', () => {
    assert.deepEqual(resolveFenceposts(d(10, '25%', '25%')), { surge: 3, unavailable: 2 });
    assert.deepEqual(resolveFenceposts(d(1, '25%', '25%')), { surge: 1, unavailable: 0 });
    assert.deepEqual(resolveFenceposts(d(3, '0%', '10%')), { surge: 0, unavailable: 1 });
    assert.deepEqual(resolveFenceposts(d(4, 2, '50%')), { surge: 2, unavailable: 2 });
    assert.equal(maxUnavailable(d(2, 0, 5)), 2, 'never more than replicas');
    assert.equal(maxUnavailable(d(0, 1, 1)), 0);
    const recreate = deployment('r', 3, { strategy: { type: 'Recreate' } });
    assert.deepEqual([maxSurge(recreate), maxUnavailable(recreate)], [0, 0]);
  });

  it('hashes templates stably, whatever the key order, and differently per template and collision count', () => {
    const a = { metadata: { labels: { app: 'x', tier: 'web' } }, spec: { containers: [{ name: 'c', image: 'i:1' }] } };
    const b = { spec: { containers: [{ image: 'i:1', name: 'c' }] }, metadata: { labels: { tier: 'web', app: 'x' } } };
    assert.equal(podTemplateHash(a), podTemplateHash(b));
    assert.notEqual(podTemplateHash(a), podTemplateHash({ ...a, spec: { containers: [{ name: 'c', image: 'i:2' }] } }));
    assert.notEqual(podTemplateHash(a), podTemplateHash(a, 0));
    assert.notEqual(podTemplateHash(a, 0), podTemplateHash(a, 1));
  });

  it('counts a set by its live pods while its scale-down lags, so a stale status cannot breach the bounds', () => {
    const dep = d(3, 1, 0);
    const rs = (uid: string, replicas: number, statusAvailable: number, created: string): ReplicaSet => ({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: uid, uid, creationTimestamp: created },
      spec: { replicas },
      status: { replicas: statusAvailable, fullyLabeledReplicas: statusAvailable, readyReplicas: statusAvailable, availableReplicas: statusAvailable },
    });
    const pod = (name: string, owner: string, ready: boolean): Pod => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: owner, uid: owner, controller: true }] },
      spec: { containers: [] },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: '2026-04-01T08:00:00Z' }] },
    });
    // The old set was just scaled 3 -> 2; its status and pods still show 3 available.
    const old = rs('old', 2, 3, '2026-04-01T08:00:00Z');
    const next = rs('new', 2, 2, '2026-04-01T08:00:05Z');
    const pods = new Map([
      ['old', [pod('o1', 'old', true), pod('o2', 'old', true), pod('o3', 'old', true)]],
      ['new', [pod('n1', 'new', true), pod('n2', 'new', true)]],
    ]);
    const now = new Date(T0 + 10_000);
    const ov = viewOf(old, pods, now);
    const nv = viewOf(next, pods, now);
    assert.deepEqual({ replicas: ov.replicas, size: ov.size, available: ov.available }, { replicas: 2, size: 3, available: 2 });
    assert.equal(newReplicaSetTarget(dep, nv, [ov]), 2, 'no growth while the old set still has 3 live pods (2 + 3 > 3 + 1)');
    // By status alone 5 are available and both old replicas could go, leaving 2 < 3.
    assert.deepEqual(planOldScaleDown(dep, nv, [ov]).map((t) => [t.rs.metadata.name, t.replicas]), [['old', 1]]);

    // A pod that lost readiness (or went) counts as unavailable before the status says so.
    pods.set('new', [pod('n1', 'new', true), pod('n2', 'new', false)]);
    assert.equal(viewOf(next, pods, now).available, 1);
    assert.deepEqual(planOldScaleDown(dep, viewOf(next, pods, now), [ov]), [], '1 + 2 available is the minimum already');
  });

  it('shares a scale-down in proportion too, larger and older sets first', () => {
    const dep = d(5, 3, 2);
    const view = (name: string, replicas: number, created: string): ReplicaSetView => ({
      rs: {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: { name, creationTimestamp: created, annotations: { 'deployment.kubernetes.io/desired-replicas': '15', 'deployment.kubernetes.io/max-replicas': '18' } },
        spec: { replicas },
        status: { replicas, fullyLabeledReplicas: replicas, readyReplicas: 0, availableReplicas: 0 },
      },
      replicas,
      size: replicas,
      available: 0,
    });
    const old = view('old', 11, '2026-04-01T08:00:00Z');
    const next = view('new', 7, '2026-04-01T08:00:05Z');
    // 18 -> 8: old 11*8/18 = 4.9 -> 5, new 7*8/18 = 3.1 -> 3.
    assert.deepEqual(planScale(dep, next, [old]).map((t) => [t.rs.metadata.name, t.replicas]), [['old', 5], ['new', 3]]);
    assert.deepEqual(planScale(d(0, 3, 2), next, [old]).map((t) => t.replicas), [0, 0], 'to zero: everything goes');
  });
});

describe('pod-template-hash', () => {
  it('ignores fields set to null, as kubectl rollout undo sends them, but not real differences', () => {
    const template = { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'c', image: 'i' }] } };
    const undo = { metadata: { labels: { app: 'x' }, creationTimestamp: null }, spec: { containers: [{ name: 'c', image: 'i' }] } };
    assert.equal(podTemplateHash(undo as never), podTemplateHash(template as never));
    assert.notEqual(podTemplateHash({ ...template, spec: { containers: [{ name: 'c', image: 'j' }] } } as never), podTemplateHash(template as never));
  });
});
