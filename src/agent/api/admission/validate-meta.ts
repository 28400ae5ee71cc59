// Object metadata rules (ValidateObjectMeta): name or generateName, namespace
// format, label and annotation keys and values.
import type { StatusCause } from '../errors.ts';
import { child, invalid, required, tooLong } from './field-errors.ts';
import { isDns1123Label, isLabelValue, isQualifiedName, maskTrailingDash } from './name-rules.ts';
import type { ObjectMetaShape } from './schemas.ts';

export type NameRule = (name: string) => string[];

export const TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024;

export function validateLabels(labels: Record<string, string> | null | undefined, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  for (const [k, v] of Object.entries(labels ?? {})) {
    for (const m of isQualifiedName(k)) causes.push(invalid(path, k, m));
    for (const m of isLabelValue(v)) causes.push(invalid(path, v, m));
  }
  return causes;
}

export function validateAnnotations(annotations: Record<string, string> | null | undefined, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  let total = 0;
  for (const [k, v] of Object.entries(annotations ?? {})) {
    for (const m of isQualifiedName(k.toLowerCase())) causes.push(invalid(path, k, m));
    total += Buffer.byteLength(k) + Buffer.byteLength(v);
  }
  if (total > TOTAL_ANNOTATION_SIZE_LIMIT) causes.push(tooLong(path, TOTAL_ANNOTATION_SIZE_LIMIT));
  return causes;
}

export interface MetaRules {
  nameRule: NameRule;
  namespaced: boolean;
}

/**
 * The namespace is not required here: the API server fills it from the request
 * path, and manifests checked by the CLI often leave it out.
 */
export function validateObjectMeta(meta: ObjectMetaShape | null | undefined, rules: MetaRules, path = 'metadata'): StatusCause[] {
  const causes: StatusCause[] = [];
  const m = meta ?? {};
  if (m.generateName) {
    for (const msg of rules.nameRule(maskTrailingDash(m.generateName))) causes.push(invalid(child(path, 'generateName'), m.generateName, msg));
  }
  if (!m.name) {
    if (!m.generateName) causes.push(required(child(path, 'name'), 'name or generateName is required'));
  } else {
    for (const msg of rules.nameRule(m.name)) causes.push(invalid(child(path, 'name'), m.name, msg));
  }
  if (rules.namespaced && m.namespace) {
    for (const msg of isDns1123Label(m.namespace)) causes.push(invalid(child(path, 'namespace'), m.namespace, msg));
  }
  causes.push(...validateLabels(m.labels, child(path, 'labels')));
  causes.push(...validateAnnotations(m.annotations, child(path, 'annotations')));
  for (const [i, ref] of (m.ownerReferences ?? []).entries()) {
    const p = `${child(path, 'ownerReferences')}[${i}]`;
    if (!ref.apiVersion) causes.push(required(child(p, 'apiVersion'), 'version must not be empty'));
    if (!ref.kind) causes.push(required(child(p, 'kind'), 'kind must not be empty'));
    if (!ref.name) causes.push(required(child(p, 'name'), 'name must not be empty'));
    if (!ref.uid) causes.push(required(child(p, 'uid'), 'uid must not be empty'));
  }
  const controllers = (m.ownerReferences ?? []).filter((r) => r.controller === true);
  if (controllers.length > 1) {
    causes.push(invalid(child(path, 'ownerReferences'), controllers.map((r) => r.name), 'Only one reference can have Controller set to true'));
  }
  for (const [i, f] of (m.finalizers ?? []).entries()) {
    for (const msg of isQualifiedName(f)) causes.push(invalid(`${child(path, 'finalizers')}[${i}]`, f, msg));
  }
  return causes;
}

/** Name and namespace never change once an object exists. */
export function validateObjectMetaUpdate(meta: ObjectMetaShape | null | undefined, old: ObjectMetaShape | null | undefined): StatusCause[] {
  const causes: StatusCause[] = [];
  if ((meta?.name ?? '') !== (old?.name ?? '')) causes.push(invalid('metadata.name', meta?.name ?? '', 'field is immutable'));
  if ((meta?.namespace ?? '') !== (old?.namespace ?? '')) causes.push(invalid('metadata.namespace', meta?.namespace ?? '', 'field is immutable'));
  return causes;
}
