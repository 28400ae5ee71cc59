// NodePorts: a host port is taken on a node when a pod there holds the same
// protocol and port on the same host IP, or either side binds 0.0.0.0
// (kube's HostPortInfo.CheckConflict).
import type { FilterPlugin } from '../framework.ts';

export const NODE_PORTS = 'NodePorts';
export const ERR_NODE_PORTS = "node(s) didn't have free ports for the requested pod ports";

const ANY_IP = '0.0.0.0';

export function createNodePortsPlugin(): FilterPlugin {
  return {
    name: NODE_PORTS,
    preFilter: (pod) => (pod.hostPorts.length ? undefined : 'skip'),
    filter(pod, node) {
      if (pod.hostPorts.length === 0 || node.usedPortsAnyIp.size === 0) return undefined;
      for (const hp of pod.hostPorts) {
        const pp = `${hp.protocol}/${hp.port}`;
        const conflict =
          hp.ip === ANY_IP ? node.usedPortsAnyIp.has(pp) : node.usedPorts.has(`${ANY_IP} ${pp}`) || node.usedPorts.has(`${hp.ip} ${pp}`);
        if (conflict) return ERR_NODE_PORTS;
      }
      return undefined;
    },
  };
}
