import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Container, KubeObject, Pod } from '../../../src/agent/api/object-types.ts';
import { silentLogger } from '../../../src/agent/logger.ts';
import { memoryEvictionMessage, qosOf, rankForMemoryEviction, type EvictionCandidate } from '../../../src/agent/kubelet/eviction-ranking.ts';
import { createEvictionManager } from '../../../src/agent/kubelet/eviction-manager.ts';
import { parseEvictionHard } from '../../../src/agent/kubelet/resource-flags.ts';
import { createEventRecorder } from '../../../src/agent/event-recorder.ts';
import { createFakeObjectClient } from '../../support/fake-object-client.ts';
import { seededRandom } from '../../support/seeded-random.ts';

const Mi = 2 ** 20;
const ctr = (name: string, requests?: Record<string, string>, limits?: Record<string, string>): Container => ({
  name,
  image: 'i',
  ...(requests || limits ? { resources: { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) } } : {}),
});
function mkPod(name: string, containers: Container[], extra: { priority?: number; qos?: string } = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', uid: `uid-${name}` },
    spec: { nodeName: 'n1', containers, ...(extra.priority !== undefined ? { priority: extra.priority } : {}) },
    status: { phase: 'Running', ...(extra.qos ? { qosClass: extra.qos } : {}) },
  };
}
const cand = (pod: Pod, usageMi: number): EvictionCandidate => ({ pod, usage: new Map([[pod.spec.containers[0].name, usageMi * Mi]]) });

const bestEffort = (name: string) => mkPod(name, [ctr('c')]);
const burstable = (name: string, reqMi: number) => mkPod(name, [ctr('c', { memory: `${reqMi}Mi` })]);
const guaranteed = (name: string, mi: number) => mkPod(name, [ctr('c', { cpu: '1', memory: `${mi}Mi` }, { cpu: '1', memory: `${mi}Mi` })]);

describe('eviction ranking', () => {
  it('takes QoS from status (set by admission) and computes it otherwise', () => {
    assert.equal(qosOf(bestEffort('a')), 'BestEffort');
    assert.equal(qosOf(burstable('b', 10)), 'Burstable');
    assert.equal(qosOf(guaranteed('g', 10)), 'Guaranteed');
    // Limits only: requests default to limits, so Guaranteed.
    assert.equal(qosOf(mkPod('l', [ctr('c', undefined, { cpu: '1', memory: '1Gi' })])), 'Guaranteed');
    assert.equal(qosOf(mkPod('s', [ctr('c')], { qos: 'Guaranteed' })), 'Guaranteed');
  });

  it('evicts BestEffort first, then the Burstable pod most above its request, then Guaranteed', () => {
    const ranked = rankForMemoryEviction([
      cand(guaranteed('g', 500), 400),
      cand(burstable('b-small', 100), 150), // 50Mi above
      cand(burstable('b-big', 100), 400), // 300Mi above
      cand(burstable('b-under', 500), 100), // under its request
      cand(bestEffort('be'), 5),
    ]).map((c) => c.pod.metadata.name);
    assert.deepEqual(ranked, ['be', 'b-big', 'b-small', 'b-under', 'g']);
  });

  it('within a class: over-request before under, then lower priority, then usage above request', () => {
    const ranked = rankForMemoryEviction([
      cand(bestEffort('be-high'), 100),
      cand(mkPod('be-lowprio', [ctr('c')], { priority: -10 }), 1),
      cand(bestEffort('be-zero'), 0), // not above its (zero) request
    ]).map((c) => c.pod.metadata.name);
    assert.deepEqual(ranked, ['be-lowprio', 'be-high', 'be-zero']);
  });

  it('ranks a random mix so that classes never interleave (seeded)', () => {
    const seed = Number(process.env.SEED ?? Date.now() % 100000);
    const rand = seededRandom(seed);
    const order = { BestEffort: 0, Burstable: 1, Guaranteed: 2 } as const;
    const cands: EvictionCandidate[] = [];
    for (let i = 0; i < 60; i++) {
      const k = Math.floor(rand() * 3);
      const p = k === 0 ? bestEffort(`p${i}`) : k === 1 ? burstable(`p${i}`, 1 + Math.floor(rand() * 200)) : guaranteed(`p${i}`, 200);
      cands.push(cand(p, Math.floor(rand() * 300)));
    }
    const ranked = rankForMemoryEviction(cands);
    for (let i = 1; i < ranked.length; i++) {
      assert.ok(order[qosOf(ranked[i - 1].pod)] <= order[qosOf(ranked[i].pod)], `seed ${seed}: class order broken at ${i}`);
    }
  });

  it('builds the Kubernetes eviction message', () => {
    const msg = memoryEvictionMessage(cand(burstable('b', 10), 30), '100Mi', 50 * Mi);
    assert.equal(
      msg,
      'The node was low on resource: memory. Threshold quantity: 100Mi, available: 51200Ki. Container c was using 30720Ki, request is 10Mi, has larger consumption of memory.',
    );
  });
});

