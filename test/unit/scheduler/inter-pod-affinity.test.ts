import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from '../../../src/agent/api/object-types.ts';
import { buildClusterSnapshot } from '../../../src/agent/scheduler/cluster-snapshot.ts';
import { createInterPodAffinityPlugin } from '../../../src/agent/scheduler/plugins/inter-pod-affinity.ts';
import { schedulePod } from '../../../src/agent/scheduler/schedule-pod.ts';
import { scheduleOne } from '../../../src/agent/scheduler/scheduling-cycle.ts';
import type { AffinityShape, PodAffinityTermShape } from '../../../src/agent/scheduler/scheduling-shapes.ts';
import { node, passing, pod, runFilter, runScore } from './scheduler-fixtures.ts';

const plugin = createInterPodAffinityPlugin();
const ZONE = 'topology.kubernetes.io/zone';
const HOST = 'kubernetes.io/hostname';
const nodes = [node('a', { labels: { [ZONE]: 'z1' } }), node('b', { labels: { [ZONE]: 'z1' } }), node('c', { labels: { [ZONE]: 'z2' } })];

const term = (app: string, topologyKey: string, more: Partial<PodAffinityTermShape> = {}): PodAffinityTermShape => ({
  topologyKey,
  labelSelector: { matchLabels: { app } },
  ...more,
});
function withAffinity(name: string, affinity: AffinityShape, labels: Record<string, string> = { app: 'me' }, extra: Parameters<typeof pod>[1] = {}): Pod {
  return pod(name, { labels, affinity, ...extra });
}
const running = (name: string, app: string, nodeName: string, extra: Parameters<typeof pod>[1] = {}) => pod(name, { nodeName, labels: { app }, ...extra });
const required = (...terms: PodAffinityTermShape[]) => ({ podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: terms } });
const requiredAnti = (...terms: PodAffinityTermShape[]) => ({ podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: terms } });

describe('InterPodAffinity plugin: required affinity', () => {
  it('admits only nodes in a topology domain holding a matching pod', () => {
    const r = runFilter(plugin, withAffinity('p', required(term('db', ZONE))), nodes, [running('db', 'db', 'a')]);
    assert.equal(r.get('a'), undefined);
    assert.equal(r.get('b'), undefined);
    assert.equal(r.get('c'), "node(s) didn't match pod affinity rules");
  });

  it('rejects nodes without the topology key', () => {
    const bare = node('bare');
    assert.equal(runFilter(plugin, withAffinity('p', required(term('db', ZONE))), [...nodes, bare], [running('db', 'db', 'a')]).get('bare'), "node(s) didn't match pod affinity rules");
  });

  it('needs one pod matching every term', () => {
    const p = withAffinity('p', required(term('db', ZONE), { topologyKey: HOST, labelSelector: { matchLabels: { tier: 'cache' } } }));
    const split = [running('db', 'db', 'a'), pod('cache', { nodeName: 'a', labels: { tier: 'cache' } })];
    assert.deepEqual(passing(plugin, p, nodes, split), []);
    const both = [pod('db-cache', { nodeName: 'b', labels: { app: 'db', tier: 'cache' } })];
    assert.deepEqual(passing(plugin, p, nodes, both), ['b']);
  });

  it('lets the first pod of a self-affine group go anywhere, but not a pod that matches no one', () => {
    const self = withAffinity('p', required(term('me', ZONE)));
    assert.deepEqual(passing(plugin, self, nodes), ['a', 'b', 'c']);
    assert.deepEqual(passing(plugin, withAffinity('p', required(term('db', ZONE))), nodes), []);
  });

  it('looks in the pod\'s own namespace unless the term names others or selects namespaces', () => {
    const db = running('db', 'db', 'a', { namespace: 'data' });
    assert.deepEqual(passing(plugin, withAffinity('p', required(term('db', ZONE))), nodes, [db]), []);
    assert.deepEqual(passing(plugin, withAffinity('p', required(term('db', ZONE, { namespaces: ['data'] }))), nodes, [db]), ['a', 'b']);
    assert.deepEqual(passing(plugin, withAffinity('p', required(term('db', ZONE, { namespaceSelector: {} }))), nodes, [db]), ['a', 'b']);
  });

  it('selects namespaces by their labels', () => {
    const snapshot = buildClusterSnapshot(nodes, [running('db', 'db', 'c', { namespace: 'data' })]);
    const p = withAffinity('p', required(term('db', ZONE, { namespaceSelector: { matchLabels: { team: 'storage' } } })));
    const only = { plugins: [plugin] };
    assert.ok('unschedulable' in scheduleOne(p, snapshot, only).result);
    snapshot.setNamespaceLabels('data', { team: 'storage' });
    assert.deepEqual(scheduleOne(p, snapshot, only).result, { nodeName: 'c' });
  });
});

