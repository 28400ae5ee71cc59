// The kubelet with a pod network that becomes ready later (the managed one):
// sandboxes wait for it and join the network it names.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod, PodSpec } from '../../../src/agent/api/object-types.ts';
import { silentLogger } from '../../../src/agent/logger.ts';
import { createFakeRuntime } from '../../../src/agent/kubelet/fake-runtime.ts';
import { createKubelet } from '../../../src/agent/kubelet/kubelet.ts';
import { createFakeObjectClient } from '../../support/fake-object-client.ts';
import { waitFor } from '../../support/wait-for.ts';

const IMAGE = 'mesh.local/busybox:latest';

describe('kubelet waiting for the pod network', { timeout: 20_000 }, () => {
  it('starts host-network pods at once, others only once the network is ready, on that network', async () => {
    const runtime = createFakeRuntime();
    runtime.addImage(IMAGE);
    const client = createFakeObjectClient();
    let ready!: (name: string) => void;
    const podNetworkReady = new Promise<string>((r) => (ready = r));
    const kubelet = createKubelet({
      nodeName: 'n1',
      client,
      runtime,
      logger: silentLogger(),
      podNetwork: 'bridge',
      podNetworkReady,
      nodeAddress: '192.0.2.10',
      resyncMs: 100,
    });
    const create = (name: string, spec: Partial<PodSpec>) =>
      client.create<Pod>('pods', {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace: 'default' },
        spec: { nodeName: 'n1', containers: [{ name: 'main', image: IMAGE, imagePullPolicy: 'Never' }], ...spec } as PodSpec,
      });
    await create('web', {});
    await create('hostnet', { hostNetwork: true });
    await kubelet.start();
    try {
      const phase = (name: string) => client.get<Pod>('pods', 'default', name)?.status?.phase;
      await waitFor(() => phase('hostnet') === 'Running', 'the host-network pod to run');
      const sandboxesOf = (pod: string) => runtime.all().filter((c) => c.labels['io.mesh.pod.name'] === pod && c.labels['io.mesh.container.kind'] === 'sandbox');
      // A few resyncs go by without a sandbox for the pod-network pod.
      await new Promise((r) => setTimeout(r, 350));
      assert.equal(sandboxesOf('web').length, 0, 'a sandbox was created before the pod network was ready');
      assert.equal(phase('web'), 'Pending');

      ready('mesh-pods');
      await waitFor(() => phase('web') === 'Running', 'the pod to run once the network is ready');
      const [sandbox] = sandboxesOf('web');
      assert.equal(runtime.specOf(sandbox!.id)?.networkMode, 'mesh-pods');
      const podIP = client.get<Pod>('pods', 'default', 'web')?.status?.podIP;
      assert.equal(podIP, sandbox!.ipAddresses['mesh-pods']);
    } finally {
      await kubelet.stop();
    }
  });
});
