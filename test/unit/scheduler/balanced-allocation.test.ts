import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createBalancedAllocationPlugin } from '../../../src/agent/scheduler/plugins/balanced-allocation.ts';
import { pod, runScore, sizedNode } from './scheduler-fixtures.ts';

const plugin = createBalancedAllocationPlugin();

describe('BalancedAllocation score', () => {
  it('prefers the node where CPU and memory end up used in the same proportion', () => {
    const nodes = [sizedNode('cpu-heavy', '4', '4Gi'), sizedNode('even', '4', '4Gi')];
    const bound = [pod('x', { nodeName: 'cpu-heavy', requests: { cpu: '3' } }), pod('y', { nodeName: 'even', requests: { cpu: '1', memory: '1Gi' } })];
    const s = runScore(plugin, pod('p', { requests: { cpu: '1', memory: '1Gi' } }), nodes, bound)!;
    // cpu-heavy: fractions 1.0 and 0.25 -> std 0.375; even: 0.5 and 0.5 -> std 0
    assert.equal(s.get('cpu-heavy'), Math.trunc((1 - 0.375) * 100));
    assert.equal(s.get('even'), 100);
  });

  it('caps a fraction at 1', () => {
    const s = runScore(plugin, pod('p', { requests: { cpu: '8' } }), [sizedNode('a', '4', '4Gi')])!;
    assert.equal(s.get('a'), 50);
  });
});
