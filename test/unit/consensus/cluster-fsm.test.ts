import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createClusterFsm, type ClusterFsm, type ClusterFsmOptions, type FsmResult } from '../../../src/consensus/cluster-fsm.ts';
import { parseIpv4 } from '../../../src/consensus/ipv4-range.ts';
import { seededRandom, pick } from '../../support/seeded-random.ts';

const SEALED = 'v1:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAAAA';
let index = 0;

function run(fsm: ClusterFsm, command: Record<string, unknown>): FsmResult {
  return fsm.apply(JSON.stringify(command), { index: ++index, term: 1 });
}

function ok<K extends string>(r: FsmResult, key: K): string & number {
  assert.equal(r.ok, true, `refused: ${!r.ok ? r.reason : ''}`);
  return (r as unknown as Record<K, string & number>)[key];
}

function refused(r: FsmResult, code: string, field?: string): string {
  assert.equal(r.ok, false, `expected a refusal, got ${JSON.stringify(r)}`);
  if (r.ok) throw new Error('unreachable');
  assert.equal(r.code, code, r.reason);
  if (field) {
    assert.equal(r.field, field);
    assert.ok(r.reason.startsWith(`${field}: `), r.reason);
  }
  return r.reason;
}

describe('cluster FSM: pod CIDRs', () => {
  it('gives each node its own /24 of 10.244.0.0/16, the same one again on a repeat, and frees it on release', () => {
    const fsm = createClusterFsm();
    const a = ok(run(fsm, { type: 'allocate-pod-cidr', node: 'a' }), 'cidr');
    const b = ok(run(fsm, { type: 'allocate-pod-cidr', node: 'b' }), 'cidr');
    assert.match(a, /^10\.244\.\d+\.0\/24$/);
    assert.notEqual(a, b);
    assert.equal(ok(run(fsm, { type: 'allocate-pod-cidr', node: 'a' }), 'cidr'), a);
    assert.equal(fsm.podCidrOf('a'), a);
    assert.deepEqual((run(fsm, { type: 'release-pod-cidr', node: 'a' }) as { released: string[] }).released, [a]);
    assert.equal(fsm.podCidrOf('a'), undefined);
    assert.deepEqual((run(fsm, { type: 'release-pod-cidr', node: 'a' }) as { released: string[] }).released, []);
  });

  it('refuses with a reason once every block is taken, and hands a released block out again', () => {
    const fsm = createClusterFsm({ podCidr: '10.244.0.0/22' });
    const got = ['a', 'b', 'c', 'd'].map((n) => ok(run(fsm, { type: 'allocate-pod-cidr', node: n }), 'cidr'));
    assert.deepEqual([...got].sort(), ['10.244.0.0/24', '10.244.1.0/24', '10.244.2.0/24', '10.244.3.0/24']);
    assert.match(refused(run(fsm, { type: 'allocate-pod-cidr', node: 'e' }), 'exhausted', 'spec.podCIDR'), /all 4 \/24 blocks of 10\.244\.0\.0\/22/);
    run(fsm, { type: 'release-pod-cidr', node: 'b' });
    assert.equal(ok(run(fsm, { type: 'allocate-pod-cidr', node: 'e' }), 'cidr'), got[1]);
  });
});

