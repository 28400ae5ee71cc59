// One pod's usage as the cluster reports it. The metrics.k8s.io API (and so
// `mesh top pods` and `kubectl top pods`) and the HorizontalPodAutoscaler both
// read pods through here, so the autoscaler acts on the numbers `top` shows.
import type { KubeObject } from '../api/object-types.ts';
import type { MetricsCache, PodMetricsEntry } from './metrics-cache.ts';
import type { Usage } from './metrics-sample.ts';
import { reportedMemoryBytes, reportedNanoCores } from './quantity-format.ts';

/** The pod's newest sample, when it is of this very pod (not an earlier one of the same name). */
export function podMetricsEntry(cache: MetricsCache, pod: KubeObject): PodMetricsEntry | undefined {
  const e = cache.pod(pod.metadata.namespace ?? '', pod.metadata.name ?? '');
  return e && (!e.pod.uid || e.pod.uid === pod.metadata.uid) ? e : undefined;
}

/** The pod's containers summed, each rounded as the API reports it. */
export function podUsage(entry: PodMetricsEntry): Usage {
  let cpuNanoCores = 0;
  let memoryWorkingSetBytes = 0;
  for (const c of entry.pod.containers) {
    cpuNanoCores += reportedNanoCores(c.usage.cpuNanoCores);
    memoryWorkingSetBytes += reportedMemoryBytes(c.usage.memoryWorkingSetBytes);
  }
  return { cpuNanoCores, memoryWorkingSetBytes };
}
