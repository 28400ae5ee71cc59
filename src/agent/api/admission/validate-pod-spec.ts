// Pod spec rules (ValidatePodSpec and friends), shared by Pods and every
// workload's pod template; `path` is where the spec sits (`spec` or
// `spec.template.spec`).
import type { StatusCause } from '../errors.ts';
import { child, duplicate, forbidden, index, invalid, notFoundValue, notSupported, required } from './field-errors.ts';
import { isConfigMapKey, isDns1123Label, isDns1123Subdomain, isEnvVarName, isPortName, isPortNumber, isQualifiedName } from './name-rules.ts';
import type { ContainerShape, PodSpecShape, ProbeShape } from './schemas.ts';
import { validateLabels } from './validate-meta.ts';
import { validateResources } from './validate-resources.ts';

export const RESTART_POLICIES = ['Always', 'Never', 'OnFailure'];
const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'];
const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
const DNS_POLICIES = ['ClusterFirst', 'ClusterFirstWithHostNet', 'Default', 'None'];
const TOLERATION_OPERATORS = ['Equal', 'Exists'];
export const TAINT_EFFECTS = ['NoExecute', 'NoSchedule', 'PreferNoSchedule'];
const MAX_INT32 = 2147483647;

function nonNegative(v: number | null | undefined, path: string): StatusCause[] {
  return v != null && v < 0 ? [invalid(path, v, 'must be greater than or equal to 0')] : [];
}

/** Ports given as a number or as a container port name. */
export function validatePortNumOrName(port: number | string | null | undefined, path: string): StatusCause[] {
  if (port == null) return [required(path)];
  if (typeof port === 'number') return isPortNumber(port).map((m) => invalid(path, port, m));
  return isPortName(port).map((m) => invalid(path, port, m));
}

function validateProbe(probe: ProbeShape | null | undefined, path: string, mustSucceedOnce: boolean): StatusCause[] {
  if (!probe) return [];
  const causes: StatusCause[] = [];
  const handlers = (['exec', 'httpGet', 'tcpSocket', 'grpc'] as const).filter((h) => probe[h] != null);
  if (handlers.length === 0) causes.push(required(path, 'must specify a handler type'));
  for (const h of handlers.slice(1)) causes.push(forbidden(child(path, h), 'may not specify more than 1 handler type'));
  if (probe.exec && (probe.exec.command ?? []).length === 0) causes.push(required(child(child(path, 'exec'), 'command')));
  if (probe.httpGet) {
    const p = child(path, 'httpGet');
    causes.push(...validatePortNumOrName(probe.httpGet.port, child(p, 'port')));
    if (probe.httpGet.scheme != null && !['HTTP', 'HTTPS'].includes(probe.httpGet.scheme)) {
      causes.push(notSupported(child(p, 'scheme'), probe.httpGet.scheme, ['HTTP', 'HTTPS']));
    }
  }
  if (probe.tcpSocket) causes.push(...validatePortNumOrName(probe.tcpSocket.port, child(child(path, 'tcpSocket'), 'port')));
  if (probe.grpc) {
    const port = probe.grpc.port;
    if (port == null) causes.push(required(child(child(path, 'grpc'), 'port')));
    else for (const m of isPortNumber(port)) causes.push(invalid(child(child(path, 'grpc'), 'port'), port, m));
  }
  for (const f of ['initialDelaySeconds', 'timeoutSeconds', 'periodSeconds', 'successThreshold', 'failureThreshold'] as const) {
    causes.push(...nonNegative(probe[f], child(path, f)));
  }
  if (mustSucceedOnce && probe.successThreshold != null && probe.successThreshold !== 1) {
    causes.push(invalid(child(path, 'successThreshold'), probe.successThreshold, 'must be 1'));
  }
  return causes;
}

function validateEnv(env: ContainerShape['env'], path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  for (const [i, e] of (env ?? []).entries()) {
    const p = index(path, i);
    if (!e.name) causes.push(required(child(p, 'name')));
    else for (const m of isEnvVarName(e.name)) causes.push(invalid(child(p, 'name'), e.name, m));
    if (!e.valueFrom) continue;
    const vp = child(p, 'valueFrom');
    const from = e.valueFrom;
    const sources = (['fieldRef', 'resourceFieldRef', 'configMapKeyRef', 'secretKeyRef'] as const).filter((s) => from[s] != null);
    if (sources.length === 0) {
      causes.push(invalid(vp, '', 'must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`'));
    } else if (sources.length > 1) {
      causes.push(invalid(vp, '', 'may not have more than one field specified at a time'));
    }
    if (e.value && sources.length > 0) causes.push(invalid(vp, '', 'may not be specified when `value` is not empty'));
    if (from.fieldRef && !from.fieldRef.fieldPath) causes.push(required(child(child(vp, 'fieldRef'), 'fieldPath')));
    if (from.resourceFieldRef && !from.resourceFieldRef.resource) causes.push(required(child(child(vp, 'resourceFieldRef'), 'resource')));
    for (const s of ['configMapKeyRef', 'secretKeyRef'] as const) {
      const ref = from[s];
      if (!ref) continue;
      const rp = child(vp, s);
      if (!ref.name) causes.push(required(child(rp, 'name')));
      if (!ref.key) causes.push(required(child(rp, 'key')));
      else for (const m of isConfigMapKey(ref.key)) causes.push(invalid(child(rp, 'key'), ref.key, m));
    }
  }
  return causes;
}

