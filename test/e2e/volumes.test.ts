// Pod volumes on real Docker: an emptyDir shared by two containers, a
// configMap file (and its live update), and a claim-backed directory that
// outlives its pod. Its own node name and data dir; both are cleaned up.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeObject, Pod, PodSpec } from '../../src/agent/api/object-types.ts';
import { kubeletVolumePaths } from '../../src/agent/kubelet/pod-volumes.ts';
import { LOCAL_PATH_PROVISIONER, PROVISIONED_BY_ANNOTATION } from '../../src/agent/kubelet/claim-volumes.ts';
import { createFakeObjectClient, type FakeObjectClient } from '../support/fake-object-client.ts';
import { BUSYBOX, useDockerKubelets } from '../support/docker-kubelets.ts';
import { waitFor } from '../support/wait-for.ts';

const NODE = `e2e-volumes-${process.pid}-${Date.now().toString(36)}`;
const LOOP = 'trap "exit 0" TERM; while true; do sleep 0.1; done';
const TOKEN = `t-${process.pid}-${Date.now().toString(36)}`;

const sh = (name: string, script: string, volumeMounts: NonNullable<PodSpec['containers'][number]['volumeMounts']>) => ({
  name,
  image: BUSYBOX,
  imagePullPolicy: 'Never' as const,
  command: ['sh', '-c', script],
  volumeMounts,
});

