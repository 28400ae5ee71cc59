// NodeResourcesFit: the pod's requests must fit in the node's allocatable
// minus what the pods counted there request (terminating ones included, as kube
// counts them until they are gone), and one more pod must fit under
// allocatable.pods. Every shortfall is reported ("Insufficient cpu",
// "Insufficient nvidia.com/gpu", "Too many pods"). A node that reports no
// allocatable yet is not limited: its capacity is unknown, not zero.
import type { FilterPlugin } from '../framework.ts';
import { stateOf } from '../framework.ts';

export const NODE_RESOURCES_FIT = 'NodeResourcesFit';
export const ERR_TOO_MANY_PODS = 'Too many pods';

export function insufficientMessage(resource: string): string {
  return `Insufficient ${resource}`;
}

const INSUFFICIENT_CPU = insufficientMessage('cpu');
const INSUFFICIENT_MEMORY = insufficientMessage('memory');
const INSUFFICIENT_STORAGE = insufficientMessage('ephemeral-storage');

interface ScalarWant {
  name: string;
  quantity: number;
  reason: string;
}

export function createNodeResourcesFitPlugin(): FilterPlugin {
  return {
    name: NODE_RESOURCES_FIT,
    preFilter(pod, ctx) {
      const scalar: ScalarWant[] = [];
      for (const [name, quantity] of pod.requests.scalar) if (quantity > 0) scalar.push({ name, quantity, reason: insufficientMessage(name) });
      ctx.state.set(NODE_RESOURCES_FIT, scalar);
      return undefined;
    },
    filter(pod, node, ctx) {
      const alloc = node.allocatable;
      if (!alloc) return undefined;
      const want = pod.requests;
      const used = node.requested;
      const scalar = stateOf<ScalarWant[]>(ctx, NODE_RESOURCES_FIT)!;
      // Collected without allocating in the common case (one reason or none).
      let reason: string | undefined;
      let reasons: string[] | undefined;
      for (let check = 0; check < 4 + scalar.length; check++) {
        let why: string | undefined;
        if (check === 0) why = node.podCount + 1 > node.allowedPodNumber ? ERR_TOO_MANY_PODS : undefined;
        else if (check === 1) why = want.milliCpu > 0 && want.milliCpu > alloc.milliCpu - used.milliCpu ? INSUFFICIENT_CPU : undefined;
        else if (check === 2) why = want.memory > 0 && want.memory > alloc.memory - used.memory ? INSUFFICIENT_MEMORY : undefined;
        else if (check === 3) {
          why = want.ephemeralStorage > 0 && want.ephemeralStorage > alloc.ephemeralStorage - used.ephemeralStorage ? INSUFFICIENT_STORAGE : undefined;
        } else {
          const s = scalar[check - 4]!;
          const has = alloc.scalar.get(s.name);
          // Most nodes have none of an extended resource: no need to look up what is used of it.
          why = has === undefined || s.quantity > has - (used.scalar.get(s.name) ?? 0) ? s.reason : undefined;
        }
        if (why === undefined) continue;
        if (reason === undefined) reason = why;
        else (reasons ??= [reason]).push(why);
      }
      return reasons ?? reason;
    },
  };
}
