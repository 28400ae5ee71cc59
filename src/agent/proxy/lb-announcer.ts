// L2 announcement of LoadBalancer IPs (DESIGN.md §4): the Raft leader picks one
// node per LoadBalancer Service (lb-announcer-controller.ts, recorded in the
// cluster FSM); on that node this component puts each of the Service's ingress
// IPs on the LAN interface as a /32, so the kernel answers ARP for it, and sends
// gratuitous ARP so neighbours forget the node that held it before. IPs the node
// no longer announces come off again. The proxy's rules do the rest.
//
// Our addresses carry the label `<dev>:mlb`: an agent restarted after a
// takeover finds and removes what it held, and never touches other addresses.
import type { ObjectClient } from '../api/object-client.ts';
import type { KubeObject } from '../api/object-types.ts';
import type { Logger } from '../logger.ts';
import type { StoreEvent, Unsubscribe } from '../store/object-store.ts';
import { createHostExec, mustExec, type HostExec } from '../host-exec.ts';
import { nodeInternalIp } from '../kubelet/pod-network-plan.ts';
import {
  LB_ANNOUNCER_ANNOTATION,
  addressLabel,
  announcedIps,
  ingressIps,
  interfaceOf,
  parseAddressJson,
  planLbAddresses,
} from './lb-announce-plan.ts';

export interface LbAnnouncerOptions {
  nodeName: string;
  /** The local store. */
  client: ObjectClient;
  /** Who announces a Service's IP, from this agent's replica of the cluster FSM (`fsm.lbAnnouncerOf`). */
  announcerOf: (uid: string) => string | undefined;
  logger: Logger;
  /** Runs ip and arping; tests run them in a namespace. */
  exec?: HostExec;
  /** The interface for the IPs; by default the one holding nodeAddress. */
  interface?: string;
  /** This node's LAN address; by default the Node's InternalIP. */
  nodeAddress?: string;
  /** Everything is checked again this often (default 5 s): the FSM has no change feed. */
  resyncMs?: number;
  /** Gratuitous ARP after adding an IP (default true). */
  gratuitousArp?: boolean;
}

export interface LbAnnouncer {
  start(): void;
  /** One pass now; resolves when it is done. */
  sync(): Promise<void>;
  /** The IPs this node holds for Services now. */
  announced(): string[];
  /** Stops; the addresses stay (a restarted agent takes them over or removes them). */
  stop(): Promise<void>;
  /** Stops and removes every address it holds (`mesh leave`). */
  cleanup(): Promise<void>;
}

// The FSM may apply an assignment a moment after the Service's annotation says so.
const FOLLOW_UP_MS = 1000;

