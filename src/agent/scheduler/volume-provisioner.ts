// The binder's PreBind step for volumes: once a pod has a node, each of its
// unbound claims is bound before the pod's binding is written, so the kubelet
// finds every claim Bound. Static binding comes first (the best free matching
// volume the node can reach, volume-matching.ts); a local-path claim (class
// unset or local-path) without one gets a new volume `pvc-<claim uid>` in the
// node's local volume root, pinned to the node. Every step reads fresh state
// and writes only what differs, so a retry after a failure, or after another
// pod of the same claim, finishes the job instead of repeating it. Leader-only:
// it runs inside the binder.
import { posix } from 'node:path';
import type { ObjectClient } from '../api/object-client.ts';
import type { Pod } from '../api/object-types.ts';
import { AlreadyExists, Conflict } from '../api/errors.ts';
import {
  BIND_COMPLETED_ANNOTATION,
  BOUND_BY_CONTROLLER_ANNOTATION,
  LOCAL_PATH_CLASS,
  LOCAL_PATH_PROVISIONER,
  LOCAL_VOLUME_ROOT_ANNOTATION,
  PROVISIONED_BY_ANNOTATION,
  SELECTED_NODE_ANNOTATION,
  STORAGE_PROVISIONER_ANNOTATION,
  claimRefMatches,
  isLocalPathClaim,
  provisionedVolumeName,
  type PersistentVolume,
  type PersistentVolumeClaim,
} from '../api/persistent-volume-types.ts';
import type { EventRecorder } from '../event-recorder.ts';
import type { Logger } from '../logger.ts';
import { jsonEqual } from '../store/json-equal.ts';
import type { SchedNode } from './scheduling-shapes.ts';
import { LABEL_HOSTNAME } from './scheduling-shapes.ts';
import { candidateVolumes, pickVolume, podClaimNames, volumeNodeMatcher } from './volume-matching.ts';

export const PVC_RESOURCE = 'persistentvolumeclaims';
export const PV_RESOURCE = 'persistentvolumes';

/** Undefined when every claim is bound for the node; otherwise why the pod can't go there now. */
export type VolumePreparation = undefined | { unschedulable: string };

export interface VolumeProvisioner {
  /** Binds or provisions the pod's unbound claims for nodeName. Throws on a transient failure (retry). */
  prepare(pod: Pod, nodeName: string): Promise<VolumePreparation>;
}

function allowsNode(pv: PersistentVolume, node: SchedNode): boolean {
  return volumeNodeMatcher(pv)(node.metadata.labels ?? {}, node.metadata.name ?? '');
}

function claimRefOf(pvc: PersistentVolumeClaim): NonNullable<NonNullable<PersistentVolume['spec']>['claimRef']> {
  return {
    kind: 'PersistentVolumeClaim',
    apiVersion: 'v1',
    namespace: pvc.metadata.namespace ?? 'default',
    name: pvc.metadata.name ?? '',
    uid: pvc.metadata.uid ?? '',
  };
}

/** The volume the local-path provisioner makes for a claim on a node (the storage contract's shape). */
export function localPathVolume(pvc: PersistentVolumeClaim, nodeName: string, root: string): PersistentVolume {
  const name = provisionedVolumeName(pvc.metadata.uid ?? '');
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name, annotations: { [PROVISIONED_BY_ANNOTATION]: LOCAL_PATH_PROVISIONER } },
    spec: {
      capacity: { storage: pvc.spec?.resources?.requests?.storage ?? '0' },
      accessModes: [...(pvc.spec?.accessModes ?? [])],
      persistentVolumeReclaimPolicy: 'Delete',
      storageClassName: LOCAL_PATH_CLASS,
      volumeMode: 'Filesystem',
      claimRef: claimRefOf(pvc),
      local: { path: posix.join(root, name) },
      nodeAffinity: {
        required: { nodeSelectorTerms: [{ matchExpressions: [{ key: LABEL_HOSTNAME, operator: 'In', values: [nodeName] }] }] },
      },
    },
    status: { phase: 'Bound' },
  };
}

