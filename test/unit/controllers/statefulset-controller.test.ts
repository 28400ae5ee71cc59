import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject, Pod } from '../../../src/agent/api/object-types.ts';
import { silentLogger } from '../../../src/agent/logger.ts';
import { createControllerManager, type ControllerManager } from '../../../src/agent/controllers/controller.ts';
import { createStatefulSetController, statefulSetRevision } from '../../../src/agent/controllers/statefulset-controller.ts';
import type { StatefulSet } from '../../../src/agent/controllers/statefulset-pods.ts';
import type { ControllerRevision } from '../../../src/agent/controllers/controller-revisions.ts';
import { applyPatch, STRATEGIC_MERGE_PATCH } from '../../../src/agent/api/patch/index.ts';
import { createGarbageCollector } from '../../../src/agent/controllers/garbage-collector.ts';
import { createFakeObjectClient, type FakeObjectClient } from '../../support/fake-object-client.ts';

const T0 = Date.parse('2026-04-01T08:00:00Z');
const STS = 'statefulsets.apps';
const CR = 'controllerrevisions.apps';
const PVC = 'persistentvolumeclaims';
const HASH = 'controller-revision-hash';

interface Env {
  client: FakeObjectClient;
  clock: { now: number };
  mgr: ControllerManager;
}

const managers: ControllerManager[] = [];
afterEach(async () => {
  for (const m of managers.splice(0)) await m.stop();
});

async function setup(opts: { gc?: boolean } = {}): Promise<Env> {
  const clock = { now: T0 };
  const client = createFakeObjectClient();
  const sc = createStatefulSetController({ client, logger: silentLogger(), clock: () => new Date(clock.now) });
  const controllers = [sc];
  if (opts.gc) controllers.push(createGarbageCollector({ client, logger: silentLogger(), orphanGraceMs: 0, resources: ['pods', PVC, CR, STS] }));
  const mgr = createControllerManager({ client, logger: silentLogger(), controllers, baseDelayMs: 5, maxDelayMs: 50 });
  managers.push(mgr);
  await mgr.start();
  return { client, clock, mgr };
}

function statefulSet(name: string, spec: Partial<StatefulSet['spec']> = {}): StatefulSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name, namespace: 'default', generation: 1 },
    spec: {
      replicas: 3,
      serviceName: `${name}-svc`,
      selector: { matchLabels: { app: name } },
      podManagementPolicy: 'OrderedReady',
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } },
      revisionHistoryLimit: 10,
      template: { metadata: { labels: { app: name, tier: 'db' } }, spec: { containers: [{ name: 'c', image: 'db:v1' }] } },
      ...spec,
    },
  };
}

const claimTemplate = (name: string, labels?: Record<string, string>) => ({
  metadata: { name, ...(labels ? { labels } : {}) },
  spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
});

const getSts = (env: Env, name: string) => env.client.get<StatefulSet>(STS, 'default', name)!;
const pod = (env: Env, name: string) => env.client.get<Pod>('pods', 'default', name);
const podNames = (env: Env) =>
  env.client
    .list<Pod>('pods', { namespace: 'default' })
    .items.map((p) => p.metadata.name!)
    .sort();
const live = (env: Env) =>
  env.client
    .list<Pod>('pods', { namespace: 'default' })
    .items.filter((p) => !p.metadata.deletionTimestamp)
    .map((p) => p.metadata.name!)
    .sort();
const claimNames = (env: Env) =>
  env.client
    .list(PVC, { namespace: 'default' })
    .items.map((c) => c.metadata.name!)
    .sort();
const revisionsOf = (env: Env) =>
  env.client
    .list<ControllerRevision>(CR, { namespace: 'default' })
    .items.sort((a, b) => a.revision - b.revision);
const imageOf = (p: Pod | undefined) => p?.spec.containers[0]?.image;

async function create(env: Env, sts: StatefulSet): Promise<StatefulSet> {
  const created = await env.client.create<StatefulSet>(STS, sts);
  await env.mgr.idle();
  return created;
}

/** The kubelet's part: the pod Running and (not) Ready as of the test clock. */
async function run(env: Env, name: string, ready = true): Promise<void> {
  const p = pod(env, name);
  assert.ok(p, `pod ${name} exists`);
  const conditions = [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: new Date(env.clock.now).toISOString() }] as const;
  await env.client.updateStatus<Pod>('pods', { ...p, status: { phase: 'Running', conditions: [...conditions] } });
  await env.mgr.idle();
}

