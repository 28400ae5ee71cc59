// Pod volumes through the kubelet on the fake runtime: real directories and
// files in a temporary data dir, mounts read back from the fake's recorded specs.
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeObject, Pod, PodSpec, ContainerStatus } from '../../../src/agent/api/object-types.ts';
import { createFakeRuntime, type FakeRuntime } from '../../../src/agent/kubelet/fake-runtime.ts';
import { createKubelet, type Kubelet, type KubeletOptions } from '../../../src/agent/kubelet/kubelet.ts';
import type { ContainerMount } from '../../../src/agent/kubelet/container-runtime.ts';
import { kubeletVolumePaths } from '../../../src/agent/kubelet/pod-volumes.ts';
import { LOCAL_PATH_PROVISIONER, PROVISIONED_BY_ANNOTATION } from '../../../src/agent/kubelet/claim-volumes.ts';
import { createFakeObjectClient, type FakeObjectClient } from '../../support/fake-object-client.ts';
import { waitFor } from '../../support/wait-for.ts';
import { boundPod, testKubeletOptions } from './kubelet-harness.ts';

const NODE = 'node-a';
const IMAGE = 'mesh.local/busybox:latest';
const b64 = (s: string) => Buffer.from(s).toString('base64');
const app = (name: string, volumeMounts: NonNullable<PodSpec['containers'][number]['volumeMounts']>) => ({
  name,
  image: IMAGE,
  imagePullPolicy: 'Never' as const,
  volumeMounts,
});

let client: FakeObjectClient;
let runtime: FakeRuntime;
let dataDir: string;
let kubelets: Kubelet[];

function newKubelet(extra: Partial<KubeletOptions> = {}): Kubelet {
  const k = createKubelet(testKubeletOptions({ nodeName: NODE, client, runtime, dataDir, ...extra }));
  kubelets.push(k);
  return k;
}

async function createPod(name: string, spec: Partial<PodSpec>): Promise<Pod> {
  return client.create<Pod>('pods', boundPod(name, NODE, spec));
}

const pod = (name: string) => client.get<Pod>('pods', 'default', name);
const running = (name: string) => pod(name)?.status?.phase === 'Running';
const appContainers = (podName: string, container?: string) =>
  runtime
    .all()
    .filter((c) => c.labels['io.mesh.pod.name'] === podName && c.labels['io.mesh.container.kind'] !== 'sandbox')
    .filter((c) => container === undefined || c.labels['io.mesh.container.name'] === container);
/** The mounts of the newest instance of a container. */
function mountsOf(podName: string, container: string): ContainerMount[] {
  const list = appContainers(podName, container).sort((a, b) => Number(b.labels['io.mesh.restart-count']) - Number(a.labels['io.mesh.restart-count']));
  assert.ok(list[0], `${podName}/${container} exists`);
  return runtime.specOf(list[0].id)?.mounts ?? [];
}
const status = (podName: string, container: string): ContainerStatus | undefined => pod(podName)?.status?.containerStatuses?.find((c) => c.name === container);
const waitingReason = (podName: string, container: string) => {
  const s = status(podName, container);
  return s && 'waiting' in s.state ? s.state.waiting : undefined;
};
const failedMounts = (podName: string) =>
  client
    .list<KubeObject & { reason?: string; message?: string; type?: string; involvedObject?: { name: string } }>('events')
    .items.filter((e) => e.reason === 'FailedMount' && e.involvedObject?.name === podName);
const podVolumeDir = (uid: string, plugin: string, volume: string) => join(kubeletVolumePaths(dataDir).podsDir, uid, 'volumes', plugin, volume);
const mode = (p: string) => statSync(p).mode & 0o777;

