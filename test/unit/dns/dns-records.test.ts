import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Answer, SoaAnswer, SrvAnswer } from 'dns-packet';
import type { Pod } from '../../../src/agent/api/object-types.ts';
import {
  answerClusterQuestion,
  createListSource,
  dashedToIPv4,
  isClusterName,
  type ClusterRecordSource,
  type DnsResult,
  type EndpointSlice,
  type Service,
} from '../../../src/agent/dns/dns-records.ts';

function service(name: string, spec: Service['spec'], namespace = 'default'): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec };
}

function slice(
  serviceName: string,
  sliceName: string,
  endpoints: EndpointSlice['endpoints'],
  ports: EndpointSlice['ports'] = [],
  namespace = 'default',
): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: sliceName, namespace, labels: { 'kubernetes.io/service-name': serviceName } },
    addressType: 'IPv4',
    endpoints,
    ports,
  };
}

function pod(name: string, spec: Partial<Pod['spec']>, status: Pod['status'], namespace = 'default'): Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace }, spec: { containers: [], ...spec }, status };
}

const ready = { phase: 'Running' as const, conditions: [{ type: 'Ready', status: 'True' as const }] };
const notReady = { phase: 'Running' as const, conditions: [{ type: 'Ready', status: 'False' as const }] };

const services = [
  service('web', { clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }, { name: 'dns', port: 53, protocol: 'UDP' }, { port: 9000 }] }),
  service('db', { clusterIP: 'None', ports: [{ name: 'pg', port: 5432 }] }),
  service('empty', { clusterIP: 'None', ports: [{ name: 'x', port: 1 }] }),
  service('pending', { clusterIP: '', ports: [{ name: 'http', port: 80 }] }),
  service('ext', { type: 'ExternalName', externalName: 'example.org' }),
  service('alias', { type: 'ExternalName', externalName: 'web.default.svc.cluster.local.' }),
  service('loop', { type: 'ExternalName', externalName: 'loop.default.svc.cluster.local' }),
  service('peers', { clusterIP: 'None', publishNotReadyAddresses: true }),
  service('dual', { clusterIP: '10.96.0.11', clusterIPs: ['10.96.0.11', 'fd00::11'] }),
  service('api', { clusterIP: '10.96.5.5', ports: [{ name: 'https', port: 443 }] }, 'prod'),
];
const slices = [
  slice('db', 'db-1', [
    { addresses: ['10.244.1.5'], conditions: { ready: true }, hostname: 'db-0' },
    { addresses: ['10.244.2.7'], hostname: 'db-1' },
    { addresses: ['10.244.3.9'], conditions: { ready: false }, hostname: 'db-2' },
  ], [{ name: 'pg', port: 15432, protocol: 'TCP' }]),
  slice('db', 'db-2', [{ addresses: ['10.244.4.2'], conditions: { ready: true } }], [{ name: 'pg', port: 15432 }]),
  // Another service's slice in the same namespace, and one of the same name elsewhere.
  slice('web', 'web-1', [{ addresses: ['10.244.1.20'] }], [{ name: 'http', port: 8080 }]),
  slice('db', 'db-other', [{ addresses: ['10.244.9.9'] }], [{ name: 'pg', port: 1 }], 'prod'),
];
const pods = [
  pod('peer-a', { hostname: 'peer-a', subdomain: 'peers' }, { ...ready, podIP: '10.244.5.1' }),
  pod('peer-b', { hostname: 'peer-b', subdomain: 'peers' }, { ...notReady, podIP: '10.244.5.2' }),
  pod('solo', { hostname: 'solo', subdomain: 'empty' }, { ...notReady, podIP: '10.244.6.1' }),
  pod('solo-ready', { hostname: 'solo-ready', subdomain: 'empty' }, { ...ready, podIP: '10.244.6.2' }),
  pod('gone', { hostname: 'gone', subdomain: 'empty' }, { phase: 'Succeeded', conditions: ready.conditions, podIP: '10.244.6.3' }),
  pod('nosub', { hostname: 'nosub', subdomain: 'web' }, { ...ready, podIP: '10.244.6.4' }),
];
const source = createListSource({ services, endpointSlices: slices, pods, namespaces: ['default', 'prod', 'kube-system'] });

