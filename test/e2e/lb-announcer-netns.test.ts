// The LoadBalancer announcer on a real kernel: two network namespaces this test
// creates (and deletes), a "node" and a "neighbour" joined by a veth pair. The
// node's announcer puts IPs on its LAN interface and sends gratuitous ARP, which
// the neighbour's ARP table shows. Needs root, iproute2 and iputils-arping.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { silentLogger } from '../../src/agent/logger.ts';
import { createHostExec, inNetns, mustExec } from '../../src/agent/host-exec.ts';
import type { KubeObject } from '../../src/agent/api/object-types.ts';
import { createLbAnnouncer, type LbAnnouncer } from '../../src/agent/proxy/lb-announcer.ts';
import { createFakeObjectClient } from '../support/fake-object-client.ts';
import { waitFor } from '../support/wait-for.ts';

const host = createHostExec();

describe('LoadBalancer announcer in network namespaces', { timeout: 60_000 }, () => {
  const id = randomBytes(4).toString('hex');
  const nodeNs = `mesh-lbann-test-${id}`;
  const peerNs = `mesh-lbpeer-test-${id}`;
  const exec = inNetns(host, nodeNs);
  const onNode = (...args: string[]) => mustExec(exec, args[0]!, args.slice(1));
  const onPeer = (...args: string[]) => mustExec(inNetns(host, peerNs), args[0]!, args.slice(1));
  const lanAddrs = async () => (await onNode('ip', '-o', '-4', 'addr', 'show', 'dev', 'lan0')).split('\n').filter(Boolean).map((l) => l.replace(/\s+valid_lft.*$/, '').replace(/^\d+:\s+/, '').replace(/\s+/g, ' '));
  const client = createFakeObjectClient();
  const announcers = new Map<string, string>();
  let lb: LbAnnouncer;
  let mac = '';

  async function lbService(name: string, ip: string, announcer: string): Promise<KubeObject> {
    const s = await client.create('services', { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { type: 'LoadBalancer', ports: [{ port: 80 }] } } as KubeObject);
    announcers.set(s.metadata.uid!, announcer);
    return client.updateStatus('services', { ...s, status: { loadBalancer: { ingress: [{ ip }] } } } as KubeObject);
  }

  before(async () => {
    await mustExec(host, 'ip', ['netns', 'add', nodeNs]);
    await mustExec(host, 'ip', ['netns', 'add', peerNs]);
    await onNode('ip', 'link', 'add', 'lan0', 'type', 'veth', 'peer', 'name', 'lan1', 'netns', peerNs);
    await onNode('ip', 'addr', 'add', '10.66.0.10/24', 'dev', 'lan0');
    await onNode('ip', 'link', 'set', 'lan0', 'up');
    await onPeer('ip', 'addr', 'add', '10.66.0.20/24', 'dev', 'lan1');
    await onPeer('ip', 'link', 'set', 'lan1', 'up');
    mac = (JSON.parse(await onNode('ip', '-j', 'link', 'show', 'lan0')) as { address: string }[])[0]!.address;
    // An admin's own /32, and one of ours left by an earlier run.
    await onNode('ip', 'addr', 'add', '10.66.0.250/32', 'dev', 'lan0');
    await onNode('ip', 'addr', 'add', '10.66.0.209/32', 'dev', 'lan0', 'label', 'lan0:mlb');
    // The neighbour still believes another machine holds the IP.
    await onPeer('ip', 'neigh', 'replace', '10.66.0.200', 'lladdr', '02:00:00:00:00:01', 'dev', 'lan1', 'nud', 'stale');
    await client.create('nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' }, spec: {}, status: { addresses: [{ type: 'InternalIP', address: '10.66.0.10' }] } } as KubeObject);
    lb = createLbAnnouncer({ nodeName: 'n1', client, announcerOf: (uid) => announcers.get(uid), logger: silentLogger(), exec, resyncMs: 3_600_000 });
  });
  after(async () => {
    await lb.stop();
    await host('ip', ['netns', 'del', nodeNs]);
    await host('ip', ['netns', 'del', peerNs]);
  });

  it('adds the IPs it announces as labelled /32s on the interface of the node address, and removes stale ones of its own', async () => {
    await lbService('mine', '10.66.0.200', 'n1');
    await lbService('theirs', '10.66.0.201', 'n2');
    lb.start();
    await lb.sync();
    const addrs = await lanAddrs();
    assert.ok(addrs.some((a) => a.includes('inet 10.66.0.200/32') && a.includes('lan0:mlb')), addrs.join('\n'));
    assert.ok(!addrs.some((a) => a.includes('10.66.0.201')), 'another node\'s IP');
    assert.ok(!addrs.some((a) => a.includes('10.66.0.209')), 'the stale one of ours');
    assert.ok(addrs.some((a) => a.includes('inet 10.66.0.250/32')), "the admin's address stays");
    assert.deepEqual(lb.announced(), ['10.66.0.200']);
  });

  it('sends gratuitous ARP, so the neighbour now sends to this node', async () => {
    const neighbourMac = async () => (JSON.parse(await onPeer('ip', '-j', 'neigh', 'show', '10.66.0.200', 'dev', 'lan1')) as { lladdr?: string }[])[0]?.lladdr;
    await waitFor(async () => (await neighbourMac()) === mac, "the neighbour's ARP entry to name the node", 10_000, () => mac);
    assert.equal(await neighbourMac(), mac);
  });

  it('follows Service events and FSM changes', async () => {
    await lbService('later', '10.66.0.202', 'n1');
    // No sync call: the Service watch triggers it.
    await waitFor(async () => (await lanAddrs()).some((a) => a.includes('10.66.0.202/32')), 'the new IP on lan0', 10_000);
    const mine = client.get('services', 'default', 'mine')!;
    announcers.set(mine.metadata.uid!, 'n2');
    await lb.sync();
    const addrs = await lanAddrs();
    assert.ok(!addrs.some((a) => a.includes('10.66.0.200')), 'moved to another node');
    assert.deepEqual(lb.announced(), ['10.66.0.202']);
  });

  it('cleans up its own addresses only', async () => {
    await lb.cleanup();
    const addrs = await lanAddrs();
    assert.ok(!addrs.some((a) => a.includes('lan0:mlb')), addrs.join('\n'));
    assert.ok(addrs.some((a) => a.includes('inet 10.66.0.10/24')));
    assert.ok(addrs.some((a) => a.includes('inet 10.66.0.250/32')));
    assert.deepEqual(lb.announced(), []);
  });
});
