import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isAbsolute } from 'node:path';
import type { Container, Pod } from '../../../src/agent/api/object-types.ts';
import {
  containerMounts,
  isSafeSubPath,
  isStrictlyUnder,
  kubeletVolumePaths,
  LOCAL_VOLUME_ROOT_ANNOTATION,
  nodeVolumeAnnotations,
  planPodVolumes,
  volumeReferences,
  type ReadyVolume,
} from '../../../src/agent/kubelet/pod-volumes.ts';
import { configMapPayload, filesDigest, projectFiles, secretPayload } from '../../../src/agent/kubelet/volume-projection.ts';
import {
  LOCAL_PATH_PROVISIONER,
  PROVISIONED_BY_ANNOTATION,
  reclaimablePath,
  resolveClaim,
  type PersistentVolumeClaimShape,
  type PersistentVolumeShape,
} from '../../../src/agent/kubelet/claim-volumes.ts';

const PATHS = kubeletVolumePaths('/var/lib/mesh');
const ROOT = PATHS.localVolumeRoot;
const NODE = { name: 'node-a', labels: { 'kubernetes.io/hostname': 'node-a' } };

function podWith(volumes: Record<string, unknown>[], uid = 'uid-1'): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'ns1', uid },
    spec: { containers: [], volumes: volumes as Pod['spec']['volumes'] },
  };
}

describe('pod volume plan', () => {
  it('puts the local-volume-root and pod dirs under the data dir, absolute even from a relative one', () => {
    const rel = kubeletVolumePaths('data/agent');
    assert.ok(isAbsolute(rel.localVolumeRoot) && rel.localVolumeRoot.endsWith('/data/agent/volumes'));
    assert.ok(rel.podsDir.endsWith('/data/agent/pods'));
    assert.deepEqual(nodeVolumeAnnotations('/srv/mesh'), { [LOCAL_VOLUME_ROOT_ANNOTATION]: '/srv/mesh/volumes' });
  });

  it('plans each volume kind with its host directory', () => {
    const plan = planPodVolumes(
      podWith([
        { name: 'cache', emptyDir: { medium: 'Memory' } },
        { name: 'logs', hostPath: { path: '/var/log/../log/app', type: 'DirectoryOrCreate' } },
        { name: 'cfg', configMap: { name: 'app-config', items: [{ key: 'a', path: 'x/a' }], defaultMode: 0o400 } },
        { name: 'creds', secret: { secretName: 'db', optional: true } },
        { name: 'data', persistentVolumeClaim: { claimName: 'data-web-0', readOnly: true } },
      ]),
      PATHS,
    );
    assert.deepEqual(plan, [
      { name: 'cache', kind: 'emptyDir', dir: '/var/lib/mesh/pods/uid-1/volumes/kubernetes.io~empty-dir/cache', medium: 'Memory' },
      { name: 'logs', kind: 'hostPath', path: '/var/log/app', type: 'DirectoryOrCreate' },
      {
        name: 'cfg',
        kind: 'configMap',
        dir: '/var/lib/mesh/pods/uid-1/volumes/kubernetes.io~configmap/cfg',
        projection: { source: 'app-config', items: [{ key: 'a', path: 'x/a' }], defaultMode: 0o400, optional: false },
      },
      { name: 'creds', kind: 'secret', dir: '/var/lib/mesh/pods/uid-1/volumes/kubernetes.io~secret/creds', projection: { source: 'db', items: undefined, defaultMode: undefined, optional: true } },
      { name: 'data', kind: 'persistentVolumeClaim', claimName: 'data-web-0', readOnly: true },
    ]);
    assert.deepEqual(volumeReferences(podWith([]), plan), {
      namespace: 'ns1',
      configMaps: new Set(['app-config']),
      secrets: new Set(['db']),
      claims: new Set(['data-web-0']),
    });
  });

  it('marks volumes it cannot mount as invalid, with the reason', () => {
    const kinds = (vols: Record<string, unknown>[], paths: typeof PATHS | 'none' = PATHS, uid?: string) =>
      planPodVolumes(podWith(vols, uid), paths === 'none' ? undefined : paths).map((v) => (v.kind === 'invalid' ? v.message : v.kind));
    assert.deepEqual(kinds([{ name: 'a', hostPath: { path: 'relative/dir' } }]), ['hostPath "relative/dir" is not an absolute path']);
    assert.deepEqual(kinds([{ name: 'a', hostPath: { path: '/x', type: 'Pipe' } }]), ['hostPath type "Pipe" is not supported']);
    assert.deepEqual(kinds([{ name: 'a', nfs: { server: 'x' } }]), ['volume type nfs is not supported by this kubelet']);
    assert.deepEqual(kinds([{ name: 'a', emptyDir: {} }], 'none'), ['the kubelet has no data directory for pod volumes']);
    assert.deepEqual(kinds([{ name: '..', emptyDir: {} }]), ['volume name ".." is not a valid directory name']);
    assert.deepEqual(kinds([{ name: 'a', emptyDir: {} }], PATHS, '../../etc'), ['pod uid "../../etc" is not a valid directory name']);
    // hostPath and claims need no pod directory.
    assert.deepEqual(kinds([{ name: 'a', hostPath: { path: '/x' } }, { name: 'b', persistentVolumeClaim: { claimName: 'c' } }], 'none'), ['hostPath', 'persistentVolumeClaim']);
  });

  it('tells paths inside a root from the root itself and from escapes', () => {
    assert.equal(isStrictlyUnder('/a/b', '/a/b/c'), true);
    assert.equal(isStrictlyUnder('/a/b', '/a/b'), false);
    assert.equal(isStrictlyUnder('/a/b', '/a/b/../c'), false);
    assert.equal(isStrictlyUnder('/a/b', '/a/bc'), false);
    assert.equal(isStrictlyUnder('/a/b', '/a/b/..c'), true, 'a name that merely starts with two dots stays inside');
    assert.equal(isSafeSubPath('a/b'), true);
    assert.equal(isSafeSubPath('a/../../b'), false);
    assert.equal(isSafeSubPath('/etc'), false);
    assert.equal(isSafeSubPath(''), false);
  });
});

