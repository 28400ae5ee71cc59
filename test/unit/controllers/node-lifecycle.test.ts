import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  createNodeLifecycle,
  nodesToMarkUnknown,
  podsToEvict,
  taintsFor,
  withUnknownConditions,
  UNKNOWN_REASON,
  TAINT_NOT_READY,
  TAINT_UNREACHABLE,
  type MemberView,
} from '../../../src/agent/controllers/node-lifecycle.ts';
import type { KubeObject, Pod } from '../../../src/agent/api/object-types.ts';
import { silentLogger } from '../../../src/agent/logger.ts';
import { createFakeObjectClient } from '../../support/fake-object-client.ts';

function node(name: string, ready: string): KubeObject & { status: any } {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name },
    status: {
      conditions: [
        { type: 'MemoryPressure', status: 'False', lastTransitionTime: '2026-01-01T00:00:00Z' },
        { type: 'Ready', status: ready, lastTransitionTime: '2026-01-01T00:00:00Z' },
      ],
    },
  };
}

describe('node lifecycle', () => {
  it('marks only nodes whose member is dead and not already Unknown', () => {
    const nodes = [node('a', 'True'), node('b', 'True'), node('c', 'Unknown'), node('d', 'True')];
    const members = [
      { nodeName: 'a', status: 'alive' as const },
      { nodeName: 'b', status: 'dead' as const },
      { nodeName: 'c', status: 'dead' as const },
      { nodeName: 'd', status: 'suspect' as const },
    ];
    assert.deepEqual(nodesToMarkUnknown(nodes, members).map((n) => n.metadata.name), ['b']);
  });

  it('sets every condition Unknown, with a transition time only where it changed', () => {
    const now = new Date('2026-11-25T10:00:00.123Z');
    const marked = withUnknownConditions(node('b', 'True'), now) as any;
    for (const c of marked.status.conditions) {
      assert.equal(c.status, 'Unknown');
      assert.equal(c.reason, UNKNOWN_REASON);
      assert.equal(c.lastTransitionTime, '2026-11-25T10:00:00Z');
    }
    const again = withUnknownConditions(marked, new Date('2026-11-25T11:00:00Z')) as any;
    assert.equal(again.status.conditions[1].lastTransitionTime, '2026-11-25T10:00:00Z');
  });

});

const NOW = new Date('2026-05-01T12:00:00Z');

function taintedNode(name: string, ready: string, taints: unknown[] = []): KubeObject & { spec: any; status: any } {
  return { ...node(name, ready), spec: { taints } };
}

function boundPod(name: string, nodeName: string, extra: Partial<Pod['spec']> = {}, phase = 'Running'): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', uid: `uid-${name}` },
    spec: { nodeName, containers: [{ name: 'c', image: 'busybox' }], ...extra },
    status: { phase: phase as 'Running' },
  };
}

