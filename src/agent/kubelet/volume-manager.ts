// The effects of pod volumes on this node: directories for emptyDir volumes,
// files for configMap and secret volumes, checks of hostPath and claimed
// volumes, subPaths, and removing what a gone pod or a deleted provisioned PV
// leaves behind. What each path is comes from pod-volumes.ts and claim-volumes.ts.
//
// Layout under the agent's data dir: pods/<uid>/ (mode 0700, so Secret values
// written below it are unreadable to other host users) holds
// volumes/kubernetes.io~{empty-dir,configmap,secret}/<volume>; volumes/ is the
// local-volume-root of provisioned PersistentVolumes.
import { chmod, lstat, mkdir, readdir, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Stats } from 'node:fs';
import type { ObjectClient } from '../api/object-client.ts';
import type { Container, KubeObject, Pod } from '../api/object-types.ts';
import type { Logger } from '../logger.ts';
import type { StoreEvent } from '../store/object-store.ts';
import type { ContainerMount } from './container-runtime.ts';
import { ContainerConfigError } from './env.ts';
import { writeProjectedFiles } from './atomic-writer.ts';
import {
  containerMounts,
  isStrictlyUnder,
  planPodVolumes,
  podDir,
  volumeReferences,
  type HostPathType,
  type KubeletVolumePaths,
  type PlannedVolume,
  type ReadyVolume,
  type VolumeReferences,
} from './pod-volumes.ts';
import { configMapPayload, filesDigest, projectFiles, secretPayload } from './volume-projection.ts';
import { reclaimablePath, resolveClaim, type NodeIdentity, type PersistentVolumeClaimShape, type PersistentVolumeShape } from './claim-volumes.ts';

type SecretValues = { data?: Record<string, string>; stringData?: Record<string, string> };

export interface VolumeManagerOptions {
  nodeName: string;
  client: ObjectClient;
  /** From kubeletVolumePaths(dataDir). Without it, emptyDir, configMap and secret volumes cannot be set up. */
  paths?: KubeletVolumePaths;
  /**
   * Secret values (base64 `data`) by name, missing ones absent; the kubelet's
   * fetcher through the Raft leader. Without it, Secrets are read through client.
   */
  secrets?: (namespace: string, names: string[]) => Promise<Map<string, SecretValues>>;
  logger: Logger;
}

export type VolumeSetUp =
  | { ok: true; volumes: ReadonlyMap<string, ReadyVolume> }
  /** message is the FailedMount event's text. */
  | { ok: false; unmounted: string[]; message: string };

export interface VolumeManager {
  /** Creates the data directories and watches what volumes read; onChange(uid) asks for that pod's re-sync. */
  start(onChange: (uid: string) => void): Promise<void>;
  stop(): void;
  /**
   * Makes every volume of the pod ready (idempotent; refreshes configMap and
   * secret files when their objects changed). A volume that was ready once
   * stays mounted when a refresh fails.
   */
  setUp(pod: Pod): Promise<VolumeSetUp>;
  /** The bind mounts of one container; throws ContainerConfigError (unknown volume, bad subPath). */
  mounts(c: Container, volumes: ReadonlyMap<string, ReadyVolume>): Promise<ContainerMount[]>;
  /** Removes the pod's own volume directories (never claimed volumes' data). */
  tearDown(uid: string): Promise<void>;
  /** Removes pod directories whose uid `keep` does not claim. */
  sweep(keep: (uid: string) => boolean): Promise<void>;
  /** For a deleted PV: removes its directory when it is this node's to remove; true when it did. */
  reclaim(pv: PersistentVolumeShape): Promise<boolean>;
}

/** An expected reason a volume is not ready; its message goes into FailedMount as is. */
class VolumeError extends Error {}

/** An object's identity in the local store: changes with every change of it. */
function stampOf(o: KubeObject | undefined): string {
  return o ? `${o.metadata.uid}/${o.metadata.resourceVersion}` : 'absent';
}

interface PodVolumeState {
  refs: VolumeReferences;
  ready: Map<string, ReadyVolume>;
  /** What each projected volume holds on disk, and the stamp of the ConfigMap or Secret it was projected from. */
  written: Map<string, { digest: string; stamp?: string }>;
}

const errno = (err: unknown) => (err as NodeJS.ErrnoException | null)?.code;

