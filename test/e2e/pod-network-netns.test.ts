// The pod network's route and iptables programming on a real kernel, inside a
// network namespace this test creates (and deletes): a veth pair stands in for
// the LAN, Docker is faked. Needs root, iproute2 and iptables.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { silentLogger } from '../../src/agent/logger.ts';
import { createHostExec, inNetns, mustExec } from '../../src/agent/host-exec.ts';
import type { KubeObject } from '../../src/agent/api/object-types.ts';
import type { DockerNetworkInfo, DockerNetworks, DockerNetworkSpec } from '../../src/agent/kubelet/docker-networks.ts';
import { createPodNetwork, MESH_POD_NETWORK, type PodNetwork } from '../../src/agent/kubelet/pod-network.ts';
import { createFakeObjectClient, type FakeObjectClient } from '../support/fake-object-client.ts';
import { waitFor } from '../support/wait-for.ts';

const host = createHostExec();

interface FakeDocker extends DockerNetworks {
  networks: Map<string, DockerNetworkInfo>;
  calls: string[];
}

function fakeDocker(): FakeDocker {
  const networks = new Map<string, DockerNetworkInfo>();
  const calls: string[] = [];
  return {
    networks,
    calls,
    async inspect(name) {
      const n = networks.get(name);
      return n && structuredClone(n);
    },
    async create(spec: DockerNetworkSpec) {
      calls.push(`create ${spec.name} ${spec.subnet}`);
      if (networks.has(spec.name)) throw new Error(`network with name ${spec.name} already exists`);
      networks.set(spec.name, { name: spec.name, id: randomBytes(8).toString('hex'), driver: spec.driver, subnet: spec.subnet, gateway: spec.gateway, options: { ...spec.options }, containers: 0 });
    },
    async remove(name) {
      calls.push(`remove ${name}`);
      networks.delete(name);
    },
  };
}

function node(name: string, podCIDR: string | undefined, ip: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name },
    spec: podCIDR ? { podCIDR, podCIDRs: [podCIDR] } : {},
    status: { addresses: [{ type: 'InternalIP', address: ip }, { type: 'Hostname', address: name }] },
  } as KubeObject;
}

