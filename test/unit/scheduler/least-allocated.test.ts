import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLeastAllocatedPlugin } from '../../../src/agent/scheduler/plugins/least-allocated.ts';
import { DEFAULT_MEMORY_REQUEST, DEFAULT_MILLI_CPU_REQUEST } from '../../../src/agent/scheduler/pod-requests.ts';
import { node, pod, runScore, sizedNode } from './scheduler-fixtures.ts';

const plugin = createLeastAllocatedPlugin();
const GI = 1024 ** 3;

describe('LeastAllocated score', () => {
  it('averages the free share of CPU and memory after the pod', () => {
    const nodes = [sizedNode('a', '4', '8Gi'), sizedNode('b', '4', '8Gi')];
    const bound = [pod('x', { nodeName: 'a', requests: { cpu: '2', memory: '2Gi' } })];
    const s = runScore(plugin, pod('p', { requests: { cpu: '1', memory: '2Gi' } }), nodes, bound)!;
    const expect = (cpuUsed: number, memUsed: number) =>
      Math.trunc((Math.trunc(((4000 - cpuUsed) * 100) / 4000) + Math.trunc(((8 * GI - memUsed) * 100) / (8 * GI))) / 2);
    assert.equal(s.get('a'), expect(3000, 4 * GI));
    assert.equal(s.get('b'), expect(1000, 2 * GI));
    assert.ok(s.get('b')! > s.get('a')!);
  });

  it('counts pods without requests as 100m / 200Mi so they still spread', () => {
    const nodes = [sizedNode('a', '1', '1Gi'), sizedNode('b', '1', '1Gi')];
    const s = runScore(plugin, pod('p'), nodes, [pod('x', { nodeName: 'a' })])!;
    const cpu = (used: number) => Math.trunc(((1000 - used) * 100) / 1000);
    const mem = (used: number) => Math.trunc(((GI - used) * 100) / GI);
    assert.equal(s.get('a'), Math.trunc((cpu(2 * DEFAULT_MILLI_CPU_REQUEST) + mem(2 * DEFAULT_MEMORY_REQUEST)) / 2));
    assert.equal(s.get('b'), Math.trunc((cpu(DEFAULT_MILLI_CPU_REQUEST) + mem(DEFAULT_MEMORY_REQUEST)) / 2));
  });

  it('scores 0 for an overcommitted resource and for a node without allocatable', () => {
    const s = runScore(plugin, pod('p', { requests: { cpu: '8', memory: '1Gi' } }), [sizedNode('a', '4', '2Gi'), node('unknown')])!;
    assert.equal(s.get('a'), Math.trunc((0 + 50) / 2));
    assert.equal(s.get('unknown'), 0);
  });
});
