// The verb and resource of an API request, as the apiserver labels its request
// metrics (apiserver_request_duration_seconds): GET/LIST/WATCH for reads,
// POST/PUT/PATCH/DELETE for writes; the resource is the plural (with its
// subresource), '' for paths that are not resources, so label values stay bounded.
import { parseResourcePath } from './http/router.ts';
import { METRICS_GROUP } from './metrics-api.ts';

export interface RequestLabels {
  verb: string;
  resource: string;
}

const METRICS_RESOURCES = new Set(['nodes', 'pods']);

export function requestLabels(method: string, url: URL): RequestLabels {
  const m = method.toUpperCase();
  const path = url.pathname.replace(/\/+$/, '');
  let resource = '';
  let named = false;
  let watch = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
  try {
    const route = parseResourcePath(path);
    if (route) {
      resource = route.subresource ? `${route.type.plural}/${route.subresource}` : route.type.plural;
      named = route.name !== undefined;
      watch ||= route.legacyWatch;
    }
  } catch {
    // An unknown resource, or one served outside RESOURCE_TYPES.
    const segs = path.split('/').filter(Boolean);
    if (segs[0] === 'apis' && segs[1] === METRICS_GROUP) {
      const rest = segs.slice(3);
      const plural = rest[0] === 'namespaces' ? rest[2] : rest[0];
      if (plural && METRICS_RESOURCES.has(plural)) {
        resource = `${plural}.${METRICS_GROUP}`;
        named = rest.length === (rest[0] === 'namespaces' ? 4 : 2);
      }
    }
  }
  if (resource && (m === 'GET' || m === 'HEAD')) return { verb: watch ? 'WATCH' : named ? 'GET' : 'LIST', resource };
  return { verb: m, resource };
}
