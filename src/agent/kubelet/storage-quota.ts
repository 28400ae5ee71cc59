// Whether Docker can cap a container's writable layer (`--storage-opt size=`),
// which is what an ephemeral-storage limit needs. overlay2 does it only on xfs
// mounted with project quotas (pquota/prjquota); elsewhere Docker refuses the
// option at create, so the kubelet leaves it out and the limit is not enforced.
import { readFileSync } from 'node:fs';

/** Mount options of the mount that holds path, from /proc/mounts text (longest mount point wins). */
export function mountOptionsFor(path: string, mountsText: string): string[] {
  let best: { point: string; options: string[] } | undefined;
  for (const line of mountsText.split('\n')) {
    const [, point, , options] = line.split(' ');
    if (!point || options === undefined) continue;
    const p = point.replace(/\\040/g, ' ');
    const inside = p === '/' || path === p || path.startsWith(`${p}/`);
    if (inside && (!best || p.length >= best.point.length)) best = { point: p, options: options.split(',') };
  }
  return best?.options ?? [];
}

export function storageQuotaSupported(driver: string | undefined, backingFs: string | undefined, mountOptions: string[]): boolean {
  if (driver !== 'overlay2' || backingFs !== 'xfs') return false;
  return mountOptions.some((o) => o === 'pquota' || o === 'prjquota');
}

/** From `docker info` fields; reads /proc/mounts for the data root's mount options. */
export function detectStorageQuota(info: { Driver?: string; DriverStatus?: [string, string][]; DockerRootDir?: string }, mountsPath = '/proc/mounts'): boolean {
  const backing = info.DriverStatus?.find(([k]) => k === 'Backing Filesystem')?.[1];
  if (info.Driver !== 'overlay2' || backing !== 'xfs') return false;
  let text = '';
  try {
    text = readFileSync(mountsPath, 'utf8');
  } catch {
    return false;
  }
  return storageQuotaSupported(info.Driver, backing, mountOptionsFor(info.DockerRootDir ?? '/var/lib/docker', text));
}
