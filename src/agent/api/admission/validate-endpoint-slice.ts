// discovery.k8s.io/v1 EndpointSlice rules, as Kubernetes' discovery validation
// has them: the address type is fixed at creation and every address must be of
// it; an endpoint needs at least one address; ports name-unique, in range, of a
// known protocol. The proxy and DNS trust what is stored, so bad slices stop here.
import { isIP } from 'node:net';
import type { StatusCause } from '../errors.ts';
import { child, duplicate, index, invalid, notSupported, required } from './field-errors.ts';
import { isDns1123Label, isDns1123Subdomain, isPortNumber, isQualifiedName } from './name-rules.ts';
import type { EndpointSliceShape } from './schemas.ts';

export const ADDRESS_TYPES = ['IPv4', 'IPv6', 'FQDN'];
const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
const MAX_ENDPOINTS = 1000;
const MAX_ADDRESSES = 100;
const MAX_PORTS = 20000;

function tooMany(field: string, max: number): StatusCause {
  return { reason: 'FieldValueTooMany', message: `Too many: must have at most ${max} items`, field };
}

function addressCauses(addressType: string, address: string, path: string): StatusCause[] {
  switch (addressType) {
    case 'IPv4':
      return isIP(address) === 4 ? [] : [invalid(path, address, 'must be a valid IPv4 address')];
    case 'IPv6':
      return isIP(address) === 6 ? [] : [invalid(path, address, 'must be a valid IPv6 address')];
    case 'FQDN':
      return isDns1123Subdomain(address).map((m) => invalid(path, address, m));
    default:
      return []; // the address type itself is reported
  }
}

export function validateEndpointSlice(slice: EndpointSliceShape): StatusCause[] {
  const causes: StatusCause[] = [];
  const addressType = slice.addressType ?? '';
  if (!addressType) causes.push(required('addressType'));
  else if (!ADDRESS_TYPES.includes(addressType)) causes.push(notSupported('addressType', addressType, ADDRESS_TYPES));

  const endpoints = slice.endpoints ?? [];
  if (endpoints.length > MAX_ENDPOINTS) causes.push(tooMany('endpoints', MAX_ENDPOINTS));
  for (const [i, ep] of endpoints.entries()) {
    const ep0 = index('endpoints', i);
    const addresses = ep.addresses ?? [];
    const ap = child(ep0, 'addresses');
    if (addresses.length === 0) causes.push(required(ap, 'must contain at least 1 address'));
    else if (addresses.length > MAX_ADDRESSES) causes.push(tooMany(ap, MAX_ADDRESSES));
    for (const [j, a] of addresses.entries()) causes.push(...addressCauses(addressType, a, index(ap, j)));
    if (ep.hostname) for (const m of isDns1123Label(ep.hostname)) causes.push(invalid(child(ep0, 'hostname'), ep.hostname, m));
    if (ep.nodeName) for (const m of isDns1123Subdomain(ep.nodeName)) causes.push(invalid(child(ep0, 'nodeName'), ep.nodeName, m));
  }

  const ports = slice.ports ?? [];
  if (ports.length > MAX_PORTS) causes.push(tooMany('ports', MAX_PORTS));
  const names = new Set<string>();
  for (const [i, p] of ports.entries()) {
    const pp = index('ports', i);
    const name = p.name ?? '';
    if (name) for (const m of isDns1123Label(name)) causes.push(invalid(child(pp, 'name'), name, m));
    if (names.has(name)) causes.push(duplicate(child(pp, 'name'), name));
    names.add(name);
    if (p.port != null) for (const m of isPortNumber(p.port)) causes.push(invalid(child(pp, 'port'), p.port, m));
    if (!p.protocol) causes.push(required(child(pp, 'protocol')));
    else if (!PROTOCOLS.includes(p.protocol)) causes.push(notSupported(child(pp, 'protocol'), p.protocol, PROTOCOLS));
    if (p.appProtocol) for (const m of isQualifiedName(p.appProtocol)) causes.push(invalid(child(pp, 'appProtocol'), p.appProtocol, m));
  }
  return causes;
}

export function validateEndpointSliceUpdate(slice: EndpointSliceShape, old: EndpointSliceShape): StatusCause[] {
  if ((slice.addressType ?? '') === (old.addressType ?? '')) return [];
  return [invalid('addressType', slice.addressType ?? '', 'field is immutable')];
}
