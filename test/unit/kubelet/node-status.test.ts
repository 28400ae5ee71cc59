import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../src/agent/api/object-types.ts';
import { silentLogger } from '../../../src/agent/logger.ts';
import { createNodeStatus } from '../../../src/agent/kubelet/node-status.ts';
import { createFakeObjectClient } from '../../support/fake-object-client.ts';
import { waitFor } from '../../support/wait-for.ts';

type NodeStatus = {
  capacity: Record<string, string>;
  allocatable: Record<string, string>;
  addresses: { type: string; address: string }[];
  nodeInfo: Record<string, string>;
  conditions: { type: string; status: string; lastHeartbeatTime: string; lastTransitionTime: string }[];
};

describe('node status', () => {
  it('registers the node with capacity, addresses, labels and info, then heartbeats', async () => {
    const client = createFakeObjectClient();
    const reporter = createNodeStatus({
      nodeName: 'n1',
      client,
      runtimeInfo: { name: 'docker', version: '20.10.24' },
      labels: { 'mesh.io/zone': 'a' },
      logger: silentLogger(),
      nodeAddress: '192.0.2.7',
      heartbeatMs: 50,
    });
    await reporter.start();
    try {
      const node = client.get<KubeObject & { status: NodeStatus }>('nodes', '', 'n1')!;
      assert.equal(node.metadata.labels?.['kubernetes.io/hostname'], 'n1');
      assert.equal(node.metadata.labels?.['kubernetes.io/os'], 'linux');
      assert.ok(node.metadata.labels?.['kubernetes.io/arch']);
      assert.equal(node.metadata.labels?.['mesh.io/zone'], 'a');
      const st = node.status;
      assert.ok(Number(st.capacity.cpu) >= 1);
      assert.match(st.capacity.memory, /^\d+Ki$/);
      assert.match(st.capacity['ephemeral-storage'], /^[1-9]\d*Ki$/);
      assert.equal(st.capacity.pods, '110');
      assert.deepEqual(st.allocatable, st.capacity);
      assert.deepEqual(st.addresses, [
        { type: 'InternalIP', address: '192.0.2.7' },
        { type: 'Hostname', address: 'n1' },
      ]);
      assert.equal(st.nodeInfo.containerRuntimeVersion, 'docker://20.10.24');
      assert.equal(st.nodeInfo.kubeletVersion, 'v1.32.0-mesh.0.1.0');
      assert.equal(st.nodeInfo.operatingSystem, 'linux');
      assert.ok(st.nodeInfo.osImage && st.nodeInfo.kernelVersion);
      const ready = st.conditions.find((c) => c.type === 'Ready')!;
      assert.equal(ready.status, 'True');
      const firstBeat = ready.lastHeartbeatTime;
      await waitFor(() => {
        const now = client.get<KubeObject & { status: NodeStatus }>('nodes', '', 'n1')!.status.conditions.find((c) => c.type === 'Ready')!;
        return now.lastHeartbeatTime > firstBeat && now.lastTransitionTime === ready.lastTransitionTime;
      }, 'a newer heartbeat with the same transition time', 2000);
    } finally {
      await reporter.stop();
    }
    // A second registration updates the existing object rather than failing.
    const again = createNodeStatus({ nodeName: 'n1', client, runtimeInfo: { name: 'docker', version: '1' }, labels: { extra: 'yes' }, logger: silentLogger() });
    await again.start();
    await again.stop();
    const node = client.get<KubeObject & { status: NodeStatus }>('nodes', '', 'n1')!;
    assert.equal(node.metadata.labels?.extra, 'yes');
    assert.equal(node.status.nodeInfo.containerRuntimeVersion, 'docker://1');
  });
});
