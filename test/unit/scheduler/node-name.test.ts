import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createNodeNamePlugin } from '../../../src/agent/scheduler/plugins/node-name.ts';
import { node, pod, runFilter } from './scheduler-fixtures.ts';

const plugin = createNodeNamePlugin();

describe('NodeName plugin', () => {
  it('lets a pod without spec.nodeName onto any node', () => {
    const r = runFilter(plugin, pod('p'), [node('a'), node('b')]);
    assert.deepEqual([...r.values()], [undefined, undefined]);
  });

  it('keeps a pod that names its node off every other node', () => {
    const p = pod('p');
    p.spec.nodeName = 'b';
    const r = runFilter(plugin, p, [node('a'), node('b')]);
    assert.equal(r.get('a'), "node(s) didn't match the requested node name");
    assert.equal(r.get('b'), undefined);
  });
});