describe('InterPodAffinity plugin: required anti-affinity', () => {
  it('keeps the pod out of domains holding a matching pod', () => {
    const bound = [running('web', 'web', 'a')];
    const r = runFilter(plugin, withAffinity('p', requiredAnti(term('web', HOST))), nodes, bound);
    assert.equal(r.get('a'), "node(s) didn't match pod anti-affinity rules");
    assert.deepEqual(passing(plugin, withAffinity('p', requiredAnti(term('web', HOST))), nodes, bound), ['b', 'c']);
    assert.deepEqual(passing(plugin, withAffinity('p', requiredAnti(term('web', ZONE))), nodes, bound), ['c']);
  });

  it('honours existing pods\' anti-affinity against the incoming pod (symmetry)', () => {
    const guard = pod('guard', { nodeName: 'a', labels: { app: 'guard' }, affinity: requiredAnti(term('me', ZONE)) });
    const r = runFilter(plugin, pod('p', { labels: { app: 'me' } }), nodes, [guard]);
    assert.equal(r.get('a'), "node(s) didn't satisfy existing pods anti-affinity rules");
    assert.equal(r.get('b'), "node(s) didn't satisfy existing pods anti-affinity rules");
    assert.equal(r.get('c'), undefined);
    assert.deepEqual(passing(plugin, pod('q', { labels: { app: 'other' } }), nodes, [guard]), ['a', 'b', 'c']);
  });

  it('spreads replicas one per node and then reports why no node is left', () => {
    const bound: Pod[] = [];
    const replica = (i: number) => withAffinity(`r${i}`, requiredAnti(term('ha', HOST)), { app: 'ha' });
    for (let i = 0; i < 3; i++) {
      const r = schedulePod(replica(i), nodes, bound);
      assert.ok('nodeName' in r);
      bound.push({ ...replica(i), spec: { ...replica(i).spec, nodeName: r.nodeName } });
    }
    assert.deepEqual(new Set(bound.map((p) => p.spec.nodeName)).size, 3);
    assert.deepEqual(schedulePod(replica(3), nodes, bound), {
      unschedulable: "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.",
    });
  });

  it('reports affinity and anti-affinity failures together', () => {
    const p = withAffinity('p', { ...required(term('db', ZONE)), ...requiredAnti(term('web', HOST)) });
    const r = schedulePod(p, nodes, [running('db', 'db', 'a'), running('w1', 'web', 'a'), running('w2', 'web', 'b')]);
    assert.deepEqual(r, {
      unschedulable: "0/3 nodes are available: 1 node(s) didn't match pod affinity rules, 2 node(s) didn't match pod anti-affinity rules.",
    });
  });
});

describe('InterPodAffinity plugin: score', () => {
  it('skips when no term anywhere applies', () => {
    assert.equal(runScore(plugin, pod('p'), nodes, [running('x', 'x', 'a')]), undefined);
  });

  it('adds preferred affinity weight to domains with matching pods, min..max normalized', () => {
    const p = withAffinity('p', { podAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 40, podAffinityTerm: term('db', ZONE) }] } });
    const s = runScore(plugin, p, nodes, [running('db', 'db', 'a')])!;
    assert.deepEqual([s.get('a'), s.get('b'), s.get('c')], [100, 100, 0]);
  });

  it('subtracts preferred anti-affinity weight', () => {
    const p = withAffinity('p', {
      podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 10, podAffinityTerm: term('web', HOST) }] },
    });
    const s = runScore(plugin, p, nodes, [running('w', 'web', 'b')])!;
    assert.deepEqual([s.get('a'), s.get('b'), s.get('c')], [100, 0, 100]);
  });

  it('counts existing pods\' terms towards the incoming pod (required affinity as weight 1)', () => {
    const fan = pod('fan', { nodeName: 'c', labels: { app: 'fan' }, affinity: required(term('me', ZONE)) });
    const hater = pod('hater', {
      nodeName: 'a',
      labels: { app: 'hater' },
      affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 5, podAffinityTerm: term('me', HOST) }] } },
    });
    const s = runScore(plugin, pod('p', { labels: { app: 'me' } }), nodes, [fan, hater])!;
    // raw: a -5, b 0, c +1 -> (raw - min) * 100 / (max - min)
    assert.deepEqual([s.get('a'), s.get('b'), s.get('c')], [0, Math.trunc((100 * 5) / 6), 100]);
  });
});
