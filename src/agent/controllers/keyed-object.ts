// A controller's own object by its work-queue key `namespace/name`: reading it,
// and writing its status back only when it changed.
import type { ObjectClient } from '../api/object-client.ts';
import type { KubeObject } from '../api/object-types.ts';
import { NotFound } from '../api/errors.ts';
import { jsonEqual } from '../store/json-equal.ts';

/** The object of resource that key (`namespace/name`) names, if it exists. */
export function getByKey<T extends KubeObject>(client: ObjectClient, resource: string, key: string): T | undefined {
  const slash = key.indexOf('/');
  return client.get<T>(resource, key.slice(0, slash), key.slice(slash + 1));
}

/**
 * Writes status to obj's status subresource when it differs from obj.status.
 * The stored object after the write, obj itself when nothing changed, or
 * undefined when obj is gone (nothing left to report on).
 */
export async function writeStatusIfChanged<T extends KubeObject & { status?: unknown }>(
  client: ObjectClient,
  resource: string,
  obj: T,
  status: NonNullable<T['status']>,
): Promise<T | undefined> {
  if (jsonEqual(status, obj.status ?? {})) return obj;
  try {
    // Status only, without a resourceVersion: a spec change meanwhile brings its own pass.
    return await client.updateStatus<T>(resource, { ...obj, metadata: { ...obj.metadata, resourceVersion: undefined }, status });
  } catch (err) {
    if (err instanceof NotFound) return undefined;
    throw err;
  }
}