async function statOrUndefined(p: string, how: (p: string) => Promise<Stats> = stat): Promise<Stats | undefined> {
  try {
    return await how(p);
  } catch (err) {
    if (errno(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/** mkdir -p; the mode (not narrowed by the umask) goes on the directory when this call created it. */
async function ensureDir(p: string, mode: number): Promise<void> {
  const made = await mkdir(p, { recursive: true, mode });
  if (made !== undefined) await chmod(p, mode);
}

const TYPE_CHECKS: Record<Exclude<HostPathType, '' | 'DirectoryOrCreate' | 'FileOrCreate'>, [(s: Stats) => boolean, string]> = {
  Directory: [(s) => s.isDirectory(), 'a directory'],
  File: [(s) => s.isFile(), 'a file'],
  Socket: [(s) => s.isSocket(), 'a socket file'],
  CharDevice: [(s) => s.isCharacterDevice(), 'a character device'],
  BlockDevice: [(s) => s.isBlockDevice(), 'a block device'],
};

async function checkHostPath(path: string, type: HostPathType): Promise<void> {
  const st = await statOrUndefined(path);
  if (type === '' || type === 'DirectoryOrCreate') {
    // A missing path becomes a directory, as Docker's -v and containerd's CRI make it for a hostPath without a type.
    if (!st) await mkdir(path, { recursive: true, mode: 0o755 });
    else if (type === 'DirectoryOrCreate' && !st.isDirectory()) throw new VolumeError(`hostPath type check failed: ${path} is not a directory`);
    return;
  }
  if (type === 'FileOrCreate') {
    if (!st) {
      await mkdir(dirname(path), { recursive: true, mode: 0o755 });
      await writeFile(path, '', { mode: 0o644, flag: 'a' });
    } else if (!st.isFile()) throw new VolumeError(`hostPath type check failed: ${path} is not a file`);
    return;
  }
  const [ok, what] = TYPE_CHECKS[type];
  if (!st || !ok(st)) throw new VolumeError(`hostPath type check failed: ${path} is not ${what}`);
}

export function createVolumeManager(opts: VolumeManagerOptions): VolumeManager {
  const { client, paths, nodeName } = opts;
  const log = opts.logger.child({ component: 'volume-manager' });
  const states = new Map<string, PodVolumeState>();
  const unwatch: (() => void)[] = [];

  function node(): NodeIdentity {
    const labels = client.get<KubeObject>('nodes', '', nodeName)?.metadata.labels ?? {};
    return { name: nodeName, labels: { 'kubernetes.io/hostname': nodeName, ...labels } };
  }

  async function ensurePodDir(uid: string): Promise<void> {
    const dir = paths && podDir(paths, uid);
    if (!paths || !dir) throw new VolumeError('no pod directory'); // planPodVolumes marks these invalid first
    await ensureDir(paths.podsDir, 0o700);
    await ensureDir(dir, 0o700);
  }

  /** A Secret's identity in the local store: changes with every change of its values (the shell's version moves). */
  function secretStamp(namespace: string, name: string): string {
    return stampOf(client.get<KubeObject>('secrets', namespace, name));
  }

  async function fetchSecrets(namespace: string, names: string[]): Promise<Map<string, SecretValues>> {
    if (opts.secrets) return opts.secrets(namespace, names);
    const out = new Map<string, SecretValues>();
    for (const n of names) {
      const s = client.get<KubeObject & SecretValues>('secrets', namespace, n);
      if (s) out.set(n, s);
    }
    return out;
  }

  async function project(uid: string, v: Extract<PlannedVolume, { kind: 'configMap' | 'secret' }>, st: PodVolumeState, payload: Map<string, Buffer> | undefined, stamp?: string): Promise<ReadyVolume> {
    const r = projectFiles(v.kind, v.projection, payload);
    if ('error' in r) throw new VolumeError(r.error);
    const digest = filesDigest(r.files);
    if (st.written.get(v.name)?.digest !== digest) {
      await ensurePodDir(uid);
      await writeProjectedFiles(v.dir, r.files);
    }
    st.written.set(v.name, { digest, ...(stamp !== undefined ? { stamp } : {}) });
    return { hostPath: v.dir, readOnly: true, createSubPaths: false };
  }

  /** Secrets fetched for one set-up: by name, with the stamps they were fetched at (or why the fetch failed). */
  interface Fetched {
    stamps: Map<string, string>;
    values: Map<string, SecretValues>;
    error?: string;
  }

  async function setUpOne(pod: Pod, v: PlannedVolume, st: PodVolumeState, secrets: Fetched | undefined): Promise<ReadyVolume> {
    const uid = pod.metadata.uid ?? '';
    const namespace = pod.metadata.namespace ?? 'default';
    switch (v.kind) {
      case 'invalid':
        throw new VolumeError(`volume "${v.name}": ${v.message}`);
      case 'emptyDir':
        await ensurePodDir(uid);
        // 0777 as Kubernetes makes it: containers running as any user share it.
        await ensureDir(v.dir, 0o777);
        return { hostPath: v.dir, readOnly: false, createSubPaths: true };
      case 'hostPath':
        await checkHostPath(v.path, v.type);
        return { hostPath: v.path, readOnly: false, createSubPaths: true };
      case 'configMap': {
        const cm = client.get<KubeObject & { data?: Record<string, string>; binaryData?: Record<string, string> }>('configmaps', namespace, v.projection.source);
        const stamp = stampOf(cm);
        // Projected from this very version before (pod volumes are immutable): nothing to decode or hash again.
        const ready = st.ready.get(v.name);
        if (ready && st.written.get(v.name)?.stamp === stamp) return ready;
        return project(uid, v, st, cm ? configMapPayload(cm) : undefined, stamp);
      }
      case 'secret': {
        const src = v.projection.source;
        const stamp = secrets?.stamps.get(src);
        // Not among those to fetch: written before and unchanged since.
        if (stamp === undefined) return st.ready.get(v.name)!;
        if (secrets!.error !== undefined) throw new VolumeError(secrets!.error);
        const values = secrets!.values.get(src);
        return project(uid, v, st, values ? secretPayload(values) : undefined, stamp);
      }
      case 'persistentVolumeClaim': {
        const lookup = {
          claim: (ns: string, name: string) => client.get<PersistentVolumeClaimShape>('persistentvolumeclaims', ns, name),
          volume: (name: string) => client.get<PersistentVolumeShape>('persistentvolumes', '', name),
        };
        const r = resolveClaim(namespace, v.claimName, lookup, node(), paths?.localVolumeRoot);
        if (!r.ok) throw new VolumeError(r.message);
        if (r.create) {
          await ensureDir(paths!.localVolumeRoot, 0o700);
          // 0777 as local-path provisioners make it, for pods running as any user.
          await ensureDir(r.path, 0o777);
        } else {
          try {
            await checkHostPath(r.path, r.hostPathType);
          } catch (err) {
            if (err instanceof VolumeError) throw new VolumeError(`persistentvolume "${r.volumeName}": ${err.message}`);
            throw err;
          }
        }
        return { hostPath: r.path, readOnly: v.readOnly, createSubPaths: !v.readOnly };
      }
    }
  }

  /** The Secrets whose values must be (re)fetched for this pod: never written, or changed since. */
  async function secretsToFetch(namespace: string, plan: PlannedVolume[], st: PodVolumeState): Promise<Fetched | undefined> {
    const stamps = new Map<string, string>();
    for (const v of plan) {
      if (v.kind !== 'secret') continue;
      const stamp = secretStamp(namespace, v.projection.source);
      const written = st.written.get(v.name);
      if (!written || written.stamp !== stamp || !st.ready.has(v.name)) stamps.set(v.projection.source, stamp);
    }
    if (stamps.size === 0) return undefined;
    try {
      return { stamps, values: await fetchSecrets(namespace, [...stamps.keys()].sort()) };
    } catch (err) {
      return { stamps, values: new Map(), error: `cannot fetch the pod's secrets: ${err instanceof Error ? err.message : String(err)}` };
    }
  }

  async function subPathSource(vol: ReadyVolume, subPath: string, volume: string): Promise<string> {
    const realRoot = await realpath(vol.hostPath);
    const mode = (await stat(realRoot)).mode & 0o7777;
    const escapes = () => new ContainerConfigError(`subPath "${subPath}" of volumeMount "${volume}" resolves outside its volume`);
    let cur = realRoot;
    // One component at a time, each resolved before the next is created: a symlink a
    // container left in its volume must not make the kubelet create or mount outside it.
    for (const part of subPath.split('/').filter((p) => p !== '' && p !== '.')) {
      const next = join(cur, part);
      let st = await statOrUndefined(next, lstat);
      if (!st) {
        if (!vol.createSubPaths) throw new ContainerConfigError(`subPath "${subPath}" of volumeMount "${volume}" does not exist in the volume`);
        try {
          await mkdir(next, { mode });
          await chmod(next, mode);
        } catch (err) {
          if (errno(err) !== 'EEXIST') throw new ContainerConfigError(`cannot create subPath "${subPath}" of volumeMount "${volume}": ${(err as Error).message}`);
        }
        st = await lstat(next);
      }
      const real = st.isSymbolicLink() ? await realpath(next).catch(() => undefined) : next;
      if (!real) throw new ContainerConfigError(`subPath "${subPath}" of volumeMount "${volume}" is a dangling symlink`);
      if (real !== realRoot && !isStrictlyUnder(realRoot, real)) throw escapes();
      cur = real;
    }
    return cur;
  }

  async function reclaim(pv: PersistentVolumeShape): Promise<boolean> {
    const root = paths?.localVolumeRoot;
    if (!root) return false;
    const path = reclaimablePath(pv, node(), root);
    if (!path) return false;
    const realRoot = await realpath(root).catch(() => undefined);
    const parent = await realpath(dirname(path)).catch(() => undefined);
    if (!realRoot || !parent) return false;
    if (parent !== realRoot && !isStrictlyUnder(realRoot, parent)) {
      log.warn({ pv: pv.metadata.name, path }, 'not removing a volume directory that resolves outside the local-volume-root');
      return false;
    }
    const target = join(parent, basename(path));
    if (!(await statOrUndefined(target, lstat))) return false;
    // rm removes a symlink itself and never follows links inside the tree.
    await rm(target, { recursive: true, force: true });
    log.info({ pv: pv.metadata.name, path: target }, 'removed the directory of a deleted persistent volume');
    return true;
  }

  function onObject(kind: 'configMaps' | 'secrets' | 'claims', onChange: (uid: string) => void) {
    return (e: StoreEvent) => {
      const ns = e.object.metadata.namespace ?? 'default';
      const name = e.object.metadata.name ?? '';
      for (const [uid, st] of states) if (st.refs.namespace === ns && st.refs[kind].has(name)) onChange(uid);
    };
  }

  return {
    async start(onChange) {
      if (paths) {
        await ensureDir(paths.podsDir, 0o700);
        await ensureDir(paths.localVolumeRoot, 0o700);
      }
      unwatch.push(client.watch('configmaps', {}, onObject('configMaps', onChange)));
      unwatch.push(client.watch('secrets', {}, onObject('secrets', onChange)));
      unwatch.push(client.watch('persistentvolumeclaims', {}, onObject('claims', onChange)));
      unwatch.push(
        client.watch('persistentvolumes', {}, (e) => {
          if (e.type === 'DELETED') {
            reclaim(e.object as PersistentVolumeShape).catch((err) => log.warn({ err, pv: e.object.metadata.name }, 'could not remove the volume directory'));
            return;
          }
          // A PV appearing or binding can unblock any pod waiting on a claim.
          for (const [uid, st] of states) if (st.refs.claims.size > 0) onChange(uid);
        }),
      );
    },

    stop() {
      for (const u of unwatch.splice(0)) u();
    },

    async setUp(pod) {
      const uid = pod.metadata.uid ?? '';
      const namespace = pod.metadata.namespace ?? 'default';
      const plan = planPodVolumes(pod, paths);
      const refs = volumeReferences(pod, plan);
      let st = states.get(uid);
      if (!st) states.set(uid, (st = { refs, ready: new Map(), written: new Map() }));
      st.refs = refs;
      if (plan.length === 0) return { ok: true, volumes: st.ready };
      const secrets = await secretsToFetch(namespace, plan, st);
      const failures: { name: string; message: string }[] = [];
      for (const v of plan) {
        try {
          st.ready.set(v.name, await setUpOne(pod, v, st, secrets));
        } catch (err) {
          const message = err instanceof VolumeError ? err.message : `volume "${v.name}": ${err instanceof Error ? err.message : String(err)}`;
          if (st.ready.has(v.name)) {
            log.warn({ pod: `${namespace}/${pod.metadata.name}`, volume: v.name, reason: message }, 'volume refresh failed; the mounted content stays');
            continue;
          }
          failures.push({ name: v.name, message });
        }
      }
      if (failures.length > 0) {
        const names = failures.map((f) => f.name);
        return { ok: false, unmounted: names, message: `Unable to attach or mount volumes: unmounted volumes=[${names.join(' ')}]: ${failures.map((f) => f.message).join('; ')}` };
      }
      return { ok: true, volumes: st.ready };
    },

    async mounts(c, volumes) {
      const plan = containerMounts(c, volumes);
      if ('error' in plan) throw new ContainerConfigError(plan.error);
      const out: ContainerMount[] = [];
      for (const m of plan.mounts) {
        const source = m.subPath ? await subPathSource(volumes.get(m.volume)!, m.subPath, m.volume) : m.hostPath;
        out.push({ hostPath: source, containerPath: m.containerPath, readOnly: m.readOnly });
      }
      return out;
    },

    async tearDown(uid) {
      states.delete(uid);
      const dir = paths && podDir(paths, uid);
      if (!dir) return;
      try {
        await rm(dir, { recursive: true, force: true });
      } catch (err) {
        // The sweep tries again.
        log.warn({ err, uid }, 'could not remove the pod volume directory');
      }
    },

    async sweep(keep) {
      if (!paths) return;
      let entries: string[];
      try {
        entries = await readdir(paths.podsDir);
      } catch (err) {
        if (errno(err) === 'ENOENT') return;
        throw err;
      }
      const gone = entries.filter((uid) => !keep(uid) && podDir(paths, uid) !== undefined);
      if (gone.length) log.info({ count: gone.length }, 'removing volume directories of pods that no longer exist');
      for (const uid of gone) {
        states.delete(uid);
        await rm(podDir(paths, uid)!, { recursive: true, force: true });
      }
    },

    reclaim,
  };
}
