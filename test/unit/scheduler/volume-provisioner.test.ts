import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../src/agent/api/object-types.ts';
import type { PersistentVolume, PersistentVolumeClaim } from '../../../src/agent/api/persistent-volume-types.ts';
import { createRegistry } from '../../../src/agent/api/registry.ts';
import type { EventRecorder } from '../../../src/agent/event-recorder.ts';
import { silentLogger } from '../../../src/agent/logger.ts';
import { createMemoryStore } from '../../../src/agent/store/memory-store.ts';
import { createVolumeProvisioner } from '../../../src/agent/scheduler/volume-provisioner.ts';
import { createFakeObjectClient, type FakeObjectClient } from '../../support/fake-object-client.ts';
import { node } from './scheduler-fixtures.ts';
import { claim, podWith, rootedNode, volume } from './storage-fixtures.ts';

const PVC = 'persistentvolumeclaims';
const PV = 'persistentvolumes';

function recorder(): EventRecorder & { seen: string[] } {
  const seen: string[] = [];
  return {
    seen,
    async normal(_o: KubeObject, reason: string) {
      seen.push(reason);
    },
    async warning(_o: KubeObject, reason: string) {
      seen.push(reason);
    },
  };
}

async function setup(...objects: [string, KubeObject][]) {
  const client = createFakeObjectClient();
  await client.create('nodes', rootedNode('n1'));
  await client.create('nodes', rootedNode('n2'));
  await client.create('nodes', node('bare'));
  for (const [resource, o] of objects) await client.create(resource, o);
  const events = recorder();
  const provisioner = createVolumeProvisioner({ client, logger: silentLogger(), events });
  const pvcOf = (name = 'data') => client.get<PersistentVolumeClaim>(PVC, 'default', name)!;
  const pvOf = (name: string) => client.get<PersistentVolume>(PV, '', name);
  return { client, events, provisioner, pvcOf, pvOf };
}

function writes(client: FakeObjectClient): string[] {
  return client.writes.map((w) => `${w.op} ${w.resource} ${w.name}`);
}