/** Runs (Ready) every live pod that is not yet running, until none is left: the OrderedReady chain. */
async function runAll(env: Env): Promise<void> {
  for (let guard = 0; guard < 50; guard++) {
    const waiting = env.client.list<Pod>('pods', { namespace: 'default' }).items.filter((p) => !p.metadata.deletionTimestamp && p.status?.phase !== 'Running');
    if (waiting.length === 0) return;
    for (const p of waiting) await run(env, p.metadata.name!);
  }
  assert.fail('pods kept appearing');
}

/** Pods bound to a node, so that a delete only marks them (graceful termination). */
async function bind(env: Env, name: string): Promise<void> {
  const p = pod(env, name)!;
  await env.client.update<Pod>('pods', { ...p, spec: { ...p.spec, nodeName: 'n1' } });
  await env.mgr.idle();
}

/** The kubelet finishing a graceful deletion. */
async function finishTermination(env: Env, name: string): Promise<void> {
  await env.client.delete('pods', 'default', name, { gracePeriodSeconds: 0 });
  await env.mgr.idle();
}

async function updateSpec(env: Env, name: string, change: (spec: StatefulSet['spec']) => void): Promise<void> {
  const cur = getSts(env, name);
  const spec = structuredClone(cur.spec);
  change(spec);
  await env.client.update(STS, { ...cur, metadata: { ...cur.metadata, generation: (cur.metadata.generation ?? 1) + 1 }, spec });
  await env.mgr.idle();
}

const setImage = (env: Env, name: string, image: string) =>
  updateSpec(env, name, (s) => {
    s.template!.spec!.containers[0]!.image = image;
  });