describe('pod network in a network namespace', { timeout: 60_000 }, () => {
  const netns = `mesh-podnet-test-${randomBytes(4).toString('hex')}`;
  const exec = inNetns(host, netns);
  const sh = (cmd: string, ...args: string[]) => mustExec(exec, cmd, args);
  const ownRoutes = async () => (await sh('ip', '-4', 'route', 'show', 'proto', '77')).split('\n').map((l) => l.trim()).filter(Boolean).sort();
  const save = async (table: string) => sh('iptables-save', '-t', table);
  const meshLines = (text: string) => text.split('\n').filter((l) => l.includes('MESH-POD')).sort();

  before(async () => {
    await mustExec(host, 'ip', ['netns', 'add', netns]);
    await sh('ip', 'link', 'set', 'lo', 'up');
    await sh('ip', 'link', 'add', 'lan0', 'type', 'veth', 'peer', 'name', 'lan1');
    await sh('ip', 'addr', 'add', '10.66.0.10/24', 'dev', 'lan0');
    await sh('ip', 'link', 'set', 'lan0', 'up');
    await sh('ip', 'link', 'set', 'lan1', 'up');
    // A route the pod network must never touch.
    await sh('ip', 'route', 'add', '10.55.0.0/24', 'via', '10.66.0.99');
  });
  after(async () => {
    await host('ip', ['netns', 'del', netns]);
  });

  describe('with dockerd\'s DOCKER-USER chain', () => {
    let client: FakeObjectClient;
    let docker: FakeDocker;
    let net: PodNetwork;

    before(async () => {
      await mustExec(exec, 'tee', ['/proc/sys/net/ipv4/ip_forward'], '0\n');
      // What dockerd sets up in filter: DOCKER-USER, jumped to from FORWARD, ending in RETURN.
      await mustExec(exec, 'iptables-restore', ['--noflush'], '*filter\n:DOCKER-USER - [0:0]\n-A DOCKER-USER -j RETURN\n-A FORWARD -j DOCKER-USER\nCOMMIT\n');
      client = createFakeObjectClient();
      docker = fakeDocker();
      await client.create('nodes', node('n1', undefined, '10.66.0.10'));
      await client.create('nodes', node('n2', '10.244.1.0/24', '10.66.0.11'));
      await client.create('nodes', node('n3', '10.244.2.0/24', '10.66.0.12'));
      // Outside the cluster's pod network: no route.
      await client.create('nodes', node('odd', '192.168.50.0/24', '10.66.0.13'));
      net = createPodNetwork({ nodeName: 'n1', client, docker, logger: silentLogger(), exec, resyncMs: 3_600_000 });
      net.start();
    });
    after(async () => {
      await net.stop();
    });

    it('waits for the node\'s pod CIDR, then creates mesh-pods on it with Docker\'s masquerade off', async () => {
      await net.sync();
      assert.equal(docker.networks.size, 0, 'no network before the Node has a pod CIDR');
      assert.equal(net.gateway(), undefined);
      const n1 = client.get('nodes', '', 'n1')!;
      await client.update('nodes', { ...n1, spec: { podCIDR: '10.244.0.0/24', podCIDRs: ['10.244.0.0/24'] } });
      const info = await net.ready();
      assert.deepEqual(info, { network: MESH_POD_NETWORK, gateway: '10.244.0.1', podCidr: '10.244.0.0/24' });
      assert.equal(net.gateway(), '10.244.0.1');
      const created = docker.networks.get(MESH_POD_NETWORK)!;
      assert.equal(created.driver, 'bridge');
      assert.equal(created.subnet, '10.244.0.0/24');
      assert.equal(created.gateway, '10.244.0.1');
      assert.equal(created.options['com.docker.network.bridge.name'], 'mesh0');
      assert.equal(created.options['com.docker.network.bridge.enable_ip_masquerade'], 'false');
    });

    it('routes every other node\'s pod CIDR via its InternalIP, marked proto 77', async () => {
      await net.sync();
      assert.deepEqual(await ownRoutes(), ['10.244.1.0/24 via 10.66.0.11 dev lan0', '10.244.2.0/24 via 10.66.0.12 dev lan0']);
      assert.match(await sh('ip', 'route', 'show', '10.55.0.0/24'), /via 10\.66\.0\.99/);
    });

    it('turns on IPv4 forwarding', async () => {
      assert.equal((await sh('cat', '/proc/sys/net/ipv4/ip_forward')).trim(), '1');
    });

    it('masquerades only pod traffic that leaves the cluster, and accepts pod traffic in DOCKER-USER', async () => {
      const nat = await save('nat');
      assert.deepEqual(meshLines(nat), [
        ':MESH-POD-MASQ - [0:0]',
        '-A MESH-POD-MASQ -s 10.244.0.0/24 ! -d 10.244.0.0/16 -j MASQUERADE',
        '-A MESH-POD-MASQ -s 10.244.0.0/24 -d 10.96.0.0/16 -j RETURN',
        '-A POSTROUTING -j MESH-POD-MASQ',
      ].sort());
      const filter = await save('filter');
      assert.deepEqual(meshLines(filter), [
        ':MESH-POD-FORWARD - [0:0]',
        '-A DOCKER-USER -j MESH-POD-FORWARD',
        '-A MESH-POD-FORWARD -d 10.244.0.0/16 -j ACCEPT',
        '-A MESH-POD-FORWARD -s 10.244.0.0/16 -j ACCEPT',
      ].sort());
      const dockerUser = filter.split('\n').filter((l) => l.startsWith('-A DOCKER-USER'));
      assert.deepEqual(dockerUser, ['-A DOCKER-USER -j MESH-POD-FORWARD', '-A DOCKER-USER -j RETURN'], 'the jump goes first, before Docker\'s RETURN');
    });

    it('is idempotent, and repairs rules someone flushed', async () => {
      const before = [await save('nat'), await save('filter')].map(meshLines);
      await net.sync();
      await net.sync();
      assert.deepEqual([await save('nat'), await save('filter')].map(meshLines), before);
      await sh('iptables', '-t', 'filter', '-F', 'MESH-POD-FORWARD');
      await sh('iptables', '-t', 'nat', '-D', 'POSTROUTING', '-j', 'MESH-POD-MASQ');
      await net.sync();
      assert.deepEqual([await save('nat'), await save('filter')].map(meshLines), before);
      assert.deepEqual(docker.calls, ['create mesh-pods 10.244.0.0/24'], 'the network is created once');
    });

    it('follows node changes: a new address, a new node, a deleted node', async () => {
      const n3 = client.get('nodes', '', 'n3')!;
      await client.updateStatus('nodes', { ...n3, status: { addresses: [{ type: 'InternalIP', address: '10.66.0.22' }] } });
      await client.create('nodes', node('n4', '10.244.3.0/24', '10.66.0.14'));
      await client.delete('nodes', '', 'n2');
      // Node events alone drive this (no sync call): the watch of the local store.
      const want = ['10.244.2.0/24 via 10.66.0.22 dev lan0', '10.244.3.0/24 via 10.66.0.14 dev lan0'];
      let seen: string[] = [];
      await waitFor(async () => JSON.stringify((seen = await ownRoutes())) === JSON.stringify(want), 'the routes to follow the nodes', 10_000, () => seen);
      assert.deepEqual(await ownRoutes(), want);
      assert.match(await sh('ip', 'route', 'show', '10.55.0.0/24'), /via 10\.66\.0\.99/, 'a foreign route stays');
    });

    it('removes a route of ours that no node explains, left by an earlier run', async () => {
      await sh('ip', 'route', 'replace', '10.244.9.0/24', 'via', '10.66.0.19', 'proto', '77');
      await net.sync();
      assert.ok(!(await ownRoutes()).some((r) => r.startsWith('10.244.9.0/24')));
    });

    it('cleans up routes, chains and the unused network, and nothing else', async () => {
      await net.cleanup();
      assert.deepEqual(await ownRoutes(), []);
      assert.deepEqual(meshLines(await save('nat')), []);
      assert.deepEqual(meshLines(await save('filter')), []);
      assert.match(await save('filter'), /-A DOCKER-USER -j RETURN/, "Docker's own chain stays");
      assert.match(await sh('ip', 'route', 'show', '10.55.0.0/24'), /via 10\.66\.0\.99/);
      assert.equal(docker.networks.size, 0);
    });
  });

  describe('without dockerd, and with an old mesh-pods network', () => {
    it('jumps from FORWARD, recreates an unused network of another subnet, keeps one in use', async () => {
      await mustExec(exec, 'iptables-restore', [], '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n');
      const client = createFakeObjectClient();
      await client.create('nodes', node('n1', '10.244.5.0/24', '10.66.0.10'));
      const docker = fakeDocker();
      docker.networks.set(MESH_POD_NETWORK, { name: MESH_POD_NETWORK, id: 'old', driver: 'bridge', subnet: '10.244.7.0/24', gateway: '10.244.7.1', options: {}, containers: 0 });
      const net = createPodNetwork({ nodeName: 'n1', client, docker, logger: silentLogger(), exec, resyncMs: 3_600_000 });
      net.start();
      try {
        assert.equal((await net.ready()).gateway, '10.244.5.1');
        assert.deepEqual(docker.calls, ['remove mesh-pods', 'create mesh-pods 10.244.5.0/24']);
        await net.sync();
        const filter = await save('filter');
        assert.deepEqual(filter.split('\n').filter((l) => l.startsWith('-A FORWARD')), ['-A FORWARD -j MESH-POD-FORWARD']);
      } finally {
        await net.cleanup();
      }
      assert.deepEqual(meshLines(await save('filter')), []);

      const busy = fakeDocker();
      busy.networks.set(MESH_POD_NETWORK, { name: MESH_POD_NETWORK, id: 'busy', driver: 'bridge', subnet: '10.244.7.0/24', gateway: '10.244.7.1', options: {}, containers: 2 });
      const kept = createPodNetwork({ nodeName: 'n1', client, docker: busy, logger: silentLogger(), exec, resyncMs: 3_600_000 });
      kept.start();
      try {
        assert.deepEqual(await kept.ready(), { network: MESH_POD_NETWORK, gateway: '10.244.7.1', podCidr: '10.244.7.0/24' });
        assert.deepEqual(busy.calls, [], 'a network with containers is kept');
      } finally {
        await kept.cleanup();
      }
      assert.equal(busy.networks.size, 1, 'cleanup keeps a network that still has containers');
    });
  });
});
