// The agent's side of the cluster FSM's allocators: turns a Node or a Service
// into allocation commands, proposes them through Raft, and returns what to
// write into the object. Refusals become the 422 Invalid a Kubernetes API
// server would give, naming the field. Leader-only callers (the allocation
// controllers) use it; every command carries the proposer's term, so a deposed
// leader's late proposal is refused by the FSM.
import type { Logger } from '../agent/logger.ts';
import type { KubeObject } from '../agent/api/object-types.ts';
import { ApiError, InternalError, NotLeader, invalidObject, type StatusCause } from '../agent/api/errors.ts';
import type { RaftNode } from './raft-node.ts';
import type { FsmResult, PortProtocol, RefusalCode } from './cluster-fsm.ts';

export interface ServicePortShape {
  name?: string;
  protocol?: string;
  port?: number;
  nodePort?: number;
}

export interface ServiceObject extends KubeObject {
  spec?: {
    type?: string;
    clusterIP?: string;
    clusterIPs?: string[];
    ports?: ServicePortShape[];
    loadBalancerIP?: string;
    allocateLoadBalancerNodePorts?: boolean;
    [k: string]: unknown;
  };
}

/** What the service should carry once allocated. */
export interface ServiceAddresses {
  /** Absent for ExternalName; 'None' for headless services. */
  clusterIP?: string;
  clusterIPs?: string[];
  /** One entry per spec.ports index; undefined where the port gets no NodePort. */
  nodePorts: (number | undefined)[];
  /** Only for type LoadBalancer. */
  loadBalancerIP?: string;
}

export interface ClusterAllocator {
  allocatePodCidr(node: string): Promise<string>;
  releasePodCidr(node: string): Promise<void>;
  /**
   * Allocates what the service's type needs (idempotent per uid) and releases
   * what it no longer needs (after a change of type or of its ports).
   */
  allocateServiceAddresses(service: ServiceObject): Promise<ServiceAddresses>;
  /** Releases everything a service held: ClusterIP, NodePorts, LoadBalancer IP. */
  releaseService(uid: string): Promise<void>;
  /** Which node answers ARP for the service's LoadBalancer IP. */
  assignLbAnnouncer(uid: string, node: string): Promise<void>;
  /** The leader records itself at the start of its term (the FSM's fence). */
  recordLeadership(node: string): Promise<void>;
}

export interface ClusterAllocatorOptions {
  raftNode: Pick<RaftNode, 'propose' | 'term'>;
  logger: Logger;
  proposeTimeoutMs?: number;
}

const FIELD_REASON: Partial<Record<RefusalCode, string>> = {
  exhausted: 'FieldValueInvalid',
  taken: 'FieldValueInvalid',
  'out-of-range': 'FieldValueInvalid',
  reserved: 'FieldValueInvalid',
  malformed: 'FieldValueInvalid',
  unsupported: 'FieldValueNotSupported',
  immutable: 'FieldValueInvalid',
};

/** The key of a service port in the FSM: the allocation is stable while protocol and port stay. */
export function portKey(p: ServicePortShape): string {
  return `${p.protocol ?? 'TCP'}/${p.port ?? 0}`;
}

function protocolOf(p: ServicePortShape): PortProtocol {
  return p.protocol === 'UDP' || p.protocol === 'SCTP' ? p.protocol : 'TCP';
}

export function wantsClusterIp(svc: ServiceObject): boolean {
  return svc.spec?.type !== 'ExternalName' && svc.spec?.clusterIP !== 'None';
}

export function wantsNodePorts(svc: ServiceObject): boolean {
  const type = svc.spec?.type;
  return type === 'NodePort' || (type === 'LoadBalancer' && svc.spec?.allocateLoadBalancerNodePorts !== false);
}

export function wantsLbIp(svc: ServiceObject): boolean {
  return svc.spec?.type === 'LoadBalancer';
}

