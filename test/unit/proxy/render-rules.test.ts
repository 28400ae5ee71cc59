import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mustExec } from '../../../src/agent/host-exec.ts';
import { createChainNamer, hash16 } from '../../../src/agent/proxy/chain-names.ts';
import { createRenderCache, renderRules } from '../../../src/agent/proxy/render-rules.ts';
import { parseRestoreText, serializeRuleSet } from '../../../src/agent/proxy/restore-text.ts';
import { buildServiceModel, type EndpointSliceInput, type ServiceInput } from '../../../src/agent/proxy/service-model.ts';
import { seededRandom, type Random } from '../../support/seeded-random.ts';
import { NODE, chainRules, createTestNetns, declaredChains, service, slice, type TestNetns } from './proxy-fixtures.ts';

const namer = createChainNamer();
const svcChain = (name: string, port = 'http', proto = 'TCP') => namer.svc(`default/${name}:${port}`, proto);

function render(services: ServiceInput[], slices: EndpointSliceInput[], node = NODE): string {
  return renderRules(buildServiceModel({ services, endpointSlices: slices, node }));
}

const THREE = [
  { ip: '10.244.2.5', node: 'n2' },
  { ip: '10.244.1.5', node: 'n1' },
  { ip: '10.244.3.5', node: 'n3' },
];

/** Per-service refusals in filter MESH-SERVICES (without the catch-all for the whole range). */
function serviceRefusals(text: string): string[] {
  return chainRules(text, 'filter', 'MESH-SERVICES').filter((r) => !r.includes(`-d ${NODE.serviceCidr} `));
}

/** The probability on each rule of a chain (1 for a rule without a statistic match). */
function probabilities(rules: string[]): number[] {
  return rules.map((r) => {
    const m = /--probability (\S+)/.exec(r);
    return m ? Number(m[1]) : 1;
  });
}

function shuffled<T>(items: readonly T[], rnd: Random): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** A varied cluster: every service type and policy, some without endpoints. */
function randomCluster(rnd: Random, count: number): { services: ServiceInput[]; slices: EndpointSliceInput[] } {
  const services: ServiceInput[] = [];
  const slices: EndpointSliceInput[] = [];
  for (let i = 0; i < count; i++) {
    const name = `s${i}`;
    const type = ['ClusterIP', 'NodePort', 'LoadBalancer'][Math.floor(rnd() * 3)]!;
    const spec: ServiceInput['spec'] = {
      type,
      clusterIP: `10.96.${1 + (i >> 8)}.${i & 255}`,
      ports: [
        { name: 'http', port: 80, protocol: 'TCP', ...(type !== 'ClusterIP' ? { nodePort: 30000 + i * 2 } : {}) },
        { name: 'dns', port: 53, protocol: 'UDP', ...(type !== 'ClusterIP' ? { nodePort: 30001 + i * 2 } : {}) },
      ],
      ...(rnd() < 0.3 ? { sessionAffinity: 'ClientIP' } : {}),
      ...(rnd() < 0.3 ? { externalTrafficPolicy: 'Local' } : {}),
      ...(rnd() < 0.2 ? { internalTrafficPolicy: 'Local' } : {}),
    };
    services.push(service(name, spec, type === 'LoadBalancer' ? { lbIps: [`192.168.60.${i & 255}`] } : {}));
    const n = Math.floor(rnd() * 4);
    const eps = Array.from({ length: n }, (_, j) => ({ ip: `10.244.${1 + j}.${(i % 250) + 2}`, node: `n${1 + j}`, ready: rnd() < 0.8, terminating: rnd() < 0.2 }));
    slices.push(slice(name, eps, { ports: [{ name: 'http', port: 8080 }, { name: 'dns', port: 5353, protocol: 'UDP' }] }));
  }
  return { services, slices };
}

describe('chain names', () => {
  it('are kube-proxy\'s (base32 of sha256, 16 characters), so they match its test vectors', () => {
    // From kube-proxy's iptables proxier tests: ns1/svc1:p80 -> KUBE-SVC-XPGD46QRK7WJZT7O.
    assert.equal(namer.svc('ns1/svc1:p80', 'TCP'), 'MESH-SVC-XPGD46QRK7WJZT7O');
    assert.equal(namer.sep('ns1/svc1:p80', 'TCP', '10.180.0.1:80'), 'MESH-SEP-SXIVWICOYRO3J4NJ');
    assert.match(hash16('anything'), /^[A-Z2-7]{16}$/);
    assert.notEqual(namer.svc('ns1/svc1:p80', 'TCP'), namer.svc('ns1/svc1:p80', 'UDP'));
  });
});

