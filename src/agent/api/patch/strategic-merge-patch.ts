// Strategic merge patch, as the Kubernetes API server applies it to built-in
// types (the format kubectl's client-side `apply`, `edit` and `patch` send).
// Lists that carry patch metadata merge element by element on a merge key;
// every other list is replaced whole; maps merge recursively; `null` deletes.
// Directives: `$patch` (replace | delete | merge), `$retainKeys`,
// `$setElementOrder/<field>`, `$deleteFromPrimitiveList/<field>`.

import { BadRequest, Invalid } from '../errors.ts';
import type { FieldMeta, PatchSchema } from './patch-meta.ts';

type JsonObject = Record<string, unknown>;

const PATCH = '$patch';
const RETAIN_KEYS = '$retainKeys';
const SET_ORDER = '$setElementOrder/';
const DELETE_FROM = '$deleteFromPrimitiveList/';

/** Marks "remove this value from its parent" (a `$patch: delete`). */
const DELETED: unique symbol = Symbol('deleted');

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(path: string): string {
  return path === '' ? 'the patch' : `field "${path}"`;
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/**
 * Applies `patch` to `original` and returns the result. Neither argument is
 * changed, but the result may share untouched sub-objects with `original`,
 * so callers that go on to mutate the result should pass a copy.
 */
export function strategicMergePatch(original: JsonObject, patch: JsonObject, schema: PatchSchema | undefined): JsonObject {
  const result = mergeMap(original, patch, schema, '');
  if (result === DELETED) throw new BadRequest('strategic merge patch: "$patch: delete" cannot remove the whole object');
  return result;
}

function mergeMap(original: JsonObject | undefined, patch: JsonObject, schema: PatchSchema | undefined, path: string): JsonObject | typeof DELETED {
  const directive = patch[PATCH];
  if (directive !== undefined) {
    if (directive === 'delete') return DELETED;
    if (directive === 'replace') {
      const rest = { ...patch };
      delete rest[PATCH];
      // The replacement itself may not carry directives or nulls into the stored object.
      return mergeMap(undefined, rest, schema, path) as JsonObject;
    }
    if (directive !== 'merge') {
      throw new BadRequest(`strategic merge patch: ${describe(path)} has unknown $patch directive ${JSON.stringify(directive)}; expected replace, delete or merge`);
    }
  }

  const result: JsonObject = original ? { ...original } : {};

  const retain = patch[RETAIN_KEYS];
  if (retain !== undefined) {
    if (!Array.isArray(retain) || !retain.every((k) => typeof k === 'string')) {
      throw new BadRequest(`strategic merge patch: $retainKeys of ${describe(path)} must be a list of field names`);
    }
    for (const key of Object.keys(patch)) {
      if (key.startsWith('$') || patch[key] === null) continue;
      if (!retain.includes(key)) {
        throw new Invalid(`strategic merge patch: ${describe(path)} sets "${key}", which is not in its $retainKeys list`);
      }
    }
    for (const key of Object.keys(result)) if (!retain.includes(key)) delete result[key];
  }

  // Deletions from scalar lists go first, so a patch that removes and adds in one go ends with the addition.
  for (const [key, value] of Object.entries(patch)) {
    if (!key.startsWith(DELETE_FROM)) continue;
    const field = key.slice(DELETE_FROM.length);
    if (!Array.isArray(value)) {
      throw new BadRequest(`strategic merge patch: ${key} of ${describe(path)} must be a list`);
    }
    const current = result[field];
    if (Array.isArray(current)) result[field] = current.filter((item) => !value.some((v) => sameScalar(v, item)));
  }

  for (const [key, value] of Object.entries(patch)) {
    if (key === PATCH || key === RETAIN_KEYS || key.startsWith(DELETE_FROM)) continue;
    if (key.startsWith(SET_ORDER)) {
      const field = key.slice(SET_ORDER.length);
      // An order with no list of its own in the patch still reorders the stored list.
      if (!(field in patch) && schema?.fields[field]?.merge && Array.isArray(result[field])) {
        result[field] = mergeList(result[field], [], schema?.fields[field], value, join(path, field));
      }
      continue;
    }
    if (key.startsWith('$')) {
      throw new BadRequest(`strategic merge patch: ${describe(path)} has unknown directive "${key}"`);
    }
    const meta = schema?.fields[key];
    const childPath = join(path, key);
    if (value === null) {
      delete result[key];
    } else if (isObject(value)) {
      const current = result[key];
      const merged = mergeMap(isObject(current) ? current : undefined, value, meta?.schema, childPath);
      if (merged === DELETED) delete result[key];
      else result[key] = merged;
    } else if (Array.isArray(value)) {
      result[key] = mergeList(result[key], value, meta, patch[SET_ORDER + key], childPath);
    } else {
      result[key] = value;
    }
  }
  return result;
}

function mergeList(current: unknown, patch: unknown[], meta: FieldMeta | undefined, order: unknown, path: string): unknown[] {
  if (order !== undefined && !Array.isArray(order)) {
    throw new BadRequest(`strategic merge patch: $setElementOrder/${lastSegment(path)} must be a list`);
  }
  if (!meta?.merge) return structuredClone(patch);

  const original = Array.isArray(current) ? current : [];
  const replace = patch.some((e) => isObject(e) && e[PATCH] === 'replace' && Object.keys(e).length === 1);
  const mergeKey = meta.mergeKey;

  if (mergeKey === undefined) {
    // A list of scalars that merges as a set (finalizers, podCIDRs).
    const merged = replace ? [] : original.slice();
    for (const item of patch) {
      if (isObject(item) && item[PATCH] === 'replace') continue;
      if (isObject(item) || Array.isArray(item)) {
        throw new BadRequest(`strategic merge patch: ${describe(path)} is a list of values, but the patch has an object element`);
      }
      if (!merged.some((m) => sameScalar(m, item))) merged.push(item);
    }
    return order ? applyOrder(merged, order as unknown[], original, (x) => x) : merged;
  }

  const keyOf = (x: unknown): unknown => (isObject(x) ? x[mergeKey] : undefined);
  const merged: unknown[] = replace ? [] : original.slice();
  for (const element of patch) {
    if (!isObject(element)) {
      throw new BadRequest(`strategic merge patch: ${describe(path)} is a list of objects merged by "${mergeKey}", but the patch has element ${JSON.stringify(element)}`);
    }
    if (element[PATCH] === 'replace' && Object.keys(element).length === 1) continue;
    const key = element[mergeKey];
    if (key === undefined || key === null) {
      throw new BadRequest(`strategic merge patch: element ${JSON.stringify(element)} of ${describe(path)} does not contain declared merge key: ${mergeKey}`);
    }
    if (element[PATCH] === 'delete') {
      for (let i = merged.length - 1; i >= 0; i--) if (sameScalar(keyOf(merged[i]), key)) merged.splice(i, 1);
      continue;
    }
    const index = merged.findIndex((m) => sameScalar(keyOf(m), key));
    const base = index >= 0 && isObject(merged[index]) ? (merged[index] as JsonObject) : undefined;
    const result = mergeMap(base, element, meta.schema, `${path}[${mergeKey}=${String(key)}]`);
    if (result === DELETED) {
      if (index >= 0) merged.splice(index, 1);
    } else if (index >= 0) {
      merged[index] = result;
    } else {
      merged.push(result);
    }
  }
  if (!order) return merged;
  const orderKeys = (order as unknown[]).map((o) => (isObject(o) ? o[mergeKey] : undefined));
  return applyOrder(merged, orderKeys, original, keyOf);
}

/**
 * Puts the elements named in `order` in that order. Elements the patch's author
 * did not know about (present on the server only) keep their place relative to
 * their neighbours in the original list, as Kubernetes does.
 */
function applyOrder(merged: unknown[], order: unknown[], original: unknown[], keyOf: (x: unknown) => unknown): unknown[] {
  const orderIndex = (x: unknown): number => order.findIndex((o) => sameScalar(o, keyOf(x)));
  const originalIndex = (x: unknown): number => original.findIndex((o) => sameScalar(keyOf(o), keyOf(x)));
  const ordered = merged.filter((x) => orderIndex(x) >= 0).sort((a, b) => orderIndex(a) - orderIndex(b));
  const serverOnly = merged.filter((x) => orderIndex(x) < 0);
  const out: unknown[] = [];
  let i = 0;
  let j = 0;
  while (i < ordered.length && j < serverOnly.length) {
    const p = originalIndex(ordered[i]);
    const s = originalIndex(serverOnly[j]);
    if (s < 0 || p < 0 || p < s) out.push(ordered[i++]);
    else out.push(serverOnly[j++]);
  }
  while (i < ordered.length) out.push(ordered[i++]);
  while (j < serverOnly.length) out.push(serverOnly[j++]);
  return out;
}

function sameScalar(a: unknown, b: unknown): boolean {
  return a === b;
}

function lastSegment(path: string): string {
  const dot = path.lastIndexOf('.');
  return dot < 0 ? path : path.slice(dot + 1);
}
