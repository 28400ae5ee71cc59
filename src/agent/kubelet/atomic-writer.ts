// Writes a configMap or secret volume so a running container never sees a
// half-updated set of files, as Kubernetes' AtomicWriter does: the files go
// into a fresh `..<timestamp>` directory, the `..data` symlink is swapped to it
// with one rename, and each visible name is a symlink through `..data`.
import { chmod, mkdir, mkdtemp, readdir, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ProjectedFile } from './volume-projection.ts';

const DATA_LINK = '..data';
const DATA_TMP = '..data_tmp';

function stamp(now: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${now.getUTCFullYear()}_${p(now.getUTCMonth() + 1)}_${p(now.getUTCDate())}_${p(now.getUTCHours())}_${p(now.getUTCMinutes())}_${p(now.getUTCSeconds())}`;
}

/** Replaces the volume directory's visible files with `files` (paths already validated). */
export async function writeProjectedFiles(dir: string, files: ProjectedFile[], now: Date = new Date()): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const fresh = await mkdtemp(join(dir, `..${stamp(now)}.`));
  const freshName = fresh.slice(dir.length + 1);
  await chmod(fresh, 0o755);
  for (const f of files) {
    const target = join(fresh, f.path);
    await mkdir(dirname(target), { recursive: true, mode: 0o755 });
    await writeFile(target, f.content, { mode: f.mode });
    await chmod(target, f.mode); // the umask may have narrowed it
  }
  const tmp = join(dir, DATA_TMP);
  await rm(tmp, { force: true });
  await symlink(freshName, tmp);
  await rename(tmp, join(dir, DATA_LINK));

  const visible = new Set(files.map((f) => f.path.split('/')[0]!));
  for (const name of visible) {
    const link = join(dir, name);
    const want = join(DATA_LINK, name);
    if ((await readlink(link).catch(() => undefined)) === want) continue;
    await rm(link, { recursive: true, force: true });
    await symlink(want, link);
  }
  // Names no longer projected, and directories of earlier (or interrupted) writes.
  for (const entry of await readdir(dir)) {
    if (entry === DATA_LINK || entry === freshName || visible.has(entry)) continue;
    await rm(join(dir, entry), { recursive: true, force: true });
  }
}
