import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildClusterSnapshot, createClusterSnapshot } from '../../../src/agent/scheduler/cluster-snapshot.ts';
import { compileLabelSelector } from '../../../src/agent/scheduler/label-selector.ts';
import { termMatches, type PodInfo } from '../../../src/agent/scheduler/pod-info.ts';
import type { LabelSelectorShape } from '../../../src/agent/scheduler/scheduling-shapes.ts';
import { seededRandom } from '../../support/seeded-random.ts';
import { node, pod, sizedNode } from './scheduler-fixtures.ts';

describe('cluster snapshot', () => {
  it('aggregates the requests, non-zero requests, ports and count of the pods on each node', () => {
    const s = buildClusterSnapshot(
      [sizedNode('a', '4', '8Gi'), sizedNode('b', '4', '8Gi')],
      [
        pod('x', { nodeName: 'a', requests: { cpu: '500m', memory: '1Gi', 'nvidia.com/gpu': '1' } }),
        pod('y', { nodeName: 'a', containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 80, hostPort: 8080 }] }] }),
        pod('pending'),
      ],
    );
    const a = s.node('a')!;
    assert.equal(a.podCount, 2);
    assert.equal(a.requested.milliCpu, 500);
    assert.equal(a.requested.memory, 1024 ** 3);
    assert.equal(a.requested.scalar.get('nvidia.com/gpu'), 1);
    assert.equal(a.nonZeroRequested.milliCpu, 500 + 100);
    assert.ok(a.usedPortsAnyIp.has('TCP/8080'));
    assert.equal(s.node('b')!.podCount, 0);
    assert.deepEqual(s.nodes().map((n) => n.name), ['a', 'b']);
  });

  it('moves, drops and re-adds a pod as its state changes', () => {
    const s = buildClusterSnapshot([node('a'), node('b')]);
    const p = pod('p', { nodeName: 'a', requests: { cpu: '1' } });
    s.setPod(p);
    s.setPod({ ...p, spec: { ...p.spec, nodeName: 'b' } });
    assert.equal(s.node('a')!.podCount, 0);
    assert.equal(s.node('b')!.requested.milliCpu, 1000);
    s.setPod({ ...p, spec: { ...p.spec, nodeName: 'b' }, status: { phase: 'Succeeded' } });
    assert.equal(s.node('b')!.podCount, 0);
    assert.equal(s.node('b')!.requested.milliCpu, 0);
    s.setPod(p);
    assert.equal(s.removePod('default', 'p'), true);
    assert.equal(s.removePod('default', 'p'), false);
    assert.equal(s.node('a')!.requested.milliCpu, 0);
  });

  it('keeps an assumed pod counted until its binding or deletion arrives, and forgets it on request', () => {
    const s = buildClusterSnapshot([node('a')]);
    const p = pod('p', { requests: { cpu: '1' } });
    s.assume(p, 'a');
    s.setPod(p); // an older, unbound copy echoing back
    assert.equal(s.node('a')!.requested.milliCpu, 1000);
    s.setPod({ ...p, spec: { ...p.spec, nodeName: 'a' } });
    s.setPod(p); // no longer assumed: an unbound copy now means unbound
    assert.equal(s.node('a')!.podCount, 0);
    s.assume(p, 'a');
    s.forget('default', 'p');
    assert.equal(s.node('a')!.podCount, 0);
  });

  it('keeps pods of a node it has not seen, and lists the node once it arrives', () => {
    const s = createClusterSnapshot();
    s.setPod(pod('p', { nodeName: 'later', requests: { cpu: '1' } }));
    assert.deepEqual(s.nodes(), []);
    assert.equal(s.setNode(node('later')), true);
    assert.equal(s.nodes()[0]!.requested.milliCpu, 1000);
    s.removeNode('later');
    assert.deepEqual(s.nodes(), []);
    assert.equal(s.node('later')!.podCount, 1);
  });

  it('says whether a node update changed anything the scheduler reads', () => {
    const s = createClusterSnapshot();
    const n = sizedNode('a', '4', '8Gi');
    assert.equal(s.setNode(n), true);
    assert.equal(s.setNode(structuredClone(n)), false);
    assert.equal(s.setNode({ ...n, metadata: { ...n.metadata, labels: { pool: 'x' } } }), true);
    assert.equal(s.setNode({ ...n, metadata: { ...n.metadata, labels: { pool: 'x' } }, spec: { unschedulable: true } }), true);
  });

  it('finds matching pods through the label index exactly as a full scan would', () => {
    const seed = Number(process.env.SEED ?? Date.now() % 100000);
    const rnd = seededRandom(seed);
    const s = createClusterSnapshot();
    s.setNode(node('n'));
    const all: PodInfo[] = [];
    for (let i = 0; i < 300; i++) {
      const labels: Record<string, string> = {};
      if (rnd() < 0.8) labels.app = `a${Math.floor(rnd() * 5)}`;
      if (rnd() < 0.5) labels.tier = rnd() < 0.5 ? 'web' : 'db';
      s.setPod(pod(`p${i}`, { nodeName: 'n', namespace: rnd() < 0.5 ? 'x' : 'y', labels }));
      if (rnd() < 0.2) s.removePod(rnd() < 0.5 ? 'x' : 'y', `p${Math.floor(rnd() * i)}`);
    }
    for (const p of s.node('n')!.pods.values()) all.push(p);
    const selectors: LabelSelectorShape[] = [
      { matchLabels: { app: 'a1' } },
      { matchLabels: { app: 'a2', tier: 'web' } },
      { matchExpressions: [{ key: 'app', operator: 'In', values: ['a0', 'a3'] }, { key: 'tier', operator: 'NotIn', values: ['db'] }] },
      { matchExpressions: [{ key: 'tier', operator: 'Exists' }] },
      { matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] },
      {},
    ];
    for (const shape of selectors) {
      const sel = compileLabelSelector(shape);
      for (const ns of [new Set(['x']), undefined]) {
        const found: string[] = [];
        s.forEachMatchingPod(ns, sel, (p) => found.push(p.key));
        const want = all.filter((p) => (!ns || ns.has(p.namespace)) && sel.matches(p.labels)).map((p) => p.key);
        assert.deepEqual(found.sort(), want.sort(), `seed ${seed}: ${JSON.stringify(shape)} in ${ns ? [...ns] : 'all'}`);
      }
    }
  });
});

