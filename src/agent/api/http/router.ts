// Parses a Kubernetes API path into what it addresses.
import { findByPath, type ResourceType } from '../resources.ts';
import { NotFound } from '../errors.ts';

export interface ResourceRoute {
  type: ResourceType;
  /** The version the path names: `type.version`, or one of `type.alternateVersions` (converted). */
  version?: string;
  /** Namespace from the path; undefined for cluster-scoped paths and all-namespaces lists. */
  namespace?: string;
  name?: string;
  subresource?: string;
  /** The legacy `/api/v1/watch/...` form. */
  legacyWatch: boolean;
}

/** Namespace-scoped subresources of a namespace itself, not resource plurals. */
const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

/**
 * Returns the route for a resource path, undefined for a path that is not a
 * resource path at all (discovery and the like), NotFound for an unknown resource.
 */
export function parseResourcePath(pathname: string): ResourceRoute | undefined {
  const segs = pathname.split('/').filter((s) => s.length > 0).map(decodeURIComponent);
  let group: string;
  let version: string;
  let rest: string[];
  if (segs[0] === 'api' && segs.length >= 3) {
    group = '';
    version = segs[1]!;
    rest = segs.slice(2);
  } else if (segs[0] === 'apis' && segs.length >= 4) {
    group = segs[1]!;
    version = segs[2]!;
    rest = segs.slice(3);
  } else {
    return undefined;
  }
  let legacyWatch = false;
  if (rest[0] === 'watch') {
    legacyWatch = true;
    rest = rest.slice(1);
  }
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3 && !NAMESPACE_SUBRESOURCES.has(rest[2]!)) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [plural, name, subresource, ...extra] = rest;
  if (!plural || extra.length > 0) throw new NotFound('the server could not find the requested resource');
  const type = findByPath(group, version, plural);
  if (!type) throw new NotFound(`the server could not find the requested resource`);
  if (namespace !== undefined && !type.namespaced) throw new NotFound('the server could not find the requested resource');
  if (subresource && !type.subresources.includes(subresource)) {
    throw new NotFound(`the server could not find the requested resource (${subresource} ${plural})`);
  }
  return { type, version, namespace, name, subresource, legacyWatch };
}
