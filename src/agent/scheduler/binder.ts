// Binds pending pods to nodes. The choice is the pure schedulePod(); this shell
// watches pods and nodes, writes the binding, and reports pods that fit nowhere
// (PodScheduled=False + a FailedScheduling event), retrying them when nodes change.
// With the consensus issue this runs only on the Raft leader.
import type { ObjectClient } from '../api/object-client.ts';
import type { KubeObject, Pod, PodCondition } from '../api/object-types.ts';
import { createWorkQueue } from '../controllers/work-queue.ts';
import type { EventRecorder } from '../event-recorder.ts';
import type { Logger } from '../logger.ts';
import type { Unsubscribe } from '../store/object-store.ts';
import { schedulePod } from './schedule-pod.ts';

export interface PodBinding {
  bind(namespace: string, name: string, nodeName: string): Promise<unknown>;
}

export interface Binder {
  start(): void;
  stop(): Promise<void>;
  idle(): Promise<void>;
  /** Looks at every pending pod again (e.g. after this agent became the one that binds). */
  resync(): void;
}

const SCHEDULER_NAME = 'default-scheduler';

function needsBinding(pod: Pod): boolean {
  return (
    !pod.spec.nodeName &&
    !pod.metadata.deletionTimestamp &&
    (pod.spec.schedulerName ?? SCHEDULER_NAME) === SCHEDULER_NAME
  );
}

export function createBinder(opts: {
  client: ObjectClient;
  binding: PodBinding;
  events: EventRecorder;
  logger: Logger;
  clock?: () => Date;
  /**
   * Whether this agent binds now. One agent must (two would bind the same pod
   * to different nodes); today the mesh coordinator, the Raft leader later.
   */
  isActive?: () => boolean;
}): Binder {
  const { client } = opts;
  const clock = opts.clock ?? (() => new Date());
  const log = opts.logger.child({ component: 'binder' });
  const unsubscribes: Unsubscribe[] = [];

  async function reconcile(key: string): Promise<void> {
    const [namespace, name] = key.split('/') as [string, string];
    if (opts.isActive && !opts.isActive()) return;
    const pod = client.get<Pod>('pods', namespace, name);
    if (!pod || !needsBinding(pod)) return;
    const nodes = client.list('nodes').items;
    const podsPerNode = new Map<string, number>();
    for (const p of client.list<Pod>('pods').items) {
      const n = p.spec.nodeName;
      if (n && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed') podsPerNode.set(n, (podsPerNode.get(n) ?? 0) + 1);
    }
    const result = schedulePod(pod, nodes, podsPerNode);
    if ('nodeName' in result) {
      await opts.binding.bind(namespace, name, result.nodeName);
      log.info({ pod: key, node: result.nodeName }, 'bound');
      await opts.events.normal(pod, 'Scheduled', `Successfully assigned ${key} to ${result.nodeName}`);
      return;
    }
    await markUnschedulable(pod, result.unschedulable);
  }

  async function markUnschedulable(pod: Pod, message: string): Promise<void> {
    const conditions = pod.status?.conditions ?? [];
    const current = conditions.find((c) => c.type === 'PodScheduled');
    if (current?.status === 'False' && current.message === message) return;
    const condition: PodCondition = {
      type: 'PodScheduled',
      status: 'False',
      reason: 'Unschedulable',
      message,
      lastProbeTime: null,
      lastTransitionTime: clock().toISOString().replace(/\.\d+Z$/, 'Z'),
    };
    await client.updateStatus('pods', {
      ...pod,
      status: { ...pod.status, phase: 'Pending', conditions: [...conditions.filter((c) => c !== current), condition] },
    });
    await opts.events.warning(pod, 'FailedScheduling', message);
    log.info({ pod: `${pod.metadata.namespace}/${pod.metadata.name}`, message }, 'unschedulable');
  }

  const queue = createWorkQueue({ name: 'binder-queue', reconcile, logger: opts.logger });
  const keyOf = (o: KubeObject) => `${o.metadata.namespace}/${o.metadata.name}`;

  function enqueuePending(): void {
    for (const pod of client.list<Pod>('pods').items) if (needsBinding(pod)) queue.add(keyOf(pod));
  }

  return {
    start() {
      unsubscribes.push(
        client.watch('pods', {}, (e) => {
          if (e.type !== 'DELETED' && needsBinding(e.object as Pod)) queue.add(keyOf(e.object));
        }),
        // A node that appears or changes may make a waiting pod fit.
        client.watch('nodes', {}, () => enqueuePending()),
      );
      enqueuePending();
      queue.start();
    },
    async stop() {
      for (const u of unsubscribes.splice(0)) u();
      await queue.stop();
    },
    idle: () => queue.idle(),
    resync: enqueuePending,
  };
}
