import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from '../../../src/agent/api/object-types.ts';
import type { PersistentVolume, PersistentVolumeClaim } from '../../../src/agent/api/persistent-volume-types.ts';
import { buildClusterSnapshot } from '../../../src/agent/scheduler/cluster-snapshot.ts';
import type { FilterResult } from '../../../src/agent/scheduler/framework.ts';
import { buildPodInfo } from '../../../src/agent/scheduler/pod-info.ts';
import {
  createVolumeBindingPlugin,
  ERR_NO_LOCAL_VOLUME_ROOT,
  ERR_NO_VOLUME_TO_BIND,
  ERR_PV_NOT_EXIST,
  ERR_UNBOUND_IMMEDIATE,
  ERR_VOLUME_NODE_CONFLICT,
} from '../../../src/agent/scheduler/plugins/volume-binding.ts';
import { scheduleOne } from '../../../src/agent/scheduler/scheduling-cycle.ts';
import type { SchedNode } from '../../../src/agent/scheduler/scheduling-shapes.ts';
import { candidateVolumes, volumeSatisfiesClaim } from '../../../src/agent/scheduler/volume-matching.ts';
import { node, pod } from './scheduler-fixtures.ts';
import { claim, podWith, rootedNode, volume } from './storage-fixtures.ts';

function run(p: Pod, nodes: SchedNode[], claims: PersistentVolumeClaim[], volumes: PersistentVolume[] = []): Map<string, FilterResult> {
  const snapshot = buildClusterSnapshot(nodes);
  for (const c of claims) snapshot.setClaim(c);
  for (const v of volumes) snapshot.setVolume(v);
  const plugin = createVolumeBindingPlugin();
  const ctx = { snapshot, state: new Map<string, unknown>() };
  const info = buildPodInfo(p);
  const pre = plugin.preFilter!(info, ctx);
  const out = new Map<string, FilterResult>();
  for (const n of snapshot.nodes()) out.set(n.name, pre === 'skip' ? undefined : pre ? pre.unschedulable : plugin.filter(info, n, ctx));
  return out;
}

function fitting(results: Map<string, FilterResult>): string[] {
  return [...results].filter(([, r]) => r === undefined).map(([n]) => n);
}

describe('VolumeBinding plugin', () => {
  const nodes = [rootedNode('n1'), rootedNode('n2')];

  it('skips pods without claims', () => {
    const plugin = createVolumeBindingPlugin();
    const snapshot = buildClusterSnapshot(nodes);
    assert.equal(plugin.preFilter!(buildPodInfo(pod('plain')), { snapshot, state: new Map() }), 'skip');
  });

  it('rejects a pod whose claim is missing, in kube words', () => {
    const r = run(podWith('data'), nodes, []);
    assert.deepEqual([...r.values()], ['persistentvolumeclaim "data" not found', 'persistentvolumeclaim "data" not found']);
    const snapshot = buildClusterSnapshot(nodes);
    const outcome = scheduleOne(podWith('data'), snapshot);
    assert.deepEqual(outcome.result, { unschedulable: '0/2 nodes are available: persistentvolumeclaim "data" not found.' });
  });

  it('lets an unbound local-path or class-less claim go to any node with a volume root', () => {
    assert.deepEqual(fitting(run(podWith('data'), nodes, [claim('data')])), ['n1', 'n2']);
    assert.deepEqual(fitting(run(podWith('data'), nodes, [claim('data', { storageClassName: 'local-path' })])), ['n1', 'n2']);
  });

  it('keeps a claim to be provisioned off nodes without a local volume root', () => {
    const r = run(podWith('data'), [rootedNode('n1'), node('bare')], [claim('data')]);
    assert.deepEqual(fitting(r), ['n1']);
    assert.deepEqual(r.get('bare'), [ERR_NO_LOCAL_VOLUME_ROOT]);
  });

  it('sends a pod of a bound claim to the nodes its volume allows', () => {
    const c = claim('data', { volumeName: 'pvc-1' }, { phase: 'Bound' });
    const v = volume('pvc-1', { className: 'local-path', onNode: 'n2', claimRef: { namespace: 'default', name: 'data', uid: 'uid-data' } });
    const r = run(podWith('data'), nodes, [c], [v]);
    assert.deepEqual(fitting(r), ['n2']);
    assert.deepEqual(r.get('n1'), [ERR_VOLUME_NODE_CONFLICT]);
    const snapshot = buildClusterSnapshot(nodes);
    snapshot.setClaim(c);
    snapshot.setVolume(v);
    assert.deepEqual(scheduleOne(podWith('data'), snapshot).result, { nodeName: 'n2' });
  });

  it('reports a claim bound to a volume that does not exist on every node', () => {
    const r = run(podWith('data'), nodes, [claim('data', { volumeName: 'gone' }, { phase: 'Bound' })]);
    assert.deepEqual([...r.values()], [[ERR_PV_NOT_EXIST], [ERR_PV_NOT_EXIST]]);
  });

  it('rejects unbound claims of a class nothing provisions, and of no class without a volume', () => {
    const fast = claim('data', { storageClassName: 'fast' });
    assert.deepEqual([...run(podWith('data'), nodes, [fast]).values()], [ERR_UNBOUND_IMMEDIATE, ERR_UNBOUND_IMMEDIATE]);
    const none = claim('data', { storageClassName: '' });
    assert.deepEqual([...run(podWith('data'), nodes, [none], [volume('big', { className: 'fast', size: '10Gi' })]).values()], [
      ERR_UNBOUND_IMMEDIATE,
      ERR_UNBOUND_IMMEDIATE,
    ]);
    const snapshot = buildClusterSnapshot(nodes);
    snapshot.setClaim(fast);
    assert.deepEqual(scheduleOne(podWith('data'), snapshot).result, {
      unschedulable: '0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims.',
    });
  });

  it('places an unbound static claim where a matching free volume lives', () => {
    const c = claim('data', { storageClassName: 'manual' });
    const r = run(podWith('data'), nodes, [c], [volume('v-n1', { className: 'manual', onNode: 'n1', size: '2Gi' })]);
    assert.deepEqual(fitting(r), ['n1']);
    assert.deepEqual(r.get('n2'), [ERR_NO_VOLUME_TO_BIND]);
  });

  it('does not count one free volume for two claims of the same pod', () => {
    const a = claim('a', { storageClassName: 'manual' });
    const b = claim('b', { storageClassName: 'manual' });
    const vols = [volume('v1', { className: 'manual', onNode: 'n1' }), volume('v2', { className: 'manual', onNode: 'n2' }), volume('v3', { className: 'manual', onNode: 'n2' })];
    const r = run(podWith('a', 'b'), nodes, [a, b], vols);
    assert.deepEqual(fitting(r), ['n2']);
    assert.deepEqual(r.get('n1'), [ERR_NO_VOLUME_TO_BIND]);
  });

  it('rejects a claim being deleted', () => {
    const c = claim('data');
    c.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
    assert.deepEqual([...run(podWith('data'), nodes, [c]).values()][0], 'persistentvolumeclaim "data" is being deleted');
  });
});