describe('cluster FSM: ClusterIPs', () => {
  it('never hands out the network, the first (kubernetes) or the broadcast address', () => {
    const fsm = createClusterFsm({ serviceCidr: '10.96.0.0/29' });
    const ips = [1, 2, 3, 4, 5].map((i) => ok(run(fsm, { type: 'allocate-cluster-ip', service: `default/s${i}`, uid: `u${i}` }), 'ip'));
    assert.deepEqual([...ips].sort(), ['10.96.0.2', '10.96.0.3', '10.96.0.4', '10.96.0.5', '10.96.0.6']);
    refused(run(fsm, { type: 'allocate-cluster-ip', service: 'default/s6', uid: 'u6' }), 'exhausted', 'spec.clusterIP');
  });

  it('exhausts a /30 after its one dynamic address, with a reason naming the field', () => {
    const fsm = createClusterFsm({ serviceCidr: '10.96.0.0/30' });
    assert.equal(ok(run(fsm, { type: 'allocate-cluster-ip', service: 'default/a', uid: 'a' }), 'ip'), '10.96.0.2');
    const reason = refused(run(fsm, { type: 'allocate-cluster-ip', service: 'default/b', uid: 'b' }), 'exhausted', 'spec.clusterIP');
    assert.match(reason, /10\.96\.0\.0\/30 is full/);
    // Idempotent for the holder even when full.
    assert.equal(ok(run(fsm, { type: 'allocate-cluster-ip', service: 'default/a', uid: 'a' }), 'ip'), '10.96.0.2');
    // The first address goes only to default/kubernetes, and only on request.
    assert.equal(ok(run(fsm, { type: 'allocate-cluster-ip', service: 'default/kubernetes', uid: 'k', requested: '10.96.0.1' }), 'ip'), '10.96.0.1');
  });

  it('is idempotent per uid and refuses requested IPs that are taken, reserved, outside the range or IPv6', () => {
    const fsm = createClusterFsm();
    const ip = ok(run(fsm, { type: 'allocate-cluster-ip', service: 'default/web', uid: 'w', requested: '10.96.0.10' }), 'ip');
    assert.equal(ip, '10.96.0.10');
    assert.equal(ok(run(fsm, { type: 'allocate-cluster-ip', service: 'default/web', uid: 'w' }), 'ip'), ip);
    assert.equal(fsm.clusterIpOf('w'), ip);
    assert.match(refused(run(fsm, { type: 'allocate-cluster-ip', service: 'default/db', uid: 'd', requested: '10.96.0.10' }), 'taken', 'spec.clusterIP'), /already allocated/);
    refused(run(fsm, { type: 'allocate-cluster-ip', service: 'default/db', uid: 'd', requested: '10.97.0.10' }), 'out-of-range', 'spec.clusterIP');
    refused(run(fsm, { type: 'allocate-cluster-ip', service: 'default/db', uid: 'd', requested: '10.96.255.255' }), 'out-of-range', 'spec.clusterIP');
    refused(run(fsm, { type: 'allocate-cluster-ip', service: 'default/db', uid: 'd', requested: '10.96.0.1' }), 'reserved', 'spec.clusterIP');
    assert.match(refused(run(fsm, { type: 'allocate-cluster-ip', service: 'default/db', uid: 'd', requested: 'fd00::10' }), 'unsupported', 'spec.clusterIP'), /IPv4 only/);
    refused(run(fsm, { type: 'allocate-cluster-ip', service: 'default/web', uid: 'w', requested: '10.96.0.11' }), 'immutable', 'spec.clusterIP');
    assert.equal(fsm.clusterIpOf('d'), undefined, 'refusals allocate nothing');
    run(fsm, { type: 'release-cluster-ip', uid: 'w' });
    assert.equal(ok(run(fsm, { type: 'allocate-cluster-ip', service: 'default/db', uid: 'd', requested: '10.96.0.10' }), 'ip'), '10.96.0.10');
  });
});

