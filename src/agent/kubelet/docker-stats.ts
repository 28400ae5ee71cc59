// Docker's stats document to ContainerStats. The working set follows cAdvisor
// (what the kubelet and metrics-server report): usage minus the inactive file
// cache, which the kernel can drop at will. cgroup v1 names it
// total_inactive_file, cgroup v2 inactive_file.
import type { ContainerStats } from './container-runtime.ts';

export interface DockerStatsDoc {
  read?: string;
  cpu_stats?: { cpu_usage?: { total_usage?: number } };
  memory_stats?: { usage?: number; stats?: Record<string, number | undefined> };
}

/** RFC3339 with up to nanoseconds to ms since the epoch; undefined for Docker's zero time or garbage. */
export function parseDockerTime(t: string | undefined): number | undefined {
  if (!t || t.startsWith('0001-')) return undefined;
  // Date.parse is only specified for millisecond fractions.
  const ms = Date.parse(t.replace(/\.(\d{1,3})\d*(?=Z|[+-]\d\d:\d\d$)/, '.$1'));
  return Number.isFinite(ms) ? ms : undefined;
}

export function workingSetBytes(memory: DockerStatsDoc['memory_stats']): number {
  const usage = memory?.usage ?? 0;
  const stats = memory?.stats ?? {};
  const inactiveFile = stats.total_inactive_file ?? stats.inactive_file ?? 0;
  return Math.max(0, usage - inactiveFile);
}

/** undefined when the document carries no readings (Docker's answer for a stopped container). */
export function toContainerStats(doc: DockerStatsDoc, fallbackNowMs: number): ContainerStats | undefined {
  const cpu = doc.cpu_stats?.cpu_usage?.total_usage;
  if (cpu === undefined || doc.memory_stats?.usage === undefined) return undefined;
  return {
    timestampMs: parseDockerTime(doc.read) ?? fallbackNowMs,
    cpuUsageNanoSeconds: cpu,
    memoryWorkingSetBytes: workingSetBytes(doc.memory_stats),
  };
}
