import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject, Pod } from '../../../src/agent/api/object-types.ts';
import type { PersistentVolume, PersistentVolumeClaim } from '../../../src/agent/api/persistent-volume-types.ts';
import type { EventRecorder } from '../../../src/agent/event-recorder.ts';
import { silentLogger } from '../../../src/agent/logger.ts';
import { createBinder, type PodBinding } from '../../../src/agent/scheduler/binder.ts';
import type { VolumeProvisioner } from '../../../src/agent/scheduler/volume-provisioner.ts';
import { createFakeObjectClient, type FakeObjectClient } from '../../support/fake-object-client.ts';
import { node } from './scheduler-fixtures.ts';
import { claim, podWith, ROOT, rootedNode, volume } from './storage-fixtures.ts';

const PVC = 'persistentvolumeclaims';
const PV = 'persistentvolumes';

function recorder(): EventRecorder {
  return { async normal() {}, async warning() {} };
}

function binding(client: FakeObjectClient): PodBinding {
  return {
    async bind(namespace, name, nodeName) {
      const p = client.get<Pod>('pods', namespace, name)!;
      p.spec.nodeName = nodeName;
      return client.update('pods', p);
    },
  };
}

function named(name: string, p: Pod): Pod {
  return { ...p, metadata: { ...p.metadata, name, uid: `uid-${name}` } };
}

const nodeOf = (client: FakeObjectClient, name: string) => client.get<Pod>('pods', 'default', name)?.spec.nodeName;
const scheduledMessage = (client: FakeObjectClient, name: string) =>
  client.get<Pod>('pods', 'default', name)?.status?.conditions?.find((c) => c.type === 'PodScheduled')?.message;

async function setup(nodes: KubeObject[], volumes?: VolumeProvisioner) {
  const client = createFakeObjectClient();
  for (const n of nodes) await client.create('nodes', n);
  const binder = createBinder({ client, binding: binding(client), events: recorder(), logger: silentLogger(), ...(volumes ? { volumes } : {}) });
  return { client, binder };
}

describe('binder with volumes', () => {
  it('provisions a pod\'s claim on the chosen node before writing the binding', async () => {
    const { client, binder } = await setup([rootedNode('n1'), node('bare', { allocatable: { cpu: '8', memory: '16Gi', pods: '110' } })]);
    await client.create(PVC, claim('data'));
    await client.create('pods', podWith('data'));
    binder.start();
    await binder.idle();
    assert.equal(nodeOf(client, 'web'), 'n1', 'only n1 can provision');
    const pvc = client.get<PersistentVolumeClaim>(PVC, 'default', 'data')!;
    assert.equal(pvc.status?.phase, 'Bound');
    const pv = client.get<PersistentVolume>(PV, '', pvc.spec!.volumeName!)!;
    assert.deepEqual(pv.spec?.nodeAffinity?.required?.nodeSelectorTerms?.[0]?.matchExpressions?.[0]?.values, ['n1']);
    const order = client.writes.map((w) => `${w.op} ${w.resource}`);
    assert.ok(order.indexOf(`create ${PV}`) < order.lastIndexOf('update pods'), 'the volume exists before the pod is bound');
    assert.ok(order.lastIndexOf(`updateStatus ${PVC}`) < order.lastIndexOf('update pods'), 'the claim is Bound before the pod is');

    // A second pod of the claim follows it to its node.
    await client.create('nodes', rootedNode('n0'));
    await client.create('pods', named('web-2', podWith('data')));
    await binder.idle();
    assert.equal(nodeOf(client, 'web-2'), 'n1');
    await binder.stop();
  });

  it('waits for a missing claim and binds the pod once the claim appears', async () => {
    const { client, binder } = await setup([rootedNode('n1')]);
    await client.create('pods', podWith('data'));
    binder.start();
    await binder.idle();
    assert.equal(nodeOf(client, 'web'), undefined);
    assert.equal(scheduledMessage(client, 'web'), '0/1 nodes are available: persistentvolumeclaim "data" not found.');
    await client.create(PVC, claim('data'));
    await binder.idle();
    assert.equal(nodeOf(client, 'web'), 'n1');
    await binder.stop();
  });

  it('retries a pod when a matching volume appears', async () => {
    const { client, binder } = await setup([rootedNode('n1'), rootedNode('n2')]);
    await client.create(PVC, claim('data', { storageClassName: 'manual' }));
    await client.create('pods', podWith('data'));
    binder.start();
    await binder.idle();
    assert.equal(scheduledMessage(client, 'web'), '0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims.');
    await client.create(PV, volume('disk', { className: 'manual', onNode: 'n2' }));
    await binder.idle();
    assert.equal(nodeOf(client, 'web'), 'n2');
    assert.equal(client.get<PersistentVolumeClaim>(PVC, 'default', 'data')!.spec?.volumeName, 'disk');
    await binder.stop();
  });

  it('retries when a node gains its local volume root', async () => {
    const { client, binder } = await setup([node('n1', { allocatable: { cpu: '1', memory: '1Gi', pods: '10' } })]);
    await client.create(PVC, claim('data'));
    await client.create('pods', podWith('data'));
    binder.start();
    await binder.idle();
    assert.match(scheduledMessage(client, 'web') ?? '', /^0\/1 nodes are available: 1 node\(s\) had no local volume root/);
    const n = client.get('nodes', '', 'n1')!;
    await client.update('nodes', { ...n, metadata: { ...n.metadata, annotations: { [ROOT]: '/data/volumes' } } });
    await binder.idle();
    assert.equal(nodeOf(client, 'web'), 'n1');
    await binder.stop();
  });

  it('does not bind a pod whose volumes the provisioner cannot ready on the node, and says why', async () => {
    let calls = 0;
    const refusing: VolumeProvisioner = {
      async prepare() {
        calls++;
        return { unschedulable: 'node "n1" has no local volume root for the test' };
      },
    };
    const { client, binder } = await setup([rootedNode('n1')], refusing);
    await client.create(PVC, claim('data'));
    await client.create('pods', podWith('data'));
    binder.start();
    await binder.idle();
    assert.ok(calls >= 1);
    assert.equal(nodeOf(client, 'web'), undefined);
    assert.equal(scheduledMessage(client, 'web'), 'node "n1" has no local volume root for the test');
    await binder.stop();
  });
});
