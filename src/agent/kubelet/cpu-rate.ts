// CPU usage as a rate: the difference of two cumulative readings over the time
// between them, in nanocores (1e9 = one core), as the kubelet's summary API
// reports usageNanoCores.

export interface CpuReading {
  timestampMs: number;
  cpuUsageNanoSeconds: number;
}

/** undefined when no time passed or the counter went backwards (a restarted container). */
export function cpuNanoCores(prev: CpuReading, cur: CpuReading): number | undefined {
  const elapsedMs = cur.timestampMs - prev.timestampMs;
  const used = cur.cpuUsageNanoSeconds - prev.cpuUsageNanoSeconds;
  if (elapsedMs <= 0 || used < 0) return undefined;
  return Math.round((used / elapsedMs) * 1e3);
}