describe('container mounts', () => {
  const volumes = new Map<string, ReadyVolume>([
    ['data', { hostPath: '/v/data', readOnly: false, createSubPaths: true }],
    ['cfg', { hostPath: '/v/cfg', readOnly: true, createSubPaths: false }],
  ]);
  const c = (volumeMounts: Container['volumeMounts']): Container => ({ name: 'app', image: 'img', volumeMounts });

  it('maps volumeMounts to bind mounts with subPath and read-only rules', () => {
    const r = containerMounts(
      c([
        { name: 'data', mountPath: '/data' },
        { name: 'data', mountPath: '/var/lib/pg/', subPath: 'pg/main', readOnly: true },
        { name: 'cfg', mountPath: '/etc/app' },
      ]),
      volumes,
    );
    assert.deepEqual(r, {
      mounts: [
        { volume: 'data', hostPath: '/v/data', containerPath: '/data', readOnly: false },
        { volume: 'data', hostPath: '/v/data/pg/main', subPath: 'pg/main', containerPath: '/var/lib/pg/', readOnly: true },
        { volume: 'cfg', hostPath: '/v/cfg', containerPath: '/etc/app', readOnly: true },
      ],
    });
  });

  it('refuses unknown volumes, relative mount paths and climbing subPaths', () => {
    assert.deepEqual(containerMounts(c([{ name: 'nope', mountPath: '/x' }]), volumes), { error: 'cannot find volume "nope" to mount into container "app"' });
    assert.match((containerMounts(c([{ name: 'data', mountPath: 'x' }]), volumes) as { error: string }).error, /must be an absolute path/);
    assert.match((containerMounts(c([{ name: 'data', mountPath: '/x', subPath: '../other' }]), volumes) as { error: string }).error, /without '\.\.'/);
    assert.deepEqual(containerMounts(c(undefined), volumes), { mounts: [] });
  });
});

