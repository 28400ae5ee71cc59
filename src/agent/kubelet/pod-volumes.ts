// Pure: where each of a pod's volumes lives on this node, and which bind
// mounts each container gets. The effects (directories, files, checks) are
// volume-manager.ts's; this file decides only paths and rules.
import { isAbsolute, join, normalize, relative, resolve, sep } from 'node:path';
import type { Container, Pod } from '../api/object-types.ts';
import { LOCAL_VOLUME_ROOT_ANNOTATION } from '../api/persistent-volume-types.ts';

export { LOCAL_VOLUME_ROOT_ANNOTATION };

export interface KubeletVolumePaths {
  /** `<data dir>/pods`: each pod's own volumes (emptyDir, configMap, secret), by pod uid. */
  podsDir: string;
  /** `<data dir>/volumes`: local persistent volumes; the Node's mesh.dev/local-volume-root. */
  localVolumeRoot: string;
}

export function kubeletVolumePaths(dataDir: string): KubeletVolumePaths {
  const root = resolve(dataDir);
  return { podsDir: join(root, 'pods'), localVolumeRoot: join(root, 'volumes') };
}

/** The annotations the kubelet's Node carries for storage (the provisioner reads them). */
export function nodeVolumeAnnotations(dataDir: string): Record<string, string> {
  return { [LOCAL_VOLUME_ROOT_ANNOTATION]: kubeletVolumePaths(dataDir).localVolumeRoot };
}

/** True when p lies inside root (not root itself), compared lexically after resolving both. */
export function isStrictlyUnder(root: string, p: string): boolean {
  const rel = relative(resolve(root), resolve(p));
  return rel !== '' && !isAbsolute(rel) && rel.split(sep)[0] !== '..';
}

/** A single path component that cannot climb or hide: uids and volume names become directory names. */
function safeComponent(s: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(s) && s.length <= 253;
}

/** The directory holding one pod's own volumes; undefined for a uid that is no safe directory name. */
export function podDir(paths: KubeletVolumePaths, uid: string): string | undefined {
  return safeComponent(uid) ? join(paths.podsDir, uid) : undefined;
}

export const HOST_PATH_TYPES = ['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice'] as const;
export type HostPathType = (typeof HOST_PATH_TYPES)[number];

export interface KeyToPath {
  key: string;
  path: string;
  mode?: number;
}

/** A configMap or secret volume's projection of keys to files. */
export interface Projection {
  /** The ConfigMap's or Secret's name. */
  source: string;
  items?: KeyToPath[];
  defaultMode?: number;
  optional: boolean;
}

export type PlannedVolume =
  | { name: string; kind: 'emptyDir'; dir: string; medium: string }
  | { name: string; kind: 'hostPath'; path: string; type: HostPathType }
  | { name: string; kind: 'configMap' | 'secret'; dir: string; projection: Projection }
  | { name: string; kind: 'persistentVolumeClaim'; claimName: string; readOnly: boolean }
  /** Not mountable: `message` says why (the pod waits with FailedMount). */
  | { name: string; kind: 'invalid'; message: string };

interface VolumeSpec {
  name: string;
  emptyDir?: { medium?: string } | null;
  hostPath?: { path?: string; type?: string } | null;
  configMap?: { name?: string; items?: KeyToPath[]; defaultMode?: number; optional?: boolean } | null;
  secret?: { secretName?: string; items?: KeyToPath[]; defaultMode?: number; optional?: boolean } | null;
  persistentVolumeClaim?: { claimName?: string; readOnly?: boolean } | null;
  [source: string]: unknown;
}

// Kubernetes' own plugin directory names, so an operator finds what they expect.
const PLUGIN_DIRS = { emptyDir: 'kubernetes.io~empty-dir', configMap: 'kubernetes.io~configmap', secret: 'kubernetes.io~secret' } as const;

/**
 * Every volume of the pod, in spec order. Without paths (a kubelet with no
 * data directory) the volumes that need a pod directory are invalid.
 */