describe('volume provisioner', () => {
  it('provisions a local volume on the chosen node and binds the claim', async () => {
    const { provisioner, pvcOf, pvOf, events } = await setup([PVC, claim('data', { resources: { requests: { storage: '2Gi' } } })]);
    const uid = pvcOf().metadata.uid!;
    assert.equal(await provisioner.prepare(podWith('data'), 'n2'), undefined);
    const pv = pvOf(`pvc-${uid}`)!;
    assert.ok(pv, 'the volume is named after the claim uid');
    assert.equal(pv.metadata.annotations?.['pv.kubernetes.io/provisioned-by'], 'mesh.dev/local-path');
    assert.deepEqual(pv.spec, {
      capacity: { storage: '2Gi' },
      accessModes: ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: 'Delete',
      storageClassName: 'local-path',
      volumeMode: 'Filesystem',
      claimRef: { kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace: 'default', name: 'data', uid },
      local: { path: `/var/lib/mesh/n2/volumes/pvc-${uid}` },
      nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['n2'] }] }] } },
    });
    assert.equal(pv.status?.phase, 'Bound');
    const pvc = pvcOf();
    assert.equal(pvc.spec?.volumeName, `pvc-${uid}`);
    assert.equal(pvc.metadata.annotations?.['volume.kubernetes.io/selected-node'], 'n2');
    assert.equal(pvc.metadata.annotations?.['pv.kubernetes.io/bind-completed'], 'yes');
    assert.equal(pvc.metadata.annotations?.['volume.kubernetes.io/storage-provisioner'], 'mesh.dev/local-path');
    assert.deepEqual(pvc.status, { phase: 'Bound', accessModes: ['ReadWriteOnce'], capacity: { storage: '2Gi' } });
    assert.deepEqual(events.seen, ['ProvisioningSucceeded']);
  });

  it('is idempotent: a second run writes nothing, and a run after a half-done one finishes it', async () => {
    const { client, provisioner, pvcOf, pvOf } = await setup([PVC, claim('data')]);
    await provisioner.prepare(podWith('data'), 'n1');
    const before = client.writes.length;
    assert.equal(await provisioner.prepare(podWith('data'), 'n1'), undefined);
    assert.equal(client.writes.length, before, 'nothing left to write');

    // The volume was made but the claim never got bound (a crash, a lost lease).
    const uid = pvcOf().metadata.uid!;
    const c = pvcOf();
    await client.delete(PVC, 'default', 'data');
    await client.create(PVC, { ...c, metadata: { name: 'data', namespace: 'default', uid }, spec: { ...c.spec, volumeName: undefined }, status: { phase: 'Pending' } });
    assert.equal(await provisioner.prepare(podWith('data'), 'n1'), undefined);
    assert.equal(pvcOf().spec?.volumeName, `pvc-${uid}`);
    assert.equal(pvcOf().status?.phase, 'Bound');
    assert.equal(client.list(PV).items.length, 1, 'the volume made before is the one used');
    assert.ok(pvOf(`pvc-${uid}`));
  });

  it('treats AlreadyExists on its own volume name as done', async () => {
    const { client, pvcOf, pvOf } = await setup([PVC, claim('data')]);
    const uid = pvcOf().metadata.uid!;
    await client.create(PV, { ...volume(`pvc-${uid}`, { className: 'local-path', onNode: 'n1', claimRef: { namespace: 'default', name: 'data', uid } }), status: { phase: 'Available' } });
    // A list that lags the store (the volume not in it yet) sends the provisioner to create it again.
    const lagging = { ...client, list: <T extends KubeObject>(resource: string) => (resource === PV ? { items: [] as T[], resourceVersion: '1' } : client.list<T>(resource)) };
    const provisioner = createVolumeProvisioner({ client: lagging, logger: silentLogger() });
    const before = client.writes.length;
    assert.equal(await provisioner.prepare(podWith('data'), 'n1'), undefined);
    assert.ok(writes(client).slice(before).includes(`create ${PV} pvc-${uid}`), 'the create was tried');
    assert.equal(pvOf(`pvc-${uid}`)!.status?.phase, 'Bound');
    assert.equal(pvcOf().spec?.volumeName, `pvc-${uid}`);
  });

  it('refuses a volume of that name that belongs to another claim', async () => {
    const { client, provisioner, pvcOf } = await setup([PVC, claim('data')]);
    const uid = pvcOf().metadata.uid!;
    await client.create(PV, volume(`pvc-${uid}`, { className: 'local-path', claimRef: { namespace: 'default', name: 'data', uid: 'someone-else' } }));
    await assert.rejects(provisioner.prepare(podWith('data'), 'n1'), /belongs to another claim/);
    assert.equal(pvcOf().spec?.volumeName, undefined);
  });

  it('leaves the pod off a node without a local volume root, saying why, and writes nothing', async () => {
    const { client, provisioner } = await setup([PVC, claim('data')]);
    const before = client.writes.length;
    const r = await provisioner.prepare(podWith('data'), 'bare');
    assert.ok(r && /node "bare" has no local volume root \(annotation mesh\.dev\/local-volume-root\)/.test(r.unschedulable), JSON.stringify(r));
    assert.equal(client.writes.length, before);
  });

  it('binds a free matching static volume before provisioning one', async () => {
    const { client, provisioner, pvcOf, pvOf } = await setup(
      [PVC, claim('data', { storageClassName: 'local-path' })],
      [PV, volume('pre-made', { className: 'local-path', size: '5Gi', onNode: 'n1' })],
    );
    assert.equal(await provisioner.prepare(podWith('data'), 'n1'), undefined);
    const pv = pvOf('pre-made')!;
    assert.deepEqual(pv.spec?.claimRef, { kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace: 'default', name: 'data', uid: 'uid-data' });
    assert.equal(pv.status?.phase, 'Bound');
    assert.equal(pvcOf().spec?.volumeName, 'pre-made');
    assert.deepEqual(pvcOf().status, { phase: 'Bound', accessModes: ['ReadWriteOnce'], capacity: { storage: '5Gi' } });
    assert.equal(pvcOf().metadata.annotations?.['volume.kubernetes.io/selected-node'], undefined, 'only provisioning selects a node');
    assert.ok(!writes(client).some((w) => w.startsWith(`create ${PV} pvc-`)), 'nothing provisioned');
  });

  it('skips a static volume the node cannot reach, and has nothing for a class no one provisions', async () => {
    const { provisioner, pvcOf } = await setup([PVC, claim('data', { storageClassName: 'manual' })], [PV, volume('on-n1', { className: 'manual', onNode: 'n1' })]);
    const r = await provisioner.prepare(podWith('data'), 'n2');
    assert.ok(r && /persistentvolumeclaim "data" has no volume to bind on node "n2"/.test(r.unschedulable));
    assert.equal(await provisioner.prepare(podWith('data'), 'n1'), undefined);
    assert.equal(pvcOf().spec?.volumeName, 'on-n1');
  });

  it('completes a claim pre-bound by volumeName', async () => {
    const { provisioner, pvcOf, pvOf } = await setup([PVC, claim('data', { storageClassName: 'manual', volumeName: 'mine' })], [PV, volume('mine', { className: 'manual' })]);
    assert.equal(await provisioner.prepare(podWith('data'), 'n2'), undefined);
    assert.equal(pvOf('mine')!.spec?.claimRef?.uid, 'uid-data');
    assert.equal(pvcOf().status?.phase, 'Bound');
  });

  it('refuses a node the bound volume does not allow (another pod of the claim won)', async () => {
    const { provisioner } = await setup(
      [PVC, claim('data', { volumeName: 'pvc-x' }, { phase: 'Bound' })],
      [PV, volume('pvc-x', { className: 'local-path', onNode: 'n1', claimRef: { namespace: 'default', name: 'data', uid: 'uid-data' } })],
    );
    await assert.rejects(provisioner.prepare(podWith('data'), 'n2'), /can't be used on node "n2"/);
    assert.equal(await provisioner.prepare(podWith('data'), 'n1'), undefined);
  });

  it('serialises pods of one claim: the second, on another node, is refused and one volume exists', async () => {
    const { client, provisioner } = await setup([PVC, claim('data')]);
    const results = await Promise.allSettled([provisioner.prepare(podWith('data'), 'n1'), provisioner.prepare(podWith('data'), 'n2')]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected']);
    assert.equal(client.list(PV).items.length, 1);
  });

  it('works against the real registry: the provisioned volume and the claim updates pass admission', async () => {
    const store = createMemoryStore();
    await store.start();
    const registry = createRegistry({ store, logger: silentLogger() });
    await registry.ensureDefaultNamespaces();
    await registry.create('nodes', rootedNode('n1'));
    await registry.create(PVC, { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data', namespace: 'default' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } });
    const created = registry.get<PersistentVolumeClaim>(PVC, 'default', 'data')!;
    assert.equal(created.status?.phase, 'Pending');
    const provisioner = createVolumeProvisioner({ client: registry, logger: silentLogger() });
    assert.equal(await provisioner.prepare(podWith('data'), 'n1'), undefined);
    const pvc = registry.get<PersistentVolumeClaim>(PVC, 'default', 'data')!;
    const pv = registry.get<PersistentVolume>(PV, '', `pvc-${created.metadata.uid}`)!;
    assert.equal(pv.status?.phase, 'Bound');
    assert.equal(pv.spec?.local?.path, `/var/lib/mesh/n1/volumes/pvc-${created.metadata.uid}`);
    assert.equal(pvc.spec?.volumeName, pv.metadata.name);
    assert.equal(pvc.status?.phase, 'Bound');
    await store.stop?.();
  });
});
