import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from '../../../src/agent/api/object-types.ts';
import { createClusterSnapshot } from '../../../src/agent/scheduler/cluster-snapshot.ts';
import { createPodTopologySpreadPlugin } from '../../../src/agent/scheduler/plugins/pod-topology-spread.ts';
import { schedulePod } from '../../../src/agent/scheduler/schedule-pod.ts';
import { scheduleOne } from '../../../src/agent/scheduler/scheduling-cycle.ts';
import type { TopologySpreadConstraintShape } from '../../../src/agent/scheduler/scheduling-shapes.ts';
import { node, passing, pod, runFilter, runScore, sizedNode } from './scheduler-fixtures.ts';

const plugin = createPodTopologySpreadPlugin();
const ZONE = 'topology.kubernetes.io/zone';
const HOST = 'kubernetes.io/hostname';

function spread(name: string, constraint: Partial<TopologySpreadConstraintShape>, extra: Parameters<typeof pod>[1] = {}): Pod {
  return pod(name, {
    labels: { app: 'web' },
    topologySpreadConstraints: [
      { maxSkew: 1, topologyKey: ZONE, whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 'web' } }, ...constraint },
    ],
    ...extra,
  });
}
const web = (name: string, nodeName: string, extra: Parameters<typeof pod>[1] = {}) => pod(name, { nodeName, labels: { app: 'web' }, ...extra });
const zoned = (name: string, zone: string, extra: Record<string, string> = {}) => node(name, { labels: { [ZONE]: zone, ...extra } });

describe('PodTopologySpread plugin: filter (DoNotSchedule)', () => {
  const nodes = [zoned('a', 'z1'), zoned('b', 'z1'), zoned('c', 'z2')];

  it('rejects domains that would exceed the least-loaded one by more than maxSkew', () => {
    const bound = [web('w1', 'a'), web('w2', 'b')];
    // z1 holds 2, z2 holds 0: z1 would reach 3 - 0 > 1.
    const r = runFilter(plugin, spread('p', {}), nodes, bound);
    assert.equal(r.get('a'), "node(s) didn't match pod topology spread constraints");
    assert.equal(r.get('b'), "node(s) didn't match pod topology spread constraints");
    assert.equal(r.get('c'), undefined);
    assert.deepEqual(passing(plugin, spread('p', { maxSkew: 3 }), nodes, bound), ['a', 'b', 'c']);
  });

  it('rejects nodes without the topology key', () => {
    const r = runFilter(plugin, spread('p', {}), [...nodes, node('bare')]);
    assert.equal(r.get('bare'), "node(s) didn't match pod topology spread constraints (missing required label)");
  });

  it('counts only matching, non-terminating pods of the same namespace', () => {
    const bound = [
      web('other-ns', 'a', { namespace: 'kube-system' }),
      web('leaving', 'a', { deleting: true }),
      pod('other-app', { nodeName: 'a', labels: { app: 'db' } }),
      web('w', 'c'),
    ];
    // Only w counts: z1 0, z2 1.
    assert.deepEqual(passing(plugin, spread('p', {}), nodes, bound), ['a', 'b']);
  });

  it('counts only domains of nodes the pod could go to (nodeAffinityPolicy Honor), unless Ignore', () => {
    const three = [zoned('a', 'z1', { pool: 'x' }), zoned('c', 'z2', { pool: 'x' }), zoned('d', 'z3', { pool: 'y' })];
    const bound = [web('w1', 'a'), web('w2', 'c')];
    assert.deepEqual(passing(plugin, spread('p', {}, { nodeSelector: { pool: 'x' } }), three, bound), ['a', 'c', 'd']);
    // With Ignore, the empty z3 sets the minimum to 0 and z1 / z2 would go to 2.
    assert.deepEqual(passing(plugin, spread('p', { nodeAffinityPolicy: 'Ignore' }, { nodeSelector: { pool: 'x' } }), three, bound), ['d']);
  });

  it('counts the global minimum as 0 while there are fewer domains than minDomains', () => {
    const bound = [web('w1', 'a'), web('w2', 'c')];
    assert.deepEqual(passing(plugin, spread('p', {}), nodes, bound), ['a', 'b', 'c']);
    assert.deepEqual(passing(plugin, spread('p', { minDomains: 3 }), nodes, bound), []);
  });

  it('with several constraints, counts only nodes carrying every key', () => {
    const racked = [zoned('a', 'z1', { rack: 'r1' }), zoned('b', 'z1', { rack: 'r2' }), zoned('c', 'z2', { rack: 'r3' }), zoned('d', 'z2')];
    const p = pod('p', {
      labels: { app: 'web' },
      topologySpreadConstraints: [
        { maxSkew: 1, topologyKey: ZONE, whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 'web' } } },
        { maxSkew: 1, topologyKey: 'rack', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 'web' } } },
      ],
    });
    // w2 sits on d, which has no rack: it counts for neither zone z2 nor anything else.
    const r = runFilter(plugin, p, racked, [web('w1', 'a'), web('w2', 'd')]);
    assert.deepEqual([...r].filter(([, v]) => v === undefined).map(([n]) => n), ['c']);
    assert.equal(r.get('d'), "node(s) didn't match pod topology spread constraints (missing required label)");
  });

  it('does not count the pod itself when it does not match its own selector', () => {
    const p = spread('p', { labelSelector: { matchLabels: { app: 'web' } } });
    p.metadata.labels = { app: 'other' };
    assert.deepEqual(passing(plugin, p, nodes, [web('w1', 'a')]), ['a', 'b', 'c']);
  });

  it('narrows the selector with matchLabelKeys', () => {
    const p = spread('p', { matchLabelKeys: ['rev'] }, { labels: { app: 'web', rev: '2' } });
    const bound = [web('old1', 'a', { labels: { app: 'web', rev: '1' } }), web('old2', 'b', { labels: { app: 'web', rev: '1' } })];
    assert.deepEqual(passing(plugin, p, nodes, bound), ['a', 'b', 'c']);
  });

  it('explains itself in the combined message', () => {
    const nodes = [zoned('a', 'z1'), zoned('b', 'z1'), node('bare'), zoned('c', 'z2')];
    const bound = [web('w1', 'a'), web('w2', 'c')];
    // z1 1, z2 1: without minDomains the pod fits anywhere with a zone.
    assert.ok('nodeName' in schedulePod(spread('p', {}), nodes, bound));
    // minDomains 3 with 2 zones: the minimum counts as 0, so every zone would reach 2.
    assert.deepEqual(schedulePod(spread('p', { minDomains: 3 }), nodes, bound), {
      unschedulable:
        "0/4 nodes are available: 1 node(s) didn't match pod topology spread constraints (missing required label), 3 node(s) didn't match pod topology spread constraints.",
    });
  });
});

