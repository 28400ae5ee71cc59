// JSON patch (RFC 6902) through fast-json-patch, with its failures turned into
// the Status errors the Kubernetes API server returns: a malformed patch
// document is a 400; a patch that cannot be applied (failed `test`, missing
// path) is a 422.

import jsonpatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { BadRequest, Invalid } from '../errors.ts';

const OPS = new Set(['add', 'remove', 'replace', 'move', 'copy', 'test']);

/** Checks the shape of each operation so that shape errors are told apart from application errors. */
function checkOperations(patch: unknown): Operation[] {
  if (!Array.isArray(patch)) throw new BadRequest('json patch: the patch must be a JSON array of operations');
  patch.forEach((op, i) => {
    if (typeof op !== 'object' || op === null || Array.isArray(op)) {
      throw new BadRequest(`json patch: operation ${i} is not an object`);
    }
    const o = op as Record<string, unknown>;
    if (typeof o.op !== 'string' || !OPS.has(o.op)) {
      throw new BadRequest(`json patch: operation ${i} has invalid op ${JSON.stringify(o.op)}; expected one of add, remove, replace, move, copy, test`);
    }
    if (typeof o.path !== 'string') throw new BadRequest(`json patch: operation ${i} (${o.op}) is missing a string "path"`);
    if ((o.op === 'move' || o.op === 'copy') && typeof o.from !== 'string') {
      throw new BadRequest(`json patch: operation ${i} (${o.op}) is missing a string "from"`);
    }
    if ((o.op === 'add' || o.op === 'replace' || o.op === 'test') && !('value' in o)) {
      throw new BadRequest(`json patch: operation ${i} (${o.op}) is missing "value"`);
    }
  });
  return patch as Operation[];
}

const REASONS: Record<string, string> = {
  TEST_OPERATION_FAILED: 'test failed: the value does not match',
  OPERATION_PATH_UNRESOLVABLE: 'path does not exist',
  OPERATION_FROM_UNRESOLVABLE: '"from" path does not exist',
  OPERATION_PATH_CANNOT_ADD: 'cannot add at this path (its parent does not exist)',
  OPERATION_PATH_ILLEGAL_ARRAY_INDEX: 'illegal array index',
  OPERATION_VALUE_OUT_OF_BOUNDS: 'array index out of bounds',
  OPERATION_PATH_INVALID: 'invalid path',
};

/** Returns a patched copy of `document`. */
export function applyJsonPatch<T>(document: T, patch: unknown): T {
  const ops = checkOperations(patch);
  try {
    // validate=true makes the library check each operation against the document before applying it.
    return jsonpatch.applyPatch(structuredClone(document), ops, true, true, true).newDocument;
  } catch (err) {
    if (err instanceof jsonpatch.JsonPatchError) {
      const i = err.index ?? 0;
      const op = ops[i];
      const why = REASONS[err.name] ?? err.message.split('\n')[0];
      throw new Invalid(`json patch: operation ${i} (${op?.op} ${op?.path}): ${why}`);
    }
    throw new Invalid(`json patch: ${err instanceof Error ? err.message : String(err)}`);
  }
}
