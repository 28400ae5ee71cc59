// Builders for storage tests: claims, volumes, nodes with a local volume root,
// and pods that mount claims.
import type { Pod } from '../../../src/agent/api/object-types.ts';
import type { PersistentVolume, PersistentVolumeClaim } from '../../../src/agent/api/persistent-volume-types.ts';
import type { SchedNode } from '../../../src/agent/scheduler/scheduling-shapes.ts';
import { node, pod, type NodeOpts } from './scheduler-fixtures.ts';

export const ROOT = 'mesh.dev/local-volume-root';

export function rootedNode(name: string, opts: NodeOpts = {}): SchedNode {
  const n = node(name, { allocatable: { cpu: '4', memory: '8Gi', pods: '110' }, ...opts });
  n.metadata.annotations = { [ROOT]: `/var/lib/mesh/${name}/volumes` };
  return n;
}

export function claim(name: string, spec: NonNullable<PersistentVolumeClaim['spec']> = {}, status: PersistentVolumeClaim['status'] = { phase: 'Pending' }): PersistentVolumeClaim {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name, namespace: 'default', uid: `uid-${name}` },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, volumeMode: 'Filesystem', ...spec },
    status,
  };
}

export function volume(name: string, opts: { size?: string; className?: string; onNode?: string; claimRef?: NonNullable<PersistentVolume['spec']>['claimRef']; phase?: string; labels?: Record<string, string>; modes?: string[] } = {}): PersistentVolume {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name, ...(opts.labels ? { labels: opts.labels } : {}) },
    spec: {
      capacity: { storage: opts.size ?? '1Gi' },
      accessModes: opts.modes ?? ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: 'Retain',
      volumeMode: 'Filesystem',
      ...(opts.className !== undefined ? { storageClassName: opts.className } : {}),
      ...(opts.claimRef ? { claimRef: opts.claimRef } : {}),
      hostPath: { path: `/srv/${name}` },
      ...(opts.onNode
        ? { nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [opts.onNode] }] }] } } }
        : {}),
    },
    status: { phase: opts.phase ?? (opts.claimRef ? 'Bound' : 'Available') },
  };
}

export function podWith(...claims: string[]): Pod {
  const p = pod('web');
  p.spec.volumes = claims.map((c, i) => ({ name: `v${i}`, persistentVolumeClaim: { claimName: c } }));
  return p;
}