describe('renderRules: cluster IPs', () => {
  const text = render([service('web', { clusterIP: '10.96.0.10' })], [slice('web', THREE)]);
  const svc = svcChain('web');

  it('declares its chains and jumps from the ClusterIP match to the service chain', () => {
    for (const c of ['MESH-SERVICES', 'MESH-NODEPORTS', 'MESH-POSTROUTING', 'MESH-MARK-MASQ', svc]) assert.ok(declaredChains(text, 'nat').includes(c), c);
    for (const c of ['MESH-SERVICES', 'MESH-EXTERNAL-SERVICES', 'MESH-FORWARD']) assert.ok(declaredChains(text, 'filter').includes(c), c);
    const jump = chainRules(text, 'nat', 'MESH-SERVICES').filter((r) => r.endsWith(`-j ${svc}`));
    assert.equal(jump.length, 1);
    assert.match(jump[0]!, /-d 10\.96\.0\.10\/32 -p tcp -m tcp --dport 80 /);
  });

  it('spreads evenly over 3 endpoints: 1/3, then 1/2, then the rest', () => {
    const rules = chainRules(text, 'nat', svc);
    assert.deepEqual(probabilities(rules), [1 / 3, 1 / 2, 1].map((p) => Number(p.toFixed(10))));
    // sorted by address, each DNATed to its target port
    assert.deepEqual(
      rules.map((r) => /--to-destination (\S+)/.exec(r)?.[1]),
      ['10.244.1.5:8080', '10.244.2.5:8080', '10.244.3.5:8080'],
    );
    for (const r of rules) assert.match(r, /-p tcp -j DNAT/);
  });

  it('gives each endpoint the same share (simulated over the rendered probabilities)', () => {
    const seed = 20261201;
    const rnd = seededRandom(seed);
    for (const n of [1, 2, 3, 5, 8]) {
      const eps = Array.from({ length: n }, (_, i) => ({ ip: `10.244.2.${i + 10}` }));
      const p = probabilities(chainRules(render([service('web', { clusterIP: '10.96.0.10' })], [slice('web', eps)]), 'nat', svc));
      assert.equal(p.length, n);
      const hits = new Array<number>(n).fill(0);
      const rounds = 40_000;
      for (let k = 0; k < rounds; k++) {
        const i = p.findIndex((q) => rnd() < q);
        hits[i === -1 ? n - 1 : i]!++;
      }
      for (const h of hits) assert.ok(Math.abs(h / rounds - 1 / n) < 0.015, `seed ${seed}, n=${n}: shares ${hits.map((x) => x / rounds)}`);
    }
  });

  it('marks for masquerade only traffic from outside the pod network, and masquerades marked packets', () => {
    const services = chainRules(text, 'nat', 'MESH-SERVICES');
    assert.ok(services.some((r) => r.includes('! -s 10.244.0.0/16 -d 10.96.0.0/16') && r.endsWith('-j MESH-MARK-MASQ')));
    assert.deepEqual(chainRules(text, 'nat', 'MESH-MARK-MASQ'), ['-A MESH-MARK-MASQ -j MARK --or-mark 0x4000']);
    const post = chainRules(text, 'nat', 'MESH-POSTROUTING');
    assert.ok(post.some((r) => r.includes('-m mark ! --mark 0x4000/0x4000 -j RETURN')));
    assert.match(post.at(-1)!, /-j MASQUERADE/);
  });

  it('masquerades hairpin traffic of local endpoints only', () => {
    const hairpins = chainRules(text, 'nat', 'MESH-POSTROUTING').filter((r) => r.includes('hairpin'));
    assert.deepEqual(hairpins.map((r) => /-s (\S+) -d (\S+)/.exec(r)?.slice(1)), [['10.244.1.5/32', '10.244.1.5/32']]);
  });

  it('ends MESH-SERVICES with the jump to MESH-NODEPORTS for local destinations', () => {
    const last = chainRules(text, 'nat', 'MESH-SERVICES').at(-1)!;
    assert.match(last, /-m addrtype --dst-type LOCAL .*-j MESH-NODEPORTS$/);
  });

  it('accepts established, marked and pod-network traffic in MESH-FORWARD', () => {
    const fwd = chainRules(text, 'filter', 'MESH-FORWARD');
    assert.ok(fwd.some((r) => r.includes('--ctstate RELATED,ESTABLISHED -j ACCEPT')));
    assert.ok(fwd.some((r) => r.includes('--mark 0x4000/0x4000 -j ACCEPT')));
    assert.ok(fwd.some((r) => r.includes('-s 10.244.0.0/16') && r.endsWith('-j ACCEPT')));
    assert.ok(fwd.some((r) => r.includes('-d 10.244.0.0/16') && r.endsWith('-j ACCEPT')));
  });

  it('uses udp matches for UDP ports', () => {
    const t = render(
      [service('dns', { clusterIP: '10.96.0.53', ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] })],
      [slice('dns', THREE, { ports: [{ name: 'dns', port: 5353, protocol: 'UDP' }] })],
    );
    const chain = svcChain('dns', 'dns', 'UDP');
    assert.ok(chainRules(t, 'nat', 'MESH-SERVICES').some((r) => r.includes('-p udp -m udp --dport 53') && r.endsWith(chain)));
    for (const r of chainRules(t, 'nat', chain)) assert.match(r, /-p udp -j DNAT --to-destination 10\.244\.\d\.5:5353/);
  });
});

