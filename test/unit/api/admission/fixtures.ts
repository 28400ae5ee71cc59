// Small builders for valid objects; each test breaks one thing.
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../../src/agent/api/object-types.ts';
import { findByKind, type ResourceType } from '../../../../src/agent/api/resources.ts';
import { applyDefaults, validateObject } from '../../../../src/agent/api/admission/index.ts';
import { Invalid, type StatusCause } from '../../../../src/agent/api/errors.ts';
import { createRegistry, type Registry } from '../../../../src/agent/api/registry.ts';
import { createMemoryStore } from '../../../../src/agent/store/memory-store.ts';
import { silentLogger } from '../../../../src/agent/logger.ts';

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

/** Defaults a copy as type t, then validates it: `field: message` per cause. */
export function checkAs(t: ResourceType, obj: Obj): string[] {
  const copy = structuredClone(obj);
  applyDefaults(t, copy);
  return render(validateObject(t, copy));
}

/** A registry over a fresh memory store, with the default namespaces. */
export async function registry(): Promise<Registry> {
  const store = createMemoryStore();
  await store.start();
  const r = createRegistry({ store, logger: silentLogger() });
  await r.ensureDefaultNamespaces();
  return r;
}

/** The `field: message` causes of the 422 Invalid that p rejects with. */
export async function causesOf(p: Promise<unknown>): Promise<string[]> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof Invalid, `expected a 422 Invalid, got ${String(err)}`);
  assert.equal(err.code, 422);
  return render(err.details.causes ?? []);
}
