import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from '../../../src/agent/api/object-types.ts';
import {
  claimOwnersFor,
  claimOwnersUpToDate,
  newStatefulSetPod,
  ordinalOf,
  planPass,
  type PersistentVolumeClaim,
  type StatefulSet,
} from '../../../src/agent/controllers/statefulset-pods.ts';
import {
  hashRevisionData,
  revisionsToPrune,
  templateOfRevision,
  templatePatchData,
  type ControllerRevision,
} from '../../../src/agent/controllers/controller-revisions.ts';

const NOW = new Date('2026-04-01T08:00:00Z');

function sts(spec: Partial<StatefulSet['spec']> = {}): StatefulSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'web', namespace: 'default', uid: 'sts-uid' },
    spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'i' }] } }, ...spec },
  };
}

function member(name: string, ready: boolean, rev = 'web-1'): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', uid: `${name}-uid`, labels: { app: 'web', 'controller-revision-hash': rev } },
    spec: { containers: [] },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  };
}

const claim = (refs?: PersistentVolumeClaim['metadata']['ownerReferences']): PersistentVolumeClaim => ({
  apiVersion: 'v1',
  kind: 'PersistentVolumeClaim',
  metadata: { name: 'data-web-1', namespace: 'default', ...(refs ? { ownerReferences: refs } : {}) },
});

describe('statefulset identities', () => {
  it('parses ordinals only from names <sts>-<n>', () => {
    const s = sts();
    assert.equal(ordinalOf(s, 'web-0'), 0);
    assert.equal(ordinalOf(s, 'web-12'), 12);
    assert.equal(ordinalOf(s, 'web-x'), -1);
    assert.equal(ordinalOf(s, 'web-web-1'), -1, 'another set named web-web');
    assert.equal(ordinalOf({ ...s, metadata: { name: 'web-web' } }, 'web-web-1'), 1);
    assert.equal(ordinalOf(s, 'web-99999999999'), -1, 'beyond int32');
  });

  it('builds a pod whose claim volumes replace template volumes of the same name', () => {
    const s = sts({
      serviceName: 'svc',
      volumeClaimTemplates: [{ metadata: { name: 'data' } }],
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [], volumes: [{ name: 'data', emptyDir: {} }, { name: 'cfg', configMap: { name: 'c' } }] } },
    });
    const p = newStatefulSetPod(s, s.spec.template, 3, 'web-abc');
    assert.equal(p.metadata.name, 'web-3');
    assert.deepEqual(p.spec.volumes, [
      { name: 'data', persistentVolumeClaim: { claimName: 'data-web-3' } },
      { name: 'cfg', configMap: { name: 'c' } },
    ]);
    assert.equal(p.spec.subdomain, 'svc');
  });
});

