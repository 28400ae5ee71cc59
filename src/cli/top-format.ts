// `mesh top` cells, computed as kubectl top computes them: CPU in millicores
// rounded up, memory in whole MiB rounded down, percentages of allocatable
// rounded down.
import { isQuantity, parseQuantity } from '../agent/api/admission/quantity.ts';

export interface UsageDoc {
  cpu?: string;
  memory?: string;
}

function num(q: string | undefined): number {
  return q !== undefined && isQuantity(q) ? parseQuantity(q) : 0;
}

/** Millicores; the tiny epsilon keeps float noise (0.1 * 1e3) from rounding 100m up to 101m. */
const milli = (cores: number) => Math.ceil(cores * 1000 - 1e-9);

export function cpuCell(q: string | undefined): string {
  return `${milli(num(q))}m`;
}

export function memoryCell(q: string | undefined): string {
  return `${Math.floor(num(q) / 2 ** 20)}Mi`;
}

export function cpuPercentCell(usage: string | undefined, allocatable: string | undefined): string {
  const total = milli(num(allocatable));
  return total > 0 ? `${Math.floor((milli(num(usage)) * 100) / total)}%` : '<unknown>';
}

export function memoryPercentCell(usage: string | undefined, allocatable: string | undefined): string {
  const total = num(allocatable);
  return total > 0 ? `${Math.floor((num(usage) * 100) / total)}%` : '<unknown>';
}

/** Sums the containers' usage of one PodMetrics, in base units. */
export function podTotals(containers: { usage: UsageDoc }[]): { cpu: string; memory: string } {
  let cpu = 0;
  let mem = 0;
  for (const c of containers) {
    cpu += num(c.usage.cpu);
    mem += num(c.usage.memory);
  }
  return { cpu: String(cpu), memory: String(mem) };
}
