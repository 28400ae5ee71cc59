import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpuQuantity, goDuration, memoryQuantity } from '../../../src/agent/metrics/quantity-format.ts';
import { parseQuantity } from '../../../src/agent/api/admission/quantity.ts';
import { cpuCell, cpuPercentCell, memoryCell, memoryPercentCell, podTotals } from '../../../src/cli/top-format.ts';
import { seededRandom } from '../../support/seeded-random.ts';

test('CPU as nanocores and memory as KiB, in metrics-server\'s forms', () => {
  assert.equal(cpuQuantity(123_456), '123456n');
  assert.equal(cpuQuantity(123_456.6), '123457n');
  assert.equal(cpuQuantity(0), '0');
  assert.equal(cpuQuantity(-5), '0');
  assert.equal(memoryQuantity(1234 * 1024), '1234Ki');
  assert.equal(memoryQuantity(1234 * 1024 + 1023), '1234Ki');
  assert.equal(memoryQuantity(1023), '0');
});

test('the quantities parse back to what was measured (within their unit)', () => {
  const seed = Number(process.env.SEED ?? Date.now() % 1_000_000);
  const rand = seededRandom(seed);
  for (let i = 0; i < 200; i++) {
    const cores = rand() * 64;
    const bytes = Math.floor(rand() * 2 ** 40);
    assert.ok(Math.abs(parseQuantity(cpuQuantity(cores * 1e9))! - cores) < 1e-9, `seed ${seed}: cpu ${cores}`);
    const back = parseQuantity(memoryQuantity(bytes))!;
    assert.ok(back <= bytes && bytes - back < 1024, `seed ${seed}: memory ${bytes} -> ${back}`);
  }
});

test('windows print as Go durations', () => {
  assert.equal(goDuration(10), '10s');
  assert.equal(goDuration(10.5), '10.5s');
  assert.equal(goDuration(2.011), '2.011s');
  assert.equal(goDuration(0.25), '250ms');
  assert.equal(goDuration(0), '0s');
  assert.equal(goDuration(60), '1m0s');
  assert.equal(goDuration(90.5), '1m30.5s');
  assert.equal(goDuration(3723), '1h2m3s');
});

test('mesh top cells round as kubectl top does', () => {
  assert.equal(cpuCell('123456n'), '1m'); // millicores round up
  assert.equal(cpuCell('200000000n'), '200m');
  assert.equal(cpuCell('0'), '0m');
  assert.equal(memoryCell('1535Ki'), '1Mi'); // MiB round down
  assert.equal(memoryCell('600Ki'), '0Mi');
  assert.equal(cpuPercentCell('500m', '2'), '25%');
  assert.equal(cpuPercentCell('500m', undefined), '<unknown>');
  assert.equal(memoryPercentCell('1Gi', '3Gi'), '33%');
  const totals = podTotals([{ usage: { cpu: '100m', memory: '1Mi' } }, { usage: { cpu: '50000000n', memory: '1024Ki' } }]);
  assert.equal(cpuCell(totals.cpu), '150m');
  assert.equal(memoryCell(totals.memory), '2Mi');
});
