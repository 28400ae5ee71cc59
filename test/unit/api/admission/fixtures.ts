// Small builders for valid objects; each test breaks one thing.
import type { KubeObject } from '../../../../src/agent/api/object-types.ts';
import { findByKind, type ResourceType } from '../../../../src/agent/api/resources.ts';
import { applyDefaults, validateObject } from '../../../../src/agent/api/admission/index.ts';
import type { StatusCause } from '../../../../src/agent/api/errors.ts';

// Fixtures are deliberately loose JSON: tests poke at any field.
export type Obj = KubeObject & Record<string, any>;

export function typeOf(kind: string): ResourceType {
  const apiVersion = ['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet'].includes(kind) ? 'apps/v1' : 'v1';
  const t = findByKind(apiVersion, kind);
  if (!t) throw new Error(`no type ${kind}`);
  return t;
}

export function pod(spec: Record<string, unknown> = {}): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'default' },
    spec: { containers: [{ name: 'app', image: 'nginx:1.27' }], ...spec },
  };
}

export function template(labels: Record<string, string> = { app: 'web' }): Record<string, unknown> {
  return { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] } };
}

export function workload(kind: string, spec: Record<string, unknown> = {}): Obj {
  return {
    apiVersion: 'apps/v1',
    kind,
    metadata: { name: 'web', namespace: 'default' },
    spec: { selector: { matchLabels: { app: 'web' } }, template: template(), ...spec },
  };
}

export function service(spec: Record<string, unknown> = {}): Obj {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }], ...spec } };
}

/** Defaults a copy, then validates it, as the CLI does. */
export function check(obj: Obj, old?: Obj): StatusCause[] {
  const t = typeOf(obj.kind);
  const copy = structuredClone(obj);
  applyDefaults(t, copy);
  let prev: Obj | undefined;
  if (old) {
    prev = structuredClone(old);
    applyDefaults(t, prev);
  }
  return validateObject(t, copy, prev);
}

export function fields(causes: StatusCause[]): string[] {
  return causes.map((c) => c.field ?? '');
}

export function render(causes: StatusCause[]): string[] {
  return causes.map((c) => `${c.field}: ${c.message}`);
}
