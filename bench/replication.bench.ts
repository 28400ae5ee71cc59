// Propagation latency of one write to all of 50 in-process replicas on the
// simulated network with zero added delay: the CPU cost of the replication path
// (encode, deliver, merge, persist to in-memory SQLite, watch event). All 50
// replicas share one thread, so "to all" is the sum of 49 applies; on real
// agents the applies run in parallel and the per-apply figure is what counts.
//
//   node bench/replication.bench.ts            (REPLICAS=50 WRITES=200 by default)

import type { KubeObject } from '../src/agent/api/object-types.ts';
import { singleWriterRule } from '../src/agent/store/single-writer-rule.ts';
import { seededRandom } from '../test/support/seeded-random.ts';
import { createCluster } from '../test/sim/replica-cluster.ts';

const REPLICAS = Number(process.env.REPLICAS ?? 50);
const WRITES = Number(process.env.WRITES ?? 200);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

async function main(): Promise<void> {
  const rnd = seededRandom(1);
  const ids = Array.from({ length: REPLICAS }, (_, i) => `node-${i}`);
  const c = await createCluster({ ids, random: rnd, authorize: singleWriterRule((a) => a) });
  const arrived = new Map<string, number[]>();
  for (const r of c.replicas) {
    r.store.watch({}, (e) => {
      const tag = (e.object.metadata.annotations ?? {})['bench/tag'];
      if (tag) arrived.get(tag)?.push(performance.now());
    });
  }
  // Some objects to write to: configmaps (no authorization check) and pods (checked status writes).
  for (let i = 0; i < 20; i++) {
    const owner = c.replicas[i % REPLICAS];
    await owner.store.create('configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm${i}`, namespace: 'default', uid: `cm-${i}` }, data: { v: '0' } });
    await owner.store.create('pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `p${i}`, namespace: 'default', uid: `p-${i}` },
      spec: { nodeName: owner.id, containers: [{ name: 'c', image: 'busybox' }] },
      status: { phase: 'Pending' },
    });
  }
  await c.net.run();

  for (const resource of ['configmaps', 'pods']) {
    const toAll: number[] = [];
    const perApply: number[] = [];
    for (let w = 0; w < WRITES; w++) {
      const i = w % 20;
      const owner = c.replicas[i % REPLICAS];
      const name = resource === 'pods' ? `p${i}` : `cm${i}`;
      const obj = owner.store.get(resource, 'default', name)!;
      const tag = `${resource}-${w}`;
      obj.metadata.annotations = { 'bench/tag': tag };
      if (resource === 'pods') (obj.status as { phase: string }).phase = `phase-${w}`;
      else (obj as KubeObject & { data: { v: string } }).data.v = String(w);
      arrived.set(tag, []);
      const t0 = performance.now();
      await owner.store.update(resource, obj);
      await c.net.run();
      const times = arrived.get(tag)!;
      if (times.length !== REPLICAS) throw new Error(`${tag} reached ${times.length} of ${REPLICAS} replicas`);
      const last = Math.max(...times);
      toAll.push(last - t0);
      perApply.push((last - Math.min(...times)) / (REPLICAS - 1));
      arrived.delete(tag);
    }
    const f = (x: number) => x.toFixed(2);
    process.stdout.write(
      `${resource.padEnd(10)} ${REPLICAS} replicas, ${WRITES} writes: to all p50 ${f(pct(toAll, 50))} ms, p99 ${f(pct(toAll, 99))} ms; ` +
        `per remote apply p50 ${f(pct(perApply, 50))} ms, p99 ${f(pct(perApply, 99))} ms` +
        `${resource === 'pods' ? ' (status writes, authorization checked)' : ''}\n`,
    );
  }
  await c.stop();
}

await main();
