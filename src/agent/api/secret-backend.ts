// Secrets through Raft. The values live only in the cluster FSM, sealed
// (consensus/secret-crypto.ts); the CRDT store, its SQLite file and gossip carry
// a shell: metadata, type, and `data` with the keys but empty values, marked
// with SEALED_ANNOTATION. Writes need the Raft quorum (503 without it); reads
// through the API put the values back in (registry.reveal).
//
// A shell also records the FSM version it was written at, so every change of
// the values changes the shell: watchers see a MODIFIED event, the
// resourceVersion moves, and the next update can say which version it replaces.
import type { Logger } from '../logger.ts';
import type { RaftNode } from '../../consensus/raft-node.ts';
import type { FsmResult } from '../../consensus/cluster-fsm.ts';
import type { SecretSealer } from '../../consensus/secret-crypto.ts';
import type { ObjectStore } from '../store/object-store.ts';
import type { KubeObject } from './object-types.ts';
import { ApiError, InternalError, NotLeader, alreadyExists, conflict, notFound } from './errors.ts';

export const SEALED_ANNOTATION = 'mesh.dev/sealed';
export const SEALED_VALUE = 'raft';
export const SEALED_VERSION_ANNOTATION = 'mesh.dev/sealed-version';
export const QUORUM_MESSAGE = 'secrets need the Raft quorum';

export interface SecretKey {
  namespace: string;
  name: string;
}

/** A Secret's values as the FSM holds them (after opening). */
export interface RevealedSecret {
  uid: string;
  type: string;
  version: number;
  /** base64 values, as in a Secret's `data`. */
  data: Record<string, string>;
}

/**
 * Where the API gets Secret values: a linearizable read on Raft group members,
 * a request to the leader from plain members (consensus/secret-reader.ts).
 * Answers in the order of `keys`; undefined where the FSM has no such secret.
 */
export interface SecretReader {
  read(keys: SecretKey[]): Promise<(RevealedSecret | undefined)[]>;
}

export interface PlainSecret extends SecretKey {
  uid: string;
  type: string;
  data: Record<string, string>;
}

export interface SecretBackend extends SecretReader {
  /**
   * Seals the data and commits it; resolves with the new version.
   * expectedVersion 0: must not exist yet (AlreadyExists); n: must be at n (Conflict).
   */
  put(secret: PlainSecret, opts?: { expectedVersion?: number }): Promise<number>;
  /** Removes the values (no-op when absent); Conflict when another uid holds the name. */
  remove(namespace: string, name: string, uid?: string): Promise<void>;
}

export interface SecretBackendOptions {
  raftNode: Pick<RaftNode, 'propose'>;
  sealer: SecretSealer;
  reader: SecretReader;
  logger: Logger;
  proposeTimeoutMs?: number;
}

/** Without quorum every Raft failure reads the same to a client: 503, secrets need the quorum. */
export function noQuorum(err: unknown): ApiError {
  if (err instanceof ApiError && !(err instanceof NotLeader)) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new NotLeader(`${QUORUM_MESSAGE}, which is not available: ${detail}`, { retryAfterSeconds: 1 });
}

export function createSecretBackend(opts: SecretBackendOptions): SecretBackend {
  const log = opts.logger.child({ component: 'secret-backend' });

  async function propose(command: object): Promise<FsmResult> {
    try {
      return (await opts.raftNode.propose(JSON.stringify(command), { timeoutMs: opts.proposeTimeoutMs })) as FsmResult;
    } catch (err) {
      throw noQuorum(err);
    }
  }

  function refusal(r: Extract<FsmResult, { ok: false }>, name: string): ApiError {
    switch (r.code) {
      case 'exists':
        return alreadyExists('secrets', name);
      case 'conflict':
        return conflict('secrets', name);
      case 'not-found':
        return notFound('secrets', name);
      default:
        log.error({ reason: r.reason, name }, 'cluster state refused a secret command');
        return new InternalError(`the cluster state refused the secret: ${r.reason}`);
    }
  }

  return {
    read: (keys) => opts.reader.read(keys),
    async put(secret, po = {}) {
      const sealed = opts.sealer.seal(secret.namespace, secret.name, JSON.stringify(secret.data));
      const r = await propose({
        type: 'put-secret',
        namespace: secret.namespace,
        name: secret.name,
        uid: secret.uid,
        secretType: secret.type,
        sealed,
        expectedVersion: po.expectedVersion,
      });
      if (!r.ok) throw refusal(r, secret.name);
      if (!('version' in r)) throw new InternalError('the cluster state answered put-secret without a version');
      return r.version;
    },
    async remove(namespace, name, uid) {
      const r = await propose({ type: 'delete-secret', namespace, name, uid });
      if (!r.ok) throw refusal(r, name);
    },
  };
}