describe('node taints', () => {
  it('taints an unreachable node (Ready Unknown) NoSchedule and NoExecute, with timeAdded on NoExecute', () => {
    const user = { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' };
    const taints = taintsFor(taintedNode('a', 'Unknown', [user]), NOW);
    assert.deepEqual(taints, [
      user,
      { key: TAINT_UNREACHABLE, effect: 'NoSchedule' },
      { key: TAINT_UNREACHABLE, effect: 'NoExecute', timeAdded: '2026-05-01T12:00:00Z' },
    ]);
    // Applied again later: unchanged, timeAdded kept.
    assert.deepEqual(taintsFor(taintedNode('a', 'Unknown', taints), new Date(NOW.getTime() + 60_000)), taints);
  });

  it('taints a node reporting Ready False as not-ready, swapping out unreachable', () => {
    const was = taintsFor(taintedNode('a', 'Unknown'), NOW);
    const taints = taintsFor(taintedNode('a', 'False', was), NOW);
    assert.deepEqual(taints.map((t) => `${t.key}:${t.effect}`), [`${TAINT_NOT_READY}:NoSchedule`, `${TAINT_NOT_READY}:NoExecute`]);
  });

  it('removes its taints once Ready is True again, keeping the users\'', () => {
    const user = { key: 'dedicated', effect: 'NoExecute' };
    const was = taintsFor(taintedNode('a', 'Unknown', [user]), NOW);
    assert.deepEqual(taintsFor(taintedNode('a', 'True', was), NOW), [user]);
  });
});

describe('pod eviction from unreachable nodes', () => {
  const GRACE = 5000;
  const t0 = NOW.getTime();
  const nodes = [node('down', 'Unknown'), node('up', 'True')];
  const since = new Map([['down', t0]]);

  it('evicts pods that do not tolerate unreachable only after the grace', () => {
    const pods = [boundPod('p', 'down'), boundPod('q', 'up')];
    assert.deepEqual(podsToEvict(nodes, pods, since, t0 + GRACE - 1, GRACE), []);
    assert.deepEqual(podsToEvict(nodes, pods, since, t0 + GRACE, GRACE).map((p) => p.metadata.name), ['p']);
  });

  it('honours tolerationSeconds, never going under the grace; no tolerationSeconds means never', () => {
    const tol = (extra: Record<string, unknown>) => ({ tolerations: [{ key: TAINT_UNREACHABLE, operator: 'Exists', effect: 'NoExecute', ...extra }] });
    const pods = [
      boundPod('waits-30s', 'down', tol({ tolerationSeconds: 30 })),
      boundPod('zero-seconds', 'down', tol({ tolerationSeconds: 0 })),
      boundPod('forever', 'down', tol({})),
      boundPod('daemon-like', 'down', { tolerations: [{ operator: 'Exists' }] }),
      boundPod('other-taint', 'down', { tolerations: [{ key: TAINT_NOT_READY, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 600 }] }),
      boundPod('no-schedule-only', 'down', { tolerations: [{ key: TAINT_UNREACHABLE, operator: 'Exists', effect: 'NoSchedule' }] }),
    ];
    const names = (now: number) => podsToEvict(nodes, pods, since, now, GRACE).map((p) => p.metadata.name).sort();
    assert.deepEqual(names(t0 + GRACE), ['no-schedule-only', 'other-taint', 'zero-seconds']);
    assert.deepEqual(names(t0 + 29_999), ['no-schedule-only', 'other-taint', 'zero-seconds']);
    assert.deepEqual(names(t0 + 30_000), ['no-schedule-only', 'other-taint', 'waits-30s', 'zero-seconds']);
    assert.ok(!names(t0 + 86_400_000).includes('forever'));
    assert.ok(!names(t0 + 86_400_000).includes('daemon-like'));
  });

  it('keeps finished pods, includes pods stuck terminating, and spares a node that is Ready again', () => {
    const stuck = { ...boundPod('terminating', 'down'), metadata: { name: 'terminating', namespace: 'default', deletionTimestamp: NOW.toISOString() } };
    const pods = [boundPod('done', 'down', {}, 'Succeeded'), boundPod('failed', 'down', {}, 'Failed'), stuck];
    assert.deepEqual(podsToEvict(nodes, pods, since, t0 + GRACE, GRACE).map((p) => p.metadata.name), ['terminating']);
    assert.deepEqual(podsToEvict([node('down', 'True')], pods, since, t0 + GRACE, GRACE), []);
  });
});

describe('node lifecycle shell', () => {
  async function setup(active = true) {
    const client = createFakeObjectClient();
    const clock = { now: NOW.getTime() };
    let members: MemberView[] = [{ nodeName: 'b', status: 'dead' }];
    let isActive = active;
    await client.create('nodes', { ...taintedNode('a', 'True'), metadata: { name: 'a' } });
    await client.create('nodes', { ...taintedNode('b', 'True'), metadata: { name: 'b' } });
    await client.create('pods', boundPod('on-b', 'b'));
    await client.create('pods', boundPod('tolerant', 'b', { tolerations: [{ key: TAINT_UNREACHABLE, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 60 }] }));
    await client.create('pods', boundPod('on-a', 'a'));
    const lifecycle = createNodeLifecycle({
      selfName: 'a',
      client,
      members: () => members,
      logger: silentLogger(),
      clock: () => new Date(clock.now),
      isActive: () => isActive,
      podEvictionGraceMs: 5000,
    });
    return {
      client,
      clock,
      lifecycle,
      setMembers: (m: MemberView[]) => (members = m),
      setActive: (a: boolean) => (isActive = a),
      pod: (name: string) => client.get<Pod>('pods', 'default', name),
      nodeB: () => client.get<KubeObject & { spec?: any; status?: any }>('nodes', '', 'b')!,
    };
  }

  it('marks, taints, then force-deletes the pods of a dead node after the grace, and untaints it when it is back', async () => {
    const env = await setup();
    await env.lifecycle.reconcile();
    const b = env.nodeB();
    assert.equal(b.status.conditions.find((c: any) => c.type === 'Ready').status, 'Unknown');
    assert.deepEqual(b.spec.taints.map((t: any) => `${t.key}:${t.effect}`), [`${TAINT_UNREACHABLE}:NoSchedule`, `${TAINT_UNREACHABLE}:NoExecute`]);
    assert.ok(env.pod('on-b'), 'not evicted before the grace');

    env.clock.now += 5000;
    await env.lifecycle.reconcile();
    assert.equal(env.pod('on-b'), undefined, 'evicted');
    const del = env.client.writes.find((w) => w.op === 'delete' && w.name === 'on-b');
    assert.equal(del?.opts?.gracePeriodSeconds, 0, 'force-deleted: its kubelet cannot confirm');
    assert.ok(env.pod('tolerant'), 'tolerates for 60 s');
    assert.ok(env.pod('on-a'), 'pods of live nodes stay');
    const ev = env.client.list('events').items.find((e) => e.reason === 'TaintManagerEviction');
    assert.equal(ev?.message, 'Marking for deletion Pod default/on-b');

    env.clock.now += 55_000;
    await env.lifecycle.reconcile();
    assert.equal(env.pod('tolerant'), undefined, 'evicted once its tolerationSeconds ran out');

    // The node's agent comes back and reports Ready.
    env.setMembers([{ nodeName: 'b', status: 'alive' }]);
    const back = env.nodeB();
    await env.client.updateStatus('nodes', { ...back, status: { conditions: [{ type: 'Ready', status: 'True' }] } });
    await env.lifecycle.reconcile();
    assert.equal(env.nodeB().spec.taints, undefined, 'taints removed');
  });

  it('starts counting only once active, and forgets the count when it stops being active', async () => {
    const env = await setup(false);
    await env.lifecycle.reconcile();
    assert.equal(env.nodeB().status.conditions.find((c: any) => c.type === 'Ready').status, 'True', 'an inactive agent writes nothing');
    env.clock.now += 60_000;
    env.setActive(true);
    await env.lifecycle.reconcile();
    assert.ok(env.pod('on-b'), 'the grace starts when this agent first sees the node down');
    env.setActive(false);
    await env.lifecycle.reconcile();
    env.clock.now += 10_000;
    env.setActive(true);
    await env.lifecycle.reconcile();
    assert.ok(env.pod('on-b'), 'a new term counts afresh');
    env.clock.now += 5000;
    await env.lifecycle.reconcile();
    assert.equal(env.pod('on-b'), undefined);
  });

  it('does not evict from a node whose agent is alive again but has not reported yet', async () => {
    const env = await setup();
    await env.lifecycle.reconcile();
    env.setMembers([{ nodeName: 'b', status: 'alive' }]);
    env.clock.now += 10_000;
    await env.lifecycle.reconcile();
    assert.ok(env.pod('on-b'));
  });
});