export function createLbAnnouncer(opts: LbAnnouncerOptions): LbAnnouncer {
  const { nodeName, client } = opts;
  const log = opts.logger.child({ component: 'lb-announcer', node: nodeName });
  const exec = opts.exec ?? createHostExec();
  const resyncMs = opts.resyncMs ?? 5000;
  const arp = opts.gratuitousArp ?? true;

  let stopped = true;
  let unwatch: Unsubscribe | undefined;
  let resyncTimer: NodeJS.Timeout | undefined;
  let followUp: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let dev: string | undefined;
  let missingWarned = false;
  let arpingMissing = false;
  const held = new Set<string>();
  // Addresses added by this process where the interface name leaves no room for a label.
  const added = new Set<string>();
  const arps = new Set<Promise<void>>();
  // Per Service uid, what this node announces for it: events that change nothing cost nothing.
  const wanted = new Map<string, string>();

  function wantedOf(svc: KubeObject): string {
    const ips = ingressIps(svc);
    return ips.length && opts.announcerOf(svc.metadata.uid ?? '') === nodeName ? ips.join(',') : '';
  }

  function request(): Promise<void> {
    again = true;
    if (!running) {
      running = loop().finally(() => {
        running = undefined;
      });
    }
    return running;
  }

  async function loop(): Promise<void> {
    while (again && !stopped) {
      again = false;
      try {
        await pass();
      } catch (err) {
        log.warn({ err }, 'LoadBalancer announcement failed; retrying at the next resync');
      }
    }
  }

  function findDevice(addrs: ReturnType<typeof parseAddressJson>): string | undefined {
    if (opts.interface) return opts.interface;
    const self = client.get('nodes', '', nodeName);
    const address = opts.nodeAddress ?? (self ? nodeInternalIp(self) : undefined);
    return address ? interfaceOf(addrs, address) : undefined;
  }

  async function pass(): Promise<void> {
    const services = client.list('services').items;
    wanted.clear();
    for (const s of services) if (s.metadata.uid) wanted.set(s.metadata.uid, wantedOf(s));
    const desired = announcedIps(services, nodeName, opts.announcerOf);
    const all = parseAddressJson(await mustExec(exec, 'ip', ['-j', '-4', 'addr', 'show']));
    const found = findDevice(all);
    if (!found) {
      if (!missingWarned && desired.length) log.warn({ desired }, "no interface holds this node's address yet; cannot announce LoadBalancer IPs");
      missingWarned = true;
      return;
    }
    if (dev && dev !== found) log.info({ from: dev, to: found }, 'the LAN interface changed');
    dev = found;
    missingWarned = false;
    const label = addressLabel(dev);
    const onDev = all.filter((a) => a.ifname === dev);
    const plan = planLbAddresses(onDev, desired, label, added);
    const ours = new Set(onDev.filter((a) => a.prefixlen === 32 && ((label !== undefined && a.label === label) || added.has(a.ip))).map((a) => a.ip));
    const failed: string[] = [];
    for (const ip of plan.remove) {
      const r = await exec('ip', ['addr', 'del', `${ip}/32`, 'dev', dev]);
      if (r.code === 0 || /Cannot assign/i.test(r.stderr)) {
        added.delete(ip);
        ours.delete(ip);
        log.info({ ip, dev }, 'stopped announcing a LoadBalancer IP');
      } else failed.push(`del ${ip}: ${r.stderr.trim()}`);
    }
    for (const ip of plan.add) {
      const r = await exec('ip', ['addr', 'add', `${ip}/32`, 'dev', dev, ...(label ? ['label', label] : [])]);
      if (r.code !== 0 && !/File exists/i.test(r.stderr)) {
        failed.push(`add ${ip}: ${r.stderr.trim()}`);
        continue;
      }
      if (!label) added.add(ip);
      ours.add(ip);
      log.info({ ip, dev }, 'announcing a LoadBalancer IP');
      if (arp) gratuitousArp(dev, ip);
    }
    held.clear();
    for (const ip of ours) held.add(ip);
    if (failed.length) throw new Error(`could not change ${failed.length} address(es) on ${dev}: ${failed.join('; ')}`);
  }

  // Not awaited by the pass: arping takes a second per packet.
  function gratuitousArp(device: string, ip: string): void {
    if (arpingMissing) return;
    const p = exec('arping', ['-U', '-c', '2', '-I', device, ip]).then((r) => {
      if (r.code === 127) {
        arpingMissing = true;
        log.warn('arping not found (package iputils-arping): neighbours learn a moved LoadBalancer IP only when their ARP entries expire');
      } else if (r.code !== 0) {
        log.warn({ ip, dev: device, stderr: r.stderr.trim() }, 'gratuitous ARP failed');
      }
    });
    arps.add(p);
    void p.finally(() => arps.delete(p));
  }

  function onServiceEvent(e: StoreEvent): void {
    const uid = e.object.metadata.uid;
    if (!uid) return;
    const next = e.type === 'DELETED' ? '' : wantedOf(e.object);
    const annotated = e.object.metadata.annotations?.[LB_ANNOUNCER_ANNOTATION];
    if ((wanted.get(uid) ?? '') !== next) {
      wanted.set(uid, next);
      void request();
    }
    // The leader's annotation names a new announcer the local FSM may not have applied yet.
    if (annotated !== undefined && (annotated === nodeName) !== (next !== '') && !followUp && !stopped) {
      followUp = setTimeout(() => {
        followUp = undefined;
        void request();
      }, FOLLOW_UP_MS);
      followUp.unref();
    }
  }

  async function stop(): Promise<void> {
    stopped = true;
    unwatch?.();
    unwatch = undefined;
    if (resyncTimer) clearInterval(resyncTimer);
    if (followUp) clearTimeout(followUp);
    resyncTimer = followUp = undefined;
    await running;
    await Promise.all([...arps]);
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      unwatch = client.watch('services', {}, onServiceEvent);
      resyncTimer = setInterval(() => void request(), resyncMs);
      resyncTimer.unref();
      void request();
    },

    async sync() {
      if (stopped) return;
      await request();
    },

    announced: () => [...held].sort(),

    stop,

    async cleanup() {
      await stop();
      let all;
      try {
        all = parseAddressJson(await mustExec(exec, 'ip', ['-j', '-4', 'addr', 'show']));
      } catch (err) {
        log.warn({ err }, 'could not list addresses; LoadBalancer IPs may be left behind');
        return;
      }
      const device = dev ?? findDevice(all);
      if (!device) return;
      const plan = planLbAddresses(all.filter((a) => a.ifname === device), [], addressLabel(device), added);
      for (const ip of plan.remove) {
        const r = await exec('ip', ['addr', 'del', `${ip}/32`, 'dev', device]);
        if (r.code !== 0) log.warn({ ip, dev: device, stderr: r.stderr.trim() }, 'could not remove a LoadBalancer IP');
      }
      held.clear();
      added.clear();
      log.info({ removed: plan.remove }, 'LoadBalancer IPs removed');
    },
  };
}
