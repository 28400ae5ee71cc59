import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { schedulePod } from '../../../src/agent/scheduler/schedule-pod.ts';
import type { KubeObject, Pod } from '../../../src/agent/api/object-types.ts';
import { buildClusterSnapshot } from '../../../src/agent/scheduler/cluster-snapshot.ts';
import { pod as podOf, sizedNode } from './scheduler-fixtures.ts';

function node(name: string, opts: { ready?: boolean; labels?: Record<string, string>; unschedulable?: boolean } = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: opts.labels ?? {} },
    spec: { unschedulable: opts.unschedulable ?? false },
    status: { conditions: [{ type: 'Ready', status: opts.ready === false ? 'False' : 'True' }] },
  };
}
function pod(nodeSelector?: Record<string, string>): Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' }, spec: { containers: [{ name: 'c', image: 'i' }], nodeSelector } };
}

describe('schedulePod', () => {
  it('binds to a ready node', () => {
    assert.deepEqual(schedulePod(pod(), [node('n1')]), { nodeName: 'n1' });
  });
  it('skips not-ready and unschedulable nodes', () => {
    assert.deepEqual(schedulePod(pod(), [node('a', { ready: false }), node('b', { unschedulable: true }), node('c')]), { nodeName: 'c' });
  });
  it('honours nodeSelector', () => {
    const nodes = [node('cpu', { labels: { pool: 'cpu' } }), node('gpu', { labels: { pool: 'gpu' } })];
    assert.deepEqual(schedulePod(pod({ pool: 'gpu' }), nodes), { nodeName: 'gpu' });
  });
  it('keeps pods off tainted nodes unless they tolerate the taint', () => {
    const gpu = { ...node('gpu'), spec: { taints: [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }] } };
    const plain = pod();
    assert.deepEqual(schedulePod(plain, [gpu]), { unschedulable: '0/1 nodes are available: 1 node(s) had untolerated taint {nvidia.com/gpu: present}.' });
    const tolerant = { ...plain, spec: { ...plain.spec, tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists' as const, effect: 'NoSchedule' }] } };
    assert.deepEqual(schedulePod(tolerant, [gpu]), { nodeName: 'gpu' });
    const soft = { ...node('soft'), spec: { taints: [{ key: 'x', effect: 'PreferNoSchedule' }] } };
    assert.deepEqual(schedulePod(plain, [soft]), { nodeName: 'soft' });
  });
  it('prefers the node running the fewest pods', () => {
    const load = new Map([['a', 3], ['b', 1], ['c', 1]]);
    assert.deepEqual(schedulePod(pod(), [node('a'), node('b'), node('c')], load), { nodeName: 'b' });
  });
  it('explains why nothing fits, counting reasons per node', () => {
    const nodes = [node('a', { ready: false }), node('b', { labels: { pool: 'cpu' } }), node('c', { labels: { pool: 'cpu' } })];
    const r = schedulePod(pod({ pool: 'gpu' }), nodes);
    assert.ok('unschedulable' in r);
    assert.equal(r.unschedulable, "0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, 2 node(s) didn't match Pod's node affinity/selector.");
  });
  it('reports an empty cluster', () => {
    assert.deepEqual(schedulePod(pod(), []), { unschedulable: 'no nodes available to schedule pods' });
  });

  it('combines the reasons of every plugin in one kube-style message', () => {
    const taint = { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' };
    const nodes = [sizedNode('gpu', '8', '32Gi', { taints: [taint] }), sizedNode('a', '1', '2Gi'), sizedNode('b', '2', '2Gi')];
    const bound = [podOf('busy', { nodeName: 'b', requests: { cpu: '1500m' } }), podOf('fat', { nodeName: 'a', requests: { memory: '1500Mi' } })];
    assert.deepEqual(schedulePod(podOf('p', { requests: { cpu: '1', memory: '1Gi' } }), nodes, bound), {
      unschedulable: '0/3 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 1 node(s) had untolerated taint {dedicated: gpu}.',
    });
    assert.deepEqual(schedulePod(podOf('p', { requests: { cpu: '2' } }), nodes, bound), {
      unschedulable: '0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu.',
    });
  });
  it('places a pod where its requests fit best, counting the pods already bound', () => {
    const nodes = [sizedNode('a', '4', '8Gi'), sizedNode('b', '4', '8Gi')];
    const bound = [podOf('x', { nodeName: 'b', requests: { cpu: '3', memory: '6Gi' } })];
    assert.deepEqual(schedulePod(podOf('p', { requests: { cpu: '500m' } }), nodes, bound), { nodeName: 'a' });
    assert.deepEqual(schedulePod(podOf('p', { requests: { cpu: '500m' } }), nodes, [...bound, podOf('y', { nodeName: 'a', requests: { cpu: '3500m' } })]), { nodeName: 'b' });
  });
  it('schedules over an existing snapshot', () => {
    const snapshot = buildClusterSnapshot([node('a'), node('b')], [podOf('x', { nodeName: 'a' })]);
    assert.deepEqual(schedulePod(pod(), [], snapshot), { nodeName: 'b' });
  });
});
