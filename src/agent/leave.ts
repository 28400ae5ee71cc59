// `mesh leave`: take this node out of its cluster cleanly. The node is cordoned
// so nothing new lands on it, its pods are deleted gracefully and waited for,
// its Node object is removed, the mesh is told, and the agent forgets the
// cluster so a restart does not rejoin it.
import type { ObjectClient } from './api/object-client.ts';
import type { KubeObject, Pod } from './api/object-types.ts';
import type { Logger } from './logger.ts';
import type { LeaveResult } from './mesh-status.ts';

export interface Leave {
  run(): Promise<LeaveResult>;
}

export function createLeave(opts: {
  nodeName: string;
  client: ObjectClient;
  /** Stops whatever would write the Node again (its status heartbeat). */
  beforeNodeDelete: () => Promise<void> | void;
  announce: () => Promise<void>;
  /** Pushes the last writes to peers before the agent goes away. */
  flush: () => Promise<void>;
  forget: () => Promise<void>;
  logger: Logger;
  /** Longest wait for the pods to stop; default: their longest grace period + 15 s. */
  podTimeoutMs?: number;
}): Leave {
  const log = opts.logger.child({ component: 'leave' });
  const { client, nodeName } = opts;
  let running: Promise<LeaveResult> | undefined;

  const boundPods = () => client.list<Pod>('pods', { fieldSelector: `spec.nodeName=${nodeName}` }).items;

  async function run(): Promise<LeaveResult> {
    const node = client.get<KubeObject & { spec?: Record<string, unknown> }>('nodes', '', nodeName);
    if (node && !node.spec?.unschedulable) {
      await client.update('nodes', { ...node, spec: { ...node.spec, unschedulable: true } });
    }
    const pods = boundPods();
    const grace = Math.max(30, ...pods.map((p) => p.spec.terminationGracePeriodSeconds ?? 30));
    for (const pod of pods) {
      await client.delete('pods', pod.metadata.namespace ?? 'default', pod.metadata.name!).catch((err) => {
        log.warn({ err, pod: pod.metadata.name }, 'could not delete pod');
      });
    }
    const deadline = Date.now() + (opts.podTimeoutMs ?? (grace + 15) * 1000);
    while (boundPods().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    const remaining = boundPods().length;
    if (remaining > 0) log.warn({ remaining }, 'pods still terminating; leaving anyway');

    await opts.beforeNodeDelete();
    if (client.get('nodes', '', nodeName)) await client.delete('nodes', '', nodeName, { gracePeriodSeconds: 0 });
    await opts.announce();
    await opts.flush();
    await opts.forget();
    log.info({ node: nodeName, pods: pods.length }, 'left the cluster');
    return { nodeName, podsDeleted: pods.length };
  }

  return {
    run() {
      running ??= run().finally(() => (running = undefined));
      return running;
    },
  };
}
