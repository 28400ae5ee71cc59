import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../src/agent/api/object-types.ts';
import type { PersistentVolume, PersistentVolumeClaim } from '../../../src/agent/api/persistent-volume-types.ts';
import { createControllerManager, type ControllerManager } from '../../../src/agent/controllers/controller.ts';
import { createPersistentVolumeController } from '../../../src/agent/controllers/persistent-volume-controller.ts';
import type { EventRecorder } from '../../../src/agent/event-recorder.ts';
import { silentLogger } from '../../../src/agent/logger.ts';
import { createFakeObjectClient, type FakeObjectClient } from '../../support/fake-object-client.ts';
import { claim, volume } from '../scheduler/storage-fixtures.ts';

const PVC = 'persistentvolumeclaims';
const PV = 'persistentvolumes';

const managers: ControllerManager[] = [];
afterEach(async () => {
  for (const m of managers.splice(0)) await m.stop();
});

function recorder(): EventRecorder & { seen: { reason: string; name: string }[] } {
  const seen: { reason: string; name: string }[] = [];
  const push = async (o: KubeObject, reason: string) => {
    seen.push({ reason, name: o.metadata.name ?? '' });
  };
  return { seen, normal: push, warning: push };
}

async function setup(opts: { graceMs?: number } = {}) {
  const client = createFakeObjectClient();
  const events = recorder();
  const mgr = createControllerManager({
    client,
    logger: silentLogger(),
    controllers: [createPersistentVolumeController({ client, logger: silentLogger(), events, claimGraceMs: opts.graceMs ?? 0 })],
    baseDelayMs: 5,
    maxDelayMs: 50,
  });
  managers.push(mgr);
  await mgr.start();
  const pvOf = (name: string) => client.get<PersistentVolume>(PV, '', name);
  const pvcOf = (name = 'data') => client.get<PersistentVolumeClaim>(PVC, 'default', name);
  return { client, events, mgr, pvOf, pvcOf };
}

const refTo = (uid: string, name = 'data') => ({ kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace: 'default', name, uid });

/** A claim and a volume bound to each other, as the provisioner leaves them. */
async function boundPair(client: FakeObjectClient, policy: 'Retain' | 'Delete') {
  const c = await client.create(PVC, claim('data', { volumeName: 'vol' }, { phase: 'Bound', accessModes: ['ReadWriteOnce'], capacity: { storage: '1Gi' } }));
  const v = volume('vol', { className: 'local-path', claimRef: refTo(c.metadata.uid!) });
  v.spec!.persistentVolumeReclaimPolicy = policy;
  await client.create(PV, v);
  return c;
}

