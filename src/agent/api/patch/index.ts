// PATCH bodies: picks the patch format from the request's content type and
// applies it to a copy of the stored object.

import { BadRequest, UnsupportedMediaType } from '../errors.ts';
import type { KubeObject } from '../object-types.ts';
import { applyJsonPatch } from './json-patch.ts';
import { jsonMergePatch } from './merge-patch.ts';
import { patchMetaFor } from './patch-meta.ts';
import { strategicMergePatch } from './strategic-merge-patch.ts';

export const STRATEGIC_MERGE_PATCH = 'application/strategic-merge-patch+json';
export const MERGE_PATCH = 'application/merge-patch+json';
export const JSON_PATCH = 'application/json-patch+json';
export const PATCH_CONTENT_TYPES: readonly string[] = [JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parse(patch: unknown): unknown {
  if (typeof patch !== 'string') return patch;
  try {
    return JSON.parse(patch);
  } catch (err) {
    throw new BadRequest(`the patch is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function requireObject(result: unknown, what: string): KubeObject {
  if (!isObject(result)) throw new BadRequest(`${what}: the patched document is not a JSON object`);
  if (result.metadata !== undefined && !isObject(result.metadata)) {
    throw new BadRequest(`${what}: the patched metadata is not a JSON object`);
  }
  return result as unknown as KubeObject;
}

/**
 * Applies a PATCH body of the given content type to `original` and returns
 * the new object. `original` is never changed. A string patch is parsed as
 * JSON first. Unknown content types are 415; malformed patches are 400;
 * JSON patches that do not apply (failed `test`, missing path) are 422.
 */
export function applyPatch(contentType: string, original: KubeObject, patch: unknown | string): KubeObject {
  // Media types are case-insensitive and may carry parameters (`; charset=utf-8`).
  const mediaType = contentType.split(';')[0]!.trim().toLowerCase();
  if (!PATCH_CONTENT_TYPES.includes(mediaType)) {
    throw new UnsupportedMediaType(
      `the body of the request was in an unknown format - accepted media types include: ${PATCH_CONTENT_TYPES.join(', ')}`,
    );
  }
  const body = parse(patch);
  const copy = structuredClone(original);
  switch (mediaType) {
    case JSON_PATCH:
      return requireObject(applyJsonPatch(copy, body), 'json patch');
    case MERGE_PATCH:
      if (!isObject(body)) throw new BadRequest('merge patch: the patch must be a JSON object');
      return requireObject(jsonMergePatch(copy, body), 'merge patch');
    default:
      if (!isObject(body)) throw new BadRequest('strategic merge patch: the patch must be a JSON object');
      return requireObject(
        strategicMergePatch(copy as unknown as Record<string, unknown>, body, patchMetaFor(original.apiVersion, original.kind)),
        'strategic merge patch',
      );
  }
}
