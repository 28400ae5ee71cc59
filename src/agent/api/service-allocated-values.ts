// The values the Raft leader allocated into a Service survive an update that
// leaves them out (as Kubernetes' patchAllocatedValues does): a `kubectl replace`
// of the original manifest, or any client that never saw them, keeps the
// service's ClusterIP and NodePorts instead of dropping them until the
// allocation controller writes them again.
import type { KubeObject } from './object-types.ts';

interface PortShape {
  port?: number;
  protocol?: string;
  nodePort?: number;
}

interface SpecShape {
  type?: string;
  clusterIP?: string;
  clusterIPs?: string[];
  ports?: PortShape[];
}

const needsClusterIp = (s: SpecShape) => (s.type ?? 'ClusterIP') !== 'ExternalName';
const needsNodePorts = (s: SpecShape) => s.type === 'NodePort' || s.type === 'LoadBalancer';

export function keepAllocatedServiceValues(next: KubeObject, old: KubeObject): void {
  const spec = next.spec as SpecShape | undefined;
  const before = old.spec as SpecShape | undefined;
  if (!spec || typeof spec !== 'object' || !before || typeof before !== 'object') return;
  if (needsClusterIp(spec) && needsClusterIp(before)) {
    if (!spec.clusterIP && before.clusterIP) spec.clusterIP = before.clusterIP;
    if (!spec.clusterIPs?.length && spec.clusterIP === before.clusterIP && before.clusterIPs?.length) spec.clusterIPs = [...before.clusterIPs];
  }
  if (needsNodePorts(spec) && needsNodePorts(before) && Array.isArray(spec.ports)) {
    for (const p of spec.ports) {
      if (!p || typeof p !== 'object' || p.nodePort) continue;
      const was = before.ports?.find((o) => o.port === p.port && (o.protocol ?? 'TCP') === (p.protocol ?? 'TCP'));
      if (was?.nodePort) p.nodePort = was.nodePort;
    }
  }
}