describe('volume matching', () => {
  it('matches class, size, access modes, selector and phase', () => {
    const c = claim('data', { storageClassName: 'manual', accessModes: ['ReadWriteMany'], selector: { matchLabels: { tier: 'db' } } });
    const ok = volume('ok', { className: 'manual', size: '2Gi', modes: ['ReadWriteOnce', 'ReadWriteMany'], labels: { tier: 'db' } });
    assert.equal(volumeSatisfiesClaim(ok, c), true);
    assert.equal(volumeSatisfiesClaim(volume('small', { className: 'manual', size: '500Mi', modes: ['ReadWriteMany'], labels: { tier: 'db' } }), c), false);
    assert.equal(volumeSatisfiesClaim(volume('class', { className: 'other', size: '2Gi', modes: ['ReadWriteMany'], labels: { tier: 'db' } }), c), false);
    assert.equal(volumeSatisfiesClaim(volume('modes', { className: 'manual', size: '2Gi', labels: { tier: 'db' } }), c), false);
    assert.equal(volumeSatisfiesClaim(volume('labels', { className: 'manual', size: '2Gi', modes: ['ReadWriteMany'] }), c), false);
    assert.equal(volumeSatisfiesClaim(volume('released', { className: 'manual', size: '2Gi', modes: ['ReadWriteMany'], labels: { tier: 'db' }, phase: 'Released' }), c), false);
    const taken = volume('taken', { className: 'manual', size: '2Gi', modes: ['ReadWriteMany'], labels: { tier: 'db' }, claimRef: { namespace: 'default', name: 'other', uid: 'x' } });
    assert.equal(volumeSatisfiesClaim(taken, c), false);
  });

  it('treats an unset class as local-path and prefers volumes pre-bound to the claim, then the smallest', () => {
    const c = claim('data');
    assert.equal(volumeSatisfiesClaim(volume('none', {}), c), false, 'an unset class is the default class, not "no class"');
    assert.equal(volumeSatisfiesClaim(volume('lp', { className: 'local-path' }), c), true);
    const pre = volume('pre', { className: 'whatever', size: '9Gi', claimRef: { namespace: 'default', name: 'data' }, phase: 'Available' });
    const order = candidateVolumes([volume('big', { className: 'local-path', size: '5Gi' }), volume('small', { className: 'local-path', size: '2Gi' }), pre], c);
    assert.deepEqual(order.map((v) => v.metadata.name), ['pre', 'small', 'big']);
  });
});

describe('cluster snapshot: claims and volumes', () => {
  it('reports only changes that matter', () => {
    const s = buildClusterSnapshot([]);
    const c = claim('data');
    assert.equal(s.setClaim(c), true);
    assert.equal(s.setClaim(structuredClone(c)), false, 'the same claim again');
    assert.equal(s.setClaim({ ...c, metadata: { ...c.metadata, resourceVersion: '9' } }), false, 'a new resourceVersion alone');
    assert.equal(s.setClaim({ ...c, spec: { ...c.spec, volumeName: 'v' } }), true);
    assert.equal(s.claim('default', 'data')?.spec?.volumeName, 'v');
    assert.equal(s.removeClaim('default', 'data'), true);
    assert.equal(s.removeClaim('default', 'data'), false);
    const v = volume('v');
    assert.equal(s.setVolume(v), true);
    assert.equal(s.setVolume({ ...v, status: { phase: 'Released' } }), true);
    assert.deepEqual([...s.volumes()].map((x) => x.metadata.name), ['v']);
    assert.equal(s.removeVolume('v'), true);
    assert.equal(s.volume('v'), undefined);
  });

  it('counts a node gaining its local volume root as a change', () => {
    const s = buildClusterSnapshot([node('n1')]);
    assert.equal(s.setNode(node('n1')), false);
    assert.equal(s.setNode(rootedNode('n1')), true);
  });
});
