// Rules for the remaining core kinds: Namespace, Node, Event, Endpoints.
import { isIP } from 'node:net';
import type { StatusCause } from '../errors.ts';
import { child, duplicate, index, invalid, notSupported, required } from './field-errors.ts';
import { isDns1123Label, isPortNumber, isQualifiedName, isLabelValue } from './name-rules.ts';
import type { EndpointsShape, EventShape, NamespaceShape, NodeShape } from './schemas.ts';
import { TAINT_EFFECTS } from './validate-pod-spec.ts';

export function validateNamespace(ns: NamespaceShape): StatusCause[] {
  const causes: StatusCause[] = [];
  for (const [i, f] of (ns.spec?.finalizers ?? []).entries()) {
    // A bare name must be a standard one; anything else must be domain-qualified.
    if (!f.includes('/') && f !== 'kubernetes') {
      causes.push(invalid(index('spec.finalizers', i), f, 'name is neither a standard finalizer name nor is it fully qualified'));
    } else for (const m of isQualifiedName(f)) causes.push(invalid(index('spec.finalizers', i), f, m));
  }
  return causes;
}

export function validateNode(node: NodeShape): StatusCause[] {
  const causes: StatusCause[] = [];
  const seen = new Set<string>();
  for (const [i, t] of (node.spec?.taints ?? []).entries()) {
    const p = index('spec.taints', i);
    if (!t.key) causes.push(required(child(p, 'key')));
    else for (const m of isQualifiedName(t.key)) causes.push(invalid(child(p, 'key'), t.key, m));
    if (t.value) for (const m of isLabelValue(t.value)) causes.push(invalid(child(p, 'value'), t.value, m));
    if (!t.effect) causes.push(required(child(p, 'effect')));
    else if (!TAINT_EFFECTS.includes(t.effect)) causes.push(notSupported(child(p, 'effect'), t.effect, TAINT_EFFECTS));
    const k = `${t.key}:${t.effect}`;
    if (seen.has(k)) causes.push(duplicate(p, { key: t.key, effect: t.effect }));
    seen.add(k);
  }
  return causes;
}

export function validateEvent(ev: EventShape): StatusCause[] {
  const causes: StatusCause[] = [];
  const io = ev.involvedObject;
  if (!io) causes.push(required('involvedObject'));
  else {
    if (!io.kind) causes.push(required('involvedObject.kind'));
    if (!io.name) causes.push(required('involvedObject.name'));
    const ns = ev.metadata?.namespace;
    if (io.namespace && ns && io.namespace !== ns) causes.push(invalid('involvedObject.namespace', io.namespace, 'does not match event.namespace'));
  }
  if (ev.type != null && ev.type !== '' && ev.type !== 'Normal' && ev.type !== 'Warning') {
    causes.push(notSupported('type', ev.type, ['Normal', 'Warning']));
  }
  if (ev.count != null && ev.count < 0) causes.push(invalid('count', ev.count, 'must be greater than or equal to 0'));
  return causes;
}

const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];

export function validateEndpoints(ep: EndpointsShape): StatusCause[] {
  const causes: StatusCause[] = [];
  for (const [i, s] of (ep.subsets ?? []).entries()) {
    const sp = index('subsets', i);
    for (const field of ['addresses', 'notReadyAddresses'] as const) {
      for (const [j, a] of (s[field] ?? []).entries()) {
        const ap = child(index(child(sp, field), j), 'ip');
        if (!a.ip) causes.push(required(ap));
        else if (isIP(a.ip) === 0) causes.push(invalid(ap, a.ip, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'));
      }
    }
    const ports = s.ports ?? [];
    for (const [j, p] of ports.entries()) {
      const pp = index(child(sp, 'ports'), j);
      if (!p.name) {
        if (ports.length > 1) causes.push(required(child(pp, 'name')));
      } else for (const m of isDns1123Label(p.name)) causes.push(invalid(child(pp, 'name'), p.name, m));
      if (p.port == null) causes.push(required(child(pp, 'port')));
      else for (const m of isPortNumber(p.port)) causes.push(invalid(child(pp, 'port'), p.port, m));
      if (p.protocol != null && !PROTOCOLS.includes(p.protocol)) causes.push(notSupported(child(pp, 'protocol'), p.protocol, PROTOCOLS));
    }
  }
  return causes;
}
