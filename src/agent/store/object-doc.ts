// One Automerge document per object incarnation. The document holds the object
// (without the agent-local resourceVersion) and a delete marker:
//
//   { object: {...}, deleted?: true }
//
// Merge semantics follow DESIGN.md §3: maps merge field by field; a field that
// two agents set concurrently gets one deterministic winner. Strings are stored
// as ImmutableString (scalars), so a concurrent edit of `image` picks a winner
// instead of interleaving characters. Arrays are written whole whenever they
// change, so an array behaves like one field (last writer wins as a unit): a
// merged containers list could otherwise hold a mix no writer intended.
// `deleted` is only ever set, never cleared, so a delete wins over any
// concurrent update and the object cannot resurrect.

import { createHash } from 'node:crypto';
import * as A from '@automerge/automerge';
import type { KubeObject } from '../api/object-types.ts';
import { jsonEqual } from './json-equal.ts';

type JsonMap = Record<string, unknown>;

export interface DocShape {
  object: JsonMap;
  deleted?: boolean;
}

export type ObjectDoc = A.Doc<DocShape>;

export interface DocChange {
  doc: ObjectDoc;
  /** The encoded change this write produced, for gossip; undefined when nothing changed. */
  change: Uint8Array | undefined;
}

/** A stable Automerge actor id (hex) for an agent. */
export function actorFor(agentId: string): string {
  return createHash('sha256').update(`mesh-agent:${agentId}`).digest('hex').slice(0, 32);
}

/** The replicated part of an object: everything but the local resourceVersion. */
export function replicatedPart(obj: KubeObject): JsonMap {
  const copy = JSON.parse(JSON.stringify(obj)) as KubeObject;
  delete copy.metadata.resourceVersion;
  return copy as unknown as JsonMap;
}

export function createObjectDoc(actor: string, obj: KubeObject): DocChange {
  const init = A.init<DocShape>({ actor });
  const doc = A.change(init, (d) => {
    d.object = toAutomerge(replicatedPart(obj)) as JsonMap;
  });
  return { doc, change: A.getLastLocalChange(doc) };
}

/** Applies the minimal diff from `before` to `after` (both materialised objects). */
export function updateObjectDoc(doc: ObjectDoc, before: KubeObject, after: KubeObject): DocChange {
  const from = replicatedPart(before);
  const to = replicatedPart(after);
  if (jsonEqual(from, to)) return { doc, change: undefined };
  const next = A.change(doc, (d) => applyMapDiff(d.object as JsonMap, from, to));
  return { doc: next, change: A.getLastLocalChange(next) };
}

export function markDeleted(doc: ObjectDoc): DocChange {
  if (doc.deleted === true) return { doc, change: undefined };
  const next = A.change(doc, (d) => {
    d.deleted = true;
  });
  return { doc: next, change: A.getLastLocalChange(next) };
}

export function loadObjectDoc(bytes: Uint8Array, actor: string): ObjectDoc {
  return A.load<DocShape>(bytes, { actor });
}

export function emptyObjectDoc(actor: string): ObjectDoc {
  return A.init<DocShape>({ actor });
}

/** Applies remote change messages; `changed` is false when they were all known already. */
export function applyRemoteChanges(doc: ObjectDoc, changes: Uint8Array[]): { doc: ObjectDoc; changed: boolean } {
  const before = A.getHeads(doc);
  const [next] = A.applyChanges(doc, changes);
  return { doc: next, changed: !sameHeads(before, A.getHeads(next)) };
}

export function saveObjectDoc(doc: ObjectDoc): Uint8Array {
  return A.save(doc);
}

export function freeObjectDoc(doc: ObjectDoc): void {
  A.free(doc);
}

/** Plain JSON of the document: the object (undefined before any content arrived) and the delete marker. */
export function materialise(doc: ObjectDoc): { object: KubeObject | undefined; deleted: boolean } {
  const object = doc.object === undefined ? undefined : (fromAutomerge(doc.object) as KubeObject);
  return { object, deleted: doc.deleted === true };
}

function sameHeads(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((h) => s.has(h));
}

function isMap(v: unknown): v is JsonMap {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function applyMapDiff(target: JsonMap, from: JsonMap, to: JsonMap): void {
  for (const k of Object.keys(from)) if (!Object.hasOwn(to, k)) delete target[k];
  for (const [k, v] of Object.entries(to)) {
    const old = from[k];
    if (Object.hasOwn(from, k) && jsonEqual(old, v)) continue;
    if (isMap(old) && isMap(v) && isMap(target[k])) applyMapDiff(target[k] as JsonMap, old, v);
    else target[k] = toAutomerge(v);
  }
}

// Plain JSON -> values Automerge stores as scalars where Kubernetes means scalars.
function toAutomerge(v: unknown): unknown {
  if (typeof v === 'string') return new A.ImmutableString(v);
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : new A.Float64(v);
  if (Array.isArray(v)) return v.map(toAutomerge);
  if (isMap(v)) {
    const out: JsonMap = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = toAutomerge(x);
    return out;
  }
  return v;
}

function fromAutomerge(v: unknown): unknown {
  if (A.isImmutableString(v)) return v.toString();
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map(fromAutomerge);
  if (isMap(v)) {
    const out: JsonMap = {};
    for (const [k, x] of Object.entries(v)) out[k] = fromAutomerge(x);
    return out;
  }
  return v;
}
