// Gives each Node its pod CIDR (leader-only): a block of the cluster's pod
// network allocated in the cluster FSM and copied into spec.podCIDR/podCIDRs,
// where the node's agent reads it to set up its pod bridge. A block of a Node
// missing from the store for more than 10 s is released (a node re-registering
// within that time keeps its block).
import type { ObjectClient } from '../api/object-client.ts';
import type { KubeObject } from '../api/object-types.ts';
import { Invalid } from '../api/errors.ts';
import type { EventRecorder } from '../event-recorder.ts';
import type { Logger } from '../logger.ts';
import { jsonEqual } from '../store/json-equal.ts';
import type { ClusterFsm } from '../../consensus/cluster-fsm.ts';
import type { ClusterAllocator } from '../../consensus/cluster-allocator.ts';
import { defineController, type Controller, type ReconcileResult } from './controller.ts';
import { DEFAULT_SWEEP_EVERY_MS, SWEEP_KEY, createOrphanTracker, createSweepSchedule, type AllocationControllerOptions } from './allocation-sweep.ts';

export const NODE_CIDR_CONTROLLER = 'node-cidr-controller';
const DEFAULT_RETRY_REFUSED_MS = 30_000;

export interface NodeCidrControllerOptions extends AllocationControllerOptions {
  fsm: Pick<ClusterFsm, 'podCidrOf' | 'allocations'>;
}

interface NodeSpec {
  podCIDR?: string;
  podCIDRs?: string[];
  [k: string]: unknown;
}

export function createNodeCidrController(opts: NodeCidrControllerOptions): Controller {
  const { client, allocator, fsm } = opts;
  const log = opts.logger.child({ component: NODE_CIDR_CONTROLLER });
  const now = opts.now ?? Date.now;
  const orphans = createOrphanTracker(opts.releaseAfterMs);
  const schedule = createSweepSchedule(opts.sweepEveryMs ?? DEFAULT_SWEEP_EVERY_MS, now);

  async function sweep(): Promise<void> {
    const alive = new Set(client.list('nodes').items.map((n) => n.metadata.name));
    const allocated = fsm.allocations().podCidrs.map((p) => p.node);
    for (const node of orphans.due(allocated, (n) => alive.has(n), now())) {
      await allocator.releasePodCidr(node);
      log.info({ node }, 'released the pod CIDR of a deleted node');
    }
  }

  async function reconcile(key: string): Promise<ReconcileResult | void> {
    if (key === SWEEP_KEY) {
      if (!schedule.due()) return;
      await sweep();
      schedule.ran();
      return { requeueAfterMs: schedule.everyMs };
    }
    const node = client.get<KubeObject & { spec?: NodeSpec }>('nodes', '', key);
    if (!node || node.metadata.deletionTimestamp) return;
    const spec = node.spec ?? {};
    let cidr = fsm.podCidrOf(key);
    if (cidr && spec.podCIDR === cidr && jsonEqual(spec.podCIDRs ?? [], [cidr])) return;
    if (!cidr) {
      try {
        cidr = await allocator.allocatePodCidr(key);
      } catch (err) {
        if (!(err instanceof Invalid)) throw err;
        log.warn({ node: key, reason: err.message }, 'pod CIDR allocation refused');
        await opts.events?.warning(node, 'CIDRNotAvailable', err.message);
        return { requeueAfterMs: opts.retryRefusedMs ?? DEFAULT_RETRY_REFUSED_MS };
      }
    }
    await client.update('nodes', { ...node, spec: { ...spec, podCIDR: cidr, podCIDRs: [cidr] } });
    log.info({ node: key, podCIDR: cidr }, 'pod CIDR assigned');
  }

  return defineController({
    name: NODE_CIDR_CONTROLLER,
    watches: [
      {
        resource: 'nodes',
        // Every node's resync also starts the sweep (the queue keeps one SWEEP_KEY).
        toKeys: (e) => [...(e.type === 'DELETED' ? [] : [e.object.metadata.name ?? '']), ...(e.resync ? [SWEEP_KEY] : [])].filter(Boolean),
      },
    ],
    reconcile,
    onStart() {
      orphans.reset();
      schedule.reset();
    },
  });
}
