// The collector against a scripted runtime and node reader: rates from two
// rounds, pods grouped from container labels, sandboxes left out, pods with a
// container lacking a rate held back, gone containers forgotten.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMetricsCollector } from '../../../src/agent/kubelet/metrics-collector.ts';
import type { ContainerInfo, ContainerStats } from '../../../src/agent/kubelet/container-runtime.ts';
import type { NodeUsageReading } from '../../../src/agent/kubelet/node-usage.ts';
import { silentLogger } from '../../../src/agent/logger.ts';

function container(id: string, pod: string, name: string, kind = 'app', state: ContainerInfo['state'] = 'running'): ContainerInfo {
  return {
    id,
    name: `engine-${id}`,
    image: 'img',
    imageID: 'sha256:x',
    labels: {
      'io.mesh.node': 'n1',
      'io.mesh.pod.uid': `uid-${pod}`,
      'io.mesh.pod.name': pod,
      'io.mesh.pod.namespace': 'ns',
      'io.mesh.container.name': name,
      'io.mesh.container.kind': kind,
    },
    state,
    oomKilled: false,
    createdAt: '2026-01-01T00:00:00Z',
    ipAddresses: {},
    tty: false,
  };
}

function harness() {
  const state = {
    containers: [] as ContainerInfo[],
    stats: new Map<string, ContainerStats>(),
    node: { timestampMs: 0, cpuUsageNanoSeconds: 0, memoryWorkingSetBytes: 0 } as NodeUsageReading,
    listedWith: [] as Record<string, string>[],
  };
  const collector = createMetricsCollector({
    nodeName: 'n1',
    logger: silentLogger(),
    runtime: {
      async listContainers(labels) {
        state.listedWith.push(labels);
        return state.containers;
      },
      async stats(id) {
        if (id === 'broken') throw new Error('engine hiccup');
        return state.stats.get(id);
      },
    },
    nodeUsage: { read: async () => state.node },
  });
  const set = (id: string, t: number, cpuNs: number, mem: number) => state.stats.set(id, { timestampMs: t, cpuUsageNanoSeconds: cpuNs, memoryWorkingSetBytes: mem });
  return { state, collector, set };
}

test('the first round is a baseline; the second gives node and container rates per pod', async () => {
  const { state, collector, set } = harness();
  state.containers = [container('a1', 'web', 'app'), container('a2', 'web', 'sidecar'), container('s1', 'web', 'POD', 'sandbox'), container('b1', 'db', 'main')];
  for (const id of ['a1', 'a2', 's1', 'b1']) set(id, 1_000, 0, 1_000);
  state.node = { timestampMs: 1_000, cpuUsageNanoSeconds: 10e9, memoryWorkingSetBytes: 5e8 };
  assert.equal(await collector.collect(), undefined);
  assert.deepEqual(state.listedWith[0], { 'io.mesh.node': 'n1' });

  set('a1', 3_000, 1e9, 2_048); // 0.5 core
  set('a2', 3_000, 2e8, 1_024); // 0.1 core
  set('s1', 3_000, 1e9, 99);
  set('b1', 3_000, 0, 4_096);
  state.node = { timestampMs: 3_000, cpuUsageNanoSeconds: 13e9, memoryWorkingSetBytes: 6e8 };
  const sample = await collector.collect();
  assert.deepEqual(sample, {
    nodeName: 'n1',
    timestamp: new Date(3_000).toISOString(),
    windowSeconds: 2,
    usage: { cpuNanoCores: 1.5e9, memoryWorkingSetBytes: 6e8 },
    pods: [
      {
        namespace: 'ns',
        name: 'web',
        uid: 'uid-web',
        containers: [
          { name: 'app', usage: { cpuNanoCores: 5e8, memoryWorkingSetBytes: 2_048 } },
          { name: 'sidecar', usage: { cpuNanoCores: 1e8, memoryWorkingSetBytes: 1_024 } },
        ],
      },
      { namespace: 'ns', name: 'db', uid: 'uid-db', containers: [{ name: 'main', usage: { cpuNanoCores: 0, memoryWorkingSetBytes: 4_096 } }] },
    ],
  });
  assert.deepEqual(collector.latest(), sample);
});

test('a pod with a container that has no rate yet (or no stats) is held back; gone containers are forgotten', async () => {
  const { state, collector, set } = harness();
  state.containers = [container('a1', 'web', 'app')];
  set('a1', 0, 0, 1);
  await collector.collect();
  // A second container starts in the pod, and an exited one is ignored.
  state.containers = [container('a1', 'web', 'app'), container('a2', 'web', 'late'), container('x1', 'old', 'c', 'app', 'exited'), container('broken', 'flaky', 'c')];
  set('a1', 1_000, 1e8, 1);
  set('a2', 1_000, 5e8, 1);
  set('x1', 1_000, 5e8, 1);
  state.node = { timestampMs: 1_000, cpuUsageNanoSeconds: 1e9, memoryWorkingSetBytes: 1 };
  let sample = await collector.collect();
  assert.deepEqual(sample?.pods, [], 'web waits for its new container; broken stats are skipped');

  set('a1', 2_000, 2e8, 1);
  set('a2', 2_000, 6e8, 1);
  state.node = { timestampMs: 2_000, cpuUsageNanoSeconds: 2e9, memoryWorkingSetBytes: 1 };
  sample = await collector.collect();
  assert.deepEqual(sample?.pods.map((p) => p.containers.map((c) => [c.name, c.usage.cpuNanoCores])), [[['app', 1e8], ['late', 1e8]]]);

  // a1 goes away and comes back with a reset counter: it needs a new baseline.
  state.containers = [container('a2', 'web', 'late')];
  set('a2', 3_000, 7e8, 1);
  state.node = { timestampMs: 3_000, cpuUsageNanoSeconds: 3e9, memoryWorkingSetBytes: 1 };
  await collector.collect();
  state.containers = [container('a1', 'web', 'app'), container('a2', 'web', 'late')];
  set('a1', 4_000, 0, 1);
  set('a2', 4_000, 8e8, 1);
  state.node = { timestampMs: 4_000, cpuUsageNanoSeconds: 4e9, memoryWorkingSetBytes: 1 };
  assert.deepEqual((await collector.collect())?.pods, []);
});

test('start() samples on the interval and hands each complete sample over; stop() ends it', async () => {
  let t = 0;
  const samples: unknown[] = [];
  const collector = createMetricsCollector({
    nodeName: 'n1',
    logger: silentLogger(),
    intervalMs: 20,
    runtime: { listContainers: async () => [], stats: async () => undefined },
    nodeUsage: {
      read: async () => {
        t += 1_000;
        return { timestampMs: t, cpuUsageNanoSeconds: t * 1e5, memoryWorkingSetBytes: 1 };
      },
    },
    onSample: (s) => samples.push(s),
  });
  collector.start();
  const deadline = Date.now() + 5_000;
  while (samples.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  await collector.stop();
  assert.ok(samples.length >= 3, `got ${samples.length} samples`);
  const n = samples.length;
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(samples.length, n, 'no samples after stop');
  assert.equal((samples[0] as { usage: { cpuNanoCores: number } }).usage.cpuNanoCores, 1e8);
});