describe('eviction manager', () => {
  async function setup(pods: Pod[], usageMi: Record<string, number>) {
    const client = createFakeObjectClient();
    for (const p of pods) await client.create<Pod>('pods', p);
    let availableMi = 1000;
    let clock = 0;
    const evicted: { pod: string; message: string }[] = [];
    const flips: boolean[] = [];
    const mgr = createEvictionManager({
      nodeName: 'n1',
      client,
      logger: silentLogger(),
      evictionHard: parseEvictionHard('memory.available<100Mi'),
      readMemory: async () => ({ totalBytes: 4096 * Mi, availableBytes: availableMi * Mi }),
      podMemory: async (pod) => new Map([[pod.spec.containers[0].name, (usageMi[pod.metadata.name!] ?? 0) * Mi]]),
      evict: async (pod, message) => {
        evicted.push({ pod: pod.metadata.name!, message });
        // What the kubelet does: the pod is marked Failed/Evicted.
        const cur = client.get<Pod>('pods', 'default', pod.metadata.name!)!;
        await client.updateStatus<Pod>('pods', { ...cur, status: { ...cur.status, phase: 'Failed', reason: 'Evicted', message } });
      },
      events: createEventRecorder({ client, source: { component: 'kubelet', host: 'n1' }, logger: silentLogger() }),
      pressureTransitionMs: 1000,
      onPressureChange: (p) => flips.push(p),
      now: () => clock,
    });
    return {
      client,
      mgr,
      evicted,
      flips,
      setAvailable: (mi: number) => (availableMi = mi),
      advance: (ms: number) => (clock += ms),
    };
  }

  it('evicts one pod per pass while under the threshold, in rank order, with an Evicted event', async () => {
    const t = await setup([guaranteed('g', 100), burstable('b', 50), bestEffort('be')], { g: 90, b: 200, be: 10 });
    assert.equal(await t.mgr.synchronize(), undefined);
    assert.equal(t.mgr.underMemoryPressure(), false);
    t.setAvailable(50);
    assert.equal((await t.mgr.synchronize())?.metadata.name, 'be');
    assert.equal(t.mgr.underMemoryPressure(), true);
    assert.deepEqual(t.flips, [true]);
    assert.match(t.evicted[0].message, /^The node was low on resource: memory\. Threshold quantity: 100Mi, available: 51200Ki\./);
    assert.equal((await t.mgr.synchronize())?.metadata.name, 'b');
    assert.equal((await t.mgr.synchronize())?.metadata.name, 'g');
    assert.equal(await t.mgr.synchronize(), undefined); // nothing left to evict
    assert.deepEqual(t.evicted.map((e) => e.pod), ['be', 'b', 'g']);
    const events = t.client.list<KubeObject & { reason?: string; type?: string; involvedObject?: { name: string } }>('events', { namespace: 'default' }).items;
    assert.deepEqual(events.filter((e) => e.reason === 'Evicted').map((e) => [e.involvedObject?.name, e.type]).sort(), [
      ['b', 'Warning'],
      ['be', 'Warning'],
      ['g', 'Warning'],
    ]);
  });

  it('keeps MemoryPressure for the transition period, then clears it; evicts nothing above the threshold', async () => {
    const t = await setup([bestEffort('be')], { be: 10 });
    t.setAvailable(99);
    await t.mgr.synchronize();
    assert.equal(t.mgr.underMemoryPressure(), true);
    t.setAvailable(2000);
    t.advance(500);
    assert.equal(await t.mgr.synchronize(), undefined);
    assert.equal(t.mgr.underMemoryPressure(), true);
    t.advance(600);
    await t.mgr.synchronize();
    assert.equal(t.mgr.underMemoryPressure(), false);
    assert.deepEqual(t.flips, [true, false]);
    assert.equal(t.evicted.length, 1);
  });

  it('skips pods that are finished, being deleted, bound elsewhere or system-critical', async () => {
    const done = bestEffort('done');
    done.status = { phase: 'Succeeded' };
    const critical = mkPod('critical', [ctr('c')], { priority: 2_000_000_000 });
    const other = bestEffort('other');
    other.spec.nodeName = 'n2';
    const t = await setup([done, critical, other], { done: 50, critical: 50, other: 50 });
    t.setAvailable(10);
    assert.equal(await t.mgr.synchronize(), undefined);
    assert.equal(t.mgr.underMemoryPressure(), true);
    assert.equal(t.evicted.length, 0);
  });
});
