import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildClusterSnapshot } from '../../../src/agent/scheduler/cluster-snapshot.ts';
import type { FilterPlugin, ScorePlugin } from '../../../src/agent/scheduler/framework.ts';
import { fitErrorMessage, numFeasibleNodesToFind, scheduleOne } from '../../../src/agent/scheduler/scheduling-cycle.ts';
import { seededRandom } from '../../support/seeded-random.ts';
import { node, pod } from './scheduler-fixtures.ts';

const names = (n: number) => Array.from({ length: n }, (_, i) => node(`n${String(i).padStart(4, '0')}`));

describe('numFeasibleNodesToFind (percentageOfNodesToScore)', () => {
  it('takes every node below 100, then an adaptive share of at least 100 nodes', () => {
    assert.equal(numFeasibleNodesToFind(99), 99);
    assert.equal(numFeasibleNodesToFind(100), 100);
    assert.equal(numFeasibleNodesToFind(1000), (1000 * (50 - 8)) / 100);
    assert.equal(numFeasibleNodesToFind(5000), (5000 * 10) / 100);
    assert.equal(numFeasibleNodesToFind(20000), (20000 * 5) / 100);
    assert.equal(numFeasibleNodesToFind(150, 10), 100);
    assert.equal(numFeasibleNodesToFind(5000, 100), 5000);
  });
});

describe('fitErrorMessage', () => {
  it('sorts "count reason" strings as strings, as kube does', () => {
    const m = fitErrorMessage(12, new Map([['Insufficient cpu', 2], ['node(s) were unschedulable', 10]]));
    assert.equal(m, '0/12 nodes are available: 10 node(s) were unschedulable, 2 Insufficient cpu.');
  });
});

describe('scheduleOne', () => {
  it('filters only until enough feasible nodes are found, resuming where the last search stopped', () => {
    const snapshot = buildClusterSnapshot(names(1000));
    const first = scheduleOne(pod('p'), snapshot);
    assert.equal(first.evaluatedNodes, numFeasibleNodesToFind(1000));
    assert.equal(first.nextStartIndex, numFeasibleNodesToFind(1000));
    const second = scheduleOne(pod('q'), snapshot, { startIndex: first.nextStartIndex });
    assert.equal(second.nextStartIndex, 2 * numFeasibleNodesToFind(1000));
    // The second search looked at other nodes, so it picked another one.
    assert.notEqual((first.result as { nodeName: string }).nodeName, (second.result as { nodeName: string }).nodeName);
  });

  it('looks at every node before it calls a pod unschedulable', () => {
    const snapshot = buildClusterSnapshot(names(300));
    const out = scheduleOne(pod('p', { nodeSelector: { none: 'x' } }), snapshot, { startIndex: 17 });
    assert.equal(out.evaluatedNodes, 300);
    assert.deepEqual(out.result, { unschedulable: "0/300 nodes are available: 300 node(s) didn't match Pod's node affinity/selector." });
  });

  it('sums weighted scores and breaks ties by fewest pods then name, or at random when asked', () => {
    const snapshot = buildClusterSnapshot([node('a'), node('b'), node('c')], [pod('x', { nodeName: 'a' })]);
    const prefers = (name: string, weight: number): ScorePlugin => ({ name: `likes-${name}`, weight, score: (_p, n) => (n.name === name ? 100 : 0) });
    assert.deepEqual(scheduleOne(pod('p'), snapshot, { plugins: [prefers('c', 1), prefers('b', 2)] }).result, { nodeName: 'b' });
    assert.deepEqual(scheduleOne(pod('p'), snapshot, { plugins: [] }).result, { nodeName: 'b' });
    const seed = Number(process.env.SEED ?? Date.now() % 100000);
    const rnd = seededRandom(seed);
    const picked = new Set<string>();
    for (let i = 0; i < 60; i++) picked.add((scheduleOne(pod('p'), snapshot, { plugins: [], random: rnd }).result as { nodeName: string }).nodeName);
    assert.deepEqual([...picked].sort(), ['a', 'b', 'c'], `seed ${seed}`);
  });

  it('rejects every node with a PreFilter reason and counts multi-reason filters once per reason', () => {
    const snapshot = buildClusterSnapshot([node('a'), node('b')]);
    const gate: FilterPlugin = { name: 'gate', preFilter: () => ({ unschedulable: 'pod has unbound immediate PersistentVolumeClaims' }), filter: () => undefined };
    assert.deepEqual(scheduleOne(pod('p'), snapshot, { plugins: [gate] }).result, {
      unschedulable: '0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims.',
    });
    const both: FilterPlugin = { name: 'both', filter: () => ['Insufficient cpu', 'Insufficient memory'] };
    assert.deepEqual(scheduleOne(pod('p'), snapshot, { plugins: [both] }).result, {
      unschedulable: '0/2 nodes are available: 2 Insufficient cpu, 2 Insufficient memory.',
    });
  });
});