describe('renderRules: session affinity', () => {
  it('sends a known client back to its endpoint within the timeout, and records new ones', () => {
    for (const [cfg, seconds] of [[undefined, 10800], [{ clientIP: { timeoutSeconds: 60 } }, 60]] as const) {
      const text = render(
        [service('web', { clusterIP: '10.96.0.10', sessionAffinity: 'ClientIP', ...(cfg ? { sessionAffinityConfig: cfg } : {}) })],
        [slice('web', THREE)],
      );
      const rules = chainRules(text, 'nat', svcChain('web'));
      const seps = ['10.244.1.5', '10.244.2.5', '10.244.3.5'].map((ip) => namer.sep('default/web:http', 'TCP', `${ip}:8080`));
      assert.equal(rules.length, 6);
      rules.slice(0, 3).forEach((r, i) => {
        assert.ok(r.includes(`-m recent --name ${seps[i]} --rcheck --seconds ${seconds} --reap`), r);
        assert.ok(r.includes(`-m recent --name ${seps[i]} --set`), r);
        assert.match(r, new RegExp(`--to-destination 10\\.244\\.${i + 1}\\.5:8080$`));
      });
      rules.slice(3).forEach((r, i) => assert.ok(r.includes(`-m recent --name ${seps[i]} --set`) && !r.includes('--rcheck'), r));
      assert.deepEqual(probabilities(rules.slice(3)), [0.3333333333, 0.5, 1]);
    }
  });
});