interface ContainerContext {
  init: boolean;
  volumes: Set<string>;
  hostNetwork: boolean;
}

function validateContainer(c: ContainerShape, path: string, ctx: ContainerContext): StatusCause[] {
  const causes: StatusCause[] = [];
  if (!c.image) causes.push(required(child(path, 'image')));
  else if (c.image.trim() !== c.image) causes.push(invalid(child(path, 'image'), c.image, 'must not have leading or trailing whitespace'));
  if (c.imagePullPolicy != null && !PULL_POLICIES.includes(c.imagePullPolicy)) {
    causes.push(notSupported(child(path, 'imagePullPolicy'), c.imagePullPolicy, PULL_POLICIES));
  }
  const sidecar = ctx.init && c.restartPolicy === 'Always';
  if (c.restartPolicy != null) {
    if (!ctx.init) causes.push(forbidden(child(path, 'restartPolicy'), 'may not be set for non-init containers'));
    else if (c.restartPolicy !== 'Always') causes.push(notSupported(child(path, 'restartPolicy'), c.restartPolicy, ['Always']));
  }
  const portNames = new Set<string>();
  for (const [i, port] of (c.ports ?? []).entries()) {
    const p = index(child(path, 'ports'), i);
    if (port.containerPort == null || port.containerPort === 0) causes.push(required(child(p, 'containerPort')));
    else for (const m of isPortNumber(port.containerPort)) causes.push(invalid(child(p, 'containerPort'), port.containerPort, m));
    if (port.hostPort != null && port.hostPort !== 0) {
      for (const m of isPortNumber(port.hostPort)) causes.push(invalid(child(p, 'hostPort'), port.hostPort, m));
      if (ctx.hostNetwork && port.hostPort !== port.containerPort) {
        causes.push(invalid(child(p, 'hostPort'), port.hostPort, 'must match `containerPort` when `hostNetwork` is true'));
      }
    }
    if (port.name) {
      for (const m of isPortName(port.name)) causes.push(invalid(child(p, 'name'), port.name, m));
      if (portNames.has(port.name)) causes.push(duplicate(child(p, 'name'), port.name));
      portNames.add(port.name);
    }
    if (port.protocol != null && !PROTOCOLS.includes(port.protocol)) causes.push(notSupported(child(p, 'protocol'), port.protocol, PROTOCOLS));
  }
  causes.push(...validateEnv(c.env, child(path, 'env')));
  for (const [i, ef] of (c.envFrom ?? []).entries()) {
    const p = index(child(path, 'envFrom'), i);
    const n = (ef.configMapRef ? 1 : 0) + (ef.secretRef ? 1 : 0);
    if (n === 0) causes.push(invalid(p, '', 'must specify one of: `configMapRef` or `secretRef`'));
    if (n > 1) causes.push(invalid(p, '', 'may not have more than one field specified at a time'));
    if (ef.prefix) for (const m of isEnvVarName(ef.prefix)) causes.push(invalid(child(p, 'prefix'), ef.prefix, m));
  }
  causes.push(...validateResources(c.resources, child(path, 'resources')));
  const probes = [
    ['livenessProbe', true],
    ['readinessProbe', false],
    ['startupProbe', true],
  ] as const;
  for (const [probe, once] of probes) {
    if (c[probe] == null) continue;
    // Plain init containers run to completion; only sidecars may be probed (and never for readiness of the pod).
    if (ctx.init && (!sidecar || probe === 'readinessProbe')) {
      causes.push(forbidden(child(path, probe), 'may not be set for init containers without restartPolicy=Always'));
      continue;
    }
    causes.push(...validateProbe(c[probe], child(path, probe), once));
  }
  const mountPaths = new Set<string>();
  for (const [i, vm] of (c.volumeMounts ?? []).entries()) {
    const p = index(child(path, 'volumeMounts'), i);
    if (!vm.name) causes.push(required(child(p, 'name')));
    else if (!ctx.volumes.has(vm.name)) causes.push(notFoundValue(child(p, 'name'), vm.name));
    if (!vm.mountPath) causes.push(required(child(p, 'mountPath')));
    else if (mountPaths.has(vm.mountPath)) causes.push(invalid(child(p, 'mountPath'), vm.mountPath, 'must be unique'));
    else mountPaths.add(vm.mountPath);
  }
  return causes;
}

