import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod, PodSpec } from '../../../src/agent/api/object-types.ts';
import { podDnsSettings, type PodDnsConfig, type PodDnsInputs } from '../../../src/agent/kubelet/pod-dns.ts';
import { parseResolvConf } from '../../../src/agent/dns/resolv-conf.ts';

const HOST_RESOLV = 'nameserver 192.0.2.53\nsearch corp.example\noptions edns0 ndots:2\n';

function pod(spec: Partial<PodSpec> & { dnsConfig?: PodDnsConfig }, namespace = 'shop'): Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace }, spec: { containers: [], ...spec } as PodSpec };
}

function inputs(opts: { clusterDns?: string } = { clusterDns: '10.244.3.1' }): PodDnsInputs & { reads: number } {
  const i = {
    reads: 0,
    clusterDns: opts.clusterDns,
    clusterDomain: 'cluster.local',
    hostResolvConf: () => {
      i.reads++;
      return parseResolvConf(HOST_RESOLV);
    },
  };
  return i;
}

describe('pod DNS settings', () => {
  it('points ClusterFirst pods (the default) at the cluster DNS with the namespace search path and ndots:5', () => {
    const want = { nameservers: ['10.244.3.1'], searches: ['shop.svc.cluster.local', 'svc.cluster.local', 'cluster.local'], options: ['ndots:5'] };
    assert.deepEqual(podDnsSettings(pod({}), inputs()), want);
    assert.deepEqual(podDnsSettings(pod({ dnsPolicy: 'ClusterFirst' }), inputs()), want);
    assert.deepEqual(podDnsSettings(pod({}, 'default'), inputs())?.searches[0], 'default.svc.cluster.local');
  });

  it('leaves the node resolver to Default pods, host-network ClusterFirst pods, and pods of a node without cluster DNS', () => {
    const i = inputs();
    assert.equal(podDnsSettings(pod({ dnsPolicy: 'Default' }), i), undefined);
    assert.equal(podDnsSettings(pod({ hostNetwork: true }), i), undefined);
    assert.equal(podDnsSettings(pod({}), inputs({})), undefined);
    assert.equal(i.reads, 0, 'the node resolv.conf is not read when nothing merges into it');
    assert.deepEqual(podDnsSettings(pod({ hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' }), i)?.nameservers, ['10.244.3.1']);
  });

  it('merges dnsConfig into ClusterFirst settings as Kubernetes does', () => {
    const dnsConfig = {
      nameservers: ['10.244.3.1', '198.51.100.1', '198.51.100.2', '198.51.100.3'],
      searches: ['svc.cluster.local', 'extra.example'],
      options: [{ name: 'ndots', value: '2' }, { name: 'edns0' }],
    };
    assert.deepEqual(podDnsSettings(pod({ dnsConfig }), inputs()), {
      nameservers: ['10.244.3.1', '198.51.100.1', '198.51.100.2'],
      searches: ['shop.svc.cluster.local', 'svc.cluster.local', 'cluster.local', 'extra.example'],
      options: ['ndots:2', 'edns0'],
    });
  });

  it('merges dnsConfig into the node resolv.conf for Default pods', () => {
    const i = inputs();
    const got = podDnsSettings(pod({ dnsPolicy: 'Default', dnsConfig: { searches: ['a.example'], options: [{ name: 'ndots', value: '1' }, { name: 'rotate' }] } }), i);
    assert.deepEqual(got, { nameservers: ['192.0.2.53'], searches: ['corp.example', 'a.example'], options: ['edns0', 'ndots:1', 'rotate'] });
    assert.equal(i.reads, 1);
  });

  it('uses dnsConfig alone for None pods', () => {
    const dnsConfig = { nameservers: ['203.0.113.9'], searches: ['only.example'], options: [{ name: 'timeout', value: '1' }] };
    assert.deepEqual(podDnsSettings(pod({ dnsPolicy: 'None', dnsConfig }), inputs()), {
      nameservers: ['203.0.113.9'],
      searches: ['only.example'],
      options: ['timeout:1'],
    });
  });

  it('reads resolv.conf lines, comments and the last search line', () => {
    assert.deepEqual(parseResolvConf('# x\nnameserver 1.1.1.1\nsearch a b\nnameserver 2.2.2.2 # y\nsearch c\noptions ndots:1\noptions attempts:2\n'), {
      nameservers: ['1.1.1.1', '2.2.2.2'],
      searches: ['c'],
      options: ['ndots:1', 'attempts:2'],
    });
  });
});
