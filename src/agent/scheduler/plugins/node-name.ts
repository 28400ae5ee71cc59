// NodeName: a pod that names its node (spec.nodeName) fits only there.
import type { FilterPlugin } from '../framework.ts';

export const NODE_NAME = 'NodeName';
export const ERR_NODE_NAME = "node(s) didn't match the requested node name";

export function createNodeNamePlugin(): FilterPlugin {
  return {
    name: NODE_NAME,
    preFilter: (pod) => (pod.pod.spec.nodeName ? undefined : 'skip'),
    filter(pod, node) {
      const want = pod.pod.spec.nodeName;
      return want && want !== node.name ? ERR_NODE_NAME : undefined;
    },
  };
}