export function createClusterAllocator(opts: ClusterAllocatorOptions): ClusterAllocator {
  const log = opts.logger.child({ component: 'cluster-allocator' });

  async function propose(command: Record<string, unknown>): Promise<FsmResult> {
    const r = (await opts.raftNode.propose(JSON.stringify({ ...command, term: opts.raftNode.term() }), {
      timeoutMs: opts.proposeTimeoutMs,
    })) as FsmResult;
    if (r === null || typeof r !== 'object' || typeof r.ok !== 'boolean') throw new InternalError(`the cluster state gave no result for ${String(command.type)}`);
    return r;
  }

  /** A refusal as an error about `kind`/`name`; stale terms are NotLeader. */
  function refused(r: Extract<FsmResult, { ok: false }>, kind: string, name: string | undefined): ApiError {
    if (r.code === 'stale-term') return new NotLeader(`allocation refused: ${r.reason}`);
    if (!r.field) {
      log.warn({ reason: r.reason, kind, name }, 'allocation refused');
      return new InternalError(`allocation refused: ${r.reason}`);
    }
    const cause: StatusCause = { reason: FIELD_REASON[r.code] ?? 'FieldValueInvalid', field: r.field, message: r.message };
    return invalidObject(kind, name, [cause]);
  }

  async function must<K extends 'cidr' | 'ip' | 'port'>(
    command: Record<string, unknown>,
    key: K,
    kind: string,
    name: string | undefined,
  ): Promise<K extends 'port' ? number : string> {
    const r = await propose(command);
    if (!r.ok) throw refused(r, kind, name);
    if (!(key in r)) throw new InternalError(`the cluster state answered ${String(command.type)} without ${key}`);
    return (r as Record<string, unknown>)[key] as K extends 'port' ? number : string;
  }

  async function release(command: Record<string, unknown>): Promise<void> {
    const r = await propose(command);
    if (!r.ok) throw refused(r, 'Service', undefined);
  }

  return {
    allocatePodCidr: (node) => must({ type: 'allocate-pod-cidr', node }, 'cidr', 'Node', node),
    releasePodCidr: (node) => release({ type: 'release-pod-cidr', node }),

    async allocateServiceAddresses(svc) {
      const uid = svc.metadata.uid;
      const name = svc.metadata.name;
      if (!uid || !name) throw new InternalError('a service needs a uid and a name before addresses are allocated');
      const service = `${svc.metadata.namespace ?? 'default'}/${name}`;
      const spec = svc.spec ?? {};
      const out: ServiceAddresses = { nodePorts: [] };

      if (wantsClusterIp(svc)) {
        const requested = spec.clusterIP || undefined;
        const ip = await must({ type: 'allocate-cluster-ip', service, uid, requested }, 'ip', 'Service', name);
        out.clusterIP = ip;
        out.clusterIPs = [ip];
      } else {
        await release({ type: 'release-cluster-ip', uid });
        if (spec.type !== 'ExternalName') {
          out.clusterIP = 'None';
          out.clusterIPs = ['None'];
        }
      }

      const ports = spec.ports ?? [];
      if (wantsNodePorts(svc)) {
        for (const [i, p] of ports.entries()) {
          out.nodePorts[i] = await must(
            {
              type: 'allocate-node-port',
              uid,
              key: portKey(p),
              protocol: protocolOf(p),
              requested: p.nodePort || undefined,
              field: `spec.ports[${i}].nodePort`,
            },
            'port',
            'Service',
            name,
          );
        }
        await release({ type: 'release-node-ports', uid, except: ports.map(portKey) });
      } else {
        for (let i = 0; i < ports.length; i++) out.nodePorts[i] = undefined;
        await release({ type: 'release-node-ports', uid });
      }

      if (wantsLbIp(svc)) {
        out.loadBalancerIP = await must({ type: 'allocate-lb-ip', uid, requested: spec.loadBalancerIP || undefined }, 'ip', 'Service', name);
      } else {
        await release({ type: 'release-lb-ip', uid });
      }
      return out;
    },

    async releaseService(uid) {
      await release({ type: 'release-cluster-ip', uid });
      await release({ type: 'release-node-ports', uid });
      await release({ type: 'release-lb-ip', uid });
      log.info({ uid }, 'released the addresses of a deleted service');
    },

    async assignLbAnnouncer(uid, node) {
      const r = await propose({ type: 'assign-lb-announcer', uid, node });
      if (!r.ok) throw refused(r, 'Service', undefined);
    },

    async recordLeadership(node) {
      const r = await propose({ type: 'record-leader', node });
      if (!r.ok) throw refused(r, 'Node', node);
    },
  };
}
