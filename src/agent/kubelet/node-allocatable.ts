// Pure: Node allocatable as Kubernetes computes it,
//   allocatable = capacity - kube-reserved - system-reserved - hard eviction threshold
// (the memory threshold counts against memory), never below zero.
import { byteValue, milliValue } from './container-resources.ts';
import { thresholdBytes, type EvictionHard } from './resource-flags.ts';

export interface ReservedResources {
  systemReserved?: Record<string, string>;
  kubeReserved?: Record<string, string>;
  evictionHard?: EvictionHard;
}

function formatMilli(milli: number): string {
  return milli % 1000 === 0 ? String(milli / 1000) : `${milli}m`;
}

function formatBytes(bytes: number): string {
  return bytes % 1024 === 0 ? `${bytes / 1024}Ki` : String(bytes);
}

export function computeAllocatable(capacity: Record<string, string>, reserved: ReservedResources): Record<string, string> {
  const out = { ...capacity };
  const lists = [reserved.systemReserved ?? {}, reserved.kubeReserved ?? {}];
  for (const name of Object.keys(capacity)) {
    const taken = lists.map((l) => l[name]).filter((v): v is string => v !== undefined);
    if (name === 'memory' && reserved.evictionHard?.memoryAvailable) {
      const cap = byteValue(capacity.memory) ?? 0;
      taken.push(String(thresholdBytes(reserved.evictionHard.memoryAvailable, cap)));
    }
    if (!taken.length) continue;
    if (name === 'cpu') {
      const left = (milliValue(capacity.cpu) ?? 0) - taken.reduce((s, v) => s + (milliValue(v) ?? 0), 0);
      out.cpu = formatMilli(Math.max(0, left));
    } else {
      const left = (byteValue(capacity[name]) ?? 0) - taken.reduce((s, v) => s + (byteValue(v) ?? 0), 0);
      out[name] = name === 'memory' || name === 'ephemeral-storage' ? formatBytes(Math.max(0, left)) : String(Math.max(0, left));
    }
  }
  return out;
}
