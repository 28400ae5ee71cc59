// Runs the applier against real iptables inside private network namespaces.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mustExec, type HostExec } from '../../../src/agent/host-exec.ts';
import { silentLogger } from '../../../src/agent/logger.ts';
import { Invalid } from '../../../src/agent/api/errors.ts';
import { createChainNamer } from '../../../src/agent/proxy/chain-names.ts';
import { MESH_JUMPS, createIptablesApplier, type IptablesApplier } from '../../../src/agent/proxy/iptables-applier.ts';
import { renderRules } from '../../../src/agent/proxy/render-rules.ts';
import { buildServiceModel, type EndpointSliceInput, type ServiceInput } from '../../../src/agent/proxy/service-model.ts';
import { createHostExec } from '../../../src/agent/host-exec.ts';
import {
  NODE,
  chainRules,
  connectFrom,
  createTestNetns,
  declaredChains,
  service,
  slice,
  startEchoServer,
  type TestNetns,
} from './proxy-fixtures.ts';

const namer = createChainNamer();

/** Rules of chains Mesh doesn't own, as iptables-save prints them: must survive everything. */
const FOREIGN_SETUP: [string, string[]][] = [
  ['iptables', ['-t', 'nat', '-N', 'DOCKER']],
  ['iptables', ['-t', 'nat', '-A', 'DOCKER', '-d', '172.17.0.2/32', '-p', 'tcp', '--dport', '80', '-j', 'RETURN']],
  ['iptables', ['-t', 'nat', '-A', 'PREROUTING', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'DOCKER']],
  ['iptables', ['-t', 'nat', '-A', 'POSTROUTING', '-s', '172.17.0.0/16', '!', '-o', 'docker0', '-j', 'MASQUERADE']],
  ['iptables', ['-t', 'filter', '-N', 'DOCKER-USER']],
  ['iptables', ['-t', 'filter', '-A', 'DOCKER-USER', '-j', 'RETURN']],
  ['iptables', ['-t', 'filter', '-A', 'FORWARD', '-j', 'DOCKER-USER']],
  ['iptables', ['-t', 'filter', '-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'ACCEPT']],
];

async function save(exec: HostExec): Promise<string> {
  return mustExec(exec, 'iptables-save', []);
}

/** Lines of iptables-save that belong to chains Mesh doesn't own, minus our jumps. */
function foreignLines(saved: string): string[] {
  return saved
    .split('\n')
    .filter((l) => !l.startsWith('#') && !/MESH-/.test(l))
    .filter((l) => l !== '');
}

/** Mesh's chains and rules, as iptables-save prints them, table by table. */
function meshLines(saved: string): string[] {
  let table = '';
  const out: string[] = [];
  for (const l of saved.split('\n')) {
    if (l.startsWith('*')) table = l;
    else if (/^(:MESH-|-A MESH-)/.test(l)) out.push(`${table} ${l}`);
  }
  return out.sort();
}

const countingExec = (exec: HostExec) => {
  const calls: string[] = [];
  const wrapped: HostExec = (cmd, args, o) => {
    calls.push(cmd);
    return exec(cmd, args, o);
  };
  return { exec: wrapped, calls };
};

const EPS = [
  { ip: '10.244.2.5', node: 'n2' },
  { ip: '10.244.1.5', node: 'n1' },
  { ip: '10.244.3.5', node: 'n3' },
];

function rulesFor(services: ServiceInput[], slices: EndpointSliceInput[]): string {
  return renderRules(buildServiceModel({ services, endpointSlices: slices, node: NODE }));
}

const v1Services = [
  service('web', { clusterIP: '10.96.0.10' }),
  service('api', { clusterIP: '10.96.0.11', type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30080 }] }),
  service('old', { clusterIP: '10.96.0.12' }),
];
const v1Slices = [slice('web', EPS), slice('api', EPS), slice('old', EPS)];
const v1 = rulesFor(v1Services, v1Slices);
// One endpoint of web moves; "old" goes away.
const v2 = rulesFor(v1Services.slice(0, 2), [slice('web', [...EPS.slice(0, 2), { ip: '10.244.3.9', node: 'n3' }]), slice('api', EPS)]);