describe('cluster FSM: NodePorts', () => {
  const range = { nodePortRange: { min: 30000, max: 30003 } };

  it('is idempotent per (uid, port key), refuses taken and out-of-range ports naming the field, and exhausts', () => {
    const fsm = createClusterFsm(range);
    const p = ok(run(fsm, { type: 'allocate-node-port', uid: 'a', key: 'TCP/80', protocol: 'TCP' }), 'port');
    assert.ok(p >= 30000 && p <= 30003);
    assert.equal(ok(run(fsm, { type: 'allocate-node-port', uid: 'a', key: 'TCP/80', protocol: 'TCP' }), 'port'), p);
    const field = 'spec.ports[1].nodePort';
    assert.match(refused(run(fsm, { type: 'allocate-node-port', uid: 'b', key: 'TCP/80', protocol: 'TCP', requested: p, field }), 'taken', field), /already allocated/);
    assert.match(
      refused(run(fsm, { type: 'allocate-node-port', uid: 'b', key: 'TCP/80', protocol: 'TCP', requested: 31000, field }), 'out-of-range', field),
      /30000-30003/,
    );
    for (const k of ['TCP/81', 'TCP/82', 'TCP/83']) ok(run(fsm, { type: 'allocate-node-port', uid: 'a', key: k, protocol: 'TCP' }), 'port');
    refused(run(fsm, { type: 'allocate-node-port', uid: 'b', key: 'TCP/80', protocol: 'TCP', field }), 'exhausted', field);
    const ports = fsm.nodePortsOf('a').map((x) => x.port);
    assert.equal(new Set(ports).size, 4);
  });

  it('lets one service use a port number for TCP and UDP, never two ports of one protocol', () => {
    const fsm = createClusterFsm(range);
    const p = ok(run(fsm, { type: 'allocate-node-port', uid: 'dns', key: 'TCP/53', protocol: 'TCP' }), 'port');
    assert.equal(ok(run(fsm, { type: 'allocate-node-port', uid: 'dns', key: 'UDP/53', protocol: 'UDP', requested: p }), 'port'), p);
    refused(run(fsm, { type: 'allocate-node-port', uid: 'dns', key: 'TCP/54', protocol: 'TCP', requested: p }), 'taken');
  });

  it('releases all of a uid, or all but the ports still in use, and moves a port on a new request', () => {
    const fsm = createClusterFsm(range);
    const a = ok(run(fsm, { type: 'allocate-node-port', uid: 'u', key: 'TCP/80', protocol: 'TCP' }), 'port');
    ok(run(fsm, { type: 'allocate-node-port', uid: 'u', key: 'TCP/443', protocol: 'TCP' }), 'port');
    run(fsm, { type: 'release-node-ports', uid: 'u', except: ['TCP/80'] });
    assert.deepEqual(fsm.nodePortsOf('u').map((x) => x.key), ['TCP/80']);
    const free = [30000, 30001, 30002, 30003].find((x) => x !== a)!;
    assert.equal(ok(run(fsm, { type: 'allocate-node-port', uid: 'u', key: 'TCP/80', protocol: 'TCP', requested: free }), 'port'), free);
    // The old number is free for others again.
    assert.equal(ok(run(fsm, { type: 'allocate-node-port', uid: 'v', key: 'TCP/1', protocol: 'TCP', requested: a }), 'port'), a);
    run(fsm, { type: 'release-node-ports', uid: 'u' });
    assert.deepEqual(fsm.nodePortsOf('u'), []);
    assert.equal(ok(run(fsm, { type: 'allocate-node-port', uid: 'v', key: 'TCP/2', protocol: 'TCP', requested: free }), 'port'), free);
  });
});

describe('cluster FSM: LoadBalancer IPs', () => {
  it('refuses every request with a clear reason when no pool is configured', () => {
    const fsm = createClusterFsm();
    assert.match(refused(run(fsm, { type: 'allocate-lb-ip', uid: 'a' }), 'exhausted', 'spec.loadBalancerIP'), /no LoadBalancer IP pool is configured/);
  });

  it('allocates from a first-last range, honours requests in the pool, and records the announcing node', () => {
    const fsm = createClusterFsm({ lbPool: '192.168.50.240-192.168.50.243' });
    const a = ok(run(fsm, { type: 'allocate-lb-ip', uid: 'a' }), 'ip');
    assert.equal(ok(run(fsm, { type: 'allocate-lb-ip', uid: 'a' }), 'ip'), a);
    assert.equal(ok(run(fsm, { type: 'allocate-lb-ip', uid: 'b', requested: '192.168.50.243' }), 'ip'), '192.168.50.243');
    refused(run(fsm, { type: 'allocate-lb-ip', uid: 'c', requested: '192.168.50.243' }), 'taken', 'spec.loadBalancerIP');
    refused(run(fsm, { type: 'allocate-lb-ip', uid: 'c', requested: '192.168.50.250' }), 'out-of-range', 'spec.loadBalancerIP');
    ok(run(fsm, { type: 'allocate-lb-ip', uid: 'c' }), 'ip');
    ok(run(fsm, { type: 'allocate-lb-ip', uid: 'd' }), 'ip');
    refused(run(fsm, { type: 'allocate-lb-ip', uid: 'e' }), 'exhausted', 'spec.loadBalancerIP');
    assert.equal(run(fsm, { type: 'assign-lb-announcer', uid: 'a', node: 'n1' }).ok, true);
    assert.equal(fsm.lbAnnouncerOf('a'), 'n1');
    refused(run(fsm, { type: 'assign-lb-announcer', uid: 'nobody', node: 'n1' }), 'not-found');
    run(fsm, { type: 'release-lb-ip', uid: 'a' });
    assert.equal(fsm.lbIpOf('a'), undefined);
    assert.equal(fsm.lbAnnouncerOf('a'), undefined);
    assert.equal(ok(run(fsm, { type: 'allocate-lb-ip', uid: 'e' }), 'ip'), a);
  });

  it('leaves out the network and broadcast addresses of a CIDR pool', () => {
    const fsm = createClusterFsm({ lbPool: '10.77.0.200/30' });
    assert.equal(ok(run(fsm, { type: 'allocate-lb-ip', uid: 'a' }), 'ip'), '10.77.0.201');
    assert.equal(ok(run(fsm, { type: 'allocate-lb-ip', uid: 'b' }), 'ip'), '10.77.0.202');
    refused(run(fsm, { type: 'allocate-lb-ip', uid: 'c' }), 'exhausted');
  });
});

