// Client-side apply, as kubectl does it: the applied manifest is remembered in
// an annotation, and the next apply sends a patch computed three ways from
// (last applied, new manifest, live object). Fields the user removed from the
// manifest are deleted; fields the server or other writers own are left alone.
//
// The patch is a JSON merge patch (RFC 7386). Lists are replaced whole, but only
// when the manifest's list changed or the live list no longer contains it, so
// server-filled defaults inside list items do not make every apply "configured".
import type { KubeObject } from '../agent/api/object-types.ts';

export const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonMap = { [k: string]: Json };

const isMap = (v: unknown): v is JsonMap => !!v && typeof v === 'object' && !Array.isArray(v);

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isMap(a) && isMap(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return false;
}

/** True when every field of `want` is present with the same value in `have` (extra fields in `have` are fine). */
export function contains(have: unknown, want: unknown): boolean {
  if (Array.isArray(want)) return Array.isArray(have) && have.length === want.length && want.every((w, i) => contains(have[i], w));
  if (isMap(want)) return isMap(have) && Object.keys(want).every((k) => k in have && contains(have[k], want[k]));
  return have === want;
}

/** The manifest as stored in the annotation: the manifest itself, minus the annotation. */
export function lastAppliedText(obj: KubeObject): string {
  const copy = structuredClone(obj);
  const ann = copy.metadata.annotations;
  if (ann) {
    delete ann[LAST_APPLIED];
    if (Object.keys(ann).length === 0) delete copy.metadata.annotations;
  }
  return JSON.stringify(copy) + '\n';
}

/** The object to send: the manifest with its own last-applied annotation. */
export function withLastApplied(obj: KubeObject): KubeObject {
  const copy = structuredClone(obj);
  const text = lastAppliedText(obj);
  copy.metadata.annotations = { ...(copy.metadata.annotations ?? {}), [LAST_APPLIED]: text };
  return copy;
}

/** The last-applied configuration stored on a live object, if any (malformed = none). */
export function readLastApplied(live: KubeObject): KubeObject | undefined {
  const text = live.metadata.annotations?.[LAST_APPLIED];
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    return isMap(v) ? (v as unknown as KubeObject) : undefined;
  } catch {
    return undefined;
  }
}

function diffMaps(original: JsonMap | undefined, modified: JsonMap, current: JsonMap | undefined): JsonMap {
  const patch: JsonMap = {};
  for (const [k, want] of Object.entries(modified)) {
    const have = current?.[k];
    const before = original?.[k];
    if (isMap(want) && isMap(have)) {
      const sub = diffMaps(isMap(before) ? before : undefined, want, have);
      if (Object.keys(sub).length > 0) patch[k] = sub;
    } else if (Array.isArray(want)) {
      if (!contains(have, want) || (original !== undefined && !deepEqual(want, before))) patch[k] = want;
    } else if (want === null) {
      // null in a manifest asks for the field to be absent
      if (have !== undefined && have !== null) patch[k] = null;
    } else if (!deepEqual(want, have)) {
      patch[k] = want;
    }
  }
  if (original) {
    for (const k of Object.keys(original)) {
      if (!(k in modified) && current && k in current && current[k] !== null) patch[k] = null;
    }
  }
  return patch;
}

/**
 * The merge patch that takes `current` to what `modified` asks for, deleting what
 * `original` (the previous apply) had and `modified` no longer has. `{}` = unchanged.
 */
export function threeWayMergePatch(original: KubeObject | undefined, modified: KubeObject, current: KubeObject): Record<string, unknown> {
  return diffMaps(original as unknown as JsonMap | undefined, modified as unknown as JsonMap, current as unknown as JsonMap);
}

/** Full apply step for an existing object: the patch to send, or undefined when unchanged. */
export function applyPatchFor(manifest: KubeObject, live: KubeObject): Record<string, unknown> | undefined {
  const modified = withLastApplied(manifest);
  const patch = threeWayMergePatch(readLastApplied(live), modified, live);
  return Object.keys(patch).length > 0 ? patch : undefined;
}
