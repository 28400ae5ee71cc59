import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from '../../../src/agent/api/object-types.ts';
import { podMetricsDoc } from '../../../src/agent/api/metrics-api.ts';
import { createMetricsCache } from '../../../src/agent/metrics/metrics-cache.ts';
import { podMetricsEntry, podUsage } from '../../../src/agent/metrics/pod-usage.ts';
import { milliQuantity } from '../../../src/agent/metrics/quantity-format.ts';
import { parseQuantity } from '../../../src/agent/api/admission/quantity.ts';
import { cpuCell, podTotals } from '../../../src/cli/top-format.ts';
import { seededRandom } from '../../support/seeded-random.ts';

function pod(name: string, uid: string): Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', uid }, spec: { containers: [] } };
}

test('the entry is the sample of this very pod, not of an earlier one of the same name', () => {
  const cache = createMetricsCache({ now: () => 0 });
  cache.put({
    nodeName: 'n1',
    timestamp: '2026-01-01T00:00:10Z',
    windowSeconds: 10,
    usage: { cpuNanoCores: 0, memoryWorkingSetBytes: 0 },
    pods: [{ namespace: 'default', name: 'web', uid: 'old', containers: [] }],
  });
  assert.equal(podMetricsEntry(cache, pod('web', 'new')), undefined);
  assert.equal(podMetricsEntry(cache, pod('web', 'old'))?.node.nodeName, 'n1');
});

test('podUsage sums what the metrics API reports, so the HPA and `mesh top pods` agree', () => {
  const seed = Number(process.env.SEED ?? Date.now() % 1_000_000);
  const rand = seededRandom(seed);
  for (let i = 0; i < 100; i++) {
    const containers = Array.from({ length: 1 + Math.floor(rand() * 3) }, (_, k) => ({
      name: `c${k}`,
      usage: { cpuNanoCores: rand() * 2e9, memoryWorkingSetBytes: Math.floor(rand() * 2 ** 32) },
    }));
    const entry = {
      pod: { namespace: 'default', name: 'web', uid: 'u', containers },
      node: { nodeName: 'n1', timestamp: '2026-01-01T00:00:10Z', windowSeconds: 10, usage: { cpuNanoCores: 0, memoryWorkingSetBytes: 0 }, pods: [] },
    };
    const u = podUsage(entry);
    // What `mesh top pods` computes from the API document.
    const top = podTotals(podMetricsDoc(pod('web', 'u'), entry).containers);
    assert.equal(u.memoryWorkingSetBytes, Number(top.memory), `seed ${seed}`);
    assert.ok(Math.abs(u.cpuNanoCores / 1e9 - Number(top.cpu)) < 1e-9, `seed ${seed}`);
    // The millicores the HPA uses are the CPU(cores) cell of `mesh top pods`.
    assert.equal(`${Math.ceil(u.cpuNanoCores / 1e6)}m`, cpuCell(top.cpu), `seed ${seed}`);
  }
});

test('milliQuantity prints thousandths as a DecimalSI quantity', () => {
  assert.equal(milliQuantity(250), '250m');
  assert.equal(milliQuantity(2000), '2');
  assert.equal(milliQuantity(200_000_000_000), '200M');
  assert.equal(milliQuantity(104_857_600_000), '104857600');
  assert.equal(milliQuantity(0), '0');
  for (const m of [1, 999, 1500, 123_456_789, 5e12]) assert.equal(parseQuantity(milliQuantity(m)) * 1000, m);
});
