// Node memory as the kubelet's eviction signal sees it: memory.available is
// MemAvailable from /proc/meminfo (the kernel's estimate of what can be had
// without swapping).
import { readFile } from 'node:fs/promises';

export interface NodeMemory {
  totalBytes: number;
  availableBytes: number;
}

/** Parses /proc/meminfo text; undefined when the fields are missing. */
export function parseMemInfo(text: string): NodeMemory | undefined {
  const field = (name: string): number | undefined => {
    const m = new RegExp(`^${name}:\\s+(\\d+)\\s*kB$`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : undefined;
  };
  const totalBytes = field('MemTotal');
  const availableBytes = field('MemAvailable');
  if (totalBytes === undefined || availableBytes === undefined) return undefined;
  return { totalBytes, availableBytes };
}

export async function readNodeMemory(path = '/proc/meminfo'): Promise<NodeMemory> {
  const mem = parseMemInfo(await readFile(path, 'utf8'));
  if (!mem) throw new Error(`${path} has no MemTotal/MemAvailable`);
  return mem;
}