describe('cluster FSM: secrets and the leader fence', () => {
  it('stores sealed secrets with a version per secret for optimistic concurrency', () => {
    const fsm = createClusterFsm();
    const put = (extra: Record<string, unknown>) => run(fsm, { type: 'put-secret', namespace: 'ns', name: 's', uid: 'u1', secretType: 'Opaque', sealed: SEALED, ...extra });
    assert.equal(ok(put({ expectedVersion: 0 }), 'version'), 1);
    refused(put({ expectedVersion: 0 }), 'exists');
    assert.equal(ok(put({ expectedVersion: 1 }), 'version'), 2);
    refused(put({ expectedVersion: 1 }), 'conflict');
    refused(put({ expectedVersion: 2, uid: 'other' }), 'conflict');
    assert.deepEqual(fsm.secret('ns', 's'), { namespace: 'ns', name: 's', uid: 'u1', type: 'Opaque', sealed: SEALED, version: 2 });
    refused(run(fsm, { type: 'put-secret', namespace: 'ns', name: 's', uid: 'u1', sealed: 'plain text' }), 'malformed');
    refused(run(fsm, { type: 'delete-secret', namespace: 'ns', name: 's', uid: 'other' }), 'conflict');
    assert.deepEqual(run(fsm, { type: 'delete-secret', namespace: 'ns', name: 's' }), { ok: true, existed: true });
    assert.deepEqual(run(fsm, { type: 'delete-secret', namespace: 'ns', name: 's' }), { ok: true, existed: false });
    refused(put({ expectedVersion: 3 }), 'not-found');
  });

  it('records leaders by term and refuses commands of an older term', () => {
    const fsm = createClusterFsm();
    assert.equal(fsm.currentLeaderTerm(), 0);
    assert.equal(run(fsm, { type: 'record-leader', term: 3, node: 'a' }).ok, true);
    assert.equal(fsm.currentLeaderTerm(), 3);
    refused(run(fsm, { type: 'record-leader', term: 2, node: 'b' }), 'stale-term');
    refused(run(fsm, { type: 'record-leader', term: 3, node: 'b' }), 'conflict');
    refused(run(fsm, { type: 'allocate-pod-cidr', node: 'x', term: 2 }), 'stale-term');
    assert.equal(fsm.podCidrOf('x'), undefined);
    ok(run(fsm, { type: 'allocate-pod-cidr', node: 'x', term: 3 }), 'cidr');
    assert.equal(run(fsm, { type: 'record-leader', term: 4, node: 'b' }).ok, true);
    assert.deepEqual(fsm.currentLeader(), { term: 4, node: 'b' });
  });

  it('refuses malformed commands and never throws on any input', () => {
    const fsm = createClusterFsm();
    const bad = [
      'not json',
      'null',
      '[]',
      '42',
      JSON.stringify({}),
      JSON.stringify({ type: 'no-such-command' }),
      JSON.stringify({ type: 'allocate-pod-cidr' }),
      JSON.stringify({ type: 'allocate-pod-cidr', node: 7 }),
      JSON.stringify({ type: 'allocate-cluster-ip', service: 'no-namespace', uid: 'u' }),
      JSON.stringify({ type: 'allocate-node-port', uid: 'u', key: 'k', protocol: 'ICMP' }),
      JSON.stringify({ type: 'allocate-node-port', uid: 'u', key: 'k', protocol: 'TCP', requested: 1.5 }),
      JSON.stringify({ type: 'record-leader', node: 'a' }),
      JSON.stringify({ type: 'allocate-pod-cidr', node: 'a', term: -1 }),
    ];
    for (const c of bad) assert.equal(refused(fsm.apply(c, { index: 1, term: 1 }), 'malformed').length > 0, true, c);
    const rnd = seededRandom(7);
    const junk = () => pick(rnd, [null, 1, -1, 'x', '', true, [], {}, { a: 1 }, 1e300, '10.96.0.1', 'fd00::1']);
    const types = ['allocate-pod-cidr', 'allocate-cluster-ip', 'allocate-node-port', 'allocate-lb-ip', 'put-secret', 'delete-secret', 'record-leader', 'assign-lb-announcer'];
    for (let i = 0; i < 500; i++) {
      const c: Record<string, unknown> = { type: pick(rnd, types) };
      for (const f of ['node', 'uid', 'service', 'requested', 'key', 'protocol', 'term', 'namespace', 'name', 'sealed']) if (rnd() < 0.5) c[f] = junk();
      const r = fsm.apply(JSON.stringify(c), { index: i, term: 1 });
      assert.equal(typeof r.ok, 'boolean');
    }
    // Whatever got through was well-formed: names are non-empty strings.
    const a = fsm.allocations();
    for (const x of [...a.podCidrs.map((p) => p.node), ...a.clusterIps.map((c) => c.uid), ...a.nodePorts.map((p) => p.uid), ...a.lbIps.map((l) => l.uid)]) {
      assert.ok(typeof x === 'string' && x.length > 0, `allocated to ${JSON.stringify(x)}`);
    }
  });
});

