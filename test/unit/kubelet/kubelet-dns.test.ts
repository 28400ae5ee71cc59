import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod, PodSpec } from '../../../src/agent/api/object-types.ts';
import { silentLogger } from '../../../src/agent/logger.ts';
import { createFakeRuntime, type FakeRuntime } from '../../../src/agent/kubelet/fake-runtime.ts';
import { createKubelet, type Kubelet, type KubeletOptions } from '../../../src/agent/kubelet/kubelet.ts';
import { createFakeObjectClient, type FakeObjectClient } from '../../support/fake-object-client.ts';
import { waitFor } from '../../support/wait-for.ts';

const NODE = 'node-a';
const IMAGE = 'mesh.local/busybox:latest';

describe('kubelet pod DNS (fake runtime)', { timeout: 20_000 }, () => {
  let client: FakeObjectClient;
  let runtime: FakeRuntime;
  let kubelet: Kubelet | undefined;

  beforeEach(() => {
    client = createFakeObjectClient();
    runtime = createFakeRuntime();
    runtime.addImage(IMAGE);
  });
  afterEach(async () => {
    await kubelet?.stop();
    kubelet = undefined;
    await runtime.close();
  });

  async function start(extra: Partial<KubeletOptions>): Promise<void> {
    kubelet = createKubelet({ nodeName: NODE, client, runtime, logger: silentLogger(), podNetwork: 'meshnet', nodeAddress: '192.0.2.10', resyncMs: 200, ...extra });
    await kubelet.start();
  }

  async function runPod(name: string, spec: Partial<PodSpec> & Record<string, unknown> = {}, namespace = 'default') {
    await client.create<Pod>('pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace },
      spec: { nodeName: NODE, containers: [{ name: 'app', image: IMAGE, imagePullPolicy: 'Never' }], ...spec } as PodSpec,
    });
    await waitFor(() => client.get<Pod>('pods', namespace, name)?.status?.phase === 'Running', `${name} Running`);
    const mine = runtime.all().filter((c) => c.labels['io.mesh.pod.name'] === name);
    const sandbox = mine.find((c) => c.labels['io.mesh.container.kind'] === 'sandbox')!;
    const app = mine.find((c) => c.labels['io.mesh.container.kind'] === 'app')!;
    return { sandbox: runtime.specOf(sandbox.id)!, app: runtime.specOf(app.id)! };
  }

  it('gives ClusterFirst sandboxes the cluster DNS once it is known; app containers share the sandbox resolver', async () => {
    let address: string | undefined;
    await start({ clusterDns: () => address });
    const early = await runPod('early');
    assert.equal(early.sandbox.dns, undefined, 'no cluster DNS yet: the node resolver');

    address = '10.244.7.1';
    const web = await runPod('web', {}, 'shop');
    assert.deepEqual(web.sandbox.dns, {
      nameservers: ['10.244.7.1'],
      searches: ['shop.svc.cluster.local', 'svc.cluster.local', 'cluster.local'],
      options: ['ndots:5'],
    });
    assert.equal(web.app.dns, undefined);
    assert.match(web.app.networkMode ?? '', /^container:/);
  });

  it('honours dnsPolicy Default, None and dnsConfig', async () => {
    await start({ clusterDns: () => '10.244.7.1' });
    assert.equal((await runPod('host-resolver', { dnsPolicy: 'Default' })).sandbox.dns, undefined);
    const none = await runPod('own', { dnsPolicy: 'None', dnsConfig: { nameservers: ['203.0.113.9'], searches: ['x.example'] } });
    assert.deepEqual(none.sandbox.dns, { nameservers: ['203.0.113.9'], searches: ['x.example'], options: [] });
    const merged = await runPod('merged', { dnsConfig: { options: [{ name: 'ndots', value: '2' }] } });
    assert.deepEqual(merged.sandbox.dns?.options, ['ndots:2']);
    assert.deepEqual(merged.sandbox.dns?.nameservers, ['10.244.7.1']);
  });

  it('leaves sandboxes alone without a clusterDns option', async () => {
    await start({});
    assert.equal((await runPod('plain')).sandbox.dns, undefined);
  });
});
