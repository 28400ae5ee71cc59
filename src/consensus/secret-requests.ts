// Secret reads over the Raft transport, answered by a Raft group member
// (normally the leader) from a linearizable read of the FSM:
// - 'secret-get': the API of a plain member (outside the group) reads secrets
//   for a client it authenticated. Every member holds the cluster key and the
//   admin credentials, so any member may ask.
// - 'secret-pod-fetch': a kubelet fetches the secrets of a pod. The node may
//   read a secret only while a pod bound to it (in this member's store)
//   references it; `from` is the node name the transport authenticated.
// Answers carry the sealed blobs; the asker opens them with its own key, so
// plain values never cross the wire. Errors travel in the answer (a code and
// a message), since the transport only carries a remote error's text.
import { z } from 'zod';
import type { Logger } from '../agent/logger.ts';
import type { Pod } from '../agent/api/object-types.ts';
import { ApiError, BadRequest, Forbidden, InternalError, NotFound, NotLeader } from '../agent/api/errors.ts';
import { nodeMayReadSecret } from '../agent/api/secret-references.ts';
import { QUORUM_MESSAGE } from '../agent/api/secret-backend.ts';
import type { ClusterFsm, SealedSecret } from './cluster-fsm.ts';
import { UnknownRequestKind, type RaftNode } from './raft-node.ts';
import type { NodeId } from './raft-types.ts';

export const SECRET_GET = 'secret-get';
export const SECRET_POD_FETCH = 'secret-pod-fetch';
/** Most secrets one request may name (a list of a large namespace is split). */
export const MAX_KEYS_PER_REQUEST = 1000;

const key = z.object({ namespace: z.string().min(1), name: z.string().min(1) });
const getBody = z.object({ keys: z.array(key).max(MAX_KEYS_PER_REQUEST) });
const podFetchBody = z.object({ namespace: z.string().min(1), names: z.array(z.string().min(1)).max(MAX_KEYS_PER_REQUEST) });

const sealedSchema = z.object({
  namespace: z.string(),
  name: z.string(),
  uid: z.string(),
  type: z.string(),
  sealed: z.string(),
  version: z.number().int(),
});
const answerSchema = z.union([
  z.object({ ok: z.literal(true), secrets: z.array(sealedSchema.nullable()) }),
  z.object({ ok: z.literal(false), code: z.number().int(), message: z.string() }),
]);

export type SecretRequestHandler = (from: NodeId, kind: string, body: string) => Promise<string>;

export interface SecretRequestHandlerOptions {
  raftNode: Pick<RaftNode, 'read' | 'status'>;
  fsm: Pick<ClusterFsm, 'secret'>;
  /** The pods in this member's store (for pod-fetch authorization). */
  pods: () => readonly Pod[];
  logger: Logger;
  readTimeoutMs?: number;
}

function failure(code: number, message: string): string {
  return JSON.stringify({ ok: false, code, message });
}

/** The onRequest handler for the secret kinds; other kinds pass on (UnknownRequestKind). */
export function createSecretRequestHandler(opts: SecretRequestHandlerOptions): SecretRequestHandler {
  const log = opts.logger.child({ component: 'secret-requests' });

  async function readSealed(keys: { namespace: string; name: string }[]): Promise<string> {
    if (!opts.raftNode.status().inGroup) return failure(503, `${QUORUM_MESSAGE}: this member is outside the Raft group`);
    try {
      const secrets = await opts.raftNode.read(() => keys.map((k) => opts.fsm.secret(k.namespace, k.name) ?? null), {
        timeoutMs: opts.readTimeoutMs,
      });
      return JSON.stringify({ ok: true, secrets });
    } catch (err) {
      return failure(503, `${QUORUM_MESSAGE}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  return async (from, kind, body) => {
    if (kind !== SECRET_GET && kind !== SECRET_POD_FETCH) throw new UnknownRequestKind(kind);
    let raw: unknown;
    try {
      raw = JSON.parse(body);
    } catch {
      return failure(400, `${kind}: the body is not JSON`);
    }
    if (kind === SECRET_GET) {
      const parsed = getBody.safeParse(raw);
      if (!parsed.success) return failure(400, `${kind}: malformed request`);
      return readSealed(parsed.data.keys);
    }
    const parsed = podFetchBody.safeParse(raw);
    if (!parsed.success) return failure(400, `${kind}: malformed request`);
    const { namespace, names } = parsed.data;
    const pods = opts.pods();
    const denied = names.filter((n) => !nodeMayReadSecret(pods, from, namespace, n));
    if (denied.length > 0) {
      log.info({ node: from, namespace, denied }, 'refused a secret fetch');
      return failure(403, `node "${from}" may not read secret ${namespace}/${denied[0]}: no pod bound to it references it`);
    }
    return readSealed(names.map((name) => ({ namespace, name })));
  };
}

/** The sealed secrets of an answer, in request order; throws the ApiError the answer carries. */
export function decodeSecretAnswer(text: string, count: number): (SealedSecret | undefined)[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new InternalError('a secret request got an answer that is not JSON');
  }
  const parsed = answerSchema.safeParse(raw);
  if (!parsed.success) throw new InternalError('a secret request got a malformed answer');
  const a = parsed.data;
  if (!a.ok) throw errorFor(a.code, a.message);
  if (a.secrets.length !== count) throw new InternalError(`a secret request for ${count} secrets got ${a.secrets.length}`);
  return a.secrets.map((s) => s ?? undefined);
}

function errorFor(code: number, message: string): ApiError {
  switch (code) {
    case 400:
      return new BadRequest(message);
    case 403:
      return new Forbidden(message);
    case 404:
      return new NotFound(message);
    case 503:
      return new NotLeader(message, { retryAfterSeconds: 1 });
    default:
      return new InternalError(message);
  }
}