describe('cluster FSM: snapshots', () => {
  it('round-trips the whole state, refuses other versions, and keeps its state on a bad snapshot', () => {
    const opts: ClusterFsmOptions = { lbPool: '10.77.0.0/28' };
    const fsm = createClusterFsm(opts);
    run(fsm, { type: 'record-leader', term: 2, node: 'a' });
    run(fsm, { type: 'allocate-pod-cidr', node: 'a' });
    run(fsm, { type: 'allocate-cluster-ip', service: 'default/web', uid: 'w' });
    run(fsm, { type: 'allocate-node-port', uid: 'w', key: 'TCP/80', protocol: 'TCP' });
    run(fsm, { type: 'allocate-lb-ip', uid: 'w' });
    run(fsm, { type: 'assign-lb-announcer', uid: 'w', node: 'a' });
    run(fsm, { type: 'put-secret', namespace: 'ns', name: 's', uid: 'u', sealed: SEALED });
    const snap = fsm.snapshot();
    const copy = createClusterFsm(opts);
    copy.restore(snap);
    assert.equal(copy.snapshot(), snap);
    assert.deepEqual(copy.allocations(), fsm.allocations());
    assert.deepEqual(copy.secret('ns', 's'), fsm.secret('ns', 's'));
    assert.equal(copy.currentLeaderTerm(), 2);
    // The cursors came along: both hand out the same next addresses.
    for (const c of [
      { type: 'allocate-cluster-ip', service: 'default/x', uid: 'x' },
      { type: 'allocate-pod-cidr', node: 'b' },
      { type: 'allocate-lb-ip', uid: 'x' },
    ]) {
      assert.deepEqual(run(copy, c), run(fsm, c));
    }
    assert.throws(() => copy.restore(snap.replace('"v":1', '"v":2')), /version 2 is not supported/);
    assert.throws(() => copy.restore('{"v":1}'), /malformed/);
    assert.throws(() => copy.restore('garbage'), /not JSON/);
    assert.equal(copy.snapshot(), fsm.snapshot(), 'a refused snapshot changed nothing');
  });

  it('keeps every address unique through random allocate/release runs, and replicas stay identical (seeded)', () => {
    const seed = Number(process.env.SEED ?? Date.now() % 100_000);
    const rnd = seededRandom(seed);
    const opts: ClusterFsmOptions = { podCidr: '10.244.0.0/21', serviceCidr: '10.96.0.0/28', nodePortRange: { min: 30000, max: 30009 }, lbPool: '10.77.0.1-10.77.0.6' };
    const leader = createClusterFsm(opts);
    let follower = createClusterFsm(opts);
    const nodes = ['n0', 'n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7', 'n8', 'n9'];
    const uids = Array.from({ length: 16 }, (_, i) => `u${i}`);
    const msg = (what: string) => `seed ${seed}: ${what}`;
    for (let step = 0; step < 3000; step++) {
      const uid = pick(rnd, uids);
      const c = pick(rnd, [
        () => ({ type: 'allocate-pod-cidr', node: pick(rnd, nodes) }),
        () => ({ type: 'release-pod-cidr', node: pick(rnd, nodes) }),
        () => ({ type: 'allocate-cluster-ip', service: `default/${uid}`, uid, requested: rnd() < 0.2 ? `10.96.0.${Math.floor(rnd() * 16)}` : undefined }),
        () => ({ type: 'release-cluster-ip', uid }),
        () => ({ type: 'allocate-node-port', uid, key: pick(rnd, ['TCP/80', 'TCP/443', 'UDP/53']), protocol: pick(rnd, ['TCP', 'UDP']), requested: rnd() < 0.2 ? 30000 + Math.floor(rnd() * 12) : undefined }),
        () => ({ type: 'release-node-ports', uid, except: rnd() < 0.5 ? ['TCP/80'] : undefined }),
        () => ({ type: 'allocate-lb-ip', uid }),
        () => ({ type: 'release-lb-ip', uid }),
      ])();
      const before = leader.allocations();
      const r = run(leader, c);
      assert.deepEqual(run(follower, c), r, msg(`replicas disagree on ${JSON.stringify(c)}`));
      if (r.ok && c.type.startsWith('allocate')) {
        // Idempotent: asking again gives the same answer and changes nothing.
        const again = run(leader, { ...c, requested: undefined });
        run(follower, { ...c, requested: undefined });
        assert.deepEqual(again, r, msg(`repeat of ${JSON.stringify(c)}`));
      }
      if (!r.ok) assert.deepEqual(leader.allocations(), before, msg(`a refusal changed the state: ${JSON.stringify(c)}`));
      const a = leader.allocations();
      const unique = (xs: (string | number)[], what: string) => assert.equal(new Set(xs).size, xs.length, msg(`duplicate ${what} after ${JSON.stringify(c)}`));
      unique(a.podCidrs.map((x) => x.cidr), 'pod CIDR');
      unique(a.clusterIps.map((x) => x.ip), 'ClusterIP');
      unique(a.lbIps.map((x) => x.ip), 'LoadBalancer IP');
      // A port number belongs to one uid; within it, one key per (protocol, port).
      const owner = new Map<number, string>();
      for (const p of a.nodePorts) {
        assert.ok(owner.get(p.port) === undefined || owner.get(p.port) === p.uid, msg(`port ${p.port} shared by two services`));
        owner.set(p.port, p.uid);
        assert.ok(p.port >= 30000 && p.port <= 30009, msg(`port ${p.port} outside the range`));
      }
      unique(a.nodePorts.map((p) => `${p.uid}/${p.protocol}/${p.port}`), 'port of one protocol in one service');
      for (const x of a.clusterIps) {
        const n = parseIpv4(x.ip)! - parseIpv4('10.96.0.0')!;
        assert.ok(n >= 2 && n <= 14, msg(`ClusterIP ${x.ip} is the network, the first or the broadcast address`));
      }
      if (step % 500 === 499) {
        // A follower restarted from a snapshot carries on identically.
        const restored = createClusterFsm(opts);
        restored.restore(follower.snapshot());
        follower = restored;
        assert.equal(follower.snapshot(), leader.snapshot(), msg('snapshot round trip'));
      }
    }
  });
});
