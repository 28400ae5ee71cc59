import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMetricsCache } from '../../../src/agent/metrics/metrics-cache.ts';
import type { NodeMetricsSample } from '../../../src/agent/metrics/metrics-sample.ts';

function sample(nodeName: string, at: string, pods: [string, string, string?][] = []): NodeMetricsSample {
  return {
    nodeName,
    timestamp: at,
    windowSeconds: 10,
    usage: { cpuNanoCores: 1, memoryWorkingSetBytes: 2 },
    pods: pods.map(([namespace, name, uid]) => ({
      namespace,
      name,
      uid: uid ?? `${name}-uid`,
      containers: [{ name: 'c', usage: { cpuNanoCores: 3, memoryWorkingSetBytes: 4 } }],
    })),
  };
}

test('keeps the newest sample per node and answers for every node and pod', () => {
  const cache = createMetricsCache({ now: () => 0 });
  cache.put(sample('b', '2026-01-01T00:00:10Z', [['ns1', 'web']]));
  cache.put(sample('a', '2026-01-01T00:00:10Z', [['ns2', 'db'], ['ns1', 'api']]));
  cache.put(sample('a', '2026-01-01T00:00:20Z', [['ns1', 'api']]));
  // Out of order: an older sample does not replace a newer one.
  cache.put(sample('a', '2026-01-01T00:00:15Z', [['ns2', 'db']]));
  assert.deepEqual(cache.nodes().map((s) => [s.nodeName, s.timestamp]), [
    ['a', '2026-01-01T00:00:20Z'],
    ['b', '2026-01-01T00:00:10Z'],
  ]);
  assert.deepEqual(cache.pods().map((e) => `${e.pod.namespace}/${e.pod.name}@${e.node.nodeName}`), ['ns1/api@a', 'ns1/web@b']);
  assert.deepEqual(cache.pods('ns2'), []);
  assert.equal(cache.pod('ns1', 'web')?.node.nodeName, 'b');
  assert.equal(cache.pod('ns1', 'nope'), undefined);
  assert.equal(cache.node('c'), undefined);
});

test('a pod in two nodes\' samples (it moved) is answered from the newer sample', () => {
  const cache = createMetricsCache({ now: () => 0 });
  cache.put(sample('old-node', '2026-01-01T00:00:05Z', [['ns', 'p', 'uid-1']]));
  cache.put(sample('new-node', '2026-01-01T00:00:09Z', [['ns', 'p', 'uid-2']]));
  const e = cache.pod('ns', 'p');
  assert.equal(e?.node.nodeName, 'new-node');
  assert.equal(e?.pod.uid, 'uid-2');
  assert.equal(cache.pods().length, 1);
});

test('samples expire maxAgeMs after they arrived, by the local clock', () => {
  let now = 1_000;
  const cache = createMetricsCache({ maxAgeMs: 60_000, now: () => now });
  // The sender's clock is far off; only arrival time counts.
  cache.put(sample('a', '1999-01-01T00:00:00Z', [['ns', 'p']]));
  now += 30_000;
  cache.put(sample('b', '1999-01-01T00:00:00Z'));
  now += 30_000;
  assert.deepEqual(cache.nodes().map((s) => s.nodeName), ['a', 'b']);
  now += 1;
  assert.deepEqual(cache.nodes().map((s) => s.nodeName), ['b']);
  assert.equal(cache.pod('ns', 'p'), undefined);
  now += 30_000;
  assert.deepEqual(cache.nodes(), []);
  // A fresh sample brings a node back.
  cache.put(sample('a', '1999-01-01T00:00:01Z'));
  assert.equal(cache.node('a')?.nodeName, 'a');
});