describe('configMap and secret projection', () => {
  const payload = configMapPayload({ data: { 'app.conf': 'port=80', b: 'bee' }, binaryData: { bin: Buffer.from([0, 1, 2]).toString('base64') } });
  const text = (r: ReturnType<typeof projectFiles>) =>
    'files' in r ? r.files.map((f) => `${f.path}:${f.mode.toString(8)}:${f.content.toString('hex')}`) : r.error;

  it('projects every key with defaultMode, or only the items with their paths and modes', () => {
    const all = projectFiles('configMap', { source: 'cm', optional: false, defaultMode: 0o440 }, payload);
    assert.deepEqual(text(all), [
      `app.conf:440:${Buffer.from('port=80').toString('hex')}`,
      `b:440:${Buffer.from('bee').toString('hex')}`,
      'bin:440:000102',
    ]);
    const items = projectFiles('configMap', { source: 'cm', optional: false, items: [{ key: 'b', path: 'sub/dir/b.txt', mode: 0o600 }, { key: 'bin', path: 'bin' }] }, payload);
    assert.deepEqual(text(items), [`sub/dir/b.txt:600:${Buffer.from('bee').toString('hex')}`, 'bin:644:000102']);
  });

  it('fails a missing object or key unless optional, in Kubernetes words', () => {
    assert.equal(text(projectFiles('configMap', { source: 'cm', optional: false }, undefined)), 'configmap "cm" not found');
    assert.equal(text(projectFiles('secret', { source: 's', optional: false }, undefined)), 'secret "s" not found');
    assert.deepEqual(text(projectFiles('secret', { source: 's', optional: true }, undefined)), []);
    assert.equal(
      text(projectFiles('configMap', { source: 'cm', optional: false, items: [{ key: 'zz', path: 'zz' }] }, payload)),
      'configmap references non-existent config key: zz',
    );
    assert.deepEqual(text(projectFiles('configMap', { source: 'cm', optional: true, items: [{ key: 'zz', path: 'zz' }] }, payload)), []);
  });

  it('refuses item paths that climb, hide among the writer\'s own names, or collide', () => {
    for (const path of ['../x', '/abs', '..data', 'a/../../b', 'a/./b']) {
      const r = projectFiles('configMap', { source: 'cm', optional: false, items: [{ key: 'b', path }] }, payload);
      assert.ok('error' in r, `path ${path} refused`);
    }
    const twice = projectFiles('configMap', { source: 'cm', optional: false, items: [{ key: 'b', path: 'x' }, { key: 'bin', path: 'x' }] }, payload);
    assert.match(text(twice) as string, /used twice/);
    const fileAndDir = projectFiles('configMap', { source: 'cm', optional: false, items: [{ key: 'b', path: 'x' }, { key: 'bin', path: 'x/y' }] }, payload);
    assert.match(text(fileAndDir) as string, /both a file and a directory/);
  });

  it('decodes Secret data from base64 and digests contents, not order', () => {
    const s = secretPayload({ data: { pw: Buffer.from('s3cret').toString('base64') }, stringData: { user: 'admin' } });
    assert.equal(s.get('pw')?.toString(), 's3cret');
    assert.equal(s.get('user')?.toString(), 'admin');
    const a = [{ path: 'a', content: Buffer.from('1'), mode: 0o644 }, { path: 'b', content: Buffer.from('2'), mode: 0o644 }];
    assert.equal(filesDigest(a), filesDigest([...a].reverse()));
    assert.notEqual(filesDigest(a), filesDigest([{ ...a[0]!, mode: 0o600 }, a[1]!]));
  });
});