export function planPodVolumes(pod: Pod, paths: KubeletVolumePaths | undefined): PlannedVolume[] {
  const uid = pod.metadata.uid ?? '';
  const base = paths ? podDir(paths, uid) : undefined;
  return ((pod.spec.volumes ?? []) as VolumeSpec[]).map((v): PlannedVolume => {
    const name = v.name;
    const dirFor = (plugin: keyof typeof PLUGIN_DIRS): string | PlannedVolume => {
      if (!safeComponent(name)) return { name, kind: 'invalid', message: `volume name "${name}" is not a valid directory name` };
      if (!paths) return { name, kind: 'invalid', message: 'the kubelet has no data directory for pod volumes' };
      if (!base) return { name, kind: 'invalid', message: `pod uid "${uid}" is not a valid directory name` };
      return join(base, 'volumes', PLUGIN_DIRS[plugin], name);
    };
    if (v.emptyDir) {
      const dir = dirFor('emptyDir');
      // medium Memory is a plain directory as well: a tmpfs per container could not be shared by the pod's containers.
      return typeof dir === 'string' ? { name, kind: 'emptyDir', dir, medium: v.emptyDir.medium ?? '' } : dir;
    }
    if (v.hostPath) {
      const path = v.hostPath.path ?? '';
      const type = (v.hostPath.type ?? '') as HostPathType;
      if (!isAbsolute(path)) return { name, kind: 'invalid', message: `hostPath "${path}" is not an absolute path` };
      if (!HOST_PATH_TYPES.includes(type)) return { name, kind: 'invalid', message: `hostPath type "${type}" is not supported` };
      return { name, kind: 'hostPath', path: normalize(path), type };
    }
    if (v.configMap || v.secret) {
      const kind = v.configMap ? 'configMap' : 'secret';
      const src = v.configMap ?? v.secret!;
      const source = v.configMap ? (v.configMap.name ?? '') : (v.secret?.secretName ?? '');
      const dir = dirFor(kind);
      if (typeof dir !== 'string') return dir;
      return {
        name,
        kind,
        dir,
        projection: { source, items: src.items ?? undefined, defaultMode: src.defaultMode ?? undefined, optional: src.optional === true },
      };
    }
    if (v.persistentVolumeClaim) {
      return { name, kind: 'persistentVolumeClaim', claimName: v.persistentVolumeClaim.claimName ?? '', readOnly: v.persistentVolumeClaim.readOnly === true };
    }
    const type = Object.keys(v).find((k) => k !== 'name') ?? 'none';
    return { name, kind: 'invalid', message: `volume type ${type} is not supported by this kubelet` };
  });
}

/** A volume ready on the host. */
export interface ReadyVolume {
  hostPath: string;
  /** Every mount of it is read-only (configMap, secret, a readOnly claim). */
  readOnly: boolean;
  /** subPaths may be created in it when missing. */
  createSubPaths: boolean;
}

export interface PlannedMount {
  volume: string;
  /** The volume's host path, joined with the subPath when there is one. */
  hostPath: string;
  subPath?: string;
  containerPath: string;
  readOnly: boolean;
}

/** Relative and never climbing: `a/b`, not `/a`, `../a` or `a/../../b`. */
export function isSafeSubPath(p: string): boolean {
  if (p === '' || isAbsolute(p)) return false;
  return !p.split(/[\\/]/).includes('..');
}

/** The container's mounts, or why it cannot have them (CreateContainerConfigError). */
export function containerMounts(c: Container, volumes: ReadonlyMap<string, ReadyVolume>): { mounts: PlannedMount[] } | { error: string } {
  const mounts: PlannedMount[] = [];
  for (const vm of c.volumeMounts ?? []) {
    const vol = volumes.get(vm.name);
    if (!vol) return { error: `cannot find volume "${vm.name}" to mount into container "${c.name}"` };
    if (!isAbsolute(vm.mountPath ?? '')) return { error: `mountPath "${vm.mountPath}" of volumeMount "${vm.name}" must be an absolute path` };
    const subPath = vm.subPath || undefined;
    if (subPath !== undefined && !isSafeSubPath(subPath)) {
      return { error: `subPath "${subPath}" of volumeMount "${vm.name}" must be a relative path without '..'` };
    }
    mounts.push({
      volume: vm.name,
      hostPath: subPath ? join(vol.hostPath, normalize(subPath)) : vol.hostPath,
      ...(subPath ? { subPath } : {}),
      containerPath: normalize(vm.mountPath),
      readOnly: vm.readOnly === true || vol.readOnly,
    });
  }
  return { mounts };
}

/** The names a pod's volumes read from the store, so their changes can re-sync it. */
export interface VolumeReferences {
  namespace: string;
  configMaps: Set<string>;
  secrets: Set<string>;
  claims: Set<string>;
}

export function volumeReferences(pod: Pod, plan: PlannedVolume[]): VolumeReferences {
  const refs: VolumeReferences = { namespace: pod.metadata.namespace ?? 'default', configMaps: new Set(), secrets: new Set(), claims: new Set() };
  for (const v of plan) {
    if (v.kind === 'configMap') refs.configMaps.add(v.projection.source);
    else if (v.kind === 'secret') refs.secrets.add(v.projection.source);
    else if (v.kind === 'persistentVolumeClaim') refs.claims.add(v.claimName);
  }
  return refs;
}
