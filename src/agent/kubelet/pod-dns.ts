// A pod's resolv.conf from its dnsPolicy and dnsConfig, as the Kubernetes
// kubelet builds it (pkg/kubelet/network/dns): ClusterFirst points at the
// cluster DNS with the namespace's search path and ndots:5; Default keeps the
// node's resolver; None uses dnsConfig alone; dnsConfig is merged into the
// first two.
import type { Pod } from '../api/object-types.ts';
import type { ResolvConf } from '../dns/resolv-conf.ts';
import type { ContainerDnsConfig } from './container-runtime.ts';

export interface PodDnsConfig {
  nameservers?: string[];
  searches?: string[];
  options?: { name: string; value?: string }[];
}

export interface PodDnsInputs {
  /** The cluster DNS address; undefined when this node has none (yet). */
  clusterDns: string | undefined;
  clusterDomain: string;
  /** The node's resolv.conf, read only when a pod's dnsConfig is merged into it. */
  hostResolvConf: () => ResolvConf;
}

// Kubernetes' limits (MaxDNSNameservers, MaxDNSSearchPaths).
const MAX_NAMESERVERS = 3;
const MAX_SEARCHES = 32;

function unique(items: string[]): string[] {
  return [...new Set(items.filter((s) => s))];
}

function mergeOptions(base: string[], extra: PodDnsConfig['options']): string[] {
  const merged = new Map<string, string>();
  for (const op of base) {
    const i = op.indexOf(':');
    merged.set(i < 0 ? op : op.slice(0, i), i < 0 ? '' : op.slice(i + 1));
  }
  for (const op of extra ?? []) if (op.name) merged.set(op.name, op.value ?? '');
  return [...merged].map(([name, value]) => (value ? `${name}:${value}` : name));
}

/**
 * The sandbox's resolver settings; undefined means the engine's default, which
 * is the node's own resolver.
 */
export function podDnsSettings(pod: Pod, inputs: PodDnsInputs): ContainerDnsConfig | undefined {
  const policy = pod.spec.dnsPolicy ?? 'ClusterFirst';
  const dnsConfig = (pod.spec as { dnsConfig?: PodDnsConfig | null }).dnsConfig ?? undefined;
  const hostNetwork = pod.spec.hostNetwork === true;
  // ClusterFirst on the host network, or with no cluster DNS, falls back to Default, as in Kubernetes.
  const cluster =
    inputs.clusterDns !== undefined &&
    (policy === 'ClusterFirstWithHostNet' || (policy !== 'Default' && policy !== 'None' && !hostNetwork));

  let base: ContainerDnsConfig;
  if (policy === 'None') {
    base = { nameservers: [], searches: [], options: [] };
  } else if (cluster) {
    const ns = pod.metadata.namespace ?? 'default';
    const d = inputs.clusterDomain;
    base = { nameservers: [inputs.clusterDns!], searches: [`${ns}.svc.${d}`, `svc.${d}`, d], options: ['ndots:5'] };
  } else {
    if (!dnsConfig) return undefined;
    base = inputs.hostResolvConf();
  }
  if (!dnsConfig) return base;
  return {
    nameservers: unique([...base.nameservers, ...(dnsConfig.nameservers ?? [])]).slice(0, MAX_NAMESERVERS),
    searches: unique([...base.searches, ...(dnsConfig.searches ?? [])]).slice(0, MAX_SEARCHES),
    options: mergeOptions(base.options, dnsConfig.options),
  };
}
