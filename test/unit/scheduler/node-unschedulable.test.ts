import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createNodeUnschedulablePlugin } from '../../../src/agent/scheduler/plugins/node-unschedulable.ts';
import { schedulePod } from '../../../src/agent/scheduler/schedule-pod.ts';
import { node, pod, runFilter } from './scheduler-fixtures.ts';

const plugin = createNodeUnschedulablePlugin();

describe('NodeUnschedulable plugin', () => {
  it('rejects cordoned nodes and leaves not-ready ones to the taint filter', () => {
    const r = runFilter(plugin, pod('p'), [node('ok'), node('cordoned', { unschedulable: true }), node('down', { ready: false })]);
    assert.equal(r.get('ok'), undefined);
    assert.equal(r.get('cordoned'), 'node(s) were unschedulable');
    assert.equal(r.get('down'), undefined);
  });

  it('lets pods tolerating the unschedulable taint through', () => {
    const tolerant = pod('p', { tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }] });
    assert.equal(runFilter(plugin, tolerant, [node('cordoned', { unschedulable: true })]).get('cordoned'), undefined);
  });

  it('reports each reason in the combined message', () => {
    const nodes = [node('a', { unschedulable: true }), node('b', { unschedulable: true }), node('c', { ready: false })];
    assert.deepEqual(schedulePod(pod('p'), nodes), {
      unschedulable: '0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, 2 node(s) were unschedulable.',
    });
  });
});
