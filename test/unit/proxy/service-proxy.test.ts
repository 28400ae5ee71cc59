import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../../src/agent/logger.ts';
import { createChainNamer } from '../../../src/agent/proxy/chain-names.ts';
import type { ApplyResult, IptablesApplier } from '../../../src/agent/proxy/iptables-applier.ts';
import { serializeRuleSet, type RuleSet } from '../../../src/agent/proxy/restore-text.ts';
import { ENDPOINT_SLICES, createServiceProxy } from '../../../src/agent/proxy/service-proxy.ts';
import { createFakeObjectClient } from '../../support/fake-object-client.ts';
import { chainRules, service, slice } from './proxy-fixtures.ts';

const namer = createChainNamer();
const WEB = namer.svc('default/web:http', 'TCP');

function fakeApplier(opts: { fail?: () => boolean } = {}) {
  const applied: { text: string; full: boolean }[] = [];
  let jumps = 0;
  const applier: IptablesApplier = {
    async apply(rules: string | RuleSet, o?: { full?: boolean }): Promise<ApplyResult> {
      if (opts.fail?.()) throw new Error('iptables-restore: boom');
      const text = typeof rules === 'string' ? rules : serializeRuleSet(rules);
      applied.push({ text, full: o?.full === true });
      return { mode: o?.full ? 'full' : 'incremental', changedChains: 1, removedChains: 0, bytes: text.length, durationMs: 0 };
    },
    async ensureJumps() {
      jumps++;
    },
    async cleanup() {},
    reset() {},
  };
  return { applier, applied, jumps: () => jumps, last: () => applied.at(-1)?.text ?? '' };
}

async function setup(fail?: () => boolean) {
  const client = createFakeObjectClient();
  await client.create('nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' }, spec: {} });
  await client.create('services', service('web', { clusterIP: '10.96.0.10' }));
  await client.create(ENDPOINT_SLICES, slice('web', [{ ip: '10.244.2.5', node: 'n2' }]));
  const fake = fakeApplier({ fail });
  const proxy = createServiceProxy({ client, nodeName: 'n1', nodeIPs: ['192.168.50.10'], applier: fake.applier, logger: silentLogger(), minSyncIntervalMs: 5 });
  return { client, proxy, ...fake };
}

const targets = (text: string) => chainRules(text, 'nat', WEB).map((r) => /--to-destination (\S+)/.exec(r)?.[1]);

describe('service proxy', () => {
  it('starts with the jumps and a full sync of what the store holds', async () => {
    const { proxy, applied, jumps, last } = await setup();
    await proxy.start();
    assert.equal(jumps(), 1);
    assert.equal(applied.length, 1);
    assert.equal(applied[0]!.full, true);
    assert.deepEqual(targets(last()), ['10.244.2.5:8080']);
    const st = proxy.status();
    assert.equal(st.syncs, 1);
    assert.equal(st.servicePorts, 1);
    assert.equal(typeof st.lastSyncDurationMs, 'number');
    await proxy.stop();
  });

  it('follows endpoint changes incrementally, coalescing a burst into few syncs', async () => {
    const { client, proxy, applied, last } = await setup();
    await proxy.start();
    for (let i = 0; i < 40; i++) {
      const cur = client.get(ENDPOINT_SLICES, 'default', 'web-abc')!;
      await client.update(ENDPOINT_SLICES, { ...cur, endpoints: slice('web', [{ ip: `10.244.2.${10 + i}`, node: 'n2' }]).endpoints });
    }
    await proxy.idle();
    assert.deepEqual(targets(last()), ['10.244.2.49:8080']);
    assert.ok(applied.length < 40, `${applied.length} syncs for 40 changes`);
    assert.equal(applied.at(-1)!.full, false);
    await proxy.stop();
  });

  it('drops a deleted service\'s rules and picks up a new one', async () => {
    const { client, proxy, last } = await setup();
    await proxy.start();
    await client.create('services', service('api', { clusterIP: '10.96.0.11' }));
    await client.create(ENDPOINT_SLICES, slice('api', [{ ip: '10.244.3.5' }]));
    await client.delete('services', 'default', 'web');
    await proxy.idle();
    assert.deepEqual(chainRules(last(), 'nat', WEB), []);
    assert.equal(chainRules(last(), 'nat', namer.svc('default/api:http', 'TCP')).length, 1);
    assert.equal(proxy.status().servicePorts, 1);
    await proxy.stop();
  });

  it('re-renders every service when this node\'s pod CIDR arrives (endpoints become local)', async () => {
    const { client, proxy, last } = await setup();
    await client.update(ENDPOINT_SLICES, { ...client.get(ENDPOINT_SLICES, 'default', 'web-abc')!, endpoints: slice('web', [{ ip: '10.244.1.5' }]).endpoints });
    await proxy.start();
    assert.ok(!last().includes('hairpin'));
    const node = client.get('nodes', '', 'n1')!;
    await client.update('nodes', { ...node, spec: { podCIDR: '10.244.1.0/24' } });
    await proxy.idle();
    assert.ok(chainRules(last(), 'nat', 'MESH-POSTROUTING').some((r) => r.includes('-s 10.244.1.5/32 -d 10.244.1.5/32')));
    await proxy.stop();
  });

  it('records a failed sync and retries it', async () => {
    let failures = 1;
    const { proxy, applied } = await setup(() => failures-- > 0);
    await proxy.start();
    assert.equal(proxy.status().failures, 1);
    assert.match(proxy.status().lastError ?? '', /boom/);
    assert.equal(applied.length, 0);
    await proxy.idle(); // the retry (after a 1 s backoff)
    assert.equal(applied.length, 1);
    assert.equal(applied[0]!.full, true);
    assert.equal(proxy.status().lastError, undefined);
    await proxy.stop();
  });

  it('applies nothing after stop()', async () => {
    const { client, proxy, applied } = await setup();
    await proxy.start();
    await proxy.stop();
    const n = applied.length;
    await client.create('services', service('api', { clusterIP: '10.96.0.11' }));
    await proxy.idle();
    assert.equal(applied.length, n);
  });
});