describe('iptables applier (in a private network namespace)', () => {
  let ns: TestNetns;
  let other: TestNetns;
  let foreignBefore: string[];

  before(async () => {
    ns = await createTestNetns();
    other = await createTestNetns();
    for (const n of [ns, other]) for (const [cmd, args] of FOREIGN_SETUP) await mustExec(n.exec, cmd, args);
    foreignBefore = foreignLines(await save(ns.exec));
  });
  after(async () => {
    await ns?.remove();
    await other?.remove();
  });

  it('applies everything at first, leaving other chains alone', async () => {
    const applier = createIptablesApplier({ logger: silentLogger(), exec: ns.exec });
    const r = await applier.apply(v1);
    assert.equal(r.mode, 'full');
    const saved = await save(ns.exec);
    for (const c of ['MESH-SERVICES', 'MESH-NODEPORTS', 'MESH-POSTROUTING', 'MESH-MARK-MASQ', namer.svc('default/web:http', 'TCP')]) {
      assert.ok(declaredChains(saved, 'nat').includes(c), c);
    }
    assert.equal(chainRules(saved, 'nat', namer.svc('default/web:http', 'TCP')).length, 3);
    assert.ok(chainRules(saved, 'nat', 'MESH-NODEPORTS').some((l) => l.includes('--dport 30080')));
    assert.deepEqual(foreignLines(saved), foreignBefore);
  });

  it('sends only the changed chains afterwards, and ends where a full apply of the same rules ends', async () => {
    const applier = createIptablesApplier({ logger: silentLogger(), exec: ns.exec });
    await applier.apply(v1);
    const r = await applier.apply(v2);
    assert.equal(r.mode, 'incremental');
    // web's service chain, the POSTROUTING hairpins stay; MESH-SERVICES loses old's rule; old's chain goes
    assert.equal(r.changedChains, 2);
    assert.equal(r.removedChains, 1);
    const incremental = await save(ns.exec);
    const web = chainRules(incremental, 'nat', namer.svc('default/web:http', 'TCP'));
    assert.ok(web.some((l) => l.endsWith('--to-destination 10.244.3.9:8080')));
    assert.ok(!web.some((l) => l.includes('10.244.3.5')));
    assert.ok(!declaredChains(incremental, 'nat').includes(namer.svc('default/old:http', 'TCP')));

    const fresh = createIptablesApplier({ logger: silentLogger(), exec: other.exec });
    await fresh.apply(v2);
    assert.deepEqual(meshLines(incremental), meshLines(await save(other.exec)));
    assert.deepEqual(foreignLines(incremental), foreignBefore);
  });

  it('does nothing for unchanged rules, and refuses chains that are not Mesh\'s without running anything', async () => {
    const { exec, calls } = countingExec(ns.exec);
    const applier = createIptablesApplier({ logger: silentLogger(), exec });
    await applier.apply(v2);
    const n = calls.length;
    assert.equal((await applier.apply(v2)).mode, 'unchanged');
    assert.equal(calls.length, n);
    await assert.rejects(applier.apply('*nat\n:DOCKER - [0:0]\n-A DOCKER -j RETURN\nCOMMIT\n'), Invalid);
    await assert.rejects(applier.apply('*filter\n-A FORWARD -j ACCEPT\nCOMMIT\n'), Invalid);
    await assert.rejects(applier.apply('*nat\n-F\nCOMMIT\n'), Invalid);
    assert.equal(calls.length, n);
  });

  it('fails with iptables-restore\'s message, changes nothing, and syncs fully next time', async () => {
    const applier = createIptablesApplier({ logger: silentLogger(), exec: ns.exec });
    await applier.apply(v2);
    const before = await save(ns.exec);
    const broken = v1.replace('-m statistic --mode random', '-m statistic --mode sometimes');
    await assert.rejects(applier.apply(broken), (err: Error) => /iptables-restore/.test(err.message) && /line|statistic|mode/i.test(err.message));
    assert.deepEqual(meshLines(await save(ns.exec)), meshLines(before));
    assert.equal((await applier.apply(v2)).mode, 'full');
  });

  it('deletes per-service chains a previous agent left behind on its first sync', async () => {
    await createIptablesApplier({ logger: silentLogger(), exec: ns.exec }).apply(v1);
    const restarted = createIptablesApplier({ logger: silentLogger(), exec: ns.exec });
    const r = await restarted.apply(v2);
    assert.equal(r.mode, 'full');
    assert.equal(r.removedChains, 1);
    assert.ok(!declaredChains(await save(ns.exec), 'nat').includes(namer.svc('default/old:http', 'TCP')));
  });

  describe('jumps, blackhole route and cleanup', () => {
    let applier: IptablesApplier;
    before(() => {
      applier = createIptablesApplier({ logger: silentLogger(), exec: ns.exec });
    });

    it('puts one tagged jump per Mesh chain at the top of the built-in chains, idempotently', async () => {
      await applier.ensureJumps();
      const { exec, calls } = countingExec(ns.exec);
      const again = createIptablesApplier({ logger: silentLogger(), exec });
      await again.ensureJumps();
      assert.ok(!calls.includes('iptables-restore'), 'a second ensureJumps changes nothing');
      const saved = await save(ns.exec);
      for (const j of MESH_JUMPS) {
        const rules = chainRules(saved, j.table, j.chain);
        assert.deepEqual(rules.slice(0, j.rules.length), j.rules.map((r) => `-A ${j.chain} ${r}`), `${j.table} ${j.chain}`);
        assert.equal(rules.filter((l) => l.includes('MESH-')).length, j.rules.length);
        for (const r of j.rules) assert.match(r, /-m comment --comment mesh /);
      }
      assert.deepEqual(foreignLines(saved), foreignBefore);
    });

    it('moves its jumps back to the top when another rule was inserted above them', async () => {
      await mustExec(ns.exec, 'iptables', ['-t', 'filter', '-I', 'FORWARD', '1', '-j', 'DOCKER-USER']);
      await applier.ensureJumps();
      const fwd = chainRules(await save(ns.exec), 'filter', 'FORWARD');
      assert.match(fwd[0]!, /-j MESH-SERVICES$/);
      assert.match(fwd[2]!, /-j MESH-FORWARD$/);
      assert.equal(fwd.filter((l) => l.endsWith('-j DOCKER-USER')).length, 2);
      await mustExec(ns.exec, 'iptables', ['-t', 'filter', '-D', 'FORWARD', '-j', 'DOCKER-USER']);
    });

    it('blackholes the service range', async () => {
      const routes = await mustExec(ns.exec, 'ip', ['route', 'show', 'type', 'blackhole']);
      assert.match(routes, /blackhole 10\.96\.0\.0\/16/);
    });

    it('cleanup leaves nothing named MESH, keeps everything else, and removes the route', async () => {
      await applier.apply(v1);
      await applier.cleanup();
      const saved = await save(ns.exec);
      assert.doesNotMatch(saved, /MESH/);
      assert.deepEqual(foreignLines(saved), foreignBefore);
      assert.equal((await mustExec(ns.exec, 'ip', ['route', 'show', 'type', 'blackhole'])).trim(), '');
      // and it is safe to run again, and to start over
      await applier.cleanup();
      assert.equal((await applier.apply(v1)).mode, 'full');
      await applier.cleanup();
    });
  });
});

