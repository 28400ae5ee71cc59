import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { conditionTaints, effectiveTaints } from '../../../src/agent/scheduler/condition-taints.ts';
import { createClusterSnapshot } from '../../../src/agent/scheduler/cluster-snapshot.ts';
import { createTaintTolerationPlugin } from '../../../src/agent/scheduler/plugins/taint-toleration.ts';
import { schedulePod } from '../../../src/agent/scheduler/schedule-pod.ts';
import type { SchedNode, Taint } from '../../../src/agent/scheduler/scheduling-shapes.ts';
import { node, pod, runFilter } from './scheduler-fixtures.ts';

const NOT_READY = 'node.kubernetes.io/not-ready';
const UNREACHABLE = 'node.kubernetes.io/unreachable';

function withReady(n: SchedNode, status: string | undefined): SchedNode {
  return { ...n, status: { ...n.status, conditions: status === undefined ? [] : [{ type: 'Ready', status }] } };
}

/** What node-lifecycle.ts writes for a node whose Ready is False (taintsFor). */
const lifecycleTaints = (key: string): Taint[] => [
  { key, effect: 'NoSchedule' },
  { key, effect: 'NoExecute' },
];

describe('condition taints', () => {
  it('maps the Ready condition to the taints the node-lifecycle controller sets', () => {
    const n = node('n');
    assert.deepEqual(conditionTaints(withReady(n, 'True')), []);
    assert.deepEqual(conditionTaints(withReady(n, 'False')), lifecycleTaints(NOT_READY));
    assert.deepEqual(conditionTaints(withReady(n, 'Unknown')), lifecycleTaints(UNREACHABLE));
    assert.deepEqual(conditionTaints(withReady(n, undefined)), lifecycleTaints(NOT_READY), 'no Ready reported yet is not ready');
  });

  it('adds only the condition taints the node does not carry yet, keeping its own', () => {
    const own = { key: 'dedicated', value: 'db', effect: 'NoSchedule' };
    const early = withReady(node('n', { taints: [own] }), 'False');
    assert.deepEqual(effectiveTaints(early), [own, ...lifecycleTaints(NOT_READY)]);
    const tainted = withReady(node('n', { taints: [own, ...lifecycleTaints(NOT_READY)] }), 'False');
    assert.deepEqual(effectiveTaints(tainted), [own, ...lifecycleTaints(NOT_READY)]);
    const half = withReady(node('n', { taints: [{ key: NOT_READY, effect: 'NoExecute', timeAdded: 'x' } as Taint] }), 'False');
    assert.deepEqual(
      effectiveTaints(half).map((t) => `${t.key}:${t.effect}`),
      [`${NOT_READY}:NoExecute`, `${NOT_READY}:NoSchedule`],
    );
    const ready = node('n', { taints: [own] });
    assert.equal(effectiveTaints(ready), ready.spec!.taints, 'a Ready node keeps its taints as they are');
  });

  it('puts them in the snapshot, and a Ready change counts as a change', () => {
    const s = createClusterSnapshot();
    const n = node('n');
    assert.equal(s.setNode(n), true);
    assert.deepEqual(s.node('n')!.taints, []);
    assert.equal(s.setNode(withReady(n, 'False')), true);
    assert.deepEqual(s.node('n')!.taints, lifecycleTaints(NOT_READY));
    // The lifecycle controller writing the same taints changes nothing the scheduler reads.
    assert.equal(s.setNode(withReady({ ...n, spec: { taints: lifecycleTaints(NOT_READY) } }, 'False')), false);
    assert.equal(s.setNode(withReady(n, 'Unknown')), true);
    assert.deepEqual(s.node('n')!.taints, lifecycleTaints(UNREACHABLE));
  });
});

describe('not-ready nodes in scheduling', () => {
  const down = withReady(node('down'), 'False');
  const downTainted = withReady(node('down-tainted', { taints: lifecycleTaints(NOT_READY) }), 'False');
  const gone = withReady(node('gone'), 'Unknown');
  const plugin = createTaintTolerationPlugin();

  it('keeps a pod that tolerates nothing off not-ready nodes, tainted yet or not', () => {
    const r = runFilter(plugin, pod('p'), [down, downTainted, gone, node('up')]);
    assert.equal(r.get('down'), `node(s) had untolerated taint {${NOT_READY}: }`);
    assert.equal(r.get('down-tainted'), `node(s) had untolerated taint {${NOT_READY}: }`);
    assert.equal(r.get('gone'), `node(s) had untolerated taint {${UNREACHABLE}: }`);
    assert.equal(r.get('up'), undefined);
    assert.deepEqual(schedulePod(pod('p'), [down, downTainted, gone, node('up')]), { nodeName: 'up' });
  });

  it('lets a pod that tolerates the condition taints onto the node, whether written yet or not', () => {
    const tolerant = pod('p', {
      tolerations: [
        { key: NOT_READY, operator: 'Exists' },
        { key: UNREACHABLE, operator: 'Exists' },
      ],
    });
    const r = runFilter(plugin, tolerant, [down, downTainted, gone]);
    assert.deepEqual([...r.values()], [undefined, undefined, undefined]);
    assert.deepEqual(schedulePod(tolerant, [down]), { nodeName: 'down' });
  });

  it('needs each effect tolerated: NoExecute alone (a daemon pod default) does not schedule onto a not-ready node', () => {
    const noExecuteOnly = pod('p', { tolerations: [{ key: NOT_READY, operator: 'Exists', effect: 'NoExecute' }] });
    assert.equal(runFilter(plugin, noExecuteOnly, [down]).get('down'), `node(s) had untolerated taint {${NOT_READY}: }`);
    const both = pod('p', {
      tolerations: [
        { key: NOT_READY, operator: 'Exists', effect: 'NoExecute' },
        { operator: 'Exists', effect: 'NoSchedule' },
      ],
    });
    assert.equal(runFilter(plugin, both, [down, downTainted]).get('down'), undefined);
    assert.equal(runFilter(plugin, both, [down, downTainted]).get('down-tainted'), undefined);
  });
});
