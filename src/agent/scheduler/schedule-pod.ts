// The pure core of scheduling, as a single call: given a pod, the nodes and
// the pods already bound, pick a node or say why none fits, in kube-scheduler's
// words. It builds a snapshot each call; the binder and the benchmark keep one
// snapshot up to date instead and call scheduleOne (scheduling-cycle.ts).
import type { KubeObject, Pod } from '../api/object-types.ts';
import { buildClusterSnapshot, type ClusterSnapshot } from './cluster-snapshot.ts';
import { scheduleOne, type ScheduleOptions, type ScheduleResult } from './scheduling-cycle.ts';

export type { ScheduleOptions, ScheduleResult } from './scheduling-cycle.ts';

/**
 * bound: the pods already bound (their requests, ports and labels count), or
 * an existing snapshot (then nodes is ignored), or, as before the framework,
 * just a count of pods per node name.
 */
export function schedulePod(
  pod: Pod,
  nodes: readonly KubeObject[],
  bound: readonly Pod[] | ReadonlyMap<string, number> | ClusterSnapshot = [],
  opts: ScheduleOptions = {},
): ScheduleResult {
  let snapshot: ClusterSnapshot;
  if (Array.isArray(bound)) snapshot = buildClusterSnapshot(nodes, bound as readonly Pod[]);
  else if (bound instanceof Map) {
    snapshot = buildClusterSnapshot(nodes);
    for (const [name, count] of bound as ReadonlyMap<string, number>) snapshot.addPodCount(name, count);
  } else snapshot = bound as ClusterSnapshot;
  return scheduleOne(pod, snapshot, opts).result;
}