describe('pod volumes on Docker', { timeout: 120_000 }, () => {
  const docker = useDockerKubelets(NODE, { removeAfterEach: true, podDefaults: { terminationGracePeriodSeconds: 2 } });
  let dataDir: string;
  let client: FakeObjectClient;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'mesh-e2e-volumes-'));
  });
  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  const pod = (name: string) => client.get<Pod>('pods', 'default', name);
  const running = (name: string) => pod(name)?.status?.phase === 'Running';
  async function startKubelet(): Promise<void> {
    client = createFakeObjectClient();
    await docker.kubelet(client, { dataDir }).start();
  }
  /** Runs cmd in the pod's running container; its exit code and output. */
  async function exec(podName: string, container: string, cmd: string[]) {
    const [c] = (await docker.runtime.listContainers({ 'io.mesh.node': NODE, 'io.mesh.pod.name': podName, 'io.mesh.container.name': container })).filter(
      (x) => x.state === 'running',
    );
    assert.ok(c, `${podName}/${container} is running`);
    return docker.runtime.exec(c.id, cmd, 5000);
  }

  it('shares an emptyDir between two containers of a pod, read-only for the one that asks', { timeout: 40_000 }, async () => {
    await startKubelet();
    await docker.createPod(client, 'share', {
      volumes: [{ name: 'shared', emptyDir: {} }],
      containers: [
        sh('writer', `echo hello-${TOKEN} > /out/msg; ${LOOP}`, [{ name: 'shared', mountPath: '/out' }]),
        sh('reader', LOOP, [{ name: 'shared', mountPath: '/in', readOnly: true }]),
      ],
    });
    await waitFor(() => running('share'), 'Running', 20_000, () => pod('share')?.status);
    const read = await waitFor(async () => {
      const r = await exec('share', 'reader', ['cat', '/in/msg']);
      return r.exitCode === 0 && r;
    }, 'the reader sees the writer file', 10_000);
    assert.equal(read.output.trim(), `hello-${TOKEN}`);
    const write = await exec('share', 'reader', ['sh', '-c', 'echo no > /in/other']);
    assert.notEqual(write.exitCode, 0, 'a read-only mount refuses writes');
    const uid = pod('share')!.metadata.uid!;
    const hostFile = join(kubeletVolumePaths(dataDir).podsDir, uid, 'volumes', 'kubernetes.io~empty-dir', 'shared', 'msg');
    assert.equal(readFileSync(hostFile, 'utf8').trim(), `hello-${TOKEN}`);
  });

  it('shows a ConfigMap key as a file in the container and follows the ConfigMap when it changes', { timeout: 40_000 }, async () => {
    await startKubelet();
    await client.create('configmaps', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'web-config', namespace: 'default' },
      data: { 'app.conf': `greeting=${TOKEN}\n` },
    } as KubeObject);
    await docker.createPod(client, 'cfg', {
      volumes: [{ name: 'config', configMap: { name: 'web-config' } }],
      containers: [sh('app', LOOP, [{ name: 'config', mountPath: '/etc/web' }])],
    });
    await waitFor(() => running('cfg'), 'Running', 20_000, () => pod('cfg')?.status);
    const first = await exec('cfg', 'app', ['cat', '/etc/web/app.conf']);
    assert.equal(first.exitCode, 0, first.output);
    assert.equal(first.output, `greeting=${TOKEN}\n`);
    assert.notEqual((await exec('cfg', 'app', ['sh', '-c', 'echo x > /etc/web/new'])).exitCode, 0, 'configMap volumes are read-only');

    const cm = client.get<KubeObject>('configmaps', 'default', 'web-config')!;
    await client.update('configmaps', { ...cm, data: { 'app.conf': 'greeting=updated\n' } });
    await waitFor(async () => (await exec('cfg', 'app', ['cat', '/etc/web/app.conf'])).output === 'greeting=updated\n', 'the running container sees the update', 10_000);
  });

  it('keeps a claim-backed directory across deleting and recreating the pod, and removes it with its PV', { timeout: 60_000 }, async () => {
    await startKubelet();
    const root = kubeletVolumePaths(dataDir).localVolumeRoot;
    const claim = await client.create('persistentvolumeclaims', {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'data-db-0', namespace: 'default' },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
      status: { phase: 'Pending' },
    } as KubeObject);
    const pvName = `pvc-${claim.metadata.uid}`;
    const pvPath = join(root, pvName);
    await client.create('persistentvolumes', {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: pvName, annotations: { [PROVISIONED_BY_ANNOTATION]: LOCAL_PATH_PROVISIONER } },
      spec: {
        capacity: { storage: '1Gi' },
        accessModes: ['ReadWriteOnce'],
        persistentVolumeReclaimPolicy: 'Delete',
        storageClassName: 'local-path',
        volumeMode: 'Filesystem',
        claimRef: { kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace: 'default', name: 'data-db-0', uid: claim.metadata.uid },
        local: { path: pvPath },
        nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [NODE] }] }] } },
      },
      status: { phase: 'Bound' },
    } as KubeObject);
    const cur = client.get<KubeObject>('persistentvolumeclaims', 'default', 'data-db-0')!;
    const named = await client.update('persistentvolumeclaims', { ...cur, spec: { ...(cur.spec as object), volumeName: pvName } });
    await client.updateStatus('persistentvolumeclaims', { ...named, status: { phase: 'Bound', capacity: { storage: '1Gi' } } });

    const dbPod = (script: string): Partial<PodSpec> => ({
      volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data-db-0' } }],
      containers: [sh('db', script, [{ name: 'data', mountPath: '/var/lib/db' }])],
    });
    await docker.createPod(client, 'db-0', dbPod(`echo ${TOKEN} > /var/lib/db/row; ${LOOP}`));
    await waitFor(() => running('db-0'), 'first pod Running', 20_000, () => pod('db-0')?.status);
    await waitFor(() => existsSync(join(pvPath, 'row')), 'the file reached the PV directory', 10_000);
    const firstUid = pod('db-0')!.metadata.uid;

    await client.delete('pods', 'default', 'db-0');
    await waitFor(() => !pod('db-0'), 'first pod gone', 20_000);
    assert.equal(readFileSync(join(pvPath, 'row'), 'utf8').trim(), TOKEN, 'the claim outlives its pod');

    await docker.createPod(client, 'db-0', dbPod(LOOP));
    await waitFor(() => running('db-0') && pod('db-0')!.metadata.uid !== firstUid, 'second pod Running', 20_000, () => pod('db-0')?.status);
    const r = await exec('db-0', 'db', ['cat', '/var/lib/db/row']);
    assert.equal(r.exitCode, 0, r.output);
    assert.equal(r.output.trim(), TOKEN);

    await client.delete('pods', 'default', 'db-0');
    await waitFor(() => !pod('db-0'), 'second pod gone', 20_000);
    await client.delete('persistentvolumes', '', pvName);
    await waitFor(() => !existsSync(pvPath), 'the deleted PV directory is removed', 10_000);
  });
});
