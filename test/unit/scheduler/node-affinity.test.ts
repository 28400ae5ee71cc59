import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createNodeAffinityPlugin } from '../../../src/agent/scheduler/plugins/node-affinity.ts';
import { schedulePod } from '../../../src/agent/scheduler/schedule-pod.ts';
import type { NodeSelectorTerm } from '../../../src/agent/scheduler/scheduling-shapes.ts';
import { node, passing, pod, runFilter, runScore } from './scheduler-fixtures.ts';

const plugin = createNodeAffinityPlugin();
const nodes = [
  node('a', { labels: { pool: 'cpu', gen: '3', zone: 'z1' } }),
  node('b', { labels: { pool: 'gpu', gen: '5', zone: 'z2' } }),
  node('c', { labels: { pool: 'gpu', gen: 'x' } }),
];

function required(...terms: NodeSelectorTerm[]) {
  return pod('p', { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } } });
}
const expr = (key: string, operator: string, values?: string[]) => ({ matchExpressions: [{ key, operator, ...(values ? { values } : {}) }] });

describe('NodeAffinity plugin: filter', () => {
  it('honours spec.nodeSelector', () => {
    assert.deepEqual(passing(plugin, pod('p', { nodeSelector: { pool: 'gpu' } }), nodes), ['b', 'c']);
    assert.equal(runFilter(plugin, pod('p', { nodeSelector: { pool: 'tpu' } }), nodes).get('a'), "node(s) didn't match Pod's node affinity/selector");
  });

  it('supports In, NotIn, Exists, DoesNotExist, Gt and Lt', () => {
    assert.deepEqual(passing(plugin, required(expr('pool', 'In', ['cpu', 'tpu'])), nodes), ['a']);
    assert.deepEqual(passing(plugin, required(expr('pool', 'NotIn', ['cpu'])), nodes), ['b', 'c']);
    assert.deepEqual(passing(plugin, required(expr('zone', 'Exists')), nodes), ['a', 'b']);
    assert.deepEqual(passing(plugin, required(expr('zone', 'DoesNotExist')), nodes), ['c']);
    // Gt / Lt compare integers; a label that is not one never matches.
    assert.deepEqual(passing(plugin, required(expr('gen', 'Gt', ['4'])), nodes), ['b']);
    assert.deepEqual(passing(plugin, required(expr('gen', 'Lt', ['4'])), nodes), ['a']);
  });

  it('ORs terms, ANDs expressions within a term, and matches metadata.name fields', () => {
    const both = { matchExpressions: [{ key: 'pool', operator: 'In', values: ['gpu'] }, { key: 'zone', operator: 'Exists' }] };
    assert.deepEqual(passing(plugin, required(both), nodes), ['b']);
    assert.deepEqual(passing(plugin, required(expr('pool', 'In', ['cpu']), expr('gen', 'In', ['x'])), nodes), ['a', 'c']);
    assert.deepEqual(passing(plugin, required({ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['c'] }] }), nodes), ['c']);
    assert.deepEqual(passing(plugin, required({ matchFields: [{ key: 'metadata.name', operator: 'NotIn', values: ['c'] }] }), nodes), ['a', 'b']);
  });

  it('matches no node with empty or malformed terms', () => {
    assert.deepEqual(passing(plugin, required(), nodes), []);
    assert.deepEqual(passing(plugin, required({}), nodes), []);
    assert.deepEqual(passing(plugin, required(expr('gen', 'Gt', ['a'])), nodes), []);
    assert.deepEqual(passing(plugin, required(expr('pool', 'Near', ['cpu'])), nodes), []);
    // A malformed term does not spoil a good one next to it.
    assert.deepEqual(passing(plugin, required(expr('pool', 'In', []), expr('pool', 'In', ['cpu'])), nodes), ['a']);
  });

  it('requires both nodeSelector and required affinity', () => {
    const p = required(expr('zone', 'Exists'));
    p.spec.nodeSelector = { pool: 'gpu' };
    assert.deepEqual(passing(plugin, p, nodes), ['b']);
  });

  it('reports the mismatch per node in the combined message', () => {
    assert.deepEqual(schedulePod(required(expr('pool', 'In', ['tpu'])), nodes), {
      unschedulable: "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.",
    });
  });
});

describe('NodeAffinity plugin: score', () => {
  it('skips pods without preferred terms', () => {
    assert.equal(runScore(plugin, pod('p'), nodes), undefined);
  });

  it('adds the weights of matching preferred terms, normalized to 100 for the best node', () => {
    const p = pod('p', {
      affinity: {
        nodeAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            { weight: 20, preference: expr('pool', 'In', ['gpu']) },
            { weight: 60, preference: expr('zone', 'Exists') },
          ],
        },
      },
    });
    const s = runScore(plugin, p, nodes)!;
    // raw: a 60, b 80, c 20 -> 100 * raw / 80
    assert.deepEqual([s.get('a'), s.get('b'), s.get('c')], [Math.trunc(6000 / 80), 100, Math.trunc(2000 / 80)]);
    assert.deepEqual(schedulePod(p, nodes), { nodeName: 'b' });
  });
});
