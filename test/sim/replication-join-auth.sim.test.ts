// A late joiner gets the whole state through anti-entropy alone, including
// single-writer objects relayed by a third agent; forged single-writer changes
// are applied nowhere, whether they arrive by gossip or by anti-entropy.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../src/agent/api/object-types.ts';
import { singleWriterRule } from '../../src/agent/store/single-writer-rule.ts';
import { pick, seededRandom } from '../support/seeded-random.ts';
import { createCluster, snapshot, type Replica } from './replica-cluster.ts';

const RESOURCES = ['configmaps', 'pods', 'nodes'];
const SEED = Number(process.env.SIM_SEED ?? 7);

function nodeObj(name: string): KubeObject {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name, uid: `uid-node-${name}` }, status: { heartbeat: 'h0' } };
}

function podObj(name: string, nodeName: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', uid: `uid-pod-${name}` },
    spec: { nodeName, containers: [{ name: 'c', image: 'busybox' }] },
    status: { phase: 'Pending' },
  };
}

async function write(r: Replica, resource: string, ns: string, name: string, mutate: (o: KubeObject) => void): Promise<void> {
  const o = r.store.get(resource, ns, name)!;
  mutate(o);
  await r.store.update(resource, o);
}

describe('replication: late join and writer authorization', () => {
  it('a fresh replica gets the full state from anti-entropy alone (seed ' + SEED + ')', async () => {
    const rnd = seededRandom(SEED);
    const c = await createCluster({ ids: ['node-0', 'node-1', 'node-2'], random: rnd, faults: { maxDelayMs: 10 }, authorize: singleWriterRule((a) => a) });
    try {
      const [a, b, d] = c.replicas;
      for (const r of c.replicas) await r.store.create('nodes', nodeObj(r.id));
      for (let i = 0; i < 60; i++) {
        const r = pick(rnd, c.replicas);
        const name = `cm${i % 25}`;
        const cur = r.store.get('configmaps', 'default', name);
        if (!cur) await r.store.create('configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default', uid: `uid-${i}` }, data: { v: `${i}` } });
        else if (rnd() < 0.25) await r.store.delete('configmaps', 'default', name);
        else await write(r, 'configmaps', 'default', name, (o) => ((o.data as Record<string, string>).v = `${i}`));
        await c.net.advance(5);
      }
      await b.store.create('pods', podObj('web', 'node-1'));
      await c.net.run();
      await write(b, 'pods', 'default', 'web', (o) => ((o.status as { phase: string }).phase = 'Running'));
      await write(d, 'nodes', '', 'node-2', (o) => ((o.status as { heartbeat: string }).heartbeat = 'h9'));
      await c.net.run();

      // Joins after every gossip message was delivered: only anti-entropy can fill it.
      const fresh = await c.add('node-3');
      assert.equal(fresh.store.list('configmaps').items.length, 0);
      // It talks to node-0 only, so Node node-2 and node-1's pod status arrive relayed by a third agent.
      const r1 = await (async () => {
        const p = fresh.replicator.syncWith(a.id);
        await c.net.run(p);
        return p;
      })();
      assert.ok(r1.pulled > 0 && r1.rejected === 0, JSON.stringify(r1));
      await c.net.run();
      assert.deepEqual(snapshot(fresh.store, RESOURCES), snapshot(a.store, RESOURCES));
      assert.equal((fresh.store.get('nodes', '', 'node-2')!.status as { heartbeat: string }).heartbeat, 'h9');
      assert.equal((fresh.store.get('pods', 'default', 'web')!.status as { phase: string }).phase, 'Running');
      assert.deepEqual(fresh.replicator.stateDigest(), a.replicator.stateDigest());
      // A second round finds nothing to do.
      const p2 = fresh.replicator.syncWith(b.id);
      await c.net.run(p2);
      assert.deepEqual(await p2, { peer: b.id, differingBuckets: 0, pulled: 0, pushed: 0, rejected: 0 });
    } finally {
      await c.stop();
    }
  });

  it('forged Node and pod-status changes are applied nowhere, by gossip or anti-entropy', async () => {
    const rnd = seededRandom(SEED + 1);
    const c = await createCluster({ ids: ['node-0', 'node-1', 'node-2'], random: rnd, authorize: singleWriterRule((a) => a) });
    try {
      const [owner, honest, forger] = c.replicas;
      for (const r of c.replicas) await r.store.create('nodes', nodeObj(r.id));
      await owner.store.create('pods', podObj('web', 'node-0'));
      await c.net.run();
      const nodeBefore = honest.store.get('nodes', '', 'node-0')!;

      // By gossip: the forger writes node-0's Node (twice: the second depends on the first).
      await write(forger, 'nodes', '', 'node-0', (o) => ((o.status as { heartbeat: string }).heartbeat = 'forged-1'));
      await write(forger, 'nodes', '', 'node-0', (o) => ((o.metadata.labels = { forged: 'yes' })));
      await c.net.run();
      // By anti-entropy only: the forger writes the pod's status while cut off, then the partition heals.
      c.net.partition([['node-0', 'node-1'], ['node-2']]);
      await write(forger, 'pods', 'default', 'web', (o) => ((o.status as { phase: string }).phase = 'Forged'));
      await c.net.run();
      c.net.heal();
      // Meanwhile the owners keep writing their own objects.
      await write(owner, 'nodes', '', 'node-0', (o) => ((o.status as { heartbeat: string }).heartbeat = 'h1'));
      await write(owner, 'pods', 'default', 'web', (o) => ((o.status as { phase: string }).phase = 'Running'));
      await c.net.run();

      const first = [];
      for (const r of [owner, honest]) {
        const p = r.replicator.syncWith(forger.id);
        await c.net.run(p);
        first.push(await p);
      }
      assert.ok(first.every((x) => x.rejected > 0), `each honest replica refused the forged doc: ${JSON.stringify(first)}`);
      for (const r of [owner, honest]) {
        const n = r.store.get('nodes', '', 'node-0')!;
        assert.equal((n.status as { heartbeat: string }).heartbeat, 'h1', `${r.id}`);
        assert.equal(n.metadata.labels, undefined, `${r.id}`);
        assert.equal((r.store.get('pods', 'default', 'web')!.status as { phase: string }).phase, 'Running', `${r.id}`);
      }
      assert.notDeepEqual(honest.store.get('nodes', '', 'node-0')!.status, nodeBefore.status);
      // The forger did get the owners' legitimate writes.
      assert.equal((forger.store.get('nodes', '', 'node-0')!.status as { heartbeat: string }).heartbeat !== undefined, true);
      assert.deepEqual(snapshot(owner.store, ['nodes', 'pods']), snapshot(honest.store, ['nodes', 'pods']));

      // Next rounds do not pull the refused docs again, and still apply nothing.
      for (const r of [owner, honest]) {
        const p = r.replicator.syncWith(forger.id);
        await c.net.run(p);
        const again = await p;
        assert.equal(again.pulled, 0, JSON.stringify(again));
        assert.equal(again.rejected, 0, JSON.stringify(again));
      }
      assert.equal((honest.store.get('pods', 'default', 'web')!.status as { phase: string }).phase, 'Running');
    } finally {
      await c.stop();
    }
  });
});