// ---- shells ------------------------------------------------------------------

export function isSealedShell(obj: KubeObject): boolean {
  return obj.metadata.annotations?.[SEALED_ANNOTATION] === SEALED_VALUE;
}

export function sealedVersionOf(obj: KubeObject): number | undefined {
  const v = Number(obj.metadata.annotations?.[SEALED_VERSION_ANNOTATION]);
  return Number.isSafeInteger(v) && v > 0 ? v : undefined;
}

/** The object without Mesh's sealing annotations (what clients see). */
export function withoutSealAnnotations<T extends KubeObject>(obj: T): T {
  const out = structuredClone(obj);
  const a = out.metadata.annotations;
  if (a) {
    delete a[SEALED_ANNOTATION];
    delete a[SEALED_VERSION_ANNOTATION];
    if (Object.keys(a).length === 0) delete out.metadata.annotations;
  }
  return out;
}

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

function keysOnly(map: unknown): Record<string, string> | undefined {
  if (map === null || typeof map !== 'object' || Array.isArray(map)) return undefined;
  return Object.fromEntries(Object.keys(map).map((k) => [k, '']));
}

/**
 * `kubectl apply` keeps the applied manifest, values included, in an
 * annotation; the shell keeps its keys only. kubectl then sees the values as
 * changed on every apply and sends them again, which is harmless.
 */
function redactLastApplied(annotations: Record<string, string> | undefined): void {
  const text = annotations?.[LAST_APPLIED];
  if (!annotations || !text) return;
  let applied: Record<string, unknown>;
  try {
    applied = JSON.parse(text) as Record<string, unknown>;
  } catch {
    delete annotations[LAST_APPLIED]; // not JSON: it cannot be redacted, so it is not kept
    return;
  }
  if (applied === null || typeof applied !== 'object') return;
  for (const f of ['data', 'stringData']) if (f in applied) applied[f] = keysOnly(applied[f]);
  annotations[LAST_APPLIED] = JSON.stringify(applied) + '\n';
}

/** What the store keeps of a Secret: keys without values, marked sealed at `version`. */
export function shellOf(secret: KubeObject, version: number): KubeObject {
  const shell = withoutSealAnnotations(secret);
  const data = keysOnly(secret.data);
  if (data) shell.data = data;
  delete shell.stringData;
  redactLastApplied(shell.metadata.annotations);
  shell.metadata.annotations = { ...shell.metadata.annotations, [SEALED_ANNOTATION]: SEALED_VALUE, [SEALED_VERSION_ANNOTATION]: String(version) };
  return shell;
}

/**
 * A shell with its values put back. Without values for this incarnation (the
 * FSM has none, or has a newer secret of the same name under another uid) the
 * object comes without `data`.
 */
export function revealShell(shell: KubeObject, values: Pick<RevealedSecret, 'uid' | 'data'> | undefined): KubeObject {
  const out = withoutSealAnnotations(shell);
  if (values && values.uid === shell.metadata.uid) out.data = { ...values.data };
  else delete out.data;
  return out;
}

// ---- the registry's side -------------------------------------------------------