describe('renderRules: NodePort and LoadBalancer', () => {
  const np = (policy: string, extra: Partial<NonNullable<ServiceInput['spec']>> = {}) =>
    service('np', { type: 'NodePort', clusterIP: '10.96.0.20', externalTrafficPolicy: policy, ports: [{ name: 'http', port: 80, nodePort: 30080 }], ...extra });

  it('policy Cluster: marks NodePort traffic for masquerade and uses every endpoint', () => {
    const text = render([np('Cluster')], [slice('np', THREE)]);
    const svc = svcChain('np');
    const rules = chainRules(text, 'nat', 'MESH-NODEPORTS');
    assert.deepEqual(rules.map((r) => r.slice(r.lastIndexOf('-j ') + 3)), ['MESH-MARK-MASQ', svc]);
    for (const r of rules) assert.match(r, /-p tcp -m tcp --dport 30080 /);
    assert.equal(chainRules(text, 'nat', svc).length, 3);
  });

  it('policy Local: outside clients reach only local endpoints, unmarked; pods and the node reach all', () => {
    const text = render([np('Local')], [slice('np', THREE)]);
    const svc = svcChain('np');
    const ext = namer.ext('default/np:http', 'TCP');
    const svl = namer.svl('default/np:http', 'TCP');
    assert.deepEqual(chainRules(text, 'nat', 'MESH-NODEPORTS').map((r) => r.slice(r.lastIndexOf('-j ') + 3)), [ext]);
    const extRules = chainRules(text, 'nat', ext);
    assert.match(extRules[0]!, new RegExp(`-s 10\\.244\\.0\\.0/16 .*-j ${svc}$`));
    assert.match(extRules[1]!, /--src-type LOCAL .*-j MESH-MARK-MASQ$/);
    assert.match(extRules[2]!, new RegExp(`--src-type LOCAL .*-j ${svc}$`));
    assert.equal(extRules[3], `-A ${ext} -j ${svl}`);
    assert.deepEqual(chainRules(text, 'nat', svl), [`-A ${svl} -p tcp -j DNAT --to-destination 10.244.1.5:8080`]);
    // ClusterIP traffic still spreads over all three
    assert.equal(chainRules(text, 'nat', svc).length, 3);
  });

  it('policy Local without a local endpoint: drops external traffic, keeps ClusterIP working', () => {
    const text = render([np('Local')], [slice('np', THREE.filter((e) => e.node !== 'n1'))]);
    const ext = namer.ext('default/np:http', 'TCP');
    assert.ok(!declaredChains(text, 'nat').includes(namer.svl('default/np:http', 'TCP')));
    assert.ok(!chainRules(text, 'nat', ext).some((r) => r.includes('MESH-SVL-')));
    const drops = chainRules(text, 'filter', 'MESH-EXTERNAL-SERVICES');
    assert.equal(drops.length, 1);
    assert.match(drops[0]!, /--dst-type LOCAL -p tcp -m tcp --dport 30080 .*-j DROP$/);
    assert.deepEqual(serviceRefusals(text), []);
  });

  it('LoadBalancer ingress IPs act like ClusterIPs, marked under policy Cluster', () => {
    const lb = service('lb', { type: 'LoadBalancer', clusterIP: '10.96.0.30', ports: [{ name: 'http', port: 80, nodePort: 30090 }] }, { lbIps: ['192.168.50.200'] });
    const text = render([lb], [slice('lb', THREE)]);
    const svc = svcChain('lb');
    const toLb = chainRules(text, 'nat', 'MESH-SERVICES').filter((r) => r.includes('-d 192.168.50.200/32 -p tcp -m tcp --dport 80 '));
    assert.deepEqual(toLb.map((r) => r.slice(r.lastIndexOf('-j ') + 3)), ['MESH-MARK-MASQ', svc]);
    const local = renderRules(buildServiceModel({ services: [{ ...lb, spec: { ...lb.spec, externalTrafficPolicy: 'Local' } }], endpointSlices: [slice('lb', THREE)], node: NODE }));
    const toLbLocal = chainRules(local, 'nat', 'MESH-SERVICES').filter((r) => r.includes('-d 192.168.50.200/32'));
    assert.deepEqual(toLbLocal.map((r) => r.slice(r.lastIndexOf('-j ') + 3)), [namer.ext('default/lb:http', 'TCP')]);
  });
});

describe('renderRules: services without endpoints', () => {
  it('rejects ClusterIP, NodePort and LoadBalancer traffic at once, with no nat chain', () => {
    const lb = service('lb', { type: 'LoadBalancer', clusterIP: '10.96.0.30', ports: [{ name: 'http', port: 80, nodePort: 30090 }] }, { lbIps: ['192.168.50.200'] });
    const text = render([lb], [slice('lb', [{ ip: '10.244.2.9', ready: false, serving: false }])]);
    assert.ok(!declaredChains(text, 'nat').includes(svcChain('lb')));
    const internal = serviceRefusals(text);
    assert.equal(internal.length, 1);
    assert.match(internal[0]!, /-d 10\.96\.0\.30\/32 -p tcp -m tcp --dport 80 .*-j REJECT --reject-with icmp-port-unreachable$/);
    const external = chainRules(text, 'filter', 'MESH-EXTERNAL-SERVICES');
    assert.equal(external.length, 2);
    assert.ok(external.some((r) => r.includes('-d 192.168.50.200/32') && r.includes('-j REJECT')));
    assert.ok(external.some((r) => r.includes('--dst-type LOCAL') && r.includes('--dport 30090') && r.includes('-j REJECT')));
  });

  it('falls back to serving-terminating endpoints when none is ready', () => {
    const text = render(
      [service('web', { clusterIP: '10.96.0.10' })],
      [slice('web', [{ ip: '10.244.2.5', ready: false, serving: true, terminating: true }, { ip: '10.244.2.6', ready: false, serving: false, terminating: true }])],
    );
    assert.deepEqual(chainRules(text, 'nat', svcChain('web')), [`-A ${svcChain('web')} -p tcp -j DNAT --to-destination 10.244.2.5:8080`]);
    assert.deepEqual(serviceRefusals(text), []);
  });

  it('refuses, last, whatever is still addressed to the service range', () => {
    const text = render([service('web', { clusterIP: '10.96.0.10' })], []);
    const rules = chainRules(text, 'filter', 'MESH-SERVICES');
    assert.equal(rules.length, 2);
    assert.match(rules[1]!, /^-A MESH-SERVICES -d 10\.96\.0\.0\/16 .*-j REJECT --reject-with icmp-port-unreachable$/);
    // and a packet to the service range never goes on to the NodePorts
    const nat = chainRules(text, 'nat', 'MESH-SERVICES');
    assert.equal(nat.at(-2), '-A MESH-SERVICES -d 10.96.0.0/16 -j RETURN');
  });

  it('internalTrafficPolicy Local without a local endpoint drops ClusterIP traffic', () => {
    const text = render([service('web', { clusterIP: '10.96.0.10', internalTrafficPolicy: 'Local' })], [slice('web', THREE.filter((e) => e.node !== 'n1'))]);
    assert.ok(!chainRules(text, 'nat', 'MESH-SERVICES').some((r) => r.includes('10.96.0.10/32')));
    assert.match(serviceRefusals(text)[0]!, /-d 10\.96\.0\.10\/32 .*-j DROP$/);
    const withLocal = render([service('web', { clusterIP: '10.96.0.10', internalTrafficPolicy: 'Local' })], [slice('web', THREE)]);
    const svl = namer.svl('default/web:http', 'TCP');
    assert.ok(chainRules(withLocal, 'nat', 'MESH-SERVICES').some((r) => r.includes('10.96.0.10/32') && r.endsWith(`-j ${svl}`)));
    assert.equal(chainRules(withLocal, 'nat', svl).length, 1);
  });
});