/**
 * Makes pv and pvc point at each other and both Bound (claimRef with the
 * claim's uid, spec.volumeName, both phases, the claim's status capacity and
 * modes); claimAnnotations go on the claim. Writes only what differs, so it
 * also completes a binding an earlier attempt left half done.
 */
export async function bindClaimToVolume(
  client: ObjectClient,
  pvc: PersistentVolumeClaim,
  pv: PersistentVolume,
  claimAnnotations: Record<string, string> = {},
): Promise<void> {
  const pvName = pv.metadata.name ?? '';
  const ref = pv.spec?.claimRef;
  if (ref && !claimRefMatches(pv, pvc)) {
    throw new Error(`persistentvolume "${pvName}" is bound to another claim (${ref.namespace}/${ref.name})`);
  }
  if (!ref || !ref.uid) {
    pv = await client.update(PV_RESOURCE, {
      ...pv,
      metadata: { ...pv.metadata, annotations: { ...pv.metadata.annotations, [BOUND_BY_CONTROLLER_ANNOTATION]: 'yes' } },
      spec: { ...pv.spec, claimRef: claimRefOf(pvc) },
    });
  }
  if (pv.status?.phase !== 'Bound') pv = await client.updateStatus(PV_RESOURCE, { ...pv, status: { ...pv.status, phase: 'Bound' } });

  const annotations: Record<string, string> = { ...pvc.metadata.annotations, [BIND_COMPLETED_ANNOTATION]: 'yes', ...claimAnnotations };
  if (pvc.spec?.volumeName !== pvName || !jsonEqual(annotations, pvc.metadata.annotations ?? {})) {
    if (!pvc.metadata.annotations?.[BIND_COMPLETED_ANNOTATION] && !pvc.spec?.volumeName) annotations[BOUND_BY_CONTROLLER_ANNOTATION] = 'yes';
    pvc = await client.update(PVC_RESOURCE, { ...pvc, metadata: { ...pvc.metadata, annotations }, spec: { ...pvc.spec, volumeName: pvName } });
  }
  const status = {
    ...pvc.status,
    phase: 'Bound',
    accessModes: [...(pv.spec?.accessModes ?? [])],
    capacity: { ...pv.spec?.capacity },
  };
  if (jsonEqual(status, pvc.status ?? {})) return;
  try {
    await client.updateStatus(PVC_RESOURCE, { ...pvc, status });
  } catch (err) {
    // The PV controller may have marked the claim Bound in between: that is the same end.
    const now = err instanceof Conflict ? client.get<PersistentVolumeClaim>(PVC_RESOURCE, pvc.metadata.namespace ?? 'default', pvc.metadata.name ?? '') : undefined;
    if (now?.spec?.volumeName === pvName && now.status?.phase === 'Bound') return;
    throw err;
  }
}

