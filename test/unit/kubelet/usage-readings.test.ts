// The pure parts of usage measurement: CPU rates, Docker's stats document
// (working set as cAdvisor computes it), and /proc parsing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpuNanoCores } from '../../../src/agent/kubelet/cpu-rate.ts';
import { parseDockerTime, toContainerStats, workingSetBytes } from '../../../src/agent/kubelet/docker-stats.ts';
import { createProcNodeUsage, parseMeminfo, parseProcStat } from '../../../src/agent/kubelet/node-usage.ts';

test('cpuNanoCores divides the CPU time used by the time passed', () => {
  assert.equal(cpuNanoCores({ timestampMs: 1_000, cpuUsageNanoSeconds: 0 }, { timestampMs: 3_000, cpuUsageNanoSeconds: 1e9 }), 5e8);
  assert.equal(cpuNanoCores({ timestampMs: 0, cpuUsageNanoSeconds: 5e9 }, { timestampMs: 10_000, cpuUsageNanoSeconds: 5e9 }), 0);
  // Two full cores over 500 ms.
  assert.equal(cpuNanoCores({ timestampMs: 0, cpuUsageNanoSeconds: 0 }, { timestampMs: 500, cpuUsageNanoSeconds: 1e9 }), 2e9);
});

test('cpuNanoCores has no answer for no elapsed time or a counter that went back', () => {
  assert.equal(cpuNanoCores({ timestampMs: 5, cpuUsageNanoSeconds: 0 }, { timestampMs: 5, cpuUsageNanoSeconds: 10 }), undefined);
  assert.equal(cpuNanoCores({ timestampMs: 5, cpuUsageNanoSeconds: 0 }, { timestampMs: 4, cpuUsageNanoSeconds: 10 }), undefined);
  assert.equal(cpuNanoCores({ timestampMs: 0, cpuUsageNanoSeconds: 9e9 }, { timestampMs: 1000, cpuUsageNanoSeconds: 1e9 }), undefined);
});

test('working set is usage minus inactive file cache (cgroup v1 and v2), never negative', () => {
  assert.equal(workingSetBytes({ usage: 10_000, stats: { total_inactive_file: 4_000, inactive_file: 1 } }), 6_000);
  assert.equal(workingSetBytes({ usage: 10_000, stats: { inactive_file: 2_500 } }), 7_500);
  assert.equal(workingSetBytes({ usage: 10_000, stats: {} }), 10_000);
  assert.equal(workingSetBytes({ usage: 1_000, stats: { total_inactive_file: 4_000 } }), 0);
  assert.equal(workingSetBytes(undefined), 0);
});

test('Docker times with nanoseconds parse to milliseconds; the zero time does not', () => {
  assert.equal(parseDockerTime('2026-11-25T15:44:43.57435056Z'), Date.parse('2026-11-25T15:44:43.574Z'));
  assert.equal(parseDockerTime('2026-11-25T15:44:43Z'), Date.parse('2026-11-25T15:44:43Z'));
  assert.equal(parseDockerTime('2026-11-25T15:44:43.123456789+02:00'), Date.parse('2026-11-25T13:44:43.123Z'));
  assert.equal(parseDockerTime('0001-01-01T00:00:00Z'), undefined);
  assert.equal(parseDockerTime('garbage'), undefined);
});

test('toContainerStats reads a running container and refuses a stopped one', () => {
  const running = {
    read: '2026-11-25T15:44:43.5Z',
    cpu_stats: { cpu_usage: { total_usage: 1_050_860_351 } },
    memory_stats: { usage: 614_400, stats: { total_inactive_file: 14_400 } },
  };
  assert.deepEqual(toContainerStats(running, 7), {
    timestampMs: Date.parse('2026-11-25T15:44:43.5Z'),
    cpuUsageNanoSeconds: 1_050_860_351,
    memoryWorkingSetBytes: 600_000,
  });
  assert.equal(toContainerStats({ ...running, read: '0001-01-01T00:00:00Z' }, 7)?.timestampMs, 7);
  // What Docker answers for a stopped container: zero CPU, empty memory stats.
  assert.equal(toContainerStats({ read: '0001-01-01T00:00:00Z', cpu_stats: { cpu_usage: { total_usage: 0 } }, memory_stats: {} }, 7), undefined);
});

const STAT = `cpu  100 20 30 1000 50 5 6 7 8 9
cpu0 50 10 15 500 25 2 3 3 4 4
intr 12345
`;

test('parseProcStat counts busy jiffies of all cores (not idle, iowait or guest twice) as ns', () => {
  // user+nice+system+irq+softirq+steal = 100+20+30+5+6+7 = 168 jiffies at 100 Hz.
  assert.equal(parseProcStat(STAT), 1.68e9);
  assert.equal(parseProcStat(STAT, 1000), 1.68e8);
  assert.throws(() => parseProcStat('intr 1\n'), /no aggregate cpu line/);
  assert.throws(() => parseProcStat('cpu a b c d\n'), /unreadable/);
});

test('parseMeminfo: used is MemTotal - MemAvailable, with the old estimate as fallback', () => {
  assert.deepEqual(parseMeminfo('MemTotal:       1000 kB\nMemFree:         100 kB\nMemAvailable:    400 kB\n'), {
    usedBytes: 600 * 1024,
    totalBytes: 1000 * 1024,
  });
  assert.deepEqual(parseMeminfo('MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\n').usedBytes, 600 * 1024);
  assert.throws(() => parseMeminfo('MemFree: 1 kB\n'), /MemTotal/);
});

test('createProcNodeUsage reads injected files and the injected clock', async () => {
  const files: Record<string, string> = { '/p/stat': STAT, '/p/meminfo': 'MemTotal: 2048 kB\nMemAvailable: 1024 kB\n' };
  const reader = createProcNodeUsage({ procDir: '/p', readFile: async (p) => files[p]!, now: () => 42 });
  assert.deepEqual(await reader.read(), { timestampMs: 42, cpuUsageNanoSeconds: 1.68e9, memoryWorkingSetBytes: 1024 * 1024 });
});
