// NodeResourcesFit's default scoring (LeastAllocated): the more CPU and memory
// a node has left after the pod, the higher it scores; requests left unset
// count as 100m / 200Mi so best-effort pods spread too.
import type { ScorePlugin } from '../framework.ts';
import { MAX_NODE_SCORE } from '../framework.ts';

export const LEAST_ALLOCATED = 'NodeResourcesLeastAllocated';

function leastRequested(requested: number, capacity: number): number {
  if (requested > capacity) return 0;
  return Math.trunc(((capacity - requested) * MAX_NODE_SCORE) / capacity);
}

export function createLeastAllocatedPlugin(opts: { weight?: number } = {}): ScorePlugin {
  return {
    name: LEAST_ALLOCATED,
    weight: opts.weight ?? 1,
    score(pod, node) {
      const alloc = node.allocatable;
      if (!alloc) return 0;
      let sum = 0;
      let weights = 0;
      if (alloc.milliCpu > 0) {
        sum += leastRequested(node.nonZeroRequested.milliCpu + pod.nonZeroMilliCpu, alloc.milliCpu);
        weights++;
      }
      if (alloc.memory > 0) {
        sum += leastRequested(node.nonZeroRequested.memory + pod.nonZeroMemory, alloc.memory);
        weights++;
      }
      return weights ? Math.trunc(sum / weights) : 0;
    },
  };
}
