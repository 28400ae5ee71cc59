import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  isCoordinator,
  nodesToMarkUnknown,
  withUnknownConditions,
  UNKNOWN_REASON,
} from '../../../src/agent/controllers/node-lifecycle.ts';
import type { KubeObject } from '../../../src/agent/api/object-types.ts';

function node(name: string, ready: string): KubeObject & { status: any } {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name },
    status: {
      conditions: [
        { type: 'MemoryPressure', status: 'False', lastTransitionTime: '2026-01-01T00:00:00Z' },
        { type: 'Ready', status: ready, lastTransitionTime: '2026-01-01T00:00:00Z' },
      ],
    },
  };
}

describe('node lifecycle', () => {
  it('marks only nodes whose member is dead and not already Unknown', () => {
    const nodes = [node('a', 'True'), node('b', 'True'), node('c', 'Unknown'), node('d', 'True')];
    const members = [
      { nodeName: 'a', status: 'alive' as const },
      { nodeName: 'b', status: 'dead' as const },
      { nodeName: 'c', status: 'dead' as const },
      { nodeName: 'd', status: 'suspect' as const },
    ];
    assert.deepEqual(nodesToMarkUnknown(nodes, members).map((n) => n.metadata.name), ['b']);
  });

  it('sets every condition Unknown, with a transition time only where it changed', () => {
    const now = new Date('2026-11-25T10:00:00.123Z');
    const marked = withUnknownConditions(node('b', 'True'), now) as any;
    for (const c of marked.status.conditions) {
      assert.equal(c.status, 'Unknown');
      assert.equal(c.reason, UNKNOWN_REASON);
      assert.equal(c.lastTransitionTime, '2026-11-25T10:00:00Z');
    }
    const again = withUnknownConditions(marked, new Date('2026-11-25T11:00:00Z')) as any;
    assert.equal(again.status.conditions[1].lastTransitionTime, '2026-11-25T10:00:00Z');
  });

  it('picks the lowest-named live member as coordinator, ignoring dead ones', () => {
    const members = [
      { nodeName: 'a', status: 'dead' as const },
      { nodeName: 'b', status: 'alive' as const },
      { nodeName: 'c', status: 'alive' as const },
    ];
    assert.equal(isCoordinator('b', members), true);
    assert.equal(isCoordinator('c', members), false);
    assert.equal(isCoordinator('a', []), true);
  });
});
