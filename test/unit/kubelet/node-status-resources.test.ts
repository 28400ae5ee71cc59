import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../src/agent/api/object-types.ts';
import { silentLogger } from '../../../src/agent/logger.ts';
import { createNodeStatus } from '../../../src/agent/kubelet/node-status.ts';
import { parseEvictionHard } from '../../../src/agent/kubelet/resource-flags.ts';
import { createFakeObjectClient } from '../../support/fake-object-client.ts';

type NodeStatus = {
  capacity: Record<string, string>;
  allocatable: Record<string, string>;
  conditions: { type: string; status: string; reason: string; lastTransitionTime: string }[];
};

describe('node status: allocatable and MemoryPressure', () => {
  it('reports allocatable minus reserved and the eviction threshold, and MemoryPressure from the hook', async () => {
    const client = createFakeObjectClient();
    let pressure = false;
    const reporter = createNodeStatus({
      nodeName: 'n1',
      client,
      runtimeInfo: { name: 'docker', version: '20.10.24' },
      logger: silentLogger(),
      nodeAddress: '192.0.2.7',
      gpus: 2,
      heartbeatMs: 60_000,
      reserved: { systemReserved: { cpu: '100m', memory: '100Mi' }, kubeReserved: { memory: '28Mi' }, evictionHard: parseEvictionHard('memory.available<100Mi') },
      memoryPressure: () => pressure,
    });
    await reporter.start();
    try {
      const get = () => client.get<KubeObject & { status: NodeStatus }>('nodes', '', 'n1')!.status;
      const st = get();
      const capKi = Number(st.capacity.memory.replace('Ki', ''));
      assert.equal(st.allocatable.memory, `${capKi - 228 * 1024}Ki`);
      assert.equal(st.allocatable.cpu, `${Number(st.capacity.cpu) * 1000 - 100}m`);
      assert.equal(st.allocatable['nvidia.com/gpu'], '2');
      assert.equal(st.capacity['nvidia.com/gpu'], '2');
      const mp = () => get().conditions.find((c) => c.type === 'MemoryPressure')!;
      assert.equal(mp().status, 'False');
      assert.equal(mp().reason, 'KubeletHasSufficientMemory');
      pressure = true;
      await reporter.heartbeat();
      assert.equal(mp().status, 'True');
      assert.equal(mp().reason, 'KubeletHasInsufficientMemory');
      pressure = false;
      await reporter.heartbeat();
      assert.equal(mp().status, 'False');
    } finally {
      await reporter.stop();
    }
  });
});