describe('PodTopologySpread plugin: score (ScheduleAnyway)', () => {
  it('skips pods without ScheduleAnyway constraints', () => {
    assert.equal(runScore(plugin, spread('p', {}), [zoned('a', 'z1')]), undefined);
  });

  it('scores the emptier hostname higher, normalized so the emptiest gets 100', () => {
    const nodes = [node('a'), node('b'), node('c')];
    const bound = [web('w1', 'a'), web('w2', 'a'), web('w3', 'b')];
    const s = runScore(plugin, spread('p', { topologyKey: HOST, whenUnsatisfiable: 'ScheduleAnyway' }), nodes, bound)!;
    // raw = round(count * ln(3 + 2) + (maxSkew - 1)); normalized = 100 * (max + min - raw) / max
    const w = Math.log(5);
    const raw = [Math.round(2 * w), Math.round(1 * w), 0];
    const max = raw[0]!;
    assert.deepEqual([s.get('a'), s.get('b'), s.get('c')], raw.map((r) => Math.trunc((100 * (max + 0 - r)) / max)));
    assert.equal(s.get('c'), 100);
  });

  it('scores by zone and gives nodes without the key 0', () => {
    const nodes = [zoned('a', 'z1'), zoned('b', 'z2'), node('bare')];
    const s = runScore(plugin, spread('p', { whenUnsatisfiable: 'ScheduleAnyway' }), nodes, [web('w1', 'a')])!;
    assert.equal(s.get('bare'), 0);
    assert.ok(s.get('b')! > s.get('a')!);
  });
});

describe('PodTopologySpread: placing a series of pods', () => {
  for (const [label, constraint] of [
    ['DoNotSchedule on hostname', { topologyKey: HOST }],
    ['ScheduleAnyway on hostname', { topologyKey: HOST, whenUnsatisfiable: 'ScheduleAnyway' }],
    ['no constraint (resource scores alone)', undefined],
  ] as const) {
    it(`lands 6 pods on 3 equal nodes 2/2/2 (${label})`, () => {
      const snapshot = createClusterSnapshot();
      for (const n of ['n1', 'n2', 'n3']) snapshot.setNode(sizedNode(n, '4', '8Gi'));
      let startIndex = 0;
      for (let i = 0; i < 6; i++) {
        const p = constraint ? spread(`p${i}`, constraint, { requests: { cpu: '100m' } }) : web(`p${i}`, '', { requests: { cpu: '100m' } });
        const out = scheduleOne(p, snapshot, { startIndex });
        startIndex = out.nextStartIndex;
        assert.ok('nodeName' in out.result, JSON.stringify(out.result));
        snapshot.assume(p, out.result.nodeName);
      }
      assert.deepEqual(['n1', 'n2', 'n3'].map((n) => snapshot.node(n)!.pods.size), [2, 2, 2]);
    });
  }

  it('lands 6 pods over 3 zones 2/2/2 even when one zone has more nodes', () => {
    const nodes = [sizedNode('a1', '4', '8Gi', { labels: { [ZONE]: 'z1' } }), sizedNode('a2', '4', '8Gi', { labels: { [ZONE]: 'z1' } }), sizedNode('b', '4', '8Gi', { labels: { [ZONE]: 'z2' } }), sizedNode('c', '4', '8Gi', { labels: { [ZONE]: 'z3' } })];
    const bound: Pod[] = [];
    for (let i = 0; i < 6; i++) {
      const p = spread(`p${i}`, {});
      const r = schedulePod(p, nodes, bound);
      assert.ok('nodeName' in r);
      bound.push({ ...p, spec: { ...p.spec, nodeName: r.nodeName } });
    }
    const perZone = (z: string) => bound.filter((p) => nodes.find((n) => n.metadata.name === p.spec.nodeName)!.metadata.labels![ZONE] === z).length;
    assert.deepEqual([perZone('z1'), perZone('z2'), perZone('z3')], [2, 2, 2]);
  });
});