describe('kubelet: pod volumes (fake runtime)', { timeout: 20_000 }, () => {
  beforeEach(async () => {
    client = createFakeObjectClient();
    runtime = createFakeRuntime();
    runtime.addImage(IMAGE);
    kubelets = [];
    dataDir = await mkdtemp(join(tmpdir(), 'mesh-kubelet-volumes-'));
  });
  afterEach(async () => {
    for (const k of kubelets) await k.stop();
    await runtime.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('shares an emptyDir between containers, keeps it across restarts and removes it with the pod', async () => {
    await newKubelet().start();
    const created = await createPod('web', {
      volumes: [{ name: 'cache', emptyDir: {} }],
      containers: [app('writer', [{ name: 'cache', mountPath: '/cache' }]), app('reader', [{ name: 'cache', mountPath: '/in', readOnly: true }])],
    });
    await waitFor(() => running('web'), 'Running', 5000, () => pod('web')?.status);
    const uid = created.metadata.uid!;
    const dir = podVolumeDir(uid, 'kubernetes.io~empty-dir', 'cache');
    assert.deepEqual(mountsOf('web', 'writer'), [{ hostPath: dir, containerPath: '/cache', readOnly: false }]);
    assert.deepEqual(mountsOf('web', 'reader'), [{ hostPath: dir, containerPath: '/in', readOnly: true }]);
    assert.equal(mode(dir), 0o777, 'any container user may write');
    assert.equal(mode(join(kubeletVolumePaths(dataDir).podsDir, uid)), 0o700, 'the pod dir is closed to other host users');
    const sandbox = runtime.all().find((c) => c.labels['io.mesh.pod.name'] === 'web' && c.labels['io.mesh.container.kind'] === 'sandbox')!;
    assert.equal(runtime.specOf(sandbox.id)?.mounts, undefined, 'the sandbox mounts nothing');

    await writeFile(join(dir, 'state'), 'kept');
    runtime.exit(appContainers('web', 'writer')[0]!.id, 1);
    await waitFor(() => (status('web', 'writer')?.restartCount ?? 0) >= 1 && running('web'), 'writer restarted');
    assert.deepEqual(mountsOf('web', 'writer'), [{ hostPath: dir, containerPath: '/cache', readOnly: false }]);
    assert.equal(readFileSync(join(dir, 'state'), 'utf8'), 'kept');

    await client.delete('pods', 'default', 'web');
    await waitFor(() => !pod('web'), 'pod gone');
    await waitFor(() => !existsSync(join(kubeletVolumePaths(dataDir).podsDir, uid)), 'pod volume dir removed');
  });

  it('creates subPath directories in an emptyDir and refuses a subPath that leaves it through a symlink', async () => {
    await newKubelet().start();
    const outside = join(dataDir, 'outside');
    await mkdir(outside);
    const created = await createPod('sub', {
      volumes: [{ name: 'work', emptyDir: {} }],
      containers: [app('app', [{ name: 'work', mountPath: '/var/lib/db', subPath: 'db/main' }])],
    });
    await waitFor(() => running('sub'), 'Running');
    const dir = podVolumeDir(created.metadata.uid!, 'kubernetes.io~empty-dir', 'work');
    assert.deepEqual(mountsOf('sub', 'app'), [{ hostPath: join(dir, 'db/main'), containerPath: '/var/lib/db', readOnly: false }]);
    assert.ok(statSync(join(dir, 'db/main')).isDirectory());

    // What a container could leave in its volume: a link out of it.
    const evil = await createPod('evil', {
      volumes: [{ name: 'work', emptyDir: {} }],
      initContainers: [app('plant', [{ name: 'work', mountPath: '/w' }])],
      containers: [app('app', [{ name: 'work', mountPath: '/x', subPath: 'link/created-outside' }])],
    });
    const evilDir = podVolumeDir(evil.metadata.uid!, 'kubernetes.io~empty-dir', 'work');
    await waitFor(() => existsSync(evilDir) && appContainers('evil', 'plant').length > 0, 'init container created');
    await symlink(outside, join(evilDir, 'link'));
    runtime.exit(appContainers('evil', 'plant')[0]!.id, 0);
    const w = await waitFor(() => waitingReason('evil', 'app')?.reason === 'CreateContainerConfigError' && waitingReason('evil', 'app'), 'CreateContainerConfigError');
    assert.match(w.message ?? '', /subPath "link\/created-outside" of volumeMount "work" resolves outside its volume/);
    assert.equal(existsSync(join(outside, 'created-outside')), false, 'nothing was created outside the volume');
    assert.equal(appContainers('evil', 'app').length, 0);
  });

  it('mounts hostPath volumes, creating DirectoryOrCreate and waiting with FailedMount for a missing Directory', async () => {
    await newKubelet().start();
    const made = join(dataDir, 'host', 'made');
    const wanted = join(dataDir, 'host', 'wanted');
    const file = join(dataDir, 'host-file.txt');
    await writeFile(file, 'f');
    await createPod('hp', {
      volumes: [
        { name: 'made', hostPath: { path: made, type: 'DirectoryOrCreate' } },
        { name: 'wanted', hostPath: { path: wanted, type: 'Directory' } },
        { name: 'file', hostPath: { path: file, type: 'File' } },
      ],
      containers: [app('app', [{ name: 'made', mountPath: '/made' }, { name: 'wanted', mountPath: '/wanted' }, { name: 'file', mountPath: '/etc/f.txt', readOnly: true }])],
    });
    const ev = await waitFor(() => failedMounts('hp')[0], 'FailedMount event');
    assert.equal(ev.type, 'Warning');
    assert.equal(ev.message, `Unable to attach or mount volumes: unmounted volumes=[wanted]: hostPath type check failed: ${wanted} is not a directory`);
    assert.ok(statSync(made).isDirectory(), 'DirectoryOrCreate made it');
    assert.equal(runtime.all().filter((c) => c.labels['io.mesh.pod.name'] === 'hp').length, 0, 'not even a sandbox while volumes wait');
    assert.equal(pod('hp')?.status?.phase, 'Pending');
    assert.equal(waitingReason('hp', 'app')?.reason, 'ContainerCreating');

    await mkdir(wanted);
    await waitFor(() => running('hp'), 'Running once the directory exists', 5000, () => pod('hp')?.status);
    assert.deepEqual(mountsOf('hp', 'app'), [
      { hostPath: made, containerPath: '/made', readOnly: false },
      { hostPath: wanted, containerPath: '/wanted', readOnly: false },
      { hostPath: file, containerPath: '/etc/f.txt', readOnly: true },
    ]);
  });

  it('writes configMap files (items, modes, optional) read-only, and updates them when the ConfigMap changes', async () => {
    await newKubelet().start();
    await client.create('configmaps', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'app-config', namespace: 'default' },
      data: { 'app.conf': 'port=80\n', extra: 'x' },
      binaryData: { 'logo.bin': Buffer.from([1, 2, 3]).toString('base64') },
    } as KubeObject);
    const created = await createPod('cfg', {
      volumes: [
        { name: 'all', configMap: { name: 'app-config', defaultMode: 0o440 } },
        { name: 'some', configMap: { name: 'app-config', items: [{ key: 'app.conf', path: 'conf/app.conf', mode: 0o600 }] } },
        { name: 'maybe', configMap: { name: 'not-there', optional: true } },
      ],
      containers: [app('app', [{ name: 'all', mountPath: '/etc/all' }, { name: 'some', mountPath: '/etc/some' }, { name: 'maybe', mountPath: '/etc/maybe' }])],
    });
    await waitFor(() => running('cfg'), 'Running', 5000, () => pod('cfg')?.status);
    const uid = created.metadata.uid!;
    const all = podVolumeDir(uid, 'kubernetes.io~configmap', 'all');
    const some = podVolumeDir(uid, 'kubernetes.io~configmap', 'some');
    assert.deepEqual(mountsOf('cfg', 'app').map((m) => [m.hostPath, m.readOnly]), [
      [all, true],
      [some, true],
      [podVolumeDir(uid, 'kubernetes.io~configmap', 'maybe'), true],
    ]);
    assert.equal(readFileSync(join(all, 'app.conf'), 'utf8'), 'port=80\n');
    assert.deepEqual([...readFileSync(join(all, 'logo.bin'))], [1, 2, 3]);
    assert.equal(mode(join(all, 'extra')), 0o440);
    assert.equal(readFileSync(join(some, 'conf/app.conf'), 'utf8'), 'port=80\n');
    assert.equal(mode(join(some, 'conf/app.conf')), 0o600);
    assert.equal(existsSync(join(some, 'extra')), false, 'items project only the listed keys');
    assert.equal(lstatSync(join(all, 'app.conf')).isSymbolicLink(), true, 'visible names go through ..data');
    const before = readlinkSync(join(all, '..data'));

    const cm = client.get<KubeObject>('configmaps', 'default', 'app-config')!;
    await client.update('configmaps', { ...cm, data: { 'app.conf': 'port=8080\n' } });
    await waitFor(() => readFileSync(join(all, 'app.conf'), 'utf8') === 'port=8080\n', 'file updated');
    assert.notEqual(readlinkSync(join(all, '..data')), before, 'swapped to a new data dir');
    assert.equal(existsSync(join(all, 'extra')), false, 'a removed key disappears');
    assert.equal(existsSync(join(all, before)), false, 'the old data dir is gone');
  });

  it('waits with FailedMount for a missing ConfigMap, then starts when it appears', async () => {
    await newKubelet().start();
    await createPod('late', {
      volumes: [{ name: 'cfg', configMap: { name: 'later' } }],
      containers: [app('app', [{ name: 'cfg', mountPath: '/etc/cfg' }])],
    });
    const ev = await waitFor(() => failedMounts('late')[0], 'FailedMount');
    assert.equal(ev.message, 'Unable to attach or mount volumes: unmounted volumes=[cfg]: configmap "later" not found');
    await client.create('configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'later', namespace: 'default' }, data: { k: 'v' } } as KubeObject);
    await waitFor(() => running('late'), 'Running');
    const uid = pod('late')!.metadata.uid!;
    assert.equal(readFileSync(join(podVolumeDir(uid, 'kubernetes.io~configmap', 'cfg'), 'k'), 'utf8'), 'v');
  });

  it('writes secret files from the fetched values, fetching again only when the Secret changes', async () => {
    const fetches: string[][] = [];
    const values = new Map<string, { data: Record<string, string> }>([['db', { data: { password: b64('s3cret'), user: b64('admin') } }]]);
    await newKubelet({
      secrets: async (_ns, names) => {
        fetches.push(names);
        return new Map(names.flatMap((n) => (values.has(n) ? [[n, values.get(n)!] as const] : [])));
      },
    }).start();
    // The store holds the shell only (as the Raft-sealed Secrets do): keys, no values.
    await client.create('secrets', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: 'default' }, data: { password: '', user: '' } } as KubeObject);
    const created = await createPod('sec', {
      volumes: [{ name: 'creds', secret: { secretName: 'db', items: [{ key: 'password', path: 'pw', mode: 0o400 }] } }],
      containers: [app('app', [{ name: 'creds', mountPath: '/run/secrets/db' }])],
    });
    await waitFor(() => running('sec'), 'Running', 5000, () => pod('sec')?.status);
    const dir = podVolumeDir(created.metadata.uid!, 'kubernetes.io~secret', 'creds');
    assert.equal(readFileSync(join(dir, 'pw'), 'utf8'), 's3cret');
    assert.equal(mode(join(dir, 'pw')), 0o400);
    assert.deepEqual(mountsOf('sec', 'app'), [{ hostPath: dir, containerPath: '/run/secrets/db', readOnly: true }]);
    // Several resyncs (200 ms each) later, no fetch beyond those of the start (the volume's, and the container start's own).
    const atStart = fetches.length;
    assert.ok(atStart >= 1 && fetches.every((f) => f.join() === 'db'));
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(fetches.length, atStart);

    values.set('db', { data: { password: b64('rotated') } });
    const shell = client.get<KubeObject>('secrets', 'default', 'db')!;
    await client.update('secrets', { ...shell, data: { password: '' } });
    await waitFor(() => readFileSync(join(dir, 'pw'), 'utf8') === 'rotated', 'secret file updated');
    assert.equal(fetches.length, atStart + 1);
  });

  it('waits on an unbound claim with FailedMount without failing the pod, and mounts the PV once bound', async () => {
    await newKubelet().start();
    const root = kubeletVolumePaths(dataDir).localVolumeRoot;
    const claim = await client.create('persistentvolumeclaims', {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'data-web-0', namespace: 'default' },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
      status: { phase: 'Pending' },
    } as KubeObject);
    await createPod('web-0', {
      volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data-web-0' } }],
      containers: [app('app', [{ name: 'data', mountPath: '/data' }])],
    });
    const ev = await waitFor(() => failedMounts('web-0')[0], 'FailedMount');
    assert.equal(ev.message, 'Unable to attach or mount volumes: unmounted volumes=[data]: persistentvolumeclaim "data-web-0" not bound');
    await waitFor(() => ((failedMounts('web-0')[0]?.count as number | undefined) ?? 0) >= 2, 'retried');
    assert.equal(pod('web-0')?.status?.phase, 'Pending');
    assert.equal(waitingReason('web-0', 'app')?.reason, 'ContainerCreating');
    assert.equal(runtime.all().length, 0);

    const pvPath = join(root, `pvc-${claim.metadata.uid}`);
    await client.create('persistentvolumes', {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: `pvc-${claim.metadata.uid}`, annotations: { [PROVISIONED_BY_ANNOTATION]: LOCAL_PATH_PROVISIONER } },
      spec: {
        capacity: { storage: '1Gi' },
        accessModes: ['ReadWriteOnce'],
        persistentVolumeReclaimPolicy: 'Delete',
        claimRef: { kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace: 'default', name: 'data-web-0', uid: claim.metadata.uid },
        local: { path: pvPath },
        nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [NODE] }] }] } },
      },
      status: { phase: 'Bound' },
    } as KubeObject);
    const cur = client.get<KubeObject>('persistentvolumeclaims', 'default', 'data-web-0')!;
    const bound = await client.update('persistentvolumeclaims', { ...cur, spec: { ...(cur.spec as object), volumeName: `pvc-${claim.metadata.uid}` } });
    await client.updateStatus('persistentvolumeclaims', { ...bound, status: { phase: 'Bound' } });
    await waitFor(() => running('web-0'), 'Running once bound', 5000, () => pod('web-0')?.status);
    assert.deepEqual(mountsOf('web-0', 'app'), [{ hostPath: pvPath, containerPath: '/data', readOnly: false }]);
    assert.equal(mode(pvPath), 0o777);

    // The pod goes, the claim's data stays.
    await writeFile(join(pvPath, 'db'), 'rows');
    await client.delete('pods', 'default', 'web-0');
    await waitFor(() => !pod('web-0'), 'pod gone');
    assert.equal(readFileSync(join(pvPath, 'db'), 'utf8'), 'rows');

    // Deleting the provisioned PV removes its directory.
    await client.delete('persistentvolumes', '', `pvc-${claim.metadata.uid}`);
    await waitFor(() => !existsSync(pvPath), 'PV directory removed');
    assert.ok(existsSync(root), 'the root stays');
  });

  it('mounts a readOnly claim read-only and a user PV path outside the root only when it exists', async () => {
    await newKubelet().start();
    const userDir = join(dataDir, 'exports', 'shared');
    await client.create('persistentvolumes', {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: 'manual' },
      spec: { local: { path: userDir }, claimRef: { namespace: 'default', name: 'shared' } },
      status: { phase: 'Bound' },
    } as KubeObject);
    await client.create('persistentvolumeclaims', {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'shared', namespace: 'default' },
      spec: { volumeName: 'manual' },
      status: { phase: 'Bound' },
    } as KubeObject);
    await createPod('ro', {
      volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'shared', readOnly: true } }],
      containers: [app('app', [{ name: 'data', mountPath: '/data' }])],
    });
    const ev = await waitFor(() => failedMounts('ro')[0], 'FailedMount');
    assert.equal(ev.message, `Unable to attach or mount volumes: unmounted volumes=[data]: persistentvolume "manual": hostPath type check failed: ${userDir} is not a directory`);
    assert.equal(existsSync(userDir), false, 'a path outside the local-volume-root is never created');
    await mkdir(userDir, { recursive: true });
    await waitFor(() => running('ro'), 'Running');
    assert.deepEqual(mountsOf('ro', 'app'), [{ hostPath: userDir, containerPath: '/data', readOnly: true }]);
  });

  it('reclaims only this node\'s provisioned PV directories, never through a symlink out of the root', async () => {
    await newKubelet().start();
    const root = kubeletVolumePaths(dataDir).localVolumeRoot;
    const outside = join(dataDir, 'precious');
    await mkdir(join(outside, 'inner'), { recursive: true });
    await mkdir(join(root, 'pvc-other-node'));
    await symlink(outside, join(root, 'escape'));
    const pv = (name: string, path: string, node = NODE): KubeObject => ({
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name, annotations: { [PROVISIONED_BY_ANNOTATION]: LOCAL_PATH_PROVISIONER } },
      spec: {
        persistentVolumeReclaimPolicy: 'Delete',
        local: { path },
        nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [node] }] }] } },
      },
    });
    await client.create('persistentvolumes', pv('other', join(root, 'pvc-other-node'), 'node-b'));
    await client.create('persistentvolumes', pv('through-link', join(root, 'escape', 'inner')));
    await client.create('persistentvolumes', pv('link-itself', join(root, 'escape')));
    await client.delete('persistentvolumes', '', 'other');
    await client.delete('persistentvolumes', '', 'through-link');
    await client.delete('persistentvolumes', '', 'link-itself');
    await waitFor(() => !existsSync(join(root, 'escape')), 'the symlink itself removed');
    assert.ok(existsSync(join(outside, 'inner')), 'nothing outside the root was touched');
    assert.ok(existsSync(join(root, 'pvc-other-node')), "another node's PV directory stays");
  });

  it('removes volume directories of pods that are gone when it starts', async () => {
    const podsDir = kubeletVolumePaths(dataDir).podsDir;
    await mkdir(join(podsDir, 'stale-uid', 'volumes'), { recursive: true });
    await newKubelet().start();
    const live = await createPod('live', { volumes: [{ name: 'c', emptyDir: {} }], containers: [app('app', [{ name: 'c', mountPath: '/c' }])] });
    await waitFor(() => running('live'), 'Running');
    await waitFor(() => !existsSync(join(podsDir, 'stale-uid')), 'stale dir removed');
    assert.ok(existsSync(join(podsDir, live.metadata.uid!)), 'a live pod keeps its dir');
  });

  it('without a data dir, a pod needing one waits with FailedMount; hostPath pods still run', async () => {
    await newKubelet({ dataDir: undefined }).start();
    await createPod('nodir', { volumes: [{ name: 'c', emptyDir: {} }], containers: [app('app', [{ name: 'c', mountPath: '/c' }])] });
    const ev = await waitFor(() => failedMounts('nodir')[0], 'FailedMount');
    assert.match(ev.message ?? '', /volume "c": the kubelet has no data directory for pod volumes/);
    await createPod('host', { volumes: [{ name: 'h', hostPath: { path: dataDir } }], containers: [app('app', [{ name: 'h', mountPath: '/h' }])] });
    await waitFor(() => running('host'), 'hostPath pod Running');
  });

  it('reports a volumeMount that names no volume as CreateContainerConfigError', async () => {
    await newKubelet().start();
    // The API rejects this; a pod written by an older agent could still carry it.
    await createPod('bad', { volumes: [{ name: 'c', emptyDir: {} }], containers: [app('app', [{ name: 'nope', mountPath: '/x' }])] });
    const w = await waitFor(() => waitingReason('bad', 'app')?.reason === 'CreateContainerConfigError' && waitingReason('bad', 'app'), 'CreateContainerConfigError');
    assert.equal(w.message, 'cannot find volume "nope" to mount into container "app"');
  });
});
