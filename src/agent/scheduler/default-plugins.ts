// kube-scheduler's default profile, in its order (filters stop at the first
// plugin that rejects a node, so the order decides which reason is reported)
// and with its score weights.
import type { SchedulerPlugin } from './framework.ts';
import { createBalancedAllocationPlugin } from './plugins/balanced-allocation.ts';
import { createInterPodAffinityPlugin } from './plugins/inter-pod-affinity.ts';
import { createLeastAllocatedPlugin } from './plugins/least-allocated.ts';
import { createNodeAffinityPlugin } from './plugins/node-affinity.ts';
import { createNodeNamePlugin } from './plugins/node-name.ts';
import { createNodePortsPlugin } from './plugins/node-ports.ts';
import { createNodeResourcesFitPlugin } from './plugins/node-resources-fit.ts';
import { createNodeUnschedulablePlugin } from './plugins/node-unschedulable.ts';
import { createPodTopologySpreadPlugin } from './plugins/pod-topology-spread.ts';
import { createTaintTolerationPlugin } from './plugins/taint-toleration.ts';
import { createVolumeBindingPlugin } from './plugins/volume-binding.ts';

export function createDefaultPlugins(): SchedulerPlugin[] {
  return [
    createNodeUnschedulablePlugin(),
    createNodeNamePlugin(),
    createTaintTolerationPlugin({ weight: 3 }),
    createNodeAffinityPlugin({ weight: 2 }),
    createNodePortsPlugin(),
    createNodeResourcesFitPlugin(),
    createVolumeBindingPlugin(),
    createLeastAllocatedPlugin({ weight: 1 }),
    createPodTopologySpreadPlugin({ weight: 2 }),
    createInterPodAffinityPlugin({ weight: 2 }),
    createBalancedAllocationPlugin({ weight: 1 }),
  ];
}