describe('claim owners under the retention policy', () => {
  const setRef = { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: 'sts-uid', controller: true, blockOwnerDeletion: true };
  const pod1 = member('web-1', true);
  const podRef = { apiVersion: 'v1', kind: 'Pod', name: 'web-1', uid: 'web-1-uid', controller: true, blockOwnerDeletion: true };
  const cases: [string, string, number, unknown[]][] = [
    ['Retain', 'Retain', 2, []],
    ['Retain', 'Retain', 1, []],
    ['Delete', 'Retain', 2, [setRef]],
    ['Delete', 'Retain', 1, [setRef]],
    ['Retain', 'Delete', 2, []],
    ['Retain', 'Delete', 1, [podRef]],
    ['Delete', 'Delete', 2, [setRef]],
    ['Delete', 'Delete', 1, [podRef]],
  ];
  for (const [whenDeleted, whenScaled, replicas, want] of cases) {
    it(`whenDeleted ${whenDeleted}, whenScaled ${whenScaled}, ${replicas === 1 ? 'scaled down' : 'in range'}`, () => {
      const s = sts({ replicas, persistentVolumeClaimRetentionPolicy: { whenDeleted, whenScaled } });
      assert.deepEqual(claimOwnersFor(claim(), s, pod1, 1) ?? [], want);
      assert.equal(claimOwnersUpToDate(claim(want.length ? (want as never) : undefined), s, pod1, 1), true);
      assert.equal(claimOwnersUpToDate(claim([{ ...setRef, controller: false }]), s, pod1, 1), false, 'a non-controller ref of ours is put right');
    });
  }

  it('leaves a claim another controller owns alone', () => {
    const other = { apiVersion: 'example.com/v1', kind: 'Thing', name: 't', uid: 'x', controller: true };
    const s = sts({ persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Delete', whenScaled: 'Delete' } });
    assert.deepEqual(claimOwnersFor(claim([other]), s, pod1, 1), [other]);
    assert.equal(claimOwnersUpToDate(claim([other]), s, pod1, 1), true);
  });
});

describe('a pass', () => {
  const free = () => false;
  it('OrderedReady scale-down waits on an unhealthy condemned pod unless it is the first unhealthy one', () => {
    const s = sts({ replicas: 2 });
    const base = [member('web-0', true), member('web-1', true)];
    const both = planPass({ sts: s, pods: [...base, member('web-2', false), member('web-3', false)], updateRevision: 'web-1', now: NOW, claimsBlocked: free });
    assert.deepEqual(both.remove, []);
    assert.deepEqual(both.waitingOn, { pod: 'web-3', reason: 'ready' });
    const top = planPass({ sts: s, pods: [...base, member('web-2', true), member('web-3', false)], updateRevision: 'web-1', now: NOW, claimsBlocked: free });
    assert.deepEqual(top.remove.map((r) => [r.pod.metadata.name, r.why]), [['web-3', 'scale-down']]);
  });

  it('Parallel creates past an unready pod and past a blocked claim', () => {
    const s = sts({ replicas: 4, podManagementPolicy: 'Parallel' });
    const plan = planPass({ sts: s, pods: [member('web-0', false)], updateRevision: 'web-1', now: NOW, claimsBlocked: (o) => o === 2 });
    assert.deepEqual(plan.create.map((c) => c.ordinal), [1, 3]);
  });

  it('a rolling update leaves ordinals below the partition alone and waits for an unavailable one', () => {
    const s = sts({ replicas: 3, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 1 } } });
    const pods = [member('web-0', true, 'old'), member('web-1', true, 'old'), member('web-2', false, 'new')];
    const waiting = planPass({ sts: { ...s, spec: { ...s.spec, podManagementPolicy: 'Parallel' } }, pods, updateRevision: 'new', now: NOW, claimsBlocked: free });
    assert.deepEqual(waiting.remove, []);
    assert.deepEqual(waiting.waitingOn, { pod: 'web-2', reason: 'available' });
    pods[2] = member('web-2', true, 'new');
    const next = planPass({ sts: s, pods, updateRevision: 'new', now: NOW, claimsBlocked: free });
    assert.deepEqual(next.remove.map((r) => r.pod.metadata.name), ['web-1']);
    pods[1] = member('web-1', true, 'new');
    assert.deepEqual(planPass({ sts: s, pods, updateRevision: 'new', now: NOW, claimsBlocked: free }).remove, []);
  });
});

describe('controller revisions', () => {
  it('hashes data whatever its key order, and the collision count into it', () => {
    const a = hashRevisionData({ spec: { x: 1, y: [1, 2] } }, 0);
    assert.equal(hashRevisionData({ spec: { y: [1, 2], x: 1 } }, 0), a);
    assert.notEqual(hashRevisionData({ spec: { x: 1, y: [1, 2] } }, 1), a);
    assert.notEqual(hashRevisionData({ spec: { x: 2, y: [1, 2] } }, 0), a);
    assert.match(a, /^[bcdfghjklmnpqrstvwxz2456789]+$/);
  });

  it('stores the template as the patch kubectl applies, and gives it back', () => {
    const template = { spec: { containers: [{ name: 'c', image: 'i', args: null }] }, metadata: { labels: { app: 'web' }, creationTimestamp: null } };
    const data = templatePatchData(template);
    assert.equal(JSON.stringify(data), '{"spec":{"template":{"$patch":"replace","metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"image":"i","name":"c"}]}}}}');
    const rev = { apiVersion: 'apps/v1', kind: 'ControllerRevision', metadata: {}, data, revision: 1 };
    assert.deepEqual(templateOfRevision(rev), { metadata: { labels: { app: 'web' } }, spec: { containers: [{ image: 'i', name: 'c' }] } });
  });

  it('prunes the oldest revisions no one uses beyond the limit', () => {
    const rev = (name: string, revision: number): ControllerRevision => ({ apiVersion: 'apps/v1', kind: 'ControllerRevision', metadata: { name }, revision });
    const sorted = [rev('a', 1), rev('b', 2), rev('c', 3), rev('d', 4), rev('e', 5)];
    assert.deepEqual(revisionsToPrune(sorted, new Set(['b', 'e']), 1).map((r) => r.metadata.name), ['a', 'c']);
    assert.deepEqual(revisionsToPrune(sorted, new Set(['e']), 10), []);
    assert.deepEqual(revisionsToPrune(sorted, new Set(['e']), 0).map((r) => r.metadata.name), ['a', 'b', 'c', 'd']);
  });
});
