// The cluster DNS zone's records, read from the local replica through the
// ObjectClient (no network hop). A resource the agent does not serve yet reads
// as empty rather than failing every query.
import type { ObjectClient } from '../api/object-client.ts';
import type { Pod } from '../api/object-types.ts';
import type { Logger } from '../logger.ts';
import { ENDPOINT_SLICES, SERVICE_NAME_LABEL, type ClusterRecordSource, type EndpointSlice, type Service } from './dns-records.ts';

export function createObjectClientSource(client: ObjectClient, logger: Logger): ClusterRecordSource {
  const warned = new Set<string>();
  function read<T>(resource: string, fn: () => T, fallback: T): T {
    try {
      return fn();
    } catch (err) {
      if (!warned.has(resource)) {
        warned.add(resource);
        logger.warn({ err, resource }, 'cannot read records for cluster DNS; answering without them');
      }
      return fallback;
    }
  }
  return {
    service: (ns, name) => read('services', () => client.get<Service>('services', ns, name), undefined),
    endpointSlices: (ns, name) =>
      read(ENDPOINT_SLICES, () => client.list<EndpointSlice>(ENDPOINT_SLICES, { namespace: ns, labelSelector: `${SERVICE_NAME_LABEL}=${name}` }).items, []),
    pods: (ns) => read('pods', () => client.list<Pod>('pods', { namespace: ns }).items, []),
    namespaceExists: (ns) => read('namespaces', () => client.get('namespaces', '', ns) !== undefined, false),
  };
}
