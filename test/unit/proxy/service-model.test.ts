import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildServiceModel, cidrContains, isIPv4, type EndpointSliceInput, type ServiceInput } from '../../../src/agent/proxy/service-model.ts';
import { NODE, service, slice } from './proxy-fixtures.ts';

function model(services: ServiceInput[], slices: EndpointSliceInput[] = []) {
  return buildServiceModel({ services, endpointSlices: slices, node: NODE }).servicePorts;
}

describe('buildServiceModel', () => {
  it('leaves out ExternalName, headless and not yet allocated services, and SCTP ports', () => {
    const ports = model([
      service('ext', { type: 'ExternalName', externalName: 'example.org' } as ServiceInput['spec']),
      service('headless', { clusterIP: 'None' }),
      service('pending', {}),
      service('mixed', { clusterIP: '10.96.0.9', ports: [{ name: 'a', port: 80, protocol: 'SCTP' }, { name: 'b', port: 81, protocol: 'UDP' }] }),
    ]);
    assert.deepEqual(ports.map((p) => `${p.svcPortName}/${p.protocol}`), ['default/mixed:b/UDP']);
  });

  it('carries addresses, ports, affinity and policies', () => {
    const [lb, plain] = model([
      service(
        'lb',
        {
          type: 'LoadBalancer',
          clusterIP: '10.96.0.30',
          ports: [{ name: 'http', port: 80, nodePort: 30090 }],
          sessionAffinity: 'ClientIP',
          externalTrafficPolicy: 'Local',
          internalTrafficPolicy: 'Local',
        },
        { lbIps: ['192.168.50.201', 'fd00::1', '192.168.50.200'] },
      ),
      service('plain', { clusterIP: '10.96.0.31', ports: [{ port: 8080, nodePort: 30091 }], sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 30 } } }),
    ]);
    assert.equal(lb!.svcPortName, 'default/lb:http');
    assert.deepEqual(lb!.clusterIPs, ['10.96.0.30']);
    assert.deepEqual(lb!.loadBalancerIPs, ['192.168.50.200', '192.168.50.201']);
    assert.equal(lb!.nodePort, 30090);
    assert.deepEqual(lb!.sessionAffinity, { timeoutSeconds: 10800 });
    assert.equal(lb!.externalTrafficPolicy, 'Local');
    assert.equal(lb!.internalTrafficPolicy, 'Local');
    assert.equal(plain!.svcPortName, 'default/plain:');
    assert.equal(plain!.nodePort, undefined, 'a ClusterIP service has no NodePort');
    assert.deepEqual(plain!.sessionAffinity, { timeoutSeconds: 30 });
    assert.equal(plain!.externalTrafficPolicy, 'Cluster');
  });

  it('takes endpoints from the slices labelled with the service, by port name and protocol', () => {
    const [web] = model(
      [service('web', { clusterIP: '10.96.0.10' })],
      [
        slice('web', [{ ip: '10.244.2.7' }, { ip: '10.244.1.7' }]),
        slice('web', [{ ip: '10.244.3.7' }], { name: 'web-other-port', ports: [{ name: 'metrics', port: 9090 }] }),
        slice('web', [{ ip: '10.244.3.8' }], { name: 'web-udp', ports: [{ name: 'http', port: 8080, protocol: 'UDP' }] }),
        slice('web', [{ ip: '10.244.3.9' }], { name: 'web-elsewhere', namespace: 'other' }),
        slice('api', [{ ip: '10.244.3.10' }]),
      ],
    );
    assert.deepEqual(web!.endpoints.map((e) => `${e.ip}:${e.port}`), ['10.244.1.7:8080', '10.244.2.7:8080']);
  });

  it('uses ready endpoints, else serving-terminating ones, never others', () => {
    const mk = (eps: Parameters<typeof slice>[1]) => model([service('web', { clusterIP: '10.96.0.10' })], [slice('web', eps)])[0]!;
    const mixed = mk([
      { ip: '10.244.2.1' },
      { ip: '10.244.2.2', ready: false, serving: true, terminating: true },
      { ip: '10.244.2.3', ready: false, serving: false },
    ]);
    assert.deepEqual(mixed.clusterEndpoints.map((e) => e.ip), ['10.244.2.1']);
    assert.equal(mixed.endpoints.length, 3);
    const draining = mk([{ ip: '10.244.2.2', ready: false, serving: true, terminating: true }, { ip: '10.244.2.3', ready: false, serving: false, terminating: true }]);
    assert.deepEqual(draining.clusterEndpoints.map((e) => e.ip), ['10.244.2.2']);
    // serving but not terminating (e.g. a readiness blip) is not a fallback
    assert.deepEqual(mk([{ ip: '10.244.2.4', ready: false, serving: true, terminating: false }]).clusterEndpoints, []);
  });

  it('treats missing conditions as ready, as the API says, and keeps the more usable copy of a duplicate', () => {
    const noConditions: EndpointSliceInput = { ...slice('web', []), endpoints: [{ addresses: ['10.244.2.9'] }] };
    const [a] = model([service('web', { clusterIP: '10.96.0.10' })], [noConditions]);
    assert.deepEqual(a!.clusterEndpoints.map((e) => e.ip), ['10.244.2.9']);
    const [b] = model(
      [service('web', { clusterIP: '10.96.0.10' })],
      [slice('web', [{ ip: '10.244.2.5', ready: false, serving: false }], { name: 'old' }), slice('web', [{ ip: '10.244.2.5' }], { name: 'new' })],
    );
    assert.equal(b!.endpoints.length, 1);
    assert.equal(b!.endpoints[0]!.ready, true);
  });

  it('finds local endpoints by node name, pod CIDR or host address', () => {
    const [web] = model(
      [service('web', { clusterIP: '10.96.0.10' })],
      [slice('web', [{ ip: '10.244.2.5', node: 'n1' }, { ip: '10.244.1.77' }, { ip: '192.168.50.10' }, { ip: '10.244.3.5', node: 'n3' }])],
    );
    assert.deepEqual(web!.localEndpoints.map((e) => e.ip), ['10.244.1.77', '10.244.2.5', '192.168.50.10']);
    assert.equal(web!.clusterEndpoints.length, 4);
  });

  it('ignores addresses that are not plain IPv4, so nothing odd reaches the rules', () => {
    const [web] = model([service('web', { clusterIP: '10.96.0.10' })], [slice('web', [{ ip: '10.244.2.5 -j ACCEPT' }, { ip: 'fd00::5' }, { ip: '10.244.2.6' }])]);
    assert.deepEqual(web!.endpoints.map((e) => e.ip), ['10.244.2.6']);
    assert.equal(isIPv4('10.0.0.256'), false);
    assert.equal(cidrContains('10.244.1.0/24', '10.244.1.200'), true);
    assert.equal(cidrContains('10.244.1.0/24', '10.244.2.1'), false);
  });

  it('sorts service ports by name', () => {
    const ports = model([service('b', { clusterIP: '10.96.0.2' }), service('a', { clusterIP: '10.96.0.1' }, { namespace: 'z' }), service('a', { clusterIP: '10.96.0.3' })]);
    assert.deepEqual(ports.map((p) => p.svcPortName), ['default/a:http', 'default/b:http', 'z/a:http']);
  });
});