function ask(name: string, type = 'A', src: ClusterRecordSource = source): DnsResult {
  return answerClusterQuestion(src, { name, type });
}

function data(answers: Answer[], type?: string): unknown[] {
  return answers.filter((a) => !type || a.type === type).map((a) => (a as { data: unknown }).data);
}

function assertNxdomain(r: DnsResult, what: string): void {
  assert.equal(r.rcode, 'NXDOMAIN', what);
  assert.equal(r.answers.length, 0, what);
  const soa = r.authorities[0] as SoaAnswer;
  assert.equal(soa?.type, 'SOA', `${what}: SOA in authority`);
  assert.equal(soa.name, 'cluster.local');
  assert.ok((soa.ttl ?? 0) >= 5 && (soa.ttl ?? 0) <= 30, `${what}: SOA TTL ${soa.ttl}`);
  assert.ok((soa.data.minimum ?? 0) >= 5 && (soa.data.minimum ?? 0) <= 30, `${what}: negative TTL`);
}

function assertNodata(r: DnsResult, what: string): void {
  assert.equal(r.rcode, 'NOERROR', what);
  assert.deepEqual(r.answers, [], what);
  assert.equal(r.authorities[0]?.type, 'SOA', `${what}: SOA in authority`);
}

describe('cluster DNS records', () => {
  it('answers a service name with its IPv4 ClusterIPs, TTL 5, in any case and with a trailing dot', () => {
    for (const name of ['web.default.svc.cluster.local', 'WEB.Default.SVC.cluster.local.']) {
      const r = ask(name);
      assert.equal(r.rcode, 'NOERROR');
      assert.deepEqual(data(r.answers), ['10.96.0.10']);
      assert.equal(r.answers[0].name, name, 'the owner name is the question as asked');
      assert.equal(r.answers[0].type, 'A');
      assert.equal((r.answers[0] as { ttl?: number }).ttl, 5);
    }
    assert.deepEqual(data(ask('api.prod.svc.cluster.local').answers), ['10.96.5.5']);
    assertNodata(ask('pending.default.svc.cluster.local'), 'a service without a ClusterIP yet');
    // Mesh allocates IPv4 only; were a service dual-stack, each family would go to its own type.
    assert.deepEqual(data(ask('dual.default.svc.cluster.local').answers), ['10.96.0.11']);
    assert.deepEqual(data(ask('dual.default.svc.cluster.local', 'AAAA').answers), ['fd00::11']);
  });

  it('gives AAAA and other types of existing names an empty NOERROR', () => {
    for (const [name, type] of [
      ['web.default.svc.cluster.local', 'AAAA'],
      ['web.default.svc.cluster.local', 'TXT'],
      ['db.default.svc.cluster.local', 'AAAA'],
      ['db-0.db.default.svc.cluster.local', 'AAAA'],
      ['10-244-1-5.default.pod.cluster.local', 'AAAA'],
      ['_http._tcp.web.default.svc.cluster.local', 'A'],
      ['default.svc.cluster.local', 'A'],
      ['svc.cluster.local', 'A'],
      ['cluster.local', 'A'],
    ] as const) {
      assertNodata(ask(name, type), `${type} ${name}`);
    }
  });

  it('answers a headless service with every ready endpoint address of its slices', () => {
    const r = ask('db.default.svc.cluster.local');
    assert.deepEqual(data(r.answers).sort(), ['10.244.1.5', '10.244.2.7', '10.244.4.2']);
    assert.ok(r.answers.every((a) => a.type === 'A' && a.name === 'db.default.svc.cluster.local'));
    assertNodata(ask('empty.default.svc.cluster.local'), 'headless without endpoints');
  });

  it('answers an ExternalName service with a CNAME, followed only inside the cluster', () => {
    const ext = ask('ext.default.svc.cluster.local');
    assert.equal(ext.rcode, 'NOERROR');
    assert.deepEqual(ext.answers.map((a) => [a.type, a.name, (a as { data: unknown }).data]), [['CNAME', 'ext.default.svc.cluster.local', 'example.org']]);

    const alias = ask('alias.default.svc.cluster.local');
    assert.deepEqual(alias.answers.map((a) => [a.type, a.name, (a as { data: unknown }).data]), [
      ['CNAME', 'alias.default.svc.cluster.local', 'web.default.svc.cluster.local'],
      ['A', 'web.default.svc.cluster.local', '10.96.0.10'],
    ]);
    assert.deepEqual(ask('alias.default.svc.cluster.local', 'CNAME').answers.map((a) => a.type), ['CNAME'], 'a CNAME question is not chased');
    const aaaa = ask('alias.default.svc.cluster.local', 'AAAA');
    assert.deepEqual(aaaa.answers.map((a) => a.type), ['CNAME']);

    const loop = ask('loop.default.svc.cluster.local');
    assert.ok(loop.answers.length > 1 && loop.answers.length <= 10, `a CNAME loop stops (${loop.answers.length} records)`);
    assert.ok(loop.answers.every((a) => a.type === 'CNAME'));
  });

  it('answers SRV for a named port with the service port and the service name as target', () => {
    const r = ask('_http._tcp.web.default.svc.cluster.local', 'SRV');
    assert.equal(r.rcode, 'NOERROR');
    assert.equal(r.answers.length, 1);
    const srv = r.answers[0] as SrvAnswer;
    assert.equal(srv.type, 'SRV');
    assert.equal(srv.data.port, 80);
    assert.equal(srv.data.target, 'web.default.svc.cluster.local');
    assert.deepEqual(r.additionals.map((a) => [a.type, a.name, (a as { data: unknown }).data]), [['A', 'web.default.svc.cluster.local', '10.96.0.10']]);

    const udp = ask('_dns._udp.web.default.svc.cluster.local', 'SRV');
    assert.equal((udp.answers[0] as SrvAnswer).data.port, 53);
    assertNxdomain(ask('_dns._tcp.web.default.svc.cluster.local', 'SRV'), 'wrong protocol');
    assertNxdomain(ask('_nope._tcp.web.default.svc.cluster.local', 'SRV'), 'unknown port name');
    assertNxdomain(ask('http.tcp.web.default.svc.cluster.local', 'SRV'), 'labels without underscores');

    const all = ask('web.default.svc.cluster.local', 'SRV');
    assert.deepEqual(all.answers.map((a) => (a as SrvAnswer).data.port).sort(), [53, 80], 'the bare name lists every named port');
  });

  it('answers SRV for a headless service per ready endpoint, with endpoint ports and hostnames', () => {
    const r = ask('_pg._tcp.db.default.svc.cluster.local', 'SRV');
    const srv = r.answers as SrvAnswer[];
    assert.deepEqual(srv.map((a) => a.data.target).sort(), [
      '10-244-4-2.db.default.svc.cluster.local',
      'db-0.db.default.svc.cluster.local',
      'db-1.db.default.svc.cluster.local',
    ]);
    assert.ok(srv.every((a) => a.data.port === 15432), 'the endpoint (target) port');
    const extra = new Map(r.additionals.map((a) => [a.name, (a as { data: unknown }).data]));
    assert.deepEqual(Object.fromEntries(extra), {
      'db-0.db.default.svc.cluster.local': '10.244.1.5',
      'db-1.db.default.svc.cluster.local': '10.244.2.7',
      '10-244-4-2.db.default.svc.cluster.local': '10.244.4.2',
    });
    // Every target resolves.
    for (const a of srv) assert.deepEqual(data(ask(a.data.target).answers), [extra.get(a.data.target)], a.data.target);
  });

  it('answers per-pod names from slice hostnames, or from pod hostname+subdomain under a headless service', () => {
    assert.deepEqual(data(ask('db-0.db.default.svc.cluster.local').answers), ['10.244.1.5']);
    assert.deepEqual(data(ask('db-1.db.default.svc.cluster.local').answers), ['10.244.2.7']);
    assertNxdomain(ask('db-2.db.default.svc.cluster.local'), 'a not-ready endpoint');
    assertNxdomain(ask('db-9.db.default.svc.cluster.local'), 'an unknown hostname');

    assert.deepEqual(data(ask('solo-ready.empty.default.svc.cluster.local').answers), ['10.244.6.2']);
    assertNxdomain(ask('solo.empty.default.svc.cluster.local'), 'a not-ready pod');
    assertNxdomain(ask('gone.empty.default.svc.cluster.local'), 'a finished pod');
    assert.deepEqual(data(ask('peer-b.peers.default.svc.cluster.local').answers), ['10.244.5.2'], 'publishNotReadyAddresses');
    assertNxdomain(ask('nosub.web.default.svc.cluster.local'), 'the subdomain service is not headless');
    assertNxdomain(ask('peer-a.nothere.default.svc.cluster.local'), 'no service named like the subdomain');
  });

  it('answers <a-b-c-d>.<ns>.pod names with that address', () => {
    const r = ask('10-244-1-5.default.pod.cluster.local');
    assert.deepEqual(data(r.answers, 'A'), ['10.244.1.5']);
    assert.deepEqual(data(ask('192-0-2-1.kube-system.pod.cluster.local').answers), ['192.0.2.1']);
    assertNxdomain(ask('10-244-1-256.default.pod.cluster.local'), 'octet out of range');
    assertNxdomain(ask('10-244-1.default.pod.cluster.local'), 'three octets');
    assertNxdomain(ask('x.10-244-1-5.default.pod.cluster.local'), 'extra label');
    assert.equal(dashedToIPv4('1-2-3-4'), '1.2.3.4');
    assert.equal(dashedToIPv4('a-2-3-4'), undefined);
  });

  it('answers NXDOMAIN with an SOA for unknown names under the cluster domain', () => {
    for (const name of [
      'nothere.default.svc.cluster.local',
      'web.nons.svc.cluster.local',
      'web.prod.svc.cluster.local',
      'nons.svc.cluster.local',
      'web.default.cluster.local',
      'foo.cluster.local',
      'we_b.default.svc.cluster.local',
      'a.b.c.d.web.default.svc.cluster.local',
    ]) {
      assertNxdomain(ask(name), name);
    }
  });

  it('answers search-path expansions of absolute names with NXDOMAIN without looking anything up', () => {
    let lookups = 0;
    const counting: ClusterRecordSource = {
      service: (ns, n) => (lookups++, source.service(ns, n)),
      endpointSlices: (ns, n) => (lookups++, source.endpointSlices(ns, n)),
      pods: (ns) => (lookups++, source.pods(ns)),
      namespaceExists: (ns) => (lookups++, source.namespaceExists(ns)),
    };
    for (const name of [
      'web.default.svc.cluster.local.default.svc.cluster.local',
      'web.default.svc.cluster.local.svc.cluster.local',
      'web.default.svc.cluster.local.cluster.local',
    ]) {
      assertNxdomain(ask(name, 'A', counting), name);
    }
    assert.equal(lookups, 0);
  });

  it('answers the zone apex SOA and tells cluster names from others', () => {
    const r = ask('cluster.local', 'SOA');
    assert.equal(r.answers[0]?.type, 'SOA');
    assert.equal(isClusterName('web.default.svc.cluster.local.'), true);
    assert.equal(isClusterName('CLUSTER.LOCAL'), true);
    assert.equal(isClusterName('example.org'), false);
    assert.equal(isClusterName('notcluster.local'), false);
  });

  it('follows a custom cluster domain', () => {
    const r = answerClusterQuestion(source, { name: 'web.default.svc.mesh.example', type: 'A' }, { domain: 'mesh.example' });
    assert.deepEqual(data(r.answers), ['10.96.0.10']);
    assertNxdomain(ask('web.default.svc.mesh.example'), 'outside the default domain');
  });
});
