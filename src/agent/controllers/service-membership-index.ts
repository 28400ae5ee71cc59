// Which services a pod or a node was last counted in. Store events carry only
// the new object, so a pod whose labels no longer match (or a node whose zone
// changed) is mapped back to the services it left through what their last
// reconcile saw.
export interface ServiceMembershipIndex {
  /** Replaces what the service's last reconcile counted. */
  set(service: string, pods: Iterable<string>, nodes: Iterable<string>): void;
  forget(service: string): void;
  servicesOfPod(pod: string): string[];
  servicesOfNode(node: string): string[];
  clear(): void;
}

export function createServiceMembershipIndex(): ServiceMembershipIndex {
  const members = new Map<string, { pods: Set<string>; nodes: Set<string> }>();
  const byPod = new Map<string, Set<string>>();
  const byNode = new Map<string, Set<string>>();

  function link(index: Map<string, Set<string>>, key: string, service: string): void {
    let set = index.get(key);
    if (!set) index.set(key, (set = new Set()));
    set.add(service);
  }
  function unlink(index: Map<string, Set<string>>, key: string, service: string): void {
    const set = index.get(key);
    if (!set) return;
    set.delete(service);
    if (set.size === 0) index.delete(key);
  }

  function forget(service: string): void {
    const m = members.get(service);
    if (!m) return;
    for (const p of m.pods) unlink(byPod, p, service);
    for (const n of m.nodes) unlink(byNode, n, service);
    members.delete(service);
  }

  return {
    set(service, pods, nodes) {
      forget(service);
      const m = { pods: new Set(pods), nodes: new Set(nodes) };
      members.set(service, m);
      for (const p of m.pods) link(byPod, p, service);
      for (const n of m.nodes) link(byNode, n, service);
    },
    forget,
    servicesOfPod: (pod) => [...(byPod.get(pod) ?? [])],
    servicesOfNode: (node) => [...(byNode.get(node) ?? [])],
    clear() {
      members.clear();
      byPod.clear();
      byNode.clear();
    },
  };
}
