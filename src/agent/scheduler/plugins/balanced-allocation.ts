// NodeResourcesBalancedAllocation: favours nodes whose CPU and memory would be
// used in the same proportion after the pod, 100 * (1 - standard deviation of
// the requested fractions).
import type { ScorePlugin } from '../framework.ts';
import { MAX_NODE_SCORE } from '../framework.ts';

export const BALANCED_ALLOCATION = 'NodeResourcesBalancedAllocation';

export function createBalancedAllocationPlugin(opts: { weight?: number } = {}): ScorePlugin {
  return {
    name: BALANCED_ALLOCATION,
    weight: opts.weight ?? 1,
    score(pod, node) {
      const alloc = node.allocatable;
      if (!alloc) return 0;
      // With one resource (or none) known there is nothing to balance: std 0.
      if (alloc.milliCpu <= 0 || alloc.memory <= 0) return MAX_NODE_SCORE;
      const cpu = Math.min(1, (node.requested.milliCpu + pod.requests.milliCpu) / alloc.milliCpu);
      const memory = Math.min(1, (node.requested.memory + pod.requests.memory) / alloc.memory);
      const std = Math.abs(cpu - memory) / 2;
      return Math.trunc((1 - std) * MAX_NODE_SCORE);
    },
  };
}
