// Pure: the files a configMap or secret volume shows, from the object's keys,
// the volume's items (key -> path, mode) and defaultMode, as Kubernetes does.
import { createHash } from 'node:crypto';
import type { Projection } from './pod-volumes.ts';
import { isSafeSubPath } from './pod-volumes.ts';

export interface ProjectedFile {
  /** Relative to the volume directory; never climbs, never starts with `..`. */
  path: string;
  content: Buffer;
  mode: number;
}

const DEFAULT_MODE = 0o644;

/** A ConfigMap's keys: data as UTF-8, binaryData decoded from base64. */
export function configMapPayload(cm: { data?: Record<string, string>; binaryData?: Record<string, string> }): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [k, v] of Object.entries(cm.data ?? {})) out.set(k, Buffer.from(v, 'utf8'));
  for (const [k, v] of Object.entries(cm.binaryData ?? {})) out.set(k, Buffer.from(v, 'base64'));
  return out;
}

/** A Secret's keys: data decoded from base64, stringData (not yet merged by an API) as UTF-8. */
export function secretPayload(s: { data?: Record<string, string>; stringData?: Record<string, string> }): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [k, v] of Object.entries(s.data ?? {})) out.set(k, Buffer.from(v, 'base64'));
  for (const [k, v] of Object.entries(s.stringData ?? {})) out.set(k, Buffer.from(v, 'utf8'));
  return out;
}

/** The writer keeps `..data` and `..<timestamp>` entries of its own in the volume directory. */
function validFilePath(p: string): boolean {
  return isSafeSubPath(p) && !p.startsWith('..') && !p.split('/').includes('.') && !p.includes('//');
}

/**
 * The files for `payload` (undefined: the object does not exist), or why the
 * volume cannot be set up. `kind` picks the wording of Kubernetes' messages.
 */
export function projectFiles(kind: 'configMap' | 'secret', projection: Projection, payload: Map<string, Buffer> | undefined): { files: ProjectedFile[] } | { error: string } {
  const what = kind === 'configMap' ? 'configmap' : 'secret';
  if (!payload) {
    if (projection.optional) return { files: [] };
    return { error: `${what} "${projection.source}" not found` };
  }
  const defaultMode = (projection.defaultMode ?? DEFAULT_MODE) & 0o777;
  const wanted: KeyPath[] = projection.items
    ? projection.items.map((i) => ({ key: i.key, path: i.path, mode: i.mode }))
    : [...payload.keys()].sort().map((key) => ({ key, path: key }));
  const files: ProjectedFile[] = [];
  const seen = new Set<string>();
  for (const w of wanted) {
    const content = payload.get(w.key);
    if (content === undefined) {
      if (projection.optional) continue;
      return { error: `${what} references non-existent ${kind === 'configMap' ? 'config' : 'secret'} key: ${w.key}` };
    }
    if (!validFilePath(w.path)) return { error: `${what} "${projection.source}": invalid path "${w.path}" for key ${w.key}` };
    if (seen.has(w.path)) return { error: `${what} "${projection.source}": path "${w.path}" is used twice` };
    seen.add(w.path);
    files.push({ path: w.path, content, mode: (w.mode ?? defaultMode) & 0o777 });
  }
  // A file cannot also be a directory of another item's path.
  for (const f of files) {
    const parts = f.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      if (seen.has(prefix)) return { error: `${what} "${projection.source}": path "${prefix}" is both a file and a directory` };
    }
  }
  return { files };
}

interface KeyPath {
  key: string;
  path: string;
  mode?: number;
}

/** Identifies a set of files: equal digests mean nothing to rewrite. */
export function filesDigest(files: ProjectedFile[]): string {
  const h = createHash('sha256');
  for (const f of [...files].sort((a, b) => a.path.localeCompare(b.path))) {
    h.update(`${f.path}\0${f.mode}\0${f.content.length}\0`);
    h.update(f.content);
  }
  return h.digest('hex');
}
