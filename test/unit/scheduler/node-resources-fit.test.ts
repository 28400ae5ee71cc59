import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createNodeResourcesFitPlugin } from '../../../src/agent/scheduler/plugins/node-resources-fit.ts';
import { schedulePod } from '../../../src/agent/scheduler/schedule-pod.ts';
import { node, passing, pod, runFilter, sizedNode } from './scheduler-fixtures.ts';

const plugin = createNodeResourcesFitPlugin();

describe('NodeResourcesFit plugin', () => {
  const nodes = [sizedNode('small', '1', '1Gi'), sizedNode('big', '4', '8Gi')];

  it('compares requests with allocatable minus what bound pods request', () => {
    const bound = [pod('x', { nodeName: 'big', requests: { cpu: '3500m' } })];
    const r = runFilter(plugin, pod('p', { requests: { cpu: '600m', memory: '512Mi' } }), nodes, bound);
    assert.equal(r.get('small'), undefined);
    assert.deepEqual(r.get('big'), 'Insufficient cpu');
    // Exactly what is left still fits.
    assert.deepEqual(passing(plugin, pod('p', { requests: { cpu: '500m' } }), nodes, bound), ['big', 'small']);
  });

  it('reports every insufficient resource of a node', () => {
    const r = runFilter(plugin, pod('p', { requests: { cpu: '2', memory: '2Gi', 'ephemeral-storage': '1Gi' } }), [sizedNode('small', '1', '1Gi')]);
    assert.deepEqual(r.get('small'), ['Insufficient cpu', 'Insufficient memory', 'Insufficient ephemeral-storage']);
  });

  it('checks extended resources such as nvidia.com/gpu, absent meaning none', () => {
    const gpu = sizedNode('gpu', '8', '16Gi', { allocatable: { 'nvidia.com/gpu': '2' } });
    const cpu = sizedNode('cpu', '8', '16Gi');
    const bound = [pod('x', { nodeName: 'gpu', requests: { 'nvidia.com/gpu': '1' } })];
    const one = pod('p', { requests: { 'nvidia.com/gpu': '1' } });
    const two = pod('q', { requests: { 'nvidia.com/gpu': '2' } });
    assert.deepEqual(passing(plugin, one, [gpu, cpu], bound), ['gpu']);
    assert.deepEqual(runFilter(plugin, two, [gpu, cpu], bound).get('gpu'), 'Insufficient nvidia.com/gpu');
    assert.deepEqual(runFilter(plugin, two, [gpu, cpu], bound).get('cpu'), 'Insufficient nvidia.com/gpu');
  });

  it('counts pods against allocatable.pods ("Too many pods")', () => {
    const tiny = node('tiny', { allocatable: { cpu: '4', memory: '4Gi', pods: '2' } });
    const bound = [pod('x', { nodeName: 'tiny' }), pod('y', { nodeName: 'tiny' })];
    assert.deepEqual(runFilter(plugin, pod('p'), [tiny], bound).get('tiny'), 'Too many pods');
    assert.deepEqual(runFilter(plugin, pod('p'), [tiny], bound.slice(1)).get('tiny'), undefined);
  });

  it('does not count finished pods, but counts terminating ones until they are gone', () => {
    const n = sizedNode('n', '1', '1Gi');
    const done = pod('done', { nodeName: 'n', requests: { cpu: '1' }, phase: 'Succeeded' });
    const failed = pod('failed', { nodeName: 'n', requests: { cpu: '1' }, phase: 'Failed' });
    const deleting = pod('deleting', { nodeName: 'n', requests: { cpu: '1' }, deleting: true });
    const p = pod('p', { requests: { cpu: '500m' } });
    assert.deepEqual(passing(plugin, p, [n], [done, failed]), ['n']);
    assert.deepEqual(runFilter(plugin, p, [n], [deleting]).get('n'), 'Insufficient cpu');
  });

  it('uses effective requests: the largest init container, plus sidecars and overhead', () => {
    const n = sizedNode('n', '2', '4Gi');
    const bigInit = pod('p', {
      initContainers: [{ name: 'init', image: 'i', resources: { requests: { cpu: '2500m' } } }],
      requests: { cpu: '100m' },
    });
    assert.deepEqual(runFilter(plugin, bigInit, [n]).get('n'), 'Insufficient cpu');
    const withOverhead = pod('q', { requests: { cpu: '1800m' }, overhead: { cpu: '250m' } });
    assert.deepEqual(runFilter(plugin, withOverhead, [n]).get('n'), 'Insufficient cpu');
    assert.equal(runFilter(plugin, pod('r', { requests: { cpu: '1800m' } }), [n]).get('n'), undefined);
  });

  it('does not limit a node that has not reported allocatable yet', () => {
    assert.deepEqual(passing(plugin, pod('p', { requests: { cpu: '64' } }), [node('new')]), ['new']);
  });

  it('sums the reasons over nodes in the combined message, sorted as kube sorts them', () => {
    const nodes3 = [
      sizedNode('a', '1', '1Gi'),
      sizedNode('b', '1', '1Gi'),
      sizedNode('c', '8', '1Gi', { taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }] }),
    ];
    assert.deepEqual(schedulePod(pod('p', { requests: { cpu: '2' } }), nodes3), {
      unschedulable: '0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu.',
    });
    assert.deepEqual(schedulePod(pod('p', { requests: { cpu: '2', memory: '2Gi', 'nvidia.com/gpu': '1' } }), nodes3.slice(0, 2)), {
      unschedulable: '0/2 nodes are available: 2 Insufficient cpu, 2 Insufficient memory, 2 Insufficient nvidia.com/gpu.',
    });
  });
});
