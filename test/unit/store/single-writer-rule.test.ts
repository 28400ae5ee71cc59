import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../../src/agent/api/object-types.ts';
import { singleWriterRule } from '../../../src/agent/store/single-writer-rule.ts';

const node = (name: string, ready = 'True'): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name, uid: `uid-${name}` },
  status: { conditions: [{ type: 'Ready', status: ready }] },
});
const pod = (nodeName: string | undefined, phase: string, labels: Record<string, string> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p', namespace: 'default', uid: 'uid-p', labels },
  spec: { containers: [{ name: 'c', image: 'busybox' }], ...(nodeName ? { nodeName } : {}) },
  status: { phase },
});

describe('singleWriterRule', () => {
  // Authors are agent ids; here agent "agent-X" runs node "X".
  const rule = singleWriterRule((a) => (a.startsWith('agent-') ? a.slice(6) : undefined));

  it('checks only nodes and pods', () => {
    assert.deepEqual([...rule.resources!].sort(), ['nodes', 'pods']);
    assert.equal(rule('agent-b', undefined, node('a'), 'configmaps'), true);
  });

  it("lets only a node create its Node and write its status, but for the lifecycle's conditions", () => {
    const withCapacity = (n: KubeObject, cpu: string): KubeObject => ({
      ...n,
      status: { ...(n.status as object), capacity: { cpu } },
    });
    assert.equal(rule('agent-a', undefined, node('a'), 'nodes'), true);
    assert.equal(rule('agent-b', undefined, node('a'), 'nodes'), false);
    assert.equal(rule('agent-a', node('a'), node('a', 'False'), 'nodes'), true);
    // Another agent may set the conditions alone (node lifecycle: Ready -> Unknown) ...
    assert.equal(rule('agent-b', node('a'), node('a', 'Unknown'), 'nodes'), true);
    // ... but not any other part of the status.
    assert.equal(rule('agent-b', withCapacity(node('a'), '2'), withCapacity(node('a'), '64'), 'nodes'), false);
    assert.equal(rule(undefined, withCapacity(node('a'), '2'), withCapacity(node('a'), '64'), 'nodes'), false);
    assert.equal(rule('stranger', withCapacity(node('a'), '2'), withCapacity(node('a'), '64'), 'nodes'), false);
    // Users (through any agent) may label, cordon or delete a Node.
    const labelled = { ...node('a'), metadata: { ...node('a').metadata, labels: { pool: 'gpu' } }, spec: { unschedulable: true } };
    assert.equal(rule('agent-b', node('a'), labelled, 'nodes'), true);
    assert.equal(rule('agent-b', node('a'), undefined, 'nodes'), true);
    // A change that leaves the Node as it was (e.g. a losing concurrent write) harms nobody.
    assert.equal(rule('agent-b', node('a'), node('a'), 'nodes'), true);
  });

  it("lets only the bound node's agent change a pod's status", () => {
    assert.equal(rule('agent-n1', pod('n1', 'Pending'), pod('n1', 'Running'), 'pods'), true);
    assert.equal(rule('agent-n2', pod('n1', 'Pending'), pod('n1', 'Running'), 'pods'), false);
    assert.equal(rule(undefined, pod('n1', 'Pending'), pod('n1', 'Running'), 'pods'), false);
    // Other fields of a bound pod, and binding itself, are anyone's.
    assert.equal(rule('agent-n2', pod('n1', 'Running'), pod('n1', 'Running', { x: 'y' }), 'pods'), true);
    assert.equal(rule('agent-leader', pod(undefined, 'Pending'), pod('n1', 'Pending'), 'pods'), true);
    // An unbound pod has no single writer for status.
    assert.equal(rule('agent-leader', pod(undefined, 'Pending'), pod(undefined, 'Failed'), 'pods'), true);
    // Creating and deleting pods is anyone's.
    assert.equal(rule('agent-x', undefined, pod('n1', 'Pending'), 'pods'), true);
    assert.equal(rule('agent-x', pod('n1', 'Running'), undefined, 'pods'), true);
    // Binding and a status write in one change: judged against the new binding ...
    assert.equal(rule('agent-n2', pod(undefined, 'Pending'), pod('n1', 'Running'), 'pods'), false);
    // ... except the PodScheduled condition, which the binding itself sets.
    const scheduled = { ...pod('n1', 'Pending'), status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'True' }] } };
    assert.equal(rule('agent-leader', pod(undefined, 'Pending'), scheduled, 'pods'), true);
  });
});