export interface SealedSecretWrites {
  /** Commits the values, then stores the shell; returns the Secret as a client sees it. */
  create(secret: KubeObject): Promise<KubeObject>;
  /**
   * For an update: the stored Secret with its values (what admission and the
   * no-op check compare against), and the incoming one ready to commit. An
   * incoming shell (an in-process caller that read the store) keeps the stored values.
   */
  prepareUpdate(incoming: KubeObject, storedShell: KubeObject): Promise<{ next: KubeObject; old: KubeObject }>;
  /**
   * Commits an update: the values first, then `write` stores the shell (the
   * registry's own update path, which may remove the object when its last
   * finalizer went during deletion: then the values go first).
   */
  commitUpdate(next: KubeObject, storedShell: KubeObject, write: (shell: KubeObject) => Promise<KubeObject>): Promise<KubeObject>;
  /** Before a shell leaves the store: its values leave the FSM (needs the quorum, so nothing changes without it). */
  beforeRemove(storedShell: KubeObject): Promise<void>;
  /** Secrets as clients see them; `keysOnly` skips the read and leaves the values empty (tables, DELETED events). */
  reveal(objects: KubeObject[], opts?: { keysOnly?: boolean }): Promise<KubeObject[]>;
}

function keyOf(obj: KubeObject): SecretKey {
  return { namespace: obj.metadata.namespace ?? 'default', name: obj.metadata.name ?? '' };
}

function plainOf(secret: KubeObject): PlainSecret {
  return {
    ...keyOf(secret),
    uid: secret.metadata.uid ?? '',
    type: typeof secret.type === 'string' ? secret.type : 'Opaque',
    data: { ...((secret.data as Record<string, string> | undefined) ?? {}) },
  };
}

/** Whether a write of this updated object removes it (deleting, and the last finalizer gone). */
function removesOnWrite(obj: KubeObject): boolean {
  return !!obj.metadata.deletionTimestamp && !obj.metadata.finalizers?.length;
}

export function createSealedSecretWrites(backend: SecretBackend, store: Pick<ObjectStore, 'get' | 'create'>): SealedSecretWrites {
  async function reveal(objects: KubeObject[], o: { keysOnly?: boolean } = {}): Promise<KubeObject[]> {
    const shells = objects.filter(isSealedShell);
    if (shells.length === 0) return objects;
    if (o.keysOnly) return objects.map((obj) => (isSealedShell(obj) ? withoutSealAnnotations(obj) : obj));
    const values = await backend.read(shells.map(keyOf));
    const found = new Map<KubeObject, RevealedSecret | undefined>(shells.map((s, i) => [s, values[i]]));
    return objects.map((obj) => (isSealedShell(obj) ? revealShell(obj, found.get(obj)) : obj));
  }

  return {
    async create(secret) {
      const plain = plainOf(secret);
      // Checked before proposing, so a name taken here leaves the FSM alone.
      if (store.get('secrets', plain.namespace, plain.name)) throw alreadyExists('secrets', plain.name);
      const version = await backend.put(plain, { expectedVersion: 0 });
      let stored: KubeObject;
      try {
        stored = await store.create('secrets', shellOf(secret, version));
      } catch (err) {
        await backend.remove(plain.namespace, plain.name, plain.uid).catch(() => undefined);
        throw err;
      }
      return revealShell(stored, plain);
    },

    async prepareUpdate(incoming, storedShell) {
      const [old] = isSealedShell(storedShell) ? await reveal([storedShell]) : [storedShell];
      const next = withoutSealAnnotations(incoming);
      if (isSealedShell(incoming)) {
        if (old!.data !== undefined) next.data = structuredClone(old!.data);
        else delete next.data;
        delete next.stringData;
      }
      return { next, old: old! };
    },

    async commitUpdate(next, storedShell, write) {
      const plain = plainOf({ ...next, metadata: { ...next.metadata, uid: storedShell.metadata.uid } });
      if (removesOnWrite(next)) {
        if (isSealedShell(storedShell)) await backend.remove(plain.namespace, plain.name, plain.uid);
        return revealShell(await write(shellOf(next, sealedVersionOf(storedShell) ?? 0)), undefined);
      }
      // A Secret stored before sealing (values in the store) moves into the FSM with its first update.
      const version = await backend.put(plain, { expectedVersion: sealedVersionOf(storedShell) });
      return revealShell(await write(shellOf(next, version)), plain);
    },

    async beforeRemove(storedShell) {
      if (!isSealedShell(storedShell)) return;
      const k = keyOf(storedShell);
      await backend.remove(k.namespace, k.name, storedShell.metadata.uid);
    },

    reveal,
  };
}
