// This machine's address for status.hostIP and the Node's InternalIP.
import { networkInterfaces } from 'node:os';

/** The first non-internal IPv4 address; loopback when there is none. */
export function detectNodeAddress(): string {
  const ifaces = Object.entries(networkInterfaces());
  // Bridges Docker made are not how other machines reach this one.
  const bridge = (name: string) => /^(docker|br-|veth|cni|flannel)/.test(name);
  for (const [name, addrs] of [...ifaces.filter(([n]) => !bridge(n)), ...ifaces.filter(([n]) => bridge(n))]) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal && name) return a.address;
  }
  return '127.0.0.1';
}