export function createVolumeProvisioner(opts: { client: ObjectClient; logger: Logger; events?: EventRecorder }): VolumeProvisioner {
  const { client } = opts;
  const log = opts.logger.child({ component: 'volume-provisioner' });
  // Pods sharing a claim are prepared one after the other: the second then sees the first's binding.
  const locks = new Map<string, Promise<unknown>>();

  async function withLock<T>(key: string, work: () => Promise<T>): Promise<T> {
    const before = locks.get(key) ?? Promise.resolve();
    const run = before.then(work, work);
    const settled = run.catch(() => undefined);
    locks.set(key, settled);
    try {
      return await run;
    } finally {
      if (locks.get(key) === settled) locks.delete(key);
    }
  }

  async function provision(pvc: PersistentVolumeClaim, nodeName: string, root: string): Promise<PersistentVolume> {
    const want = localPathVolume(pvc, nodeName, root);
    const name = want.metadata.name!;
    try {
      const created = await client.create(PV_RESOURCE, want);
      log.info({ claim: `${pvc.metadata.namespace}/${pvc.metadata.name}`, volume: name, node: nodeName }, 'provisioned a local volume');
      try {
        await opts.events?.normal(pvc, 'ProvisioningSucceeded', `Successfully provisioned volume ${name} on node ${nodeName}`);
      } catch (err) {
        log.warn({ err, volume: name }, 'recording the ProvisioningSucceeded event failed');
      }
      return created;
    } catch (err) {
      // An earlier attempt (or another pod of the claim) made it already.
      if (!(err instanceof AlreadyExists)) throw err;
      const existing = client.get<PersistentVolume>(PV_RESOURCE, '', name);
      if (!existing) throw err;
      if (existing.spec?.claimRef?.uid !== pvc.metadata.uid) throw new Error(`persistentvolume "${name}" exists and belongs to another claim`);
      return existing;
    }
  }

  async function prepareClaim(namespace: string, claimName: string, node: SchedNode): Promise<VolumePreparation> {
    const nodeName = node.metadata.name ?? '';
    const pvc = client.get<PersistentVolumeClaim>(PVC_RESOURCE, namespace, claimName);
    if (!pvc) throw new Error(`persistentvolumeclaim "${claimName}" not found`);
    if (pvc.metadata.deletionTimestamp) throw new Error(`persistentvolumeclaim "${claimName}" is being deleted`);
    const volumeName = pvc.spec?.volumeName;
    if (volumeName) {
      const pv = client.get<PersistentVolume>(PV_RESOURCE, '', volumeName);
      if (!pv) throw new Error(`persistentvolumeclaim "${claimName}" is bound to persistentvolume "${volumeName}", which does not exist`);
      // Another pod of the claim got there first, on another node: schedule again.
      if (!allowsNode(pv, node)) throw new Error(`persistentvolume "${volumeName}" of claim "${claimName}" can't be used on node "${nodeName}"`);
      await bindClaimToVolume(client, pvc, pv, {});
      return undefined;
    }
    const pv = pickVolume(candidateVolumes(client.list<PersistentVolume>(PV_RESOURCE).items, pvc), (v) => allowsNode(v, node));
    if (pv) {
      await bindClaimToVolume(client, pvc, pv, {});
      log.info({ claim: `${namespace}/${claimName}`, volume: pv.metadata.name, node: nodeName }, 'bound a claim to an existing volume');
      return undefined;
    }
    if (!isLocalPathClaim(pvc)) return { unschedulable: `persistentvolumeclaim "${claimName}" has no volume to bind on node "${nodeName}" and no provisioner` };
    const root = node.metadata.annotations?.[LOCAL_VOLUME_ROOT_ANNOTATION];
    if (!root || !posix.isAbsolute(root)) {
      return {
        unschedulable: `node "${nodeName}" has no local volume root (annotation ${LOCAL_VOLUME_ROOT_ANNOTATION}) to provision persistentvolumeclaim "${claimName}" on`,
      };
    }
    const made = await provision(pvc, nodeName, root);
    if (!allowsNode(made, node)) throw new Error(`persistentvolume "${made.metadata.name}" of claim "${claimName}" lives on another node than "${nodeName}"`);
    await bindClaimToVolume(client, pvc, made, {
      [SELECTED_NODE_ANNOTATION]: nodeName,
      [STORAGE_PROVISIONER_ANNOTATION]: LOCAL_PATH_PROVISIONER,
    });
    return undefined;
  }

  return {
    async prepare(pod, nodeName) {
      const names = podClaimNames(pod.spec?.volumes);
      if (names.length === 0) return undefined;
      const node = client.get<SchedNode>('nodes', '', nodeName);
      if (!node) throw new Error(`node "${nodeName}" not found`);
      const namespace = pod.metadata.namespace ?? 'default';
      for (const claimName of names) {
        const blocked = await withLock(`${namespace}/${claimName}`, () => prepareClaim(namespace, claimName, node));
        if (blocked) return blocked;
      }
      return undefined;
    },
  };
}