describe('persistent volume controller', () => {
  it('releases a volume whose claim is deleted, and deletes it when its policy is Delete', async () => {
    const { client, mgr, pvOf, events } = await setup();
    await boundPair(client, 'Delete');
    await mgr.idle();
    assert.equal(pvOf('vol')?.status?.phase, 'Bound');
    await client.delete(PVC, 'default', 'data');
    await mgr.idle();
    assert.equal(pvOf('vol'), undefined, 'a released Delete volume goes');
    assert.deepEqual(events.seen.filter((e) => e.reason === 'VolumeDeleted').map((e) => e.name), ['vol']);
  });

  it('keeps a released Retain volume, and makes it Available once an admin clears its claimRef', async () => {
    const { client, mgr, pvOf } = await setup();
    await boundPair(client, 'Retain');
    await client.delete(PVC, 'default', 'data');
    await mgr.idle();
    const pv = pvOf('vol')!;
    assert.equal(pv.status?.phase, 'Released');
    await client.update(PV, { ...pv, spec: { ...pv.spec, claimRef: null } });
    await mgr.idle();
    assert.equal(pvOf('vol')?.status?.phase, 'Available');
  });

  it('releases a volume whose claim was replaced by one with another uid', async () => {
    const { client, mgr, pvOf } = await setup();
    await client.create(PVC, claim('data'));
    await client.create(PV, volume('vol', { className: 'local-path', claimRef: refTo('an-older-uid') }));
    await mgr.idle();
    assert.equal(pvOf('vol')?.status?.phase, 'Released');
  });

  it('leaves a volume pre-bound by name to a claim that does not exist yet Available', async () => {
    const { client, mgr, pvOf } = await setup();
    await client.create(PV, { ...volume('vol', { className: 'manual', claimRef: { namespace: 'default', name: 'later' } }), status: { phase: 'Pending' } });
    await mgr.idle();
    assert.equal(pvOf('vol')?.status?.phase, 'Available');
  });

  it('marks a claim Bound when its volume holds it, with the volume capacity and modes', async () => {
    const { client, mgr, pvcOf, pvOf } = await setup();
    const c = await client.create(PVC, claim('data', { volumeName: 'vol' }, { phase: 'Pending' }));
    await client.create(PV, { ...volume('vol', { className: 'local-path', size: '3Gi', claimRef: refTo(c.metadata.uid!) }), status: { phase: 'Available' } });
    await mgr.idle();
    assert.deepEqual(pvcOf()?.status, { phase: 'Bound', accessModes: ['ReadWriteOnce'], capacity: { storage: '3Gi' } });
    assert.equal(pvOf('vol')?.status?.phase, 'Bound');
  });

  it('marks a Bound claim Lost when its volume vanishes', async () => {
    const { client, mgr, pvcOf, events } = await setup({ graceMs: 60_000 });
    await boundPair(client, 'Retain');
    await mgr.idle();
    await client.delete(PV, '', 'vol');
    await mgr.idle();
    assert.equal(pvcOf()?.status?.phase, 'Lost');
    assert.ok(events.seen.some((e) => e.reason === 'ClaimLost' && e.name === 'data'));
  });

  it('binds a claim that names a free matching volume', async () => {
    const { client, mgr, pvcOf, pvOf } = await setup();
    await client.create(PV, volume('mine', { className: 'manual', size: '2Gi' }));
    const c = await client.create(PVC, claim('data', { storageClassName: 'manual', volumeName: 'mine' }));
    await mgr.idle();
    assert.equal(pvOf('mine')?.spec?.claimRef?.uid, c.metadata.uid);
    assert.equal(pvOf('mine')?.status?.phase, 'Bound');
    assert.equal(pvcOf()?.status?.phase, 'Bound');
  });

  it('does not bind a named volume that does not fit the claim', async () => {
    const { client, mgr, pvcOf, pvOf, events } = await setup();
    await client.create(PV, volume('mine', { className: 'manual', size: '500Mi' }));
    await client.create(PVC, claim('data', { storageClassName: 'manual', volumeName: 'mine' }));
    await mgr.idle();
    assert.equal(pvOf('mine')?.spec?.claimRef, undefined);
    assert.equal(pvcOf()?.status?.phase, 'Pending');
    assert.ok(events.seen.some((e) => e.reason === 'VolumeMismatch'));
  });

  it('waits out the grace period before releasing a volume whose claim seems gone', async () => {
    const clock = { now: Date.parse('2026-01-01T00:00:00Z') };
    const client = createFakeObjectClient();
    const controller = createPersistentVolumeController({ client, logger: silentLogger(), events: recorder(), claimGraceMs: 5_000, clock: () => new Date(clock.now) });
    controller.onStart?.();
    await client.create(PV, volume('vol', { className: 'local-path', claimRef: refTo('gone') }));
    const first = await controller.reconcile('pv:vol');
    assert.deepEqual(first, { requeueAfterMs: 5_000 });
    assert.equal(client.get<PersistentVolume>(PV, '', 'vol')?.status?.phase, 'Bound');
    clock.now += 2_000;
    assert.deepEqual(await controller.reconcile('pv:vol'), { requeueAfterMs: 3_000 });
    clock.now += 3_000;
    await controller.reconcile('pv:vol');
    assert.equal(client.get<PersistentVolume>(PV, '', 'vol')?.status?.phase, 'Released');
  });
});
