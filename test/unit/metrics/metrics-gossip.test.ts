import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMetricsCache } from '../../../src/agent/metrics/metrics-cache.ts';
import { METRICS_TOPIC, createMetricsGossip } from '../../../src/agent/metrics/metrics-gossip.ts';
import { decodeSample, encodeSample, type NodeMetricsSample } from '../../../src/agent/metrics/metrics-sample.ts';
import type { GossipHandler } from '../../../src/net/mesh-host.ts';
import { silentLogger } from '../../../src/agent/logger.ts';

const SAMPLE: NodeMetricsSample = {
  nodeName: 'n2',
  timestamp: '2026-01-01T00:00:00.000Z',
  windowSeconds: 10.01,
  usage: { cpuNanoCores: 123_456, memoryWorkingSetBytes: 1 << 20 },
  pods: [{ namespace: 'default', name: 'web', uid: 'u1', containers: [{ name: 'c', usage: { cpuNanoCores: 5, memoryWorkingSetBytes: 6 } }] }],
};

function fakeHost() {
  const handlers = new Map<string, GossipHandler>();
  const published: { topic: string; data: Uint8Array }[] = [];
  return {
    handlers,
    published,
    host: {
      async publish(topic: string, data: Uint8Array) {
        published.push({ topic, data });
      },
      subscribe(topic: string, h: GossipHandler) {
        handlers.set(topic, h);
        return () => handlers.delete(topic);
      },
    },
  };
}

test('samples round-trip through the wire format; anything else decodes to undefined', () => {
  assert.deepEqual(decodeSample(encodeSample(SAMPLE)), SAMPLE);
  const bad = (v: unknown) => decodeSample(new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v)));
  assert.equal(bad('not json'), undefined);
  assert.equal(bad({ ...SAMPLE, nodeName: '' }), undefined);
  assert.equal(bad({ ...SAMPLE, timestamp: 'yesterday' }), undefined);
  assert.equal(bad({ ...SAMPLE, usage: { cpuNanoCores: -1, memoryWorkingSetBytes: 0 } }), undefined);
  assert.equal(bad({ ...SAMPLE, pods: [{ name: 'x' }] }), undefined);
});

test('a peer\'s sample is cached only when it speaks for the peer\'s own node', () => {
  const { host, handlers } = fakeHost();
  const cache = createMetricsCache();
  const names: Record<string, string> = { peer2: 'n2', peer3: 'n3' };
  const gossip = createMetricsGossip({ host, cache, nodeNameOf: (p) => names[p], logger: silentLogger() });
  gossip.start();
  const deliver = handlers.get(METRICS_TOPIC)!;
  assert.ok(deliver, 'subscribed to mesh/metrics/1');
  deliver('peer3', encodeSample(SAMPLE)); // n3 claiming to be n2
  deliver('unknown-peer', encodeSample(SAMPLE));
  deliver('peer2', new TextEncoder().encode('{"nodeName":"n2"}'));
  assert.deepEqual(cache.nodes(), []);
  deliver('peer2', encodeSample(SAMPLE));
  assert.deepEqual(cache.node('n2'), SAMPLE);
  gossip.stop();
  assert.equal(handlers.has(METRICS_TOPIC), false);
});

test('publish files the local sample and sends it on the topic', async () => {
  const { host, published } = fakeHost();
  const cache = createMetricsCache();
  const gossip = createMetricsGossip({ host, cache, nodeNameOf: () => undefined, logger: silentLogger() });
  await gossip.publish(SAMPLE);
  assert.deepEqual(cache.node('n2'), SAMPLE);
  assert.equal(published.length, 1);
  assert.equal(published[0]!.topic, METRICS_TOPIC);
  assert.deepEqual(decodeSample(published[0]!.data), SAMPLE);
});
