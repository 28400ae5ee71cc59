import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../src/agent/api/object-types.ts';
import {
  desiredPodRoutes,
  gatewayOf,
  networkAction,
  parseChainJumps,
  parseRouteJson,
  planPodRoutes,
  podRulesInPlace,
  renderPodRules,
  renderPodRulesCleanup,
  type PodRoute,
} from '../../../src/agent/kubelet/pod-network-plan.ts';
import { seededRandom, pick } from '../../support/seeded-random.ts';

function node(name: string, podCIDR?: string, ip?: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name },
    spec: podCIDR ? { podCIDR } : {},
    status: { addresses: ip ? [{ type: 'Hostname', address: name }, { type: 'InternalIP', address: ip }] : [] },
  } as KubeObject;
}

const CLUSTER = '10.244.0.0/16';
const params = { podCidr: '10.244.3.0/24', clusterCidr: CLUSTER, serviceCidr: '10.96.0.0/16' };
const noJumps = parseChainJumps('', '');

describe('desiredPodRoutes', () => {
  it('routes every other node\'s pod CIDR via its InternalIP and skips what cannot be routed', () => {
    const nodes = [
      node('self', '10.244.0.0/24', '10.77.0.11'),
      node('b', '10.244.1.0/24', '10.77.0.12'),
      node('c', '10.244.2.0/24', '10.77.0.13'),
      node('no-cidr', undefined, '10.77.0.14'),
      node('no-ip', '10.244.4.0/24'),
      node('outside', '192.168.1.0/24', '10.77.0.15'),
      node('same-ip', '10.244.5.0/24', '10.77.0.11'),
      node('same-cidr', '10.244.0.0/24', '10.77.0.16'),
      node('garbage', 'not-a-cidr', '10.77.0.17'),
    ];
    assert.deepEqual(desiredPodRoutes(nodes, 'self', CLUSTER), [
      { dst: '10.244.1.0/24', via: '10.77.0.12' },
      { dst: '10.244.2.0/24', via: '10.77.0.13' },
    ]);
  });

  it('gives a CIDR two nodes claim to the first by name, whatever the list order', () => {
    const a = node('a', '10.244.1.0/24', '10.77.0.12');
    const z = node('z', '10.244.1.0/24', '10.77.0.13');
    assert.deepEqual(desiredPodRoutes([z, a], 'self', CLUSTER), [{ dst: '10.244.1.0/24', via: '10.77.0.12' }]);
    assert.deepEqual(desiredPodRoutes([a, z], 'self', CLUSTER), [{ dst: '10.244.1.0/24', via: '10.77.0.12' }]);
  });
});

describe('planPodRoutes', () => {
  it('replaces new and moved routes, removes stale ones, leaves the rest', () => {
    const current: PodRoute[] = [
      { dst: '10.244.1.0/24', via: '10.77.0.12' },
      { dst: '10.244.2.0/24', via: '10.77.0.13' },
      { dst: '10.244.9.0/24', via: '10.77.0.19' },
    ];
    const desired: PodRoute[] = [
      { dst: '10.244.1.0/24', via: '10.77.0.12' },
      { dst: '10.244.2.0/24', via: '10.77.0.23' },
      { dst: '10.244.3.0/24', via: '10.77.0.14' },
    ];
    assert.deepEqual(planPodRoutes(current, desired), {
      replace: [{ dst: '10.244.2.0/24', via: '10.77.0.23' }, { dst: '10.244.3.0/24', via: '10.77.0.14' }],
      remove: [{ dst: '10.244.9.0/24', via: '10.77.0.19' }],
    });
  });

  it('applied to random tables, always ends at the desired table', () => {
    const seed = Date.now() % 100_000;
    const rnd = seededRandom(seed);
    const dsts = Array.from({ length: 8 }, (_, i) => `10.244.${i}.0/24`);
    const vias = ['10.77.0.11', '10.77.0.12', '10.77.0.13'];
    const table = () => dsts.filter(() => rnd() < 0.5).map((dst) => ({ dst, via: pick(rnd, vias) }));
    for (let round = 0; round < 200; round++) {
      const current = table();
      const desired = table();
      const plan = planPodRoutes(current, desired);
      const after = new Map(current.map((r) => [r.dst, r.via]));
      for (const r of plan.remove) after.delete(r.dst);
      for (const r of plan.replace) after.set(r.dst, r.via);
      const want = new Map(desired.map((r) => [r.dst, r.via]));
      assert.deepEqual([...after].sort(), [...want].sort(), `seed ${seed}, round ${round}`);
      assert.ok(plan.replace.every((r) => !current.some((c) => c.dst === r.dst && c.via === r.via)), `seed ${seed}: an unchanged route was replaced`);
    }
  });
});