// A node namespace routing between a client pod (10.244.1.2, local) and a server
// pod (10.244.2.2, "on another node"); all traffic stays inside these namespaces.
describe('data path through the rules (private network namespaces)', () => {
  const host = createHostExec();
  let node: TestNetns;
  let client: TestNetns;
  let server: TestNetns;
  const servers: { stop(): void }[] = [];
  const dataNode = { ...NODE, nodeIPs: ['10.244.1.1'] };
  const rules = renderRules(
    buildServiceModel({
      node: dataNode,
      services: [
        service('web', { type: 'NodePort', clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 80, nodePort: 30080 }] }),
        service('empty', { clusterIP: '10.96.0.11' }),
        service('self', { clusterIP: '10.96.0.12' }),
      ],
      endpointSlices: [
        slice('web', [{ ip: '10.244.2.2', node: 'n2' }]),
        slice('self', [{ ip: '10.244.1.2', node: 'n1' }], { ports: [{ name: 'http', port: 8081 }] }),
      ],
    }),
  );

  before(async () => {
    node = await createTestNetns();
    client = await createTestNetns();
    server = await createTestNetns();
    const tag = node.name.slice(-6);
    const sh = async (args: string[]) => mustExec(host, 'ip', args);
    for (const n of [node, client, server]) await sh(['-n', n.name, 'link', 'set', 'lo', 'up']);
    for (const [pod, side, podIp, gw] of [[client, 'c', '10.244.1.2/24', '10.244.1.1'], [server, 's', '10.244.2.2/24', '10.244.2.1']] as const) {
      await sh(['link', 'add', `n${side}${tag}`, 'netns', node.name, 'type', 'veth', 'peer', 'name', `p${side}${tag}`, 'netns', pod.name]);
      await sh(['-n', node.name, 'addr', 'add', `${gw}/24`, 'dev', `n${side}${tag}`]);
      await sh(['-n', node.name, 'link', 'set', `n${side}${tag}`, 'up']);
      await sh(['-n', pod.name, 'addr', 'add', podIp, 'dev', `p${side}${tag}`]);
      await sh(['-n', pod.name, 'link', 'set', `p${side}${tag}`, 'up']);
      await sh(['-n', pod.name, 'route', 'add', 'default', 'via', gw]);
    }
    await mustExec(node.exec, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    // Refusals are ICMP errors, which the kernel rate-limits per client: this
    // test checks the rules, not that limit.
    await mustExec(node.exec, 'sysctl', ['-qw', 'net.ipv4.icmp_ratelimit=0']);
    servers.push(await startEchoServer(server.name, 8080), await startEchoServer(client.name, 8081));
  });
  after(async () => {
    for (const s of servers) s.stop();
    for (const n of [node, client, server]) await n?.remove();
  });

  it('DNATs pod traffic to ClusterIPs (keeping the pod\'s address), NodePorts (masqueraded) and hairpins', async () => {
    const applier = createIptablesApplier({ logger: silentLogger(), exec: node.exec });
    await applier.apply(rules);
    await applier.ensureJumps();
    const got = await connectFrom(client.name, ['10.96.0.10:80', '10.244.1.1:30080', '10.96.0.12:80']);
    assert.deepEqual(got, [
      { target: '10.96.0.10:80', reply: 'from 10.244.1.2' },
      { target: '10.244.1.1:30080', reply: 'from 10.244.2.1' },
      { target: '10.96.0.12:80', reply: 'from 10.244.1.1' },
    ]);
    await applier.cleanup();
  });

  it('with the range routed locally, the node reaches ClusterIPs and what no rule translates is refused', async () => {
    const applier = createIptablesApplier({ logger: silentLogger(), exec: node.exec, serviceCidrRoute: 'local' });
    await applier.apply(rules);
    await applier.ensureJumps();
    assert.match(await mustExec(node.exec, 'ip', ['route', 'show', 'table', 'local', 'type', 'local', '10.96.0.0/16']), /10\.96\.0\.0\/16/);
    assert.deepEqual(await connectFrom(client.name, ['10.96.0.10:80', '10.96.0.11:80', '10.96.0.99:80']), [
      { target: '10.96.0.10:80', reply: 'from 10.244.1.2' },
      { target: '10.96.0.11:80', error: 'ECONNREFUSED' },
      { target: '10.96.0.99:80', error: 'ECONNREFUSED' },
    ]);
    assert.deepEqual(await connectFrom(node.name, ['10.96.0.10:80', '10.96.0.11:80']), [
      { target: '10.96.0.10:80', reply: 'from 10.244.2.1' },
      { target: '10.96.0.11:80', error: 'ECONNREFUSED' },
    ]);
    await applier.cleanup();
    assert.equal((await mustExec(node.exec, 'ip', ['route', 'show', 'table', 'local', 'type', 'local', '10.96.0.0/16'])).trim(), '');
  });

  it('with the blackhole route (the default), the node itself cannot reach ClusterIPs', async () => {
    const applier = createIptablesApplier({ logger: silentLogger(), exec: node.exec });
    await applier.apply(rules);
    await applier.ensureJumps();
    // The kernel routes a local socket's first packet before nat OUTPUT; the blackhole answers EINVAL.
    assert.deepEqual(await connectFrom(node.name, ['10.96.0.10:80']), [{ target: '10.96.0.10:80', error: 'EINVAL' }]);
    await applier.cleanup();
  });
});
