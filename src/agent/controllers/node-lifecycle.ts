// Marks Nodes whose agent stopped answering as not ready (Ready=Unknown, as
// Kubernetes' node-lifecycle controller does), within seconds, from the mesh's
// own failure detector instead of waiting for missed status writes. A node's own
// agent sets Ready=True again with its next status write when it comes back.
//
// The pure core is nodesToMarkUnknown(); the shell runs it on the coordinator
// (today the live agent with the lowest node name; the Raft leader with the
// consensus issue) whenever membership changes.
import type { ObjectClient } from '../api/object-client.ts';
import type { KubeObject } from '../api/object-types.ts';
import type { Logger } from '../logger.ts';

export type MemberLiveness = 'alive' | 'suspect' | 'dead' | 'left';

export interface MemberView {
  nodeName: string;
  status: MemberLiveness;
}

interface NodeCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastHeartbeatTime?: string;
  lastTransitionTime?: string;
}

interface NodeObject extends KubeObject {
  status?: { conditions?: NodeCondition[]; [k: string]: unknown };
}

export const UNKNOWN_REASON = 'NodeStatusUnknown';
export const UNKNOWN_MESSAGE = 'Kubelet stopped posting node status.';

/** Nodes that are not known-down yet but whose agent the mesh sees as dead. */
export function nodesToMarkUnknown(nodes: NodeObject[], members: MemberView[]): NodeObject[] {
  const dead = new Set(members.filter((m) => m.status === 'dead').map((m) => m.nodeName));
  return nodes.filter((n) => {
    if (!dead.has(n.metadata.name ?? '')) return false;
    const ready = n.status?.conditions?.find((c) => c.type === 'Ready');
    return ready?.status !== 'Unknown';
  });
}

/** The Node with every condition set to Unknown, as Kubernetes reports an unreachable node. */
export function withUnknownConditions(node: NodeObject, now: Date): NodeObject {
  const ts = now.toISOString().replace(/\.\d+Z$/, 'Z');
  const conditions = (node.status?.conditions ?? [{ type: 'Ready', status: 'Unknown' }]).map((c) => ({
    ...c,
    status: 'Unknown',
    reason: UNKNOWN_REASON,
    message: UNKNOWN_MESSAGE,
    lastTransitionTime: c.status === 'Unknown' ? c.lastTransitionTime : ts,
  }));
  return { ...node, status: { ...node.status, conditions } };
}

/** The lowest-named live member acts for the cluster until Raft picks a leader. */
export function isCoordinator(self: string, members: MemberView[]): boolean {
  const alive = members.filter((m) => m.status === 'alive' || m.status === 'suspect').map((m) => m.nodeName);
  alive.push(self);
  return alive.sort()[0] === self;
}

export interface NodeLifecycle {
  /** Re-evaluates now; call on membership changes. */
  reconcile(): Promise<void>;
}

export function createNodeLifecycle(opts: {
  selfName: string;
  client: ObjectClient;
  members: () => MemberView[];
  logger: Logger;
  clock?: () => Date;
}): NodeLifecycle {
  const log = opts.logger.child({ component: 'node-lifecycle' });
  const clock = opts.clock ?? (() => new Date());
  let running: Promise<void> | undefined;
  let again = false;

  async function pass(): Promise<void> {
    const members = opts.members();
    if (!isCoordinator(opts.selfName, members)) return;
    const nodes = opts.client.list<NodeObject>('nodes').items;
    for (const node of nodesToMarkUnknown(nodes, members)) {
      try {
        await opts.client.updateStatus('nodes', withUnknownConditions(node, clock()));
        log.warn({ node: node.metadata.name }, 'node stopped answering: marked NotReady (Unknown)');
      } catch (err) {
        log.warn({ err, node: node.metadata.name }, 'could not mark node NotReady');
      }
    }
  }

  return {
    async reconcile() {
      // Coalesce bursts of membership events into at most one pending pass.
      if (running) {
        again = true;
        return running;
      }
      running = (async () => {
        do {
          again = false;
          await pass();
        } while (again);
      })().finally(() => (running = undefined));
      return running;
    },
  };
}