describe('parseRouteJson', () => {
  it('reads ip -j route output, with /32 destinations printed bare', () => {
    const text = JSON.stringify([
      { dst: '10.244.1.0/24', gateway: '10.77.0.12', dev: 'eth0', flags: [] },
      { dst: '10.244.8.7', gateway: '10.77.0.13', dev: 'eth0', flags: [] },
    ]);
    assert.deepEqual(parseRouteJson(text), [
      { dst: '10.244.1.0/24', via: '10.77.0.12' },
      { dst: '10.244.8.7/32', via: '10.77.0.13' },
    ]);
    assert.deepEqual(parseRouteJson(''), []);
  });
});

describe('pod iptables rules', () => {
  it('masquerades only traffic from this node\'s pods to outside the cluster, and accepts cluster traffic in DOCKER-USER', () => {
    const filterSave = '*filter\n:FORWARD DROP [0:0]\n:DOCKER-USER - [0:0]\n-A FORWARD -j DOCKER-USER\n-A DOCKER-USER -j RETURN\nCOMMIT\n';
    const text = renderPodRules(params, parseChainJumps('*nat\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n', filterSave));
    assert.equal(
      text,
      [
        '*nat',
        ':MESH-POD-MASQ - [0:0]',
        '-A MESH-POD-MASQ -s 10.244.3.0/24 -d 10.96.0.0/16 -j RETURN',
        '-A MESH-POD-MASQ -s 10.244.3.0/24 ! -d 10.244.0.0/16 -j MASQUERADE',
        '-I POSTROUTING 1 -j MESH-POD-MASQ',
        'COMMIT',
        '*filter',
        ':MESH-POD-FORWARD - [0:0]',
        '-A MESH-POD-FORWARD -s 10.244.0.0/16 -j ACCEPT',
        '-A MESH-POD-FORWARD -d 10.244.0.0/16 -j ACCEPT',
        '-I DOCKER-USER 1 -j MESH-POD-FORWARD',
        'COMMIT',
        '',
      ].join('\n'),
    );
    assert.doesNotMatch(text, /^:(DOCKER-USER|FORWARD|POSTROUTING)/m, 'declaring a built-in or Docker chain would flush it');
  });

  it('jumps from FORWARD when there is no DOCKER-USER, and adds no jump twice', () => {
    assert.match(renderPodRules(params, noJumps), /^-I FORWARD 1 -j MESH-POD-FORWARD$/m);
    const installed = parseChainJumps(
      ':MESH-POD-MASQ - [0:0]\n-A POSTROUTING -j MESH-POD-MASQ\n',
      ':DOCKER-USER - [0:0]\n:MESH-POD-FORWARD - [0:0]\n-A DOCKER-USER -j MESH-POD-FORWARD\n',
    );
    const again = renderPodRules(params, installed);
    assert.doesNotMatch(again, /^-I /m);
    assert.match(again, /^:MESH-POD-MASQ - \[0:0\]$/m, 'the chains are still rewritten whole');
  });

  it('knows when the rules are in place, and not when a rule or a jump is missing or differs', () => {
    const nat = (rules: string[], jump = true) => [':MESH-POD-MASQ - [0:0]', ...(jump ? ['-A POSTROUTING -j MESH-POD-MASQ'] : []), ...rules].join('\n');
    const filter = (rules: string[]) => [':DOCKER-USER - [0:0]', ':MESH-POD-FORWARD - [0:0]', '-A DOCKER-USER -j MESH-POD-FORWARD', ...rules].join('\n');
    const masq = ['-A MESH-POD-MASQ -s 10.244.3.0/24 -d 10.96.0.0/16 -j RETURN', '-A MESH-POD-MASQ -s 10.244.3.0/24 ! -d 10.244.0.0/16 -j MASQUERADE'];
    const fwd = ['-A MESH-POD-FORWARD -s 10.244.0.0/16 -j ACCEPT', '-A MESH-POD-FORWARD -d 10.244.0.0/16 -j ACCEPT'];
    assert.equal(podRulesInPlace(params, parseChainJumps(nat(masq), filter(fwd))), true);
    assert.equal(podRulesInPlace(params, parseChainJumps(nat(masq, false), filter(fwd))), false, 'jump missing');
    assert.equal(podRulesInPlace(params, parseChainJumps(nat(masq.slice(1)), filter(fwd))), false, 'rule missing');
    assert.equal(podRulesInPlace({ ...params, podCidr: '10.244.4.0/24' }, parseChainJumps(nat(masq), filter(fwd))), false, 'other pod CIDR');
    assert.equal(podRulesInPlace(params, parseChainJumps(nat(masq), filter([...fwd, '-A MESH-POD-FORWARD -j DROP']))), false, 'extra rule');
  });

  it('cleans up every jump and both chains, and nothing when nothing is there', () => {
    const jumps = parseChainJumps(
      ':MESH-POD-MASQ - [0:0]\n-A POSTROUTING -j MESH-POD-MASQ\n-A POSTROUTING -j MESH-POD-MASQ\n',
      ':DOCKER-USER - [0:0]\n:MESH-POD-FORWARD - [0:0]\n-A DOCKER-USER -j MESH-POD-FORWARD\n-A FORWARD -j MESH-POD-FORWARD\n',
    );
    assert.equal(
      renderPodRulesCleanup(jumps),
      [
        '*nat',
        ':MESH-POD-MASQ - [0:0]',
        '-D POSTROUTING -j MESH-POD-MASQ',
        '-D POSTROUTING -j MESH-POD-MASQ',
        '-X MESH-POD-MASQ',
        'COMMIT',
        '*filter',
        ':MESH-POD-FORWARD - [0:0]',
        '-D DOCKER-USER -j MESH-POD-FORWARD',
        '-D FORWARD -j MESH-POD-FORWARD',
        '-X MESH-POD-FORWARD',
        'COMMIT',
        '',
      ].join('\n'),
    );
    assert.equal(renderPodRulesCleanup(noJumps), '');
  });
});

describe('networkAction and gatewayOf', () => {
  const want = { subnet: '10.244.3.0/24', gateway: '10.244.3.1', options: { 'com.docker.network.bridge.name': 'mesh0' } };
  it('creates a missing network, keeps a matching one, recreates a different unused one, reports a different busy one', () => {
    assert.equal(networkAction(undefined, want), 'create');
    assert.equal(networkAction({ ...want, options: { ...want.options, extra: 'x' }, containers: 3 }, want), 'keep');
    assert.equal(networkAction({ ...want, subnet: '10.244.9.0/24', containers: 0 }, want), 'recreate');
    assert.equal(networkAction({ ...want, options: {}, containers: 0 }, want), 'recreate');
    assert.equal(networkAction({ ...want, subnet: '10.244.9.0/24', containers: 1 }, want), 'conflict');
  });
  it('puts the gateway on the first address', () => {
    assert.equal(gatewayOf('10.244.3.0/24'), '10.244.3.1');
    assert.equal(gatewayOf('10.244.0.0/16'), '10.244.0.1');
    assert.throws(() => gatewayOf('10.244.3.1/24'), /host bits/);
  });
});