describe('claim resolution', () => {
  const affinity = (node: string) => ({ required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [node] }] }] } });
  const claim = (over: Partial<PersistentVolumeClaimShape> = {}): PersistentVolumeClaimShape => ({
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: 'data-web-0', namespace: 'ns1', uid: 'claim-uid' },
    spec: { volumeName: 'pvc-claim-uid' },
    status: { phase: 'Bound' },
    ...over,
  });
  const pv = (spec: PersistentVolumeShape['spec'], annotations?: Record<string, string>): PersistentVolumeShape => ({
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name: 'pvc-claim-uid', ...(annotations ? { annotations } : {}) },
    spec,
  });
  const lookup = (c: PersistentVolumeClaimShape | undefined, v: PersistentVolumeShape | undefined) => ({ claim: () => c, volume: () => v });
  const provisioned = pv(
    { claimRef: { namespace: 'ns1', name: 'data-web-0', uid: 'claim-uid' }, local: { path: `${ROOT}/pvc-claim-uid` }, nodeAffinity: affinity('node-a'), persistentVolumeReclaimPolicy: 'Delete' },
    { [PROVISIONED_BY_ANNOTATION]: LOCAL_PATH_PROVISIONER },
  );

  it('resolves a bound claim to its PV path, created when under the local-volume-root', () => {
    assert.deepEqual(resolveClaim('ns1', 'data-web-0', lookup(claim(), provisioned), NODE, ROOT), {
      ok: true,
      volumeName: 'pvc-claim-uid',
      path: `${ROOT}/pvc-claim-uid`,
      create: true,
      hostPathType: 'DirectoryOrCreate',
    });
    const hostPathPv = pv({ hostPath: { path: '/srv/data', type: 'Directory' } });
    assert.deepEqual(resolveClaim('ns1', 'data-web-0', lookup(claim(), hostPathPv), NODE, ROOT), {
      ok: true,
      volumeName: 'pvc-claim-uid',
      path: '/srv/data',
      create: false,
      hostPathType: 'Directory',
    });
  });

  it('says why a claim is not usable yet', () => {
    const msg = (c: PersistentVolumeClaimShape | undefined, v: PersistentVolumeShape | undefined) => {
      const r = resolveClaim('ns1', 'data-web-0', lookup(c, v), NODE, ROOT);
      return r.ok ? 'ok' : r.message;
    };
    assert.equal(msg(undefined, provisioned), 'persistentvolumeclaim "data-web-0" not found');
    assert.equal(msg(claim({ status: { phase: 'Pending' }, spec: {} }), provisioned), 'persistentvolumeclaim "data-web-0" not bound');
    assert.equal(msg(claim(), undefined), 'persistentvolume "pvc-claim-uid" of persistentvolumeclaim "data-web-0" not found');
    assert.match(msg(claim({ metadata: { name: 'data-web-0', namespace: 'ns1', uid: 'other-uid' } }), provisioned), /bound to another claim/);
    assert.match(msg(claim(), pv({ local: { path: '/x' }, nodeAffinity: affinity('node-b') })), /not accessible from node "node-a"/);
    assert.match(msg(claim(), pv({})), /no absolute spec.local.path/);
  });

  it('reclaims only provisioned, Delete, this-node PVs inside the root', () => {
    assert.equal(reclaimablePath(provisioned, NODE, ROOT), `${ROOT}/pvc-claim-uid`);
    assert.equal(reclaimablePath(provisioned, { name: 'node-b', labels: { 'kubernetes.io/hostname': 'node-b' } }, ROOT), undefined, 'another node');
    const variant = (spec: Partial<NonNullable<PersistentVolumeShape['spec']>>, annotations = provisioned.metadata.annotations) =>
      reclaimablePath(pv({ ...provisioned.spec, ...spec }, annotations), NODE, ROOT);
    assert.equal(variant({ persistentVolumeReclaimPolicy: 'Retain' }), undefined, 'Retain');
    assert.equal(variant({}, {}), undefined, 'not provisioned by local-path');
    assert.equal(variant({ nodeAffinity: undefined }), undefined, 'no node affinity');
    assert.equal(variant({ local: { path: `${ROOT}/../../etc` } }), undefined, 'climbs out');
    assert.equal(variant({ local: { path: ROOT } }), undefined, 'the root itself');
    assert.equal(variant({ local: { path: '/etc' } }), undefined, 'outside');
  });
});
