import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../src/agent/api/object-types.ts';
import {
  addressLabel,
  announcedIps,
  interfaceOf,
  parseAddressJson,
  planLbAddresses,
  type InterfaceAddress,
} from '../../../src/agent/proxy/lb-announce-plan.ts';

function svc(uid: string, type: string, ips: string[]): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: uid, namespace: 'default', uid },
    spec: { type },
    status: { loadBalancer: { ingress: ips.map((ip) => ({ ip })) } },
  } as KubeObject;
}

describe('announcedIps', () => {
  it('takes the IPv4 ingress IPs of the LoadBalancer services this node announces', () => {
    const announcer = new Map([['a', 'me'], ['b', 'other'], ['c', 'me'], ['d', 'me'], ['e', 'me']]);
    const deleting = svc('e', 'LoadBalancer', ['10.77.0.205']);
    deleting.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
    const got = announcedIps(
      [
        svc('a', 'LoadBalancer', ['10.77.0.201', 'fd00::1']),
        svc('b', 'LoadBalancer', ['10.77.0.202']),
        svc('c', 'LoadBalancer', ['10.77.0.200']),
        svc('d', 'ClusterIP', ['10.77.0.204']),
        deleting,
        svc('f', 'LoadBalancer', ['10.77.0.206']),
      ],
      'me',
      (uid) => announcer.get(uid),
    );
    assert.deepEqual(got, ['10.77.0.200', '10.77.0.201']);
  });
});

describe('addresses on the LAN interface', () => {
  const text = JSON.stringify([
    { ifname: 'lo', addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8, label: 'lo' }] },
    {
      ifname: 'eth0',
      addr_info: [
        { family: 'inet', local: '10.77.0.11', prefixlen: 24, label: 'eth0' },
        { family: 'inet', local: '10.77.0.200', prefixlen: 32, label: 'eth0:mlb' },
        { family: 'inet6', local: 'fe80::1', prefixlen: 64 },
      ],
    },
  ]);

  it('parses ip -j addr and finds the interface of the node address', () => {
    const addrs = parseAddressJson(text);
    assert.deepEqual(addrs.map((a) => `${a.ifname} ${a.ip}/${a.prefixlen} ${a.label}`), ['lo 127.0.0.1/8 lo', 'eth0 10.77.0.11/24 eth0', 'eth0 10.77.0.200/32 eth0:mlb']);
    assert.equal(interfaceOf(addrs, '10.77.0.11'), 'eth0');
    assert.equal(interfaceOf(addrs, '10.77.0.99'), undefined);
  });

  it('labels our addresses when the name leaves room (15 characters at most)', () => {
    assert.equal(addressLabel('eth0'), 'eth0:mlb');
    assert.equal(addressLabel('enp0s31f6ab'), 'enp0s31f6ab:mlb');
    assert.equal(addressLabel('enp0s31f6abc'), undefined);
  });

  it('adds what is missing, removes only our own addresses that are no longer wanted', () => {
    const onDev: InterfaceAddress[] = [
      { ifname: 'eth0', ip: '10.77.0.11', prefixlen: 24, label: 'eth0' },
      { ifname: 'eth0', ip: '10.77.0.200', prefixlen: 32, label: 'eth0:mlb' },
      { ifname: 'eth0', ip: '10.77.0.201', prefixlen: 32, label: 'eth0:mlb' },
      // An admin's /32 without our label: never ours.
      { ifname: 'eth0', ip: '10.77.0.250', prefixlen: 32, label: 'eth0' },
    ];
    assert.deepEqual(planLbAddresses(onDev, ['10.77.0.201', '10.77.0.202'], 'eth0:mlb'), { add: ['10.77.0.202'], remove: ['10.77.0.200'] });
    assert.deepEqual(planLbAddresses(onDev, ['10.77.0.250'], 'eth0:mlb'), { add: [], remove: ['10.77.0.200', '10.77.0.201'] }, 'an address already there is not added again');
    assert.deepEqual(planLbAddresses(onDev, [], 'eth0:mlb').remove, ['10.77.0.200', '10.77.0.201']);
  });

  it('without a label, removes only what this process added', () => {
    const onDev: InterfaceAddress[] = [
      { ifname: 'longinterface0', ip: '10.77.0.200', prefixlen: 32 },
      { ifname: 'longinterface0', ip: '10.77.0.250', prefixlen: 32 },
    ];
    assert.deepEqual(planLbAddresses(onDev, [], undefined, new Set(['10.77.0.200'])), { add: [], remove: ['10.77.0.200'] });
  });
});
