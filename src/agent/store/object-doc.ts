// One Automerge document per object incarnation. The document holds the object
// (without the agent-local resourceVersion), a delete marker and the hybrid
// logical clock of the incarnation's create (hlc.ts; it decides which of two
// concurrent creates of one name wins):
//
//   { object: {...}, deleted?: true, created?: '<encoded HLC>' }
//
// Every change carries its author (the writing agent's id) as its Automerge
// change message, so a change can be authorised by who wrote it, whichever peer
// relays it (docs/store.md, "Writer authorization").
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
  /** Encoded HLC of the create; absent in docs written before HLCs existed. */
  created?: string;
}

export type ObjectDoc = A.Doc<DocShape>;

export interface DocChange {
  doc: ObjectDoc;
  /** The encoded change this write produced, for gossip; undefined when nothing changed. */
  change: Uint8Array | undefined;
}

/** A stable Automerge actor id (hex) for an agent's database. */
export function actorFor(agentId: string): string {
  return createHash('sha256').update(`mesh-agent:${agentId}`).digest('hex').slice(0, 32);
}

/** The replicated part of an object: everything but the local resourceVersion. */
export function replicatedPart(obj: KubeObject): JsonMap {
  const copy = JSON.parse(JSON.stringify(obj)) as KubeObject;
  delete copy.metadata.resourceVersion;
  return copy as unknown as JsonMap;
}

export function createObjectDoc(actor: string, obj: KubeObject, author: string, created: string): DocChange {
  const init = A.init<DocShape>({ actor });
  const doc = A.change(init, { message: author }, (d) => {
    d.object = toAutomerge(replicatedPart(obj)) as JsonMap;
    d.created = new A.ImmutableString(created) as unknown as string;
  });
  return { doc, change: A.getLastLocalChange(doc) };
}

/** Applies the minimal diff from `before` to `after` (both materialised objects). */
export function updateObjectDoc(doc: ObjectDoc, before: KubeObject, after: KubeObject, author: string): DocChange {
  const from = replicatedPart(before);
  const to = replicatedPart(after);
  if (jsonEqual(from, to)) return { doc, change: undefined };
  const next = A.change(doc, { message: author }, (d) => applyMapDiff(d.object as JsonMap, from, to));
  return { doc: next, change: A.getLastLocalChange(next) };
}

