// Node groups: GPUs reported as nvidia.com/gpu, and taints applied at registration.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeObject } from '../../../src/agent/api/object-types.ts';
import { silentLogger } from '../../../src/agent/logger.ts';
import { createNodeStatus } from '../../../src/agent/kubelet/node-status.ts';
import { countNvidiaGpus } from '../../../src/agent/kubelet/gpu-detect.ts';
import { parseTaints } from '../../../src/agent/kubelet/taints.ts';
import { createFakeObjectClient } from '../../support/fake-object-client.ts';

describe('node groups', () => {
  it('counts /dev/nvidiaN devices, ignoring the control devices', async () => {
    const dev = await mkdtemp(join(tmpdir(), 'mesh-dev-'));
    try {
      assert.equal(countNvidiaGpus(dev), 0);
      for (const f of ['nvidia0', 'nvidia1', 'nvidiactl', 'nvidia-uvm', 'null']) await writeFile(join(dev, f), '');
      assert.equal(countNvidiaGpus(dev), 2);
      assert.equal(countNvidiaGpus(join(dev, 'missing')), 0);
    } finally {
      await rm(dev, { recursive: true, force: true });
    }
  });

  it('parses --register-with-taints and names the bad entry', () => {
    assert.deepEqual(parseTaints('gpu=true:NoSchedule, dedicated:NoExecute'), [
      { key: 'gpu', value: 'true', effect: 'NoSchedule' },
      { key: 'dedicated', effect: 'NoExecute' },
    ]);
    assert.deepEqual(parseTaints(undefined), []);
    assert.throws(() => parseTaints('gpu=true'), /invalid taint "gpu=true": use key\[=value\]:Effect/);
    assert.throws(() => parseTaints('gpu:Sometimes'), /effect must be one of NoSchedule, PreferNoSchedule, NoExecute/);
    assert.throws(() => parseTaints('bad key:NoSchedule'), /"bad key" is not a valid key/);
  });

  it('registers GPUs as capacity and the taints on the Node', async () => {
    const client = createFakeObjectClient();
    const reporter = createNodeStatus({
      nodeName: 'gpu-1',
      client,
      runtimeInfo: { name: 'docker', version: '20.10.24' },
      labels: { pool: 'gpu' },
      taints: [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }],
      gpus: 4,
      logger: silentLogger(),
      nodeAddress: '192.0.2.9',
      heartbeatMs: 60_000,
    });
    await reporter.start();
    try {
      const node = client.get<KubeObject & { spec: any; status: any }>('nodes', '', 'gpu-1')!;
      assert.equal(node.status.capacity['nvidia.com/gpu'], '4');
      assert.equal(node.status.allocatable['nvidia.com/gpu'], '4');
      assert.deepEqual(node.spec.taints, [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }]);
      assert.equal(node.metadata.labels?.pool, 'gpu');
    } finally {
      await reporter.stop();
    }
  });

  it('reports no GPU resource on a host without GPUs', async () => {
    const client = createFakeObjectClient();
    const reporter = createNodeStatus({
      nodeName: 'cpu-1', client, runtimeInfo: { name: 'docker', version: '1' }, gpus: 0, logger: silentLogger(), heartbeatMs: 60_000,
    });
    await reporter.start();
    try {
      const node = client.get<KubeObject & { status: any }>('nodes', '', 'cpu-1')!;
      assert.equal('nvidia.com/gpu' in node.status.capacity, false);
    } finally {
      await reporter.stop();
    }
  });
});
