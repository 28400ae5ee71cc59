import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { KubeObject, Pod, PodSpec } from '../../../src/agent/api/object-types.ts';
import { silentLogger } from '../../../src/agent/logger.ts';
import { createMemoryStore } from '../../../src/agent/store/memory-store.ts';
import { createRegistry, type Registry } from '../../../src/agent/api/registry.ts';
import { createSecretBackend } from '../../../src/agent/api/secret-backend.ts';
import { createFakeRuntime, type FakeRuntime } from '../../../src/agent/kubelet/fake-runtime.ts';
import { createKubelet, type Kubelet } from '../../../src/agent/kubelet/kubelet.ts';
import { createClusterFsm } from '../../../src/consensus/cluster-fsm.ts';
import { createSecretSealer } from '../../../src/consensus/secret-crypto.ts';
import { createPodSecretFetcher, createSecretReader } from '../../../src/consensus/secret-reader.ts';
import { createSecretRequestHandler } from '../../../src/consensus/secret-requests.ts';
import { createMemoryRaftNetwork } from '../../../src/consensus/memory-raft-transport.ts';
import type { ObjectStore } from '../../../src/agent/store/object-store.ts';
import { createFakeRaftNode, type FakeRaftNode } from '../../support/fake-raft-node.ts';
import { waitFor } from '../../support/wait-for.ts';
import { boundPod, testKubeletOptions } from './kubelet-harness.ts';

const NODE = 'node-a';
const IMAGE = 'mesh.local/busybox:latest';
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('kubelet: Secrets fetched through the Raft leader', { timeout: 20_000 }, () => {
  let registry: Registry;
  let store: ObjectStore;
  let runtime: FakeRuntime;
  let leaderRaft: FakeRaftNode;
  let kubelet: Kubelet;

  beforeEach(async () => {
    const fsm = createClusterFsm();
    const sealer = createSecretSealer(new Uint8Array(randomBytes(32)));
    const net = createMemoryRaftNetwork();
    // The leader is another agent; this node is a plain member that shares the store (as gossip would make it).
    leaderRaft = createFakeRaftNode({ fsm, id: 'leader' });
    const leaderTransport = net.transport('leader');
    store = createMemoryStore();
    await store.start();
    const reader = createSecretReader({ raftNode: leaderRaft, fsm, transport: leaderTransport, sealer });
    registry = createRegistry({ store, logger: silentLogger(), secrets: createSecretBackend({ raftNode: leaderRaft, sealer, reader, logger: silentLogger() }) });
    await registry.ensureDefaultNamespaces();
    const handler = createSecretRequestHandler({ raftNode: leaderRaft, fsm, pods: () => registry.list<Pod>('pods').items, logger: silentLogger() });
    leaderTransport.onRequest(handler);

    const nodeRaft = createFakeRaftNode({ fsm, id: NODE, leading: false, inGroup: false });
    nodeRaft.setLeader('leader');
    runtime = createFakeRuntime();
    runtime.addImage(IMAGE);
    kubelet = createKubelet(
      testKubeletOptions({
        nodeName: NODE,
        client: registry,
        runtime,
        secrets: createPodSecretFetcher({ nodeName: NODE, raftNode: nodeRaft, transport: net.transport(NODE), sealer, localHandler: handler }),
      }),
    );
    await kubelet.start();
  });

  afterEach(async () => {
    await kubelet.stop();
    await runtime.close();
    await store.stop();
  });

  function podEnv(name: string): Record<string, string> | undefined {
    const c = runtime.all().find((x) => x.labels['io.mesh.pod.name'] === name && x.labels['io.mesh.container.kind'] === 'app');
    const env = c && runtime.specOf(c.id)?.env;
    return env && Object.fromEntries(env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  }

  async function createPod(name: string, spec: Partial<PodSpec>): Promise<Pod> {
    return registry.create<Pod>('pods', boundPod(name, NODE, spec));
  }

  const waiting = (name: string) => {
    const c = registry.get<Pod>('pods', 'default', name)?.status?.containerStatuses?.[0];
    return c && 'waiting' in c.state ? c.state.waiting : undefined;
  };

  it('starts a container with secretKeyRef and envFrom values the store never held', async () => {
    await registry.create('secrets', {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'creds', namespace: 'default' },
      data: { password: b64('s3cret-pw'), user: b64('admin') },
    } as KubeObject);
    assert.deepEqual(registry.get('secrets', 'default', 'creds')?.data, { password: '', user: '' });
    await createPod('app', {
      containers: [
        {
          name: 'app',
          image: IMAGE,
          imagePullPolicy: 'Never',
          envFrom: [{ secretRef: { name: 'creds' }, prefix: 'DB_' }],
          env: [
            { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'creds', key: 'password' } } },
            { name: 'OPT', valueFrom: { secretKeyRef: { name: 'absent', key: 'k', optional: true } } },
          ],
        },
      ],
    });
    await waitFor(() => registry.get<Pod>('pods', 'default', 'app')?.status?.phase === 'Running', 'Running');
    assert.deepEqual(podEnv('app'), { DB_password: 's3cret-pw', DB_user: 'admin', PASSWORD: 's3cret-pw' });
  });

  it('waits with CreateContainerConfigError while the secrets cannot be fetched, then starts', async () => {
    await registry.create('secrets', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'tok', namespace: 'default' }, data: { t: b64('tkn') } } as KubeObject);
    leaderRaft.setQuorum(false);
    await createPod('later', {
      containers: [{ name: 'app', image: IMAGE, imagePullPolicy: 'Never', env: [{ name: 'T', valueFrom: { secretKeyRef: { name: 'tok', key: 't' } } }] }],
    });
    const w = await waitFor(() => waiting('later')?.reason === 'CreateContainerConfigError' && waiting('later'), 'CreateContainerConfigError');
    assert.match(w.message ?? '', /secrets need the Raft quorum/);
    assert.equal(podEnv('later'), undefined);
    leaderRaft.setQuorum(true);
    await waitFor(() => registry.get<Pod>('pods', 'default', 'later')?.status?.phase === 'Running', 'Running', 8000);
    assert.deepEqual(podEnv('later'), { T: 'tkn' });
  });
});
