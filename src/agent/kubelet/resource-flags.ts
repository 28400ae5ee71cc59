// Parses the kubelet's resource flags: `--system-reserved` / `--kube-reserved`
// (`cpu=500m,memory=1Gi`) and `--eviction-hard` (`memory.available<100Mi`).
// Errors name the flag and the entry, so the CLI can show them as they are.
import { parseQuantityExact, QUANTITY_FORMAT_ERROR, type ExactQuantity } from '../api/admission/quantity.ts';

export const RESERVABLE = ['cpu', 'memory', 'ephemeral-storage', 'pid'] as const;
export const DEFAULT_EVICTION_HARD = 'memory.available<100Mi';

export interface MemoryThreshold {
  /** As written, e.g. `100Mi` or `5%`. */
  text: string;
  bytes?: number;
  /** Share of the node's memory capacity, 0..1. */
  fraction?: number;
}

export interface EvictionHard {
  memoryAvailable?: MemoryThreshold;
}

export class ResourceFlagError extends Error {}

function entries(text: string): string[] {
  return text.split(',').map((p) => p.trim()).filter(Boolean);
}

/** `cpu=500m,memory=1Gi` to a resource list; throws naming the flag and the bad entry. */
export function parseReserved(flag: string, text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!text) return out;
  for (const entry of entries(text)) {
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new ResourceFlagError(`invalid ${flag} entry "${entry}": use name=quantity[,name=quantity...], e.g. cpu=500m,memory=1Gi`);
    const name = entry.slice(0, eq).trim();
    const value = entry.slice(eq + 1).trim();
    if (!(RESERVABLE as readonly string[]).includes(name)) {
      throw new ResourceFlagError(`invalid ${flag} entry "${entry}": unknown resource "${name}"; use one of ${RESERVABLE.join(', ')}`);
    }
    nonNegativeQuantity(flag, entry, value);
    out[name] = value;
  }
  return out;
}

/** The quantity in a flag entry; the error names the flag and the entry. */
function nonNegativeQuantity(flag: string, entry: string, value: string): ExactQuantity {
  let q: ExactQuantity;
  try {
    q = parseQuantityExact(value);
  } catch {
    throw new ResourceFlagError(`invalid ${flag} entry "${entry}": ${QUANTITY_FORMAT_ERROR}`);
  }
  if (q.mantissa < 0n) throw new ResourceFlagError(`invalid ${flag} entry "${entry}": must not be negative`);
  return q;
}

/** `memory.available<100Mi` (or `<10%`); an empty text means no hard eviction. */
export function parseEvictionHard(text: string | undefined, flag = '--eviction-hard'): EvictionHard {
  const out: EvictionHard = {};
  if (text === undefined) text = DEFAULT_EVICTION_HARD;
  for (const entry of entries(text)) {
    const m = /^([a-zA-Z.]+)\s*<\s*(\S+)$/.exec(entry);
    if (!m) throw new ResourceFlagError(`invalid ${flag} entry "${entry}": use signal<quantity, e.g. ${DEFAULT_EVICTION_HARD}`);
    const [, signal, value] = m as unknown as [string, string, string];
    if (signal !== 'memory.available') {
      throw new ResourceFlagError(`invalid ${flag} entry "${entry}": signal "${signal}" is not supported; Mesh evicts on memory.available only`);
    }
    if (value.endsWith('%')) {
      const pct = Number(value.slice(0, -1));
      if (!Number.isFinite(pct) || pct < 0 || pct > 100 || value.length === 1) {
        throw new ResourceFlagError(`invalid ${flag} entry "${entry}": a percentage must be between 0% and 100%`);
      }
      out.memoryAvailable = { text: value, fraction: pct / 100 };
      continue;
    }
    const q = nonNegativeQuantity(flag, entry, value);
    const bytes = q.exp10 >= 0 ? Number(q.mantissa * 10n ** BigInt(q.exp10)) : Math.ceil(Number(q.mantissa) / 10 ** -q.exp10);
    out.memoryAvailable = { text: value, bytes };
  }
  return out;
}

/** The threshold in bytes for a node with this much memory. */
export function thresholdBytes(t: MemoryThreshold | undefined, capacityBytes: number): number {
  if (!t) return 0;
  if (t.fraction !== undefined) return Math.ceil(t.fraction * capacityBytes);
  return t.bytes ?? 0;
}
