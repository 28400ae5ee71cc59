import { createDockerRuntime } from '../../src/agent/kubelet/docker-runtime.ts';
import { silentLogger } from '../../src/agent/logger.ts';
import { runtimeContract } from '../unit/kubelet/runtime-contract.ts';

runtimeContract('docker', async () => {
  const runtime = createDockerRuntime({ logger: silentLogger() });
  const labels = { 'io.mesh.test': `docker-runtime-${process.pid}-${Date.now().toString(36)}` };
  return {
    runtime,
    image: 'mesh.local/busybox:latest',
    labels,
    cleanup: async () => {
      for (const c of await runtime.listContainers(labels)) await runtime.removeContainer(c.id);
      await runtime.close();
    },
  };
});
