// Kubelets on the real Docker runtime for e2e tests, all on one test node:
// registers the suite's hooks (image check, kubelets stopped after each test,
// the node's containers removed) so each test file only says what differs.
import { after, afterEach, before } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod, PodSpec } from '../../src/agent/api/object-types.ts';
import { silentLogger } from '../../src/agent/logger.ts';
import { createDockerRuntime } from '../../src/agent/kubelet/docker-runtime.ts';
import { createKubelet, type Kubelet, type KubeletOptions } from '../../src/agent/kubelet/kubelet.ts';
import type { ContainerRuntime } from '../../src/agent/kubelet/container-runtime.ts';
import type { FakeObjectClient } from './fake-object-client.ts';

export const BUSYBOX = 'mesh.local/busybox:latest';

export interface DockerKubelets {
  readonly runtime: ContainerRuntime;
  /** A kubelet for the test node on client (not started); stopped after the test. */
  kubelet(client: FakeObjectClient, extra?: Partial<KubeletOptions>): Kubelet;
  /** Stops one kubelet now, e.g. to start another in its place. */
  stop(k: Kubelet): Promise<void>;
  /** Creates a pod bound to the test node. */
  createPod(client: FakeObjectClient, name: string, spec: Partial<PodSpec>): Promise<Pod>;
}

/**
 * Call inside a describe(). `removeAfterEach` clears the node's containers after
 * every test instead of once at the end.
 */
export function useDockerKubelets(
  node: string,
  opts: { kubelet?: Partial<KubeletOptions>; podDefaults?: Partial<PodSpec>; removeAfterEach?: boolean } = {},
): DockerKubelets {
  const runtime = createDockerRuntime({ logger: silentLogger() });
  const kubelets: Kubelet[] = [];
  const removeContainers = async () => {
    for (const c of await runtime.listContainers({ 'io.mesh.node': node })) await runtime.removeContainer(c.id);
  };

  before(async () => {
    assert.ok(await runtime.imageId(BUSYBOX), `${BUSYBOX} must be built first (scripts/setup)`);
  });
  afterEach(async () => {
    for (const k of kubelets.splice(0)) await k.stop();
    if (opts.removeAfterEach) await removeContainers();
  });
  after(async () => {
    await removeContainers();
    await runtime.close();
  });

  return {
    runtime,
    kubelet(client, extra = {}) {
      const k = createKubelet({
        nodeName: node,
        client,
        runtime,
        logger: silentLogger(),
        podNetwork: 'bridge',
        backoff: { initialMs: 300, maxMs: 600 },
        resyncMs: 1000,
        ...opts.kubelet,
        ...extra,
      });
      kubelets.push(k);
      return k;
    },
    async stop(k) {
      const i = kubelets.indexOf(k);
      if (i >= 0) kubelets.splice(i, 1);
      await k.stop();
    },
    createPod(client, name, spec) {
      return client.create<Pod>('pods', {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace: 'default' },
        spec: { nodeName: node, containers: [], ...opts.podDefaults, ...spec } as PodSpec,
      });
    },
  };
}
