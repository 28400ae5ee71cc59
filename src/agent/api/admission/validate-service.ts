// Service rules (ValidateService): ports, type, external names, node ports.
import { isIP } from 'node:net';
import type { StatusCause } from '../errors.ts';
import { child, duplicate, forbidden, index, invalid, notSupported, required } from './field-errors.ts';
import { isDns1123Label, isDns1123Subdomain, isPortNumber } from './name-rules.ts';
import type { ServiceShape } from './schemas.ts';
import { validateLabels } from './validate-meta.ts';
import { validatePortNumOrName } from './validate-pod-spec.ts';

const TYPES = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];
const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
const AFFINITIES = ['ClientIP', 'None'];
const TRAFFIC_POLICIES = ['Cluster', 'Local'];
const IP_FAMILY_POLICIES = ['PreferDualStack', 'RequireDualStack', 'SingleStack'];
const IP_FAMILIES = ['IPv4', 'IPv6'];
export const NODE_PORT_MIN = 30000;
export const NODE_PORT_MAX = 32767;

export function validateService(svc: ServiceShape): StatusCause[] {
  const causes: StatusCause[] = [];
  const spec = svc.spec ?? {};
  const type = spec.type ?? 'ClusterIP';
  const ports = spec.ports ?? [];
  const headless = spec.clusterIP === 'None';
  if (!TYPES.includes(type)) causes.push(notSupported('spec.type', type, TYPES));
  if (ports.length === 0 && !headless && type !== 'ExternalName') causes.push(required('spec.ports'));
  if (type === 'ExternalName') {
    if (!spec.externalName) causes.push(required('spec.externalName'));
    else {
      const name = spec.externalName.replace(/\.$/, '');
      for (const m of isDns1123Subdomain(name)) causes.push(invalid('spec.externalName', spec.externalName, m));
    }
    if (spec.clusterIP && spec.clusterIP !== '') causes.push(forbidden('spec.clusterIPs', 'may not be set for ExternalName services'));
  }
  if (spec.clusterIP && spec.clusterIP !== 'None' && isIP(spec.clusterIP) === 0) {
    causes.push(invalid('spec.clusterIP', spec.clusterIP, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'));
  }
  const names = new Set<string>();
  const requireName = ports.length > 1;
  for (const [i, p] of ports.entries()) {
    const pp = index('spec.ports', i);
    if (!p.name) {
      if (requireName) causes.push(required(child(pp, 'name')));
    } else {
      for (const m of isDns1123Label(p.name)) causes.push(invalid(child(pp, 'name'), p.name, m));
      if (names.has(p.name)) causes.push(duplicate(child(pp, 'name'), p.name));
      names.add(p.name);
    }
    if (p.port == null) causes.push(required(child(pp, 'port')));
    else for (const m of isPortNumber(p.port)) causes.push(invalid(child(pp, 'port'), p.port, m));
    if (p.protocol != null && !PROTOCOLS.includes(p.protocol)) causes.push(notSupported(child(pp, 'protocol'), p.protocol, PROTOCOLS));
    if (p.targetPort != null && p.targetPort !== 0) causes.push(...validatePortNumOrName(p.targetPort, child(pp, 'targetPort')));
    if (p.nodePort != null && p.nodePort !== 0) {
      if (type === 'ClusterIP' || type === 'ExternalName') {
        causes.push(forbidden(child(pp, 'nodePort'), `may not be used when \`type\` is '${type}'`));
      } else if (p.nodePort < NODE_PORT_MIN || p.nodePort > NODE_PORT_MAX) {
        causes.push(
          invalid(child(pp, 'nodePort'), p.nodePort, `provided port is not in the valid range. The range of valid ports is ${NODE_PORT_MIN}-${NODE_PORT_MAX}`),
        );
      }
    }
  }
  const seen = new Set<string>();
  for (const [i, p] of ports.entries()) {
    const k = `${p.port}/${p.protocol ?? 'TCP'}`;
    if (seen.has(k)) causes.push(duplicate(index('spec.ports', i), { port: p.port, protocol: p.protocol ?? 'TCP' }));
    seen.add(k);
  }
  if (spec.sessionAffinity != null && !AFFINITIES.includes(spec.sessionAffinity)) {
    causes.push(notSupported('spec.sessionAffinity', spec.sessionAffinity, AFFINITIES));
  }
  const timeout = spec.sessionAffinityConfig?.clientIP?.timeoutSeconds;
  if (timeout != null && (timeout <= 0 || timeout > 86400)) {
    causes.push(invalid('spec.sessionAffinityConfig.clientIP.timeoutSeconds', timeout, 'must be greater than 0 and less than 86400'));
  }
  for (const f of ['internalTrafficPolicy', 'externalTrafficPolicy'] as const) {
    const v = spec[f];
    if (v != null && !TRAFFIC_POLICIES.includes(v)) causes.push(notSupported(`spec.${f}`, v, TRAFFIC_POLICIES));
  }
  if (spec.externalTrafficPolicy != null && type !== 'NodePort' && type !== 'LoadBalancer') {
    causes.push(invalid('spec.externalTrafficPolicy', spec.externalTrafficPolicy, 'may only be set when `type` is \'NodePort\' or \'LoadBalancer\''));
  }
  if (spec.ipFamilyPolicy != null && !IP_FAMILY_POLICIES.includes(spec.ipFamilyPolicy)) {
    causes.push(notSupported('spec.ipFamilyPolicy', spec.ipFamilyPolicy, IP_FAMILY_POLICIES));
  }
  for (const [i, f] of (spec.ipFamilies ?? []).entries()) {
    if (!IP_FAMILIES.includes(f)) causes.push(notSupported(index('spec.ipFamilies', i), f, IP_FAMILIES));
  }
  for (const [i, ip] of (spec.externalIPs ?? []).entries()) {
    if (isIP(ip) === 0) causes.push(invalid(index('spec.externalIPs', i), ip, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'));
  }
  causes.push(...validateLabels(spec.selector, 'spec.selector'));
  return causes;
}

/**
 * A ClusterIP, once allocated, stays. An update that leaves it out keeps the old
 * one (the registry copies allocated values), so only a different value is an error.
 */
export function validateServiceUpdate(svc: ServiceShape, old: ServiceShape): StatusCause[] {
  const before = old.spec?.clusterIP;
  const after = svc.spec?.clusterIP;
  if (before && after && after !== before && svc.spec?.type !== 'ExternalName') {
    return [invalid('spec.clusterIP', after, 'field is immutable')];
  }
  return [];
}
