import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTaintTolerationPlugin } from '../../../src/agent/scheduler/plugins/taint-toleration.ts';
import { schedulePod } from '../../../src/agent/scheduler/schedule-pod.ts';
import { toleratesTaint } from '../../../src/agent/scheduler/tolerations.ts';
import { node, pod, runFilter, runScore } from './scheduler-fixtures.ts';

const plugin = createTaintTolerationPlugin();
const gpuTaint = { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' };

describe('TaintToleration plugin: filter', () => {
  it('names the first untolerated NoSchedule / NoExecute taint', () => {
    const nodes = [
      node('gpu', { taints: [gpuTaint] }),
      node('evict', { taints: [{ key: 'x', effect: 'NoExecute' }, gpuTaint] }),
      node('soft', { taints: [{ key: 'y', value: 'z', effect: 'PreferNoSchedule' }] }),
    ];
    const r = runFilter(plugin, pod('p'), nodes);
    assert.equal(r.get('gpu'), 'node(s) had untolerated taint {dedicated: gpu}');
    assert.equal(r.get('evict'), 'node(s) had untolerated taint {x: }');
    assert.equal(r.get('soft'), undefined);
  });

  it('accepts Equal and Exists tolerations, with or without an effect', () => {
    const nodes = [node('gpu', { taints: [gpuTaint] })];
    for (const t of [
      { key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' },
      { key: 'dedicated', value: 'gpu' },
      { key: 'dedicated', operator: 'Exists' },
      { operator: 'Exists' },
    ]) {
      assert.equal(runFilter(plugin, pod('p', { tolerations: [t] }), nodes).get('gpu'), undefined, JSON.stringify(t));
    }
    for (const t of [
      { key: 'dedicated', operator: 'Equal', value: 'cpu' },
      { key: 'dedicated', operator: 'Exists', effect: 'NoExecute' },
      { key: 'other', operator: 'Exists' },
    ]) {
      assert.ok(runFilter(plugin, pod('p', { tolerations: [t] }), nodes).get('gpu'), JSON.stringify(t));
    }
  });

  it('matches tolerations as core/v1 ToleratesTaint', () => {
    assert.equal(toleratesTaint({ key: 'k', operator: 'Equal', value: '' }, { key: 'k', effect: 'NoSchedule' }), true);
    assert.equal(toleratesTaint({ key: 'k', operator: 'Bogus' }, { key: 'k', effect: 'NoSchedule' }), false);
  });

  it('puts the taint in the combined message, kube style', () => {
    const nodes = [node('a', { taints: [gpuTaint] }), node('b', { taints: [gpuTaint] })];
    assert.deepEqual(schedulePod(pod('p'), nodes), { unschedulable: '0/2 nodes are available: 2 node(s) had untolerated taint {dedicated: gpu}.' });
  });
});

describe('TaintToleration plugin: score', () => {
  const soft = (key: string) => ({ key, effect: 'PreferNoSchedule' });
  it('scores nodes with fewer untolerated PreferNoSchedule taints higher (reversed normalization)', () => {
    const nodes = [node('clean'), node('one', { taints: [soft('a')] }), node('two', { taints: [soft('a'), soft('b')] })];
    const s = runScore(plugin, pod('p'), nodes)!;
    // raw counts 0, 1, 2; max 2 -> 100 - 100*count/2
    assert.deepEqual([s.get('clean'), s.get('one'), s.get('two')], [100, 50, 0]);
  });

  it('ignores taints the pod tolerates for PreferNoSchedule (or any effect)', () => {
    const nodes = [node('clean'), node('one', { taints: [soft('a')] })];
    const s = runScore(plugin, pod('p', { tolerations: [{ key: 'a', operator: 'Exists' }] }), nodes)!;
    assert.deepEqual([s.get('clean'), s.get('one')], [100, 100]);
    const noExecOnly = runScore(plugin, pod('p', { tolerations: [{ key: 'a', operator: 'Exists', effect: 'NoExecute' }] }), nodes)!;
    assert.deepEqual([noExecOnly.get('clean'), noExecOnly.get('one')], [100, 0]);
  });

  it('steers a pod away from a PreferNoSchedule node when another fits', () => {
    const nodes = [node('a', { taints: [soft('x')] }), node('b')];
    assert.deepEqual(schedulePod(pod('p'), nodes), { nodeName: 'b' });
  });
});