export function markDeleted(doc: ObjectDoc, author: string): DocChange {
  if (doc.deleted === true) return { doc, change: undefined };
  const next = A.change(doc, { message: author }, (d) => {
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

/**
 * Decides whether one change may be accepted. `before` is the object at the
 * change's dependencies and `after` the object with the change applied on top of
 * exactly those (undefined when absent or deleted), so the verdict depends on the
 * change alone and is the same on every agent whatever the delivery order.
 */
export type ChangeCheck = (author: string | undefined, before: KubeObject | undefined, after: KubeObject | undefined) => boolean;

export interface MergeResult {
  doc: ObjectDoc;
  changed: boolean;
  /** Hashes of changes the check refused (their dependants are left out too). */
  rejected: string[];
}

/**
 * Merges remote changes; `changed` is false when nothing new was applied.
 * Without a check, changes whose dependencies are missing are queued inside the
 * doc by Automerge. With a check, each change is applied and checked on its own
 * in causal order; one that is refused, or whose dependencies are missing, is
 * never applied (anti-entropy brings the missing ones). `rebuild` must return a
 * fresh copy of the doc as it was before this merge (the refused path only).
 */
export function mergeChanges(doc: ObjectDoc, changes: Uint8Array[], check?: ChangeCheck, rebuild?: () => ObjectDoc): MergeResult {
  const before = A.getHeads(doc);
  if (!check) {
    const [next] = A.applyChanges(doc, changes);
    return { doc: next, changed: !sameHeads(before, A.getHeads(next)), rejected: [] };
  }
  const todo = changes.map((bytes) => ({ bytes, c: A.decodeChange(bytes) })).filter((x) => !A.hasHeads(doc, [x.c.hash]));
  const accepted: Uint8Array[] = [];
  const rejected: string[] = [];
  const done = new Set<string>();
  let cur = doc;
  let progress = true;
  while (progress) {
    progress = false;
    for (const x of todo) {
      if (done.has(x.c.hash) || !x.c.deps.every((d) => A.hasHeads(cur, [d]))) continue;
      done.add(x.c.hash);
      progress = true;
      const [next] = A.applyChanges(cur, [x.bytes]);
      const was = x.c.deps.length === 0 ? undefined : visibleAt(next, x.c.deps);
      const now = visibleAt(next, [x.c.hash]);
      if (check(authorOf(x.c.message), was, now)) {
        cur = next;
        accepted.push(x.bytes);
        continue;
      }
      // applyChanges consumed `cur`: start again from the saved doc plus what passed.
      rejected.push(x.c.hash);
      if (!rebuild) throw new Error('mergeChanges: a refused change needs rebuild');
      safeFree(next);
      cur = rebuild();
      if (accepted.length > 0) [cur] = A.applyChanges(cur, accepted);
    }
  }
  // Changes built on a refused one are refused with it (so anti-entropy need not fetch them again).
  const refused = new Set(rejected);
  let grew = rejected.length > 0;
  while (grew) {
    grew = false;
    for (const x of todo) {
      if (done.has(x.c.hash) || refused.has(x.c.hash) || !x.c.deps.some((d) => refused.has(d))) continue;
      refused.add(x.c.hash);
      rejected.push(x.c.hash);
      grew = true;
    }
  }
  return { doc: cur, changed: !sameHeads(before, A.getHeads(cur)), rejected };
}

/** Every change in a saved doc, in causal order (for merging a whole doc through the checked path). */
export function changesOfSavedDoc(bytes: Uint8Array): Uint8Array[] {
  const d = A.load<DocShape>(bytes);
  try {
    return A.getAllChanges(d);
  } finally {
    A.free(d);
  }
}

/** Merges a peer's saved doc without checks. */
export function mergeSavedDoc(doc: ObjectDoc, bytes: Uint8Array): { doc: ObjectDoc; changed: boolean } {
  const before = A.getHeads(doc);
  const next = A.loadIncremental(doc, bytes);
  return { doc: next, changed: !sameHeads(before, A.getHeads(next)) };
}

/** True when every hash is in the doc's history. */
export function hasChanges(doc: ObjectDoc, hashes: string[]): boolean {
  return hashes.every((h) => A.hasHeads(doc, [h]));
}

export function docHeads(doc: ObjectDoc): string[] {
  return [...A.getHeads(doc)].sort();
}

export function docChangeCount(doc: ObjectDoc): number {
  return A.stats(doc).numChanges;
}

function authorOf(message: string | null | undefined): string | undefined {
  return typeof message === 'string' && message.length > 0 ? message : undefined;
}

function visibleAt(doc: ObjectDoc, heads: string[]): KubeObject | undefined {
  const { object, deleted } = materialise(A.view(doc, heads));
  return deleted ? undefined : object;
}

function safeFree(doc: ObjectDoc): void {
  try {
    A.free(doc);
  } catch {
    /* already released */
  }
}

export function saveObjectDoc(doc: ObjectDoc): Uint8Array {
  return A.save(doc);
}

export function freeObjectDoc(doc: ObjectDoc): void {
  A.free(doc);
}

/** Plain JSON of the document: the object (undefined before any content arrived), the delete marker and the create HLC. */
export function materialise(doc: ObjectDoc): { object: KubeObject | undefined; deleted: boolean; created: string | undefined } {
  const object = doc.object === undefined ? undefined : (fromAutomerge(doc.object) as KubeObject);
  const created = doc.created === undefined ? undefined : String(fromAutomerge(doc.created));
  return { object, deleted: doc.deleted === true, created };
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