describe('statefulset controller', () => {
  it('names pods <sts>-<ordinal> with their identity, labels and owner', async () => {
    const env = await setup();
    const sts = await create(env, statefulSet('web', { replicas: 1 }));
    const p = pod(env, 'web-0')!;
    assert.ok(p, 'web-0 created');
    assert.equal(p.metadata.generateName, undefined);
    assert.equal(p.spec.hostname, 'web-0');
    assert.equal(p.spec.subdomain, 'web-svc');
    const status = getSts(env, 'web').status!;
    assert.deepEqual(p.metadata.labels, {
      app: 'web',
      tier: 'db',
      'statefulset.kubernetes.io/pod-name': 'web-0',
      'apps.kubernetes.io/pod-index': '0',
      [HASH]: status.updateRevision,
    });
    assert.deepEqual(p.metadata.ownerReferences, [
      { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: sts.metadata.uid, controller: true, blockOwnerDeletion: true },
    ]);
    assert.match(status.updateRevision!, /^web-[bcdfghjklmnpqrstvwxz2456789]+$/);
  });

  it('honours spec.ordinals.start', async () => {
    const env = await setup();
    await create(env, statefulSet('web', { replicas: 2, ordinals: { start: 5 }, podManagementPolicy: 'Parallel' }));
    assert.deepEqual(podNames(env), ['web-5', 'web-6']);
    assert.equal(pod(env, 'web-6')!.metadata.labels?.['apps.kubernetes.io/pod-index'], '6');
  });

  it('OrderedReady creates ordinal i only once 0..i-1 are Running and Ready', async () => {
    const env = await setup();
    await create(env, statefulSet('web'));
    assert.deepEqual(podNames(env), ['web-0']);
    await run(env, 'web-0', false);
    assert.deepEqual(podNames(env), ['web-0'], 'running but not ready: no successor');
    await run(env, 'web-0', true);
    assert.deepEqual(podNames(env), ['web-0', 'web-1']);
    await run(env, 'web-1');
    assert.deepEqual(podNames(env), ['web-0', 'web-1', 'web-2']);
    await run(env, 'web-2');
    const s = getSts(env, 'web').status!;
    assert.equal(s.replicas, 3);
    assert.equal(s.readyReplicas, 3);
    // A predecessor that stops being ready blocks further creations after a loss.
    await run(env, 'web-0', false);
    await env.client.delete('pods', 'default', 'web-2');
    await env.mgr.idle();
    assert.deepEqual(podNames(env), ['web-0', 'web-1'], 'web-2 waits for web-0 to be ready again');
    await run(env, 'web-0', true);
    assert.deepEqual(podNames(env), ['web-0', 'web-1', 'web-2']);
  });

  it('waits minReadySeconds before the next ordinal', async () => {
    const env = await setup();
    await create(env, statefulSet('web', { replicas: 2, minReadySeconds: 10 }));
    await run(env, 'web-0');
    assert.deepEqual(podNames(env), ['web-0']);
    assert.equal(getSts(env, 'web').status?.availableReplicas, 0);
    env.clock.now += 10_000;
    env.mgr.resync();
    await env.mgr.idle();
    assert.deepEqual(podNames(env), ['web-0', 'web-1']);
    assert.equal(getSts(env, 'web').status?.availableReplicas, 1);
  });

  it('scales down from the highest ordinal, one at a time, waiting for each to be gone', async () => {
    const env = await setup();
    await create(env, statefulSet('web'));
    await runAll(env);
    for (const n of ['web-0', 'web-1', 'web-2']) await bind(env, n);
    await updateSpec(env, 'web', (s) => (s.replicas = 1));
    assert.deepEqual(live(env), ['web-0', 'web-1'], 'web-2 goes first');
    assert.ok(pod(env, 'web-2')?.metadata.deletionTimestamp);
    env.mgr.resync();
    await env.mgr.idle();
    assert.deepEqual(live(env), ['web-0', 'web-1'], 'web-1 waits until web-2 is gone');
    await finishTermination(env, 'web-2');
    assert.deepEqual(live(env), ['web-0']);
    await finishTermination(env, 'web-1');
    assert.deepEqual(podNames(env), ['web-0']);
    const s = getSts(env, 'web').status!;
    assert.equal(s.replicas, 1);
    assert.equal(s.readyReplicas, 1);
  });

  it('Parallel creates and deletes all at once, without waiting for readiness', async () => {
    const env = await setup();
    await create(env, statefulSet('web', { replicas: 4, podManagementPolicy: 'Parallel' }));
    assert.deepEqual(podNames(env), ['web-0', 'web-1', 'web-2', 'web-3']);
    await updateSpec(env, 'web', (s) => (s.replicas = 1));
    assert.deepEqual(podNames(env), ['web-0']);
  });

  it('recreates a failed or deleted pod under the same name', async () => {
    const env = await setup();
    await create(env, statefulSet('web', { replicas: 2 }));
    await runAll(env);
    const before = pod(env, 'web-1')!.metadata.uid;
    const p = pod(env, 'web-1')!;
    await env.client.updateStatus<Pod>('pods', { ...p, status: { phase: 'Failed' } });
    await env.mgr.idle();
    const after = pod(env, 'web-1')!;
    assert.notEqual(after.metadata.uid, before, 'a new pod');
    assert.equal(after.status?.phase, undefined);
    await env.client.delete('pods', 'default', 'web-0');
    await env.mgr.idle();
    assert.ok(pod(env, 'web-0'), 'web-0 is back');
    assert.ok(env.client.list('events').items.some((e) => e.reason === 'SuccessfulDelete' && String(e.message).includes('web-1')));
  });

  it('creates a claim per template and ordinal before the pod, and keeps it', async () => {
    const env = await setup();
    await create(env, statefulSet('db', { replicas: 2, volumeClaimTemplates: [claimTemplate('data', { disk: 'ssd' })] }));
    const creates = env.client.writes.filter((w) => w.op === 'create' && (w.resource === 'pods' || w.resource === PVC)).map((w) => w.name);
    assert.deepEqual(creates.slice(0, 2), ['data-db-0', 'db-0'], 'claim first');
    const claim = env.client.get<KubeObject & { spec: unknown }>(PVC, 'default', 'data-db-0')!;
    assert.deepEqual(claim.metadata.labels, { disk: 'ssd', app: 'db' });
    assert.deepEqual(claim.spec, { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } });
    assert.equal(claim.metadata.ownerReferences, undefined, 'Retain: no owner');
    assert.deepEqual(pod(env, 'db-0')!.spec.volumes, [{ name: 'data', persistentVolumeClaim: { claimName: 'data-db-0' } }]);
    await runAll(env);
    assert.deepEqual(claimNames(env), ['data-db-0', 'data-db-1']);
    // Replaced pods reuse their claim; scaled-away ones leave it in place.
    await env.client.delete('pods', 'default', 'db-1');
    await env.mgr.idle();
    assert.equal(pod(env, 'db-1')!.spec.volumes?.[0]?.persistentVolumeClaim && (pod(env, 'db-1')!.spec.volumes![0]!.persistentVolumeClaim as { claimName: string }).claimName, 'data-db-1');
    await runAll(env);
    await updateSpec(env, 'db', (s) => (s.replicas = 0));
    assert.deepEqual(podNames(env), []);
    assert.deepEqual(claimNames(env), ['data-db-0', 'data-db-1']);
    assert.ok(env.client.list('events').items.some((e) => e.reason === 'SuccessfulCreate' && String(e.message).startsWith('create Claim data-db-0 Pod db-0')));
  });

  it('retention whenDeleted: Delete makes the set the claims\' controller', async () => {
    const env = await setup();
    const sts = await create(env, statefulSet('db', { replicas: 1, volumeClaimTemplates: [claimTemplate('data')], persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Delete', whenScaled: 'Retain' } }));
    const claim = env.client.get(PVC, 'default', 'data-db-0')!;
    assert.deepEqual(claim.metadata.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db', uid: sts.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    // Back to Retain: the reference goes again.
    await runAll(env);
    await updateSpec(env, 'db', (s) => (s.persistentVolumeClaimRetentionPolicy = { whenDeleted: 'Retain', whenScaled: 'Retain' }));
    assert.equal(env.client.get(PVC, 'default', 'data-db-0')!.metadata.ownerReferences, undefined);
  });

  it('retention whenScaled: Delete hands a scaled-down claim to its pod, and a new pod waits for a stale claim to go', async () => {
    const env = await setup();
    const sts = await create(env, statefulSet('db', { replicas: 2, volumeClaimTemplates: [claimTemplate('data')], persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Delete', whenScaled: 'Delete' } }));
    await runAll(env);
    const setRef = { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db', uid: sts.metadata.uid, controller: true, blockOwnerDeletion: true };
    assert.deepEqual(env.client.get(PVC, 'default', 'data-db-1')!.metadata.ownerReferences, [setRef]);
    await bind(env, 'db-1');
    const victim = pod(env, 'db-1')!;
    await updateSpec(env, 'db', (s) => (s.replicas = 1));
    assert.ok(pod(env, 'db-1')?.metadata.deletionTimestamp, 'db-1 is going');
    assert.deepEqual(env.client.get(PVC, 'default', 'data-db-1')!.metadata.ownerReferences, [
      { apiVersion: 'v1', kind: 'Pod', name: 'db-1', uid: victim.metadata.uid, controller: true, blockOwnerDeletion: true },
    ]);
    const claimUpdate = env.client.writes.findIndex((w) => w.op === 'update' && w.resource === PVC && w.name === 'data-db-1');
    const podDelete = env.client.writes.findIndex((w) => w.op === 'delete' && w.resource === 'pods' && w.name === 'db-1');
    assert.ok(claimUpdate >= 0 && claimUpdate < podDelete, 'the claim is handed over before the pod is deleted');
    assert.deepEqual(env.client.get(PVC, 'default', 'data-db-0')!.metadata.ownerReferences, [setRef]);
    // Scaled up again before the garbage collector removed the old claim: db-1 waits for it.
    await finishTermination(env, 'db-1');
    await updateSpec(env, 'db', (s) => (s.replicas = 2));
    assert.equal(pod(env, 'db-1'), undefined, 'db-1 waits for its stale claim');
    const oldClaim = env.client.get(PVC, 'default', 'data-db-1')!;
    await env.client.delete(PVC, 'default', 'data-db-1'); // what the garbage collector does
    await env.mgr.idle();
    assert.ok(pod(env, 'db-1'), 'db-1 is back');
    const fresh = env.client.get(PVC, 'default', 'data-db-1')!;
    assert.notEqual(fresh.metadata.uid, oldClaim.metadata.uid);
    assert.deepEqual(fresh.metadata.ownerReferences, [setRef]);
  });

  it('rolls pods not at the update revision in reverse ordinal order, down to the partition', async () => {
    const env = await setup();
    await create(env, statefulSet('web'));
    await runAll(env);
    const v1 = getSts(env, 'web').status!.currentRevision!;
    await updateSpec(env, 'web', (s) => {
      s.template!.spec!.containers[0]!.image = 'db:v2';
      s.updateStrategy = { type: 'RollingUpdate', rollingUpdate: { partition: 1 } };
    });
    const v2 = getSts(env, 'web').status!.updateRevision!;
    assert.notEqual(v2, v1);
    assert.equal(imageOf(pod(env, 'web-2')), 'db:v2', 'web-2 replaced first');
    assert.equal(imageOf(pod(env, 'web-1')), 'db:v1', 'web-1 waits for web-2 to be ready');
    assert.equal(pod(env, 'web-2')!.metadata.labels?.[HASH], v2);
    await run(env, 'web-2');
    assert.equal(imageOf(pod(env, 'web-1')), 'db:v2');
    await run(env, 'web-1');
    assert.equal(imageOf(pod(env, 'web-0')), 'db:v1', 'below the partition');
    let s = getSts(env, 'web').status!;
    assert.deepEqual([s.currentRevision, s.updateRevision, s.currentReplicas, s.updatedReplicas, s.readyReplicas], [v1, v2, 1, 2, 3]);
    // A pod below the partition that is lost comes back at the current revision.
    await env.client.delete('pods', 'default', 'web-0');
    await env.mgr.idle();
    assert.equal(imageOf(pod(env, 'web-0')), 'db:v1');
    assert.equal(pod(env, 'web-0')!.metadata.labels?.[HASH], v1);
    await run(env, 'web-0');
    await updateSpec(env, 'web', (s) => (s.updateStrategy = { type: 'RollingUpdate', rollingUpdate: { partition: 0 } }));
    assert.equal(imageOf(pod(env, 'web-0')), 'db:v2');
    await run(env, 'web-0');
    s = getSts(env, 'web').status!;
    assert.deepEqual([s.currentRevision, s.updateRevision, s.currentReplicas, s.updatedReplicas], [v2, v2, 3, 3], 'the rollout is complete');
  });

  it('OnDelete recreates only deleted pods, at the update revision', async () => {
    const env = await setup();
    await create(env, statefulSet('web', { updateStrategy: { type: 'OnDelete' } }));
    await runAll(env);
    await setImage(env, 'web', 'db:v2');
    assert.deepEqual(['web-0', 'web-1', 'web-2'].map((n) => imageOf(pod(env, n))), ['db:v1', 'db:v1', 'db:v1']);
    await env.client.delete('pods', 'default', 'web-1');
    await env.mgr.idle();
    assert.deepEqual(['web-0', 'web-1', 'web-2'].map((n) => imageOf(pod(env, n))), ['db:v1', 'db:v2', 'db:v1']);
    const s = getSts(env, 'web').status!;
    assert.equal(pod(env, 'web-1')!.metadata.labels?.[HASH], s.updateRevision);
    assert.equal(s.updatedReplicas, 1);
  });

  it('keeps ControllerRevisions kubectl can read and roll back to, and prunes them', async () => {
    const env = await setup();
    const sts = await create(env, statefulSet('web', { replicas: 1, revisionHistoryLimit: 1 }));
    await runAll(env);
    const [r1] = revisionsOf(env);
    assert.ok(r1);
    assert.equal(r1.revision, 1);
    assert.equal(r1.metadata.name, getSts(env, 'web').status!.currentRevision);
    assert.deepEqual(r1.metadata.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: sts.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    assert.equal(r1.metadata.labels?.app, 'web', 'the selector lists it');
    assert.equal(r1.metadata.labels?.['controller.kubernetes.io/hash'], r1.metadata.name!.slice('web-'.length));
    const template = (r1.data as { spec: { template: Record<string, unknown> } }).spec.template;
    assert.equal(template.$patch, 'replace');
    assert.deepEqual(Object.keys(r1.data as object), ['spec']);
    assert.deepEqual((template.spec as { containers: { image: string }[] }).containers[0]!.image, 'db:v1');

    for (const image of ['db:v2', 'db:v3']) {
      await setImage(env, 'web', image);
      await runAll(env);
    }
    let revs = revisionsOf(env);
    assert.deepEqual(revs.map((r) => r.revision), [2, 3], 'limit 1: one historic revision beside the live one');
    // kubectl rollout undo --to-revision=2: the revision's data as a strategic merge patch.
    const cur = getSts(env, 'web');
    const undone = applyPatch(STRATEGIC_MERGE_PATCH, cur, JSON.stringify(revs[0]!.data)) as StatefulSet;
    assert.equal(undone.spec.template!.spec!.containers[0]!.image, 'db:v2');
    await env.client.update(STS, { ...undone, metadata: { ...undone.metadata, generation: 5 } });
    await env.mgr.idle();
    await runAll(env);
    revs = revisionsOf(env);
    const two = revs.find((r) => r.metadata.name === revs[0]!.metadata.name);
    assert.equal(revs.length, 2, 'no new object for an old template');
    assert.equal(revs[revs.length - 1]!.revision, 4, 'the old revision became the newest');
    assert.equal(getSts(env, 'web').status!.updateRevision, revs[revs.length - 1]!.metadata.name);
    assert.ok(two);
    assert.equal(imageOf(pod(env, 'web-0')), 'db:v2');
  });

  it('reports status fields and completes a rollout', async () => {
    const env = await setup();
    await create(env, statefulSet('web', { replicas: 2 }));
    let s = getSts(env, 'web').status!;
    assert.equal(s.observedGeneration, 1);
    assert.equal(s.replicas, 1);
    assert.equal(s.readyReplicas, 0);
    assert.equal(s.collisionCount, 0);
    assert.equal(s.currentRevision, s.updateRevision);
    await runAll(env);
    s = getSts(env, 'web').status!;
    assert.deepEqual(
      [s.replicas, s.readyReplicas, s.availableReplicas, s.currentReplicas, s.updatedReplicas],
      [2, 2, 2, 2, 2],
    );
    await setImage(env, 'web', 'db:v2');
    s = getSts(env, 'web').status!;
    assert.equal(s.observedGeneration, 2);
    assert.notEqual(s.currentRevision, s.updateRevision, 'rolling');
    await runAll(env);
    s = getSts(env, 'web').status!;
    assert.equal(s.currentRevision, s.updateRevision);
    assert.deepEqual([s.currentReplicas, s.updatedReplicas, s.readyReplicas], [2, 2, 2]);
  });

  it('a name collision bumps collisionCount', async () => {
    const env = await setup();
    const sts = statefulSet('web', { replicas: 0 });
    // Someone else's revision already holds the name of collision count 0.
    const taken = statefulSetRevision({ ...sts, metadata: { ...sts.metadata, uid: 'other' } }, 1, 0);
    await env.client.create(CR, { ...taken, data: { other: true } });
    await create(env, sts);
    const s = getSts(env, 'web').status!;
    assert.equal(s.collisionCount, 1);
    assert.notEqual(s.updateRevision, taken.metadata.name);
    assert.ok(env.client.get(CR, 'default', s.updateRevision!));
  });

  it('a deleted set: the garbage collector takes its pods, revisions and Delete-policy claims', async () => {
    const env = await setup({ gc: true });
    const templates = [claimTemplate('data')];
    await create(env, statefulSet('keep', { replicas: 1, volumeClaimTemplates: templates }));
    await create(env, statefulSet('drop', { replicas: 1, volumeClaimTemplates: templates, persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Delete', whenScaled: 'Retain' } }));
    await runAll(env);
    assert.deepEqual(claimNames(env), ['data-drop-0', 'data-keep-0']);
    assert.equal(revisionsOf(env).length, 2);
    await env.client.delete(STS, 'default', 'drop');
    await env.client.delete(STS, 'default', 'keep');
    await env.mgr.idle();
    assert.deepEqual(podNames(env), []);
    assert.deepEqual(revisionsOf(env), []);
    assert.deepEqual(claimNames(env), ['data-keep-0'], 'Retain keeps the claim');
  });

  it('adopts orphan members it selects and leaves a deleting set alone', async () => {
    const env = await setup();
    const orphan: Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web-0', namespace: 'default', labels: { app: 'web' } },
      spec: { containers: [{ name: 'c', image: 'db:v1' }] },
    };
    await env.client.create('pods', orphan);
    const sts = await create(env, statefulSet('web', { replicas: 1 }));
    assert.equal(pod(env, 'web-0')!.metadata.ownerReferences?.[0]?.uid, sts.metadata.uid);
    assert.equal(pod(env, 'web-0')!.metadata.labels?.['statefulset.kubernetes.io/pod-name'], undefined, 'OrderedReady: fixed once ready');
    await run(env, 'web-0');
    assert.equal(pod(env, 'web-0')!.metadata.labels?.['statefulset.kubernetes.io/pod-name'], 'web-0', 'identity put right');
    const cur = getSts(env, 'web');
    await env.client.update(STS, { ...cur, metadata: { ...cur.metadata, deletionTimestamp: new Date(T0).toISOString() }, spec: { ...cur.spec, replicas: 3 } });
    await env.mgr.idle();
    assert.deepEqual(podNames(env), ['web-0']);
  });
});
