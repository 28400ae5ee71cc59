// A node that was cut off and comes back drops the pods it no longer owns: once
// its store shows them deleted, bound elsewhere, or replaced (after
// anti-entropy), the kubelet stops and removes their containers, whether or not
// it saw a watch event for the change.
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { ObjectClient } from '../../../src/agent/api/object-client.ts';
import type { Pod, PodSpec } from '../../../src/agent/api/object-types.ts';
import type { StoreEvent } from '../../../src/agent/store/object-store.ts';
import { silentLogger } from '../../../src/agent/logger.ts';
import { createFakeRuntime, type FakeRuntime } from '../../../src/agent/kubelet/fake-runtime.ts';
import { createKubelet, type Kubelet } from '../../../src/agent/kubelet/kubelet.ts';
import { createFakeObjectClient, type FakeObjectClient } from '../../support/fake-object-client.ts';
import { waitFor } from '../../support/wait-for.ts';

const NODE = 'node-a';
const IMAGE = 'mesh.local/busybox:latest';

/** The kubelet's view of the store: while cut off, watch events never reach it. */
function partitionable(inner: FakeObjectClient): { client: ObjectClient; cut(): void; heal(): void } {
  let cut = false;
  return {
    client: {
      ...inner,
      watch: (resource, req, handler) => inner.watch(resource, req, (e: StoreEvent) => (cut ? undefined : handler(e))),
    },
    cut: () => (cut = true),
    heal: () => (cut = false),
  };
}

let inner: FakeObjectClient;
let runtime: FakeRuntime;
let kubelet: Kubelet;
let net: ReturnType<typeof partitionable>;

async function createPod(name: string, nodeName = NODE): Promise<Pod> {
  return inner.create<Pod>('pods', {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: { nodeName, containers: [{ name: 'app', image: IMAGE, imagePullPolicy: 'Never' }] } as PodSpec,
  });
}

const containersOfUid = (uid: string) => runtime.all().filter((c) => c.labels['io.mesh.pod.uid'] === uid);
const running = (uid: string) => containersOfUid(uid).filter((c) => c.state === 'running').length;

describe('kubelet after a partition heals', { timeout: 20_000 }, () => {
  beforeEach(async () => {
    runtime = createFakeRuntime();
    runtime.addImage(IMAGE);
    inner = createFakeObjectClient();
    net = partitionable(inner);
    kubelet = createKubelet({
      nodeName: NODE,
      client: net.client,
      runtime,
      logger: silentLogger(),
      podNetwork: 'meshnet',
      nodeAddress: '192.0.2.10',
      resyncMs: 100,
    });
    await kubelet.start();
  });
  afterEach(async () => {
    await kubelet.stop();
    await runtime.close();
  });

  it('removes the containers of a pod force-deleted elsewhere, with no event seen', async () => {
    const p = await createPod('evicted');
    await waitFor(() => running(p.metadata.uid!) === 2, 'sandbox and app running');
    net.cut();
    // The other side evicted it (grace 0); this agent's store gets the tombstone by anti-entropy.
    await inner.delete('pods', 'default', 'evicted', { gracePeriodSeconds: 0 });
    net.heal();
    await waitFor(() => containersOfUid(p.metadata.uid!).length === 0, 'containers removed');
  });

  it('keeps running a pod that is still its own while cut off', async () => {
    const p = await createPod('mine');
    await waitFor(() => running(p.metadata.uid!) === 2, 'running');
    const ids = containersOfUid(p.metadata.uid!).map((c) => c.id).sort();
    net.cut();
    await new Promise((r) => setTimeout(r, 300)); // a few resyncs
    assert.deepEqual(containersOfUid(p.metadata.uid!).map((c) => c.id).sort(), ids);
    assert.equal(running(p.metadata.uid!), 2);
  });

  it('removes the containers of a pod whose binding merged to another node (same uid)', async () => {
    const p = await createPod('rebound');
    await waitFor(() => running(p.metadata.uid!) === 2, 'running');
    // Two sides bound it concurrently; the merge kept the other node.
    const cur = inner.get<Pod>('pods', 'default', 'rebound')!;
    await inner.update('pods', { ...cur, spec: { ...cur.spec, nodeName: 'node-b' } });
    await waitFor(() => containersOfUid(p.metadata.uid!).length === 0, 'containers removed');
    assert.equal(inner.get<Pod>('pods', 'default', 'rebound')?.spec.nodeName, 'node-b', 'the object itself is left alone');
  });

  it('removes the containers of a pod replaced by a new one of the same name, bound elsewhere, unseen', async () => {
    const old = await createPod('web-0');
    await waitFor(() => running(old.metadata.uid!) === 2, 'running');
    net.cut();
    await inner.delete('pods', 'default', 'web-0', { gracePeriodSeconds: 0 });
    const replacement = await createPod('web-0', 'node-b');
    net.heal();
    await waitFor(() => containersOfUid(old.metadata.uid!).length === 0, 'old containers removed');
    assert.equal(containersOfUid(replacement.metadata.uid!).length, 0, 'nothing started for a pod of another node');
    assert.equal(inner.get<Pod>('pods', 'default', 'web-0')?.metadata.uid, replacement.metadata.uid, 'the replacement is untouched');
  });
});
