// Builds a container's environment the way Kubernetes does: envFrom first, then
// env (later entries win), `$(VAR)` references expanded against what came before.
import type { Container, EnvVar, Pod } from '../api/object-types.ts';

/** The pod can't start this container until the config exists (CreateContainerConfigError). */
export class ContainerConfigError extends Error {}

export interface EnvSources {
  configMap(namespace: string, name: string): { data?: Record<string, string> } | undefined;
  secret(namespace: string, name: string): { data?: Record<string, string>; stringData?: Record<string, string> } | undefined;
}

export interface PodRuntimeFacts {
  podIP?: string;
  hostIP?: string;
}

const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** Expands `$(NAME)` from vars; `$$(NAME)` is an escaped literal; unknown names stay as written. */
export function expandVars(input: string, vars: Map<string, string>): string {
  return input.replace(/\$\$|\$\(([^)]*)\)/g, (match, name: string | undefined) => {
    if (match === '$$') return '$';
    return name !== undefined && vars.has(name) ? vars.get(name)! : match;
  });
}

function secretData(s: { data?: Record<string, string>; stringData?: Record<string, string> }): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.data ?? {})) out[k] = Buffer.from(v, 'base64').toString('utf8');
  for (const [k, v] of Object.entries(s.stringData ?? {})) out[k] = v;
  return out;
}

function fieldValue(pod: Pod, path: string, facts: PodRuntimeFacts): string {
  const keyed = /^metadata\.(labels|annotations)\['([^']*)'\]$/.exec(path);
  if (keyed) {
    const map = keyed[1] === 'labels' ? pod.metadata.labels : pod.metadata.annotations;
    return map?.[keyed[2]] ?? '';
  }
  switch (path) {
    case 'metadata.name':
      return pod.metadata.name ?? '';
    case 'metadata.namespace':
      return pod.metadata.namespace ?? '';
    case 'metadata.uid':
      return pod.metadata.uid ?? '';
    case 'spec.nodeName':
      return pod.spec.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec.serviceAccountName ?? '';
    case 'status.podIP':
    case 'status.podIPs':
      return facts.podIP ?? '';
    case 'status.hostIP':
    case 'status.hostIPs':
      return facts.hostIP ?? '';
    default:
      throw new ContainerConfigError(`unsupported fieldRef fieldPath "${path}"`);
  }
}

function resolveOne(e: EnvVar, pod: Pod, facts: PodRuntimeFacts, sources: EnvSources, vars: Map<string, string>): string | undefined {
  const ns = pod.metadata.namespace ?? 'default';
  if (e.value !== undefined) return expandVars(e.value, vars);
  const from = e.valueFrom;
  if (!from) return '';
  if (from.fieldRef) return fieldValue(pod, from.fieldRef.fieldPath, facts);
  if (from.configMapKeyRef) {
    const ref = from.configMapKeyRef;
    const cm = sources.configMap(ns, ref.name);
    if (!cm) {
      if (ref.optional) return undefined;
      throw new ContainerConfigError(`configmap "${ref.name}" not found`);
    }
    const v = cm.data?.[ref.key];
    if (v === undefined) {
      if (ref.optional) return undefined;
      throw new ContainerConfigError(`couldn't find key ${ref.key} in ConfigMap ${ns}/${ref.name}`);
    }
    return v;
  }
  if (from.secretKeyRef) {
    const ref = from.secretKeyRef;
    const s = sources.secret(ns, ref.name);
    if (!s) {
      if (ref.optional) return undefined;
      throw new ContainerConfigError(`secret "${ref.name}" not found`);
    }
    const v = secretData(s)[ref.key];
    if (v === undefined) {
      if (ref.optional) return undefined;
      throw new ContainerConfigError(`couldn't find key ${ref.key} in Secret ${ns}/${ref.name}`);
    }
    return v;
  }
  return '';
}

/** The container's variables in order; throws ContainerConfigError when a required source is missing. */
export function resolveEnv(pod: Pod, container: Container, facts: PodRuntimeFacts, sources: EnvSources): Map<string, string> {
  const ns = pod.metadata.namespace ?? 'default';
  const vars = new Map<string, string>();
  for (const src of container.envFrom ?? []) {
    const prefix = src.prefix ?? '';
    let data: Record<string, string> | undefined;
    if (src.configMapRef) {
      const cm = sources.configMap(ns, src.configMapRef.name);
      if (!cm && !src.configMapRef.optional) throw new ContainerConfigError(`configmap "${src.configMapRef.name}" not found`);
      data = cm?.data;
    } else if (src.secretRef) {
      const s = sources.secret(ns, src.secretRef.name);
      if (!s && !src.secretRef.optional) throw new ContainerConfigError(`secret "${src.secretRef.name}" not found`);
      data = s ? secretData(s) : undefined;
    }
    // Kubernetes skips keys that aren't valid variable names.
    for (const [k, v] of Object.entries(data ?? {})) if (ENV_NAME.test(prefix + k)) vars.set(prefix + k, v);
  }
  for (const e of container.env ?? []) {
    const v = resolveOne(e, pod, facts, sources, vars);
    if (v !== undefined) vars.set(e.name, v);
  }
  return vars;
}

export function envList(vars: Map<string, string>): string[] {
  return [...vars].map(([k, v]) => `${k}=${v}`);
}
