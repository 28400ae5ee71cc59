// Kubernetes' defaulting for pod specs (SetDefaults_PodSpec, _Container, _Probe,
// ...). Runs before validation, so it tolerates any JSON: a field of the wrong
// type is left alone for validation to report.
import { podQosClass, type QosPodSpec } from './qos.ts';

export type Json = Record<string, unknown>;

export function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Sets obj[k] when absent (undefined or null). */
export function setDefault(obj: Json, k: string, v: unknown): void {
  if (obj[k] === undefined || obj[k] === null) obj[k] = v;
}

/** Returns obj[k] as an object, creating it when absent; undefined when it holds something else. */
export function objField(obj: Json, k: string): Json | undefined {
  setDefault(obj, k, {});
  const v = obj[k];
  return isObj(v) ? v : undefined;
}

export function objects(v: unknown): Json[] {
  return Array.isArray(v) ? v.filter(isObj) : [];
}

/** Always for `:latest` or no tag (without a digest), as the kubelet would otherwise reuse a stale image. */
export function defaultPullPolicy(image: string): 'Always' | 'IfNotPresent' {
  const at = image.indexOf('@');
  const ref = at >= 0 ? image.slice(0, at) : image;
  const lastSlash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  const tag = colon > lastSlash ? ref.slice(colon + 1) : '';
  if (tag === 'latest') return 'Always';
  if (tag === '' && at < 0) return 'Always';
  return 'IfNotPresent';
}

function defaultProbe(probe: unknown): void {
  if (!isObj(probe)) return;
  setDefault(probe, 'timeoutSeconds', 1);
  setDefault(probe, 'periodSeconds', 10);
  setDefault(probe, 'successThreshold', 1);
  setDefault(probe, 'failureThreshold', 3);
  if (isObj(probe.httpGet)) {
    setDefault(probe.httpGet, 'path', '/');
    setDefault(probe.httpGet, 'scheme', 'HTTP');
  }
}

/** YAML `cpu: 1` arrives as a number; store quantities as text like the API server does. */
function quantitiesToText(list: unknown): void {
  if (!isObj(list)) return;
  for (const [k, v] of Object.entries(list)) if (typeof v === 'number' && Number.isFinite(v)) list[k] = String(v);
}

function defaultContainer(c: Json, hostNetwork: boolean): void {
  if (typeof c.image === 'string') setDefault(c, 'imagePullPolicy', defaultPullPolicy(c.image));
  setDefault(c, 'terminationMessagePath', '/dev/termination-log');
  setDefault(c, 'terminationMessagePolicy', 'File');
  const resources = objField(c, 'resources');
  if (resources) {
    quantitiesToText(resources.requests);
    quantitiesToText(resources.limits);
  }
  for (const p of objects(c.ports)) {
    setDefault(p, 'protocol', 'TCP');
    // With the host's network the container port is the host port.
    if (hostNetwork && typeof p.containerPort === 'number') setDefault(p, 'hostPort', p.containerPort);
  }
  for (const e of objects(c.env)) {
    if (isObj(e.valueFrom) && isObj(e.valueFrom.fieldRef)) setDefault(e.valueFrom.fieldRef, 'apiVersion', 'v1');
  }
  defaultProbe(c.livenessProbe);
  defaultProbe(c.readinessProbe);
  defaultProbe(c.startupProbe);
}

function defaultVolume(v: Json): void {
  // A volume with no source is an emptyDir.
  if (Object.keys(v).every((k) => k === 'name')) v.emptyDir = {};
  if (isObj(v.configMap)) setDefault(v.configMap, 'defaultMode', 0o644);
  if (isObj(v.secret)) setDefault(v.secret, 'defaultMode', 0o644);
}

/** Defaults shared by pods and pod templates. */
export function defaultPodSpec(spec: Json): void {
  setDefault(spec, 'restartPolicy', 'Always');
  setDefault(spec, 'terminationGracePeriodSeconds', 30);
  setDefault(spec, 'dnsPolicy', 'ClusterFirst');
  setDefault(spec, 'securityContext', {});
  setDefault(spec, 'schedulerName', 'default-scheduler');
  const hostNetwork = spec.hostNetwork === true;
  for (const c of objects(spec.initContainers)) defaultContainer(c, hostNetwork);
  for (const c of objects(spec.containers)) defaultContainer(c, hostNetwork);
  for (const v of objects(spec.volumes)) defaultVolume(v);
}

export function defaultPodTemplate(template: unknown): void {
  if (!isObj(template)) return;
  // A template's metadata decodes into Go structs on a real API server, where
  // null fields (kubectl rollout undo sends creationTimestamp: null) vanish;
  // kept, they would make the template differ from the revision it restores.
  if (isObj(template.metadata)) {
    for (const [k, v] of Object.entries(template.metadata)) if (v === null) delete template.metadata[k];
  }
  const spec = objField(template, 'spec');
  if (spec) defaultPodSpec(spec);
}

/** Pod-only defaults: what Kubernetes' Pod defaulting and admission plugins add to real pods (not templates). */
export function defaultPod(pod: Json): void {
  const spec = objField(pod, 'spec');
  if (!spec) return;
  defaultPodSpec(spec);
  setDefault(spec, 'enableServiceLinks', true);
  setDefault(spec, 'priority', 0);
  // The ServiceAccount admission plugin; serviceAccount is the deprecated alias kept in sync.
  const sa = typeof spec.serviceAccountName === 'string' && spec.serviceAccountName
    ? spec.serviceAccountName
    : typeof spec.serviceAccount === 'string' && spec.serviceAccount
      ? spec.serviceAccount
      : 'default';
  if (!spec.serviceAccountName) spec.serviceAccountName = sa;
  if (!spec.serviceAccount) spec.serviceAccount = sa;
  // Requests default to limits, which makes a limits-only pod Guaranteed.
  for (const c of [...objects(spec.initContainers), ...objects(spec.containers)]) {
    const r = c.resources;
    if (!isObj(r) || !isObj(r.limits)) continue;
    const requests = objField(r, 'requests');
    if (!requests) continue;
    for (const [k, v] of Object.entries(r.limits)) if (typeof v === 'string') setDefault(requests, k, v);
  }
  const status = objField(pod, 'status');
  if (status) {
    setDefault(status, 'phase', 'Pending');
    if (status.qosClass === undefined || status.qosClass === null) {
      try {
        status.qosClass = podQosClass(spec as QosPodSpec);
      } catch {
        // Malformed containers: validation reports them.
      }
    }
  }
}