function validateTolerations(tolerations: PodSpecShape['tolerations'], path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  for (const [i, t] of (tolerations ?? []).entries()) {
    const p = index(path, i);
    if (t.key) for (const m of isQualifiedName(t.key)) causes.push(invalid(child(p, 'key'), t.key, m));
    if (!t.key && t.operator !== 'Exists') {
      causes.push(invalid(child(p, 'operator'), t.operator ?? '', 'operator must be Exists when `key` is empty, which means "match all values and all keys"'));
    }
    if (t.tolerationSeconds != null && t.effect !== 'NoExecute') {
      causes.push(invalid(child(p, 'effect'), t.effect ?? '', "effect must be 'NoExecute' when `tolerationSeconds` is set"));
    }
    if (t.operator === 'Exists' && t.value) causes.push(invalid(child(p, 'operator'), t.value, "value must be empty when `operator` is 'Exists'"));
    else if (t.operator && !TOLERATION_OPERATORS.includes(t.operator)) causes.push(notSupported(child(p, 'operator'), t.operator, TOLERATION_OPERATORS));
    if (t.effect && !TAINT_EFFECTS.includes(t.effect)) causes.push(notSupported(child(p, 'effect'), t.effect, TAINT_EFFECTS));
  }
  return causes;
}

export function validatePodSpec(spec: PodSpecShape | null | undefined, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  const s = spec ?? {};
  const volumes = new Set<string>();
  for (const [i, v] of (s.volumes ?? []).entries()) {
    const p = index(child(path, 'volumes'), i);
    if (!v.name) causes.push(required(child(p, 'name')));
    else {
      for (const m of isDns1123Label(v.name)) causes.push(invalid(child(p, 'name'), v.name, m));
      if (volumes.has(v.name)) causes.push(duplicate(child(p, 'name'), v.name));
      volumes.add(v.name);
    }
    if (Object.keys(v).every((k) => k === 'name')) causes.push(required(p, 'must specify a volume type'));
    if (v.configMap && !v.configMap.name) causes.push(required(child(child(p, 'configMap'), 'name')));
    if (v.secret && !v.secret.secretName) causes.push(required(child(child(p, 'secret'), 'secretName')));
    if (v.hostPath && !v.hostPath.path) causes.push(required(child(child(p, 'hostPath'), 'path')));
    if (v.persistentVolumeClaim && !v.persistentVolumeClaim.claimName) causes.push(required(child(child(p, 'persistentVolumeClaim'), 'claimName')));
  }
  const containers = s.containers ?? [];
  if (containers.length === 0) causes.push(required(child(path, 'containers')));
  const names = new Set<string>();
  const ctxBase = { volumes, hostNetwork: s.hostNetwork === true };
  const groups = [
    ['initContainers', s.initContainers ?? [], true],
    ['containers', containers, false],
  ] as const;
  for (const [field, list, init] of groups) {
    for (const [i, c] of list.entries()) {
      const p = index(child(path, field), i);
      if (!c.name) causes.push(required(child(p, 'name')));
      else {
        for (const m of isDns1123Label(c.name)) causes.push(invalid(child(p, 'name'), c.name, m));
        if (names.has(c.name)) causes.push(duplicate(child(p, 'name'), c.name));
        names.add(c.name);
      }
      causes.push(...validateContainer(c, p, { ...ctxBase, init }));
    }
  }
  if (s.restartPolicy != null && !RESTART_POLICIES.includes(s.restartPolicy)) {
    causes.push(notSupported(child(path, 'restartPolicy'), s.restartPolicy, RESTART_POLICIES));
  }
  if (s.dnsPolicy != null && !DNS_POLICIES.includes(s.dnsPolicy)) causes.push(notSupported(child(path, 'dnsPolicy'), s.dnsPolicy, DNS_POLICIES));
  causes.push(...nonNegative(s.terminationGracePeriodSeconds, child(path, 'terminationGracePeriodSeconds')));
  const ads = s.activeDeadlineSeconds;
  if (ads != null && (ads < 1 || ads > MAX_INT32)) {
    causes.push(invalid(child(path, 'activeDeadlineSeconds'), ads, `must be between 1 and ${MAX_INT32}, inclusive`));
  }
  causes.push(...validateLabels(s.nodeSelector, child(path, 'nodeSelector')));
  for (const f of ['serviceAccountName', 'nodeName'] as const) {
    const v = s[f];
    if (v) for (const m of isDns1123Subdomain(v)) causes.push(invalid(child(path, f), v, m));
  }
  for (const f of ['hostname', 'subdomain'] as const) {
    const v = s[f];
    if (v) for (const m of isDns1123Label(v)) causes.push(invalid(child(path, f), v, m));
  }
  causes.push(...validateTolerations(s.tolerations, child(path, 'tolerations')));
  return causes;
}