describe('cluster snapshot: affinity term index', () => {
  it('offers every term that selects a pod (a superset), and forgets terms of removed pods', () => {
    const seed = Number(process.env.SEED ?? Date.now() % 100000);
    const rnd = seededRandom(seed);
    const s = createClusterSnapshot();
    s.setNode(node('n'));
    const selectors: LabelSelectorShape[] = [
      { matchLabels: { app: 'a1' } },
      { matchExpressions: [{ key: 'app', operator: 'In', values: ['a0', 'a2'] }] },
      { matchExpressions: [{ key: 'tier', operator: 'Exists' }] },
      {},
    ];
    const names: string[] = [];
    for (let i = 0; i < 120; i++) {
      const sel = selectors[Math.floor(rnd() * selectors.length)]!;
      const term = { topologyKey: 'kubernetes.io/hostname', labelSelector: sel };
      const affinity = rnd() < 0.5
        ? { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term] } }
        : { podAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 3, podAffinityTerm: term }] } };
      s.setPod(pod(`t${i}`, { nodeName: 'n', labels: { app: `a${i % 3}` }, affinity }));
      names.push(`t${i}`);
      if (rnd() < 0.3) s.removePod('default', names.splice(Math.floor(rnd() * names.length), 1)[0]!);
    }
    for (const labels of [{ app: 'a1' }, { app: 'a2', tier: 'web' }, { tier: 'db' }, {}] as Record<string, string>[]) {
      const offered = new Set<string>();
      s.forEachTermPossiblySelecting(labels, (t) => {
        if (termMatches(t.term, 'default', labels, () => undefined)) offered.add(t.pod.key);
      });
      const want = new Set<string>();
      for (const p of s.node('n')!.pods.values()) {
        const terms = [...p.requiredAntiAffinityTerms, ...p.preferredAffinityTerms];
        if (terms.some((t) => termMatches(t, 'default', labels, () => undefined))) want.add(p.key);
      }
      assert.deepEqual([...offered].sort(), [...want].sort(), `seed ${seed}: ${JSON.stringify(labels)}`);
    }
  });
});
