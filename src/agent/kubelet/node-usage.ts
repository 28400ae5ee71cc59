// This machine's CPU and memory use from /proc. CPU is the cumulative busy time
// of every core (all /proc/stat columns but idle and iowait); memory is
// MemTotal - MemAvailable, the memory the kernel cannot hand out without
// reclaiming something. File reads are injectable so tests feed fixed text.
import { readFile as fsReadFile } from 'node:fs/promises';
import type { CpuReading } from './cpu-rate.ts';

export interface NodeUsageReading extends CpuReading {
  memoryWorkingSetBytes: number;
}

export interface NodeUsageReader {
  read(): Promise<NodeUsageReading>;
}

/** USER_HZ: /proc/stat counts in 1/100 s on every Linux architecture Mesh runs on. */
const USER_HZ = 100;

/** Cumulative busy CPU time across cores, ns, from the aggregate `cpu` line of /proc/stat. */
export function parseProcStat(text: string, userHz = USER_HZ): number {
  const line = text.split('\n').find((l) => /^cpu\s/.test(l));
  if (!line) throw new Error('/proc/stat has no aggregate cpu line');
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  if (f.length < 4 || f.some((n) => !Number.isFinite(n))) throw new Error(`unreadable /proc/stat cpu line: ${line}`);
  // user nice system idle iowait irq softirq steal [guest guest_nice]; guest time is already in user/nice.
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
  const busy = user + nice + system + irq + softirq + steal;
  return (busy * 1e9) / userHz;
}

/** Bytes in use (MemTotal - MemAvailable) and MemTotal, from /proc/meminfo. */
export function parseMeminfo(text: string): { usedBytes: number; totalBytes: number } {
  const kb = (key: string): number | undefined => {
    const m = new RegExp(`^${key}:\\s+(\\d+)\\s*kB`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : undefined;
  };
  const total = kb('MemTotal');
  if (total === undefined) throw new Error('/proc/meminfo has no MemTotal');
  // Kernels before 3.14 lack MemAvailable; free + buffers + cached is the old estimate.
  const available = kb('MemAvailable') ?? (kb('MemFree') ?? 0) + (kb('Buffers') ?? 0) + (kb('Cached') ?? 0);
  return { usedBytes: Math.max(0, total - available), totalBytes: total };
}

export function createProcNodeUsage(
  opts: { readFile?: (path: string) => Promise<string>; now?: () => number; procDir?: string } = {},
): NodeUsageReader {
  const read = opts.readFile ?? ((p: string) => fsReadFile(p, 'utf8'));
  const now = opts.now ?? Date.now;
  const proc = opts.procDir ?? '/proc';
  return {
    async read() {
      const [stat, meminfo] = await Promise.all([read(`${proc}/stat`), read(`${proc}/meminfo`)]);
      return {
        timestampMs: now(),
        cpuUsageNanoSeconds: parseProcStat(stat),
        memoryWorkingSetBytes: parseMeminfo(meminfo).usedBytes,
      };
    },
  };
}
