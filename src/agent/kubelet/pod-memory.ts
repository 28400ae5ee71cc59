// Memory working set of a pod's containers, by container name, from the
// runtime's stats (what eviction ranks pods by).
import type { Pod } from '../api/object-types.ts';
import type { ContainerRuntime } from './container-runtime.ts';
import { LABEL_CONTAINER_KIND, LABEL_CONTAINER_NAME, LABEL_NODE, LABEL_POD_UID } from './labels.ts';

export function createPodMemoryReader(runtime: ContainerRuntime, nodeName: string): (pod: Pod) => Promise<Map<string, number> | undefined> {
  return async (pod) => {
    const containers = await runtime.listContainers({ [LABEL_NODE]: nodeName, [LABEL_POD_UID]: pod.metadata.uid ?? '' });
    const out = new Map<string, number>();
    for (const c of containers) {
      if (c.state !== 'running' || c.labels[LABEL_CONTAINER_KIND] === 'sandbox') continue;
      const stats = await runtime.stats(c.id).catch(() => undefined);
      if (!stats) continue;
      const name = c.labels[LABEL_CONTAINER_NAME] ?? '';
      out.set(name, (out.get(name) ?? 0) + stats.memoryWorkingSetBytes);
    }
    return out;
  };
}
