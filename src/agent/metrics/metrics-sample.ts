// What one node measured in one collection round: its own usage and that of
// each pod container on it. Agents gossip these (metrics-gossip.ts) and keep the
// newest per node (metrics-cache.ts); the metrics.k8s.io API reads them.
import { z } from 'zod';

export interface Usage {
  /** CPU rate, 1e9 = one core. */
  cpuNanoCores: number;
  /** Working set: usage minus inactive file cache. */
  memoryWorkingSetBytes: number;
}

export interface ContainerMetricsSample {
  name: string;
  usage: Usage;
}

export interface PodMetricsSample {
  namespace: string;
  name: string;
  uid: string;
  containers: ContainerMetricsSample[];
}

export interface NodeMetricsSample {
  nodeName: string;
  /** End of the measurement window (RFC3339, the collecting node's clock). */
  timestamp: string;
  /** Length of the window the CPU rates cover. */
  windowSeconds: number;
  usage: Usage;
  pods: PodMetricsSample[];
}

const usage = z.object({ cpuNanoCores: z.number().nonnegative(), memoryWorkingSetBytes: z.number().nonnegative() });
const name = z.string().min(1).max(253);
const sampleSchema = z.object({
  nodeName: name,
  timestamp: z.string().refine((s) => Number.isFinite(Date.parse(s)), 'not a timestamp'),
  windowSeconds: z.number().positive(),
  usage,
  pods: z
    .array(z.object({ namespace: name, name, uid: z.string(), containers: z.array(z.object({ name, usage })).max(1000) }))
    .max(10_000),
});

/** Parses a gossiped sample; undefined when it is not one. */
export function decodeSample(bytes: Uint8Array): NodeMetricsSample | undefined {
  try {
    const parsed = sampleSchema.safeParse(JSON.parse(new TextDecoder().decode(bytes)));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export function encodeSample(sample: NodeMetricsSample): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(sample));
}