describe('renderRules: scope and stability', () => {
  const rnd = seededRandom(7);
  const cluster = randomCluster(rnd, 60);
  const text = render(cluster.services, cluster.slices);

  it('writes only declarations of and rules in MESH chains, jumping only to MESH chains or standard targets', () => {
    const targets = new Set(['ACCEPT', 'DROP', 'RETURN', 'REJECT', 'DNAT', 'MARK', 'MASQUERADE']);
    for (const line of text.split('\n')) {
      if (line === '' || line === 'COMMIT' || line === '*nat' || line === '*filter') continue;
      if (line.startsWith(':')) {
        assert.match(line, /^:MESH-[A-Z0-9-]+ - \[0:0\]$/);
        continue;
      }
      assert.match(line, /^-A MESH-[A-Z0-9-]+ /, line);
      const target = /-j (\S+)/.exec(line)?.[1];
      assert.ok(target && (target.startsWith('MESH-') || targets.has(target)), line);
      for (const chain of line.match(/MESH-[A-Z0-9-]+/g) ?? []) assert.ok(chain.length <= 28, chain);
    }
  });

  it('renders the same text whatever the input order, and the same with a warm cache', () => {
    const seed = 99;
    const r = seededRandom(seed);
    const again = render(shuffled(cluster.services, r), shuffled(cluster.slices, r));
    assert.equal(again, text, `seed ${seed}`);
    const cache = createRenderCache();
    const model = buildServiceModel({ services: cluster.services, endpointSlices: cluster.slices, node: NODE });
    assert.equal(renderRules(model, { cache }), text);
    assert.equal(renderRules(model, { cache }), text);
  });

  it('round-trips through the applier\'s parser', () => {
    assert.equal(serializeRuleSet(parseRestoreText(text)), text);
  });
});

describe('renderRules: iptables-restore accepts it', () => {
  let ns: TestNetns;
  before(async () => {
    ns = await createTestNetns();
  });
  after(async () => {
    await ns?.remove();
  });

  it('passes iptables-restore --test --noflush in a private network namespace', async () => {
    const small = render([service('web', { clusterIP: '10.96.0.10', sessionAffinity: 'ClientIP' })], [slice('web', THREE)]);
    const seed = 11;
    const cluster = randomCluster(seededRandom(seed), 200);
    for (const t of [small, render(cluster.services, cluster.slices)]) {
      await mustExec(ns.exec, 'iptables-restore', ['--test', '--noflush'], t);
    }
    // --test must really check: a broken rule is refused
    const broken = small.replace('--probability 0.3333333333', '--probability');
    await assert.rejects(mustExec(ns.exec, 'iptables-restore', ['--test', '--noflush'], broken), /iptables-restore/);
  });
});
