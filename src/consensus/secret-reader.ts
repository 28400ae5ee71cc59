// Where Secret values come from on this agent:
// - the API's SecretReader: a linearizable read of the local FSM on a Raft
//   group member; a 'secret-get' request to the leader from a plain member;
// - the kubelet's fetcher: always a 'secret-pod-fetch' through the leader,
//   which checks that a pod bound to this node uses the secret.
// Both open the sealed blobs here, with this agent's own copy of the key.
import type { RaftNode, RaftTransport } from './raft-node.ts';
import type { ClusterFsm, SealedSecret } from './cluster-fsm.ts';
import { SealedDataError, type SecretSealer } from './secret-crypto.ts';
import type { NodeId } from './raft-types.ts';
import { InternalError } from '../agent/api/errors.ts';
import { noQuorum, type RevealedSecret, type SecretKey, type SecretReader } from '../agent/api/secret-backend.ts';
import { MAX_KEYS_PER_REQUEST, SECRET_GET, SECRET_POD_FETCH, decodeSecretAnswer, type SecretRequestHandler } from './secret-requests.ts';

const DEFAULT_TIMEOUT_MS = 5_000;

function open(sealer: SecretSealer, s: SealedSecret): RevealedSecret {
  let text: string;
  try {
    text = sealer.open(s.namespace, s.name, s.sealed);
  } catch (err) {
    if (err instanceof SealedDataError) throw new InternalError(`${err.message}; is this agent's cluster key the cluster's?`);
    throw err;
  }
  const data = JSON.parse(text) as Record<string, string>;
  return { uid: s.uid, type: s.type, version: s.version, data };
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export interface SecretReaderOptions {
  raftNode: Pick<RaftNode, 'read' | 'status' | 'leader'>;
  fsm: Pick<ClusterFsm, 'secret'>;
  transport: Pick<RaftTransport, 'request'>;
  sealer: SecretSealer;
  timeoutMs?: number;
}

export function createSecretReader(opts: SecretReaderOptions): SecretReader {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  async function sealedFromLeader(keys: SecretKey[]): Promise<(SealedSecret | undefined)[]> {
    const leader = opts.raftNode.leader();
    if (leader === undefined) throw noQuorum(new Error('no Raft leader is known'));
    const out: (SealedSecret | undefined)[] = [];
    for (const part of chunks(keys, MAX_KEYS_PER_REQUEST)) {
      let answer: string;
      try {
        answer = await opts.transport.request(leader, SECRET_GET, JSON.stringify({ keys: part }), { timeoutMs });
      } catch (err) {
        throw noQuorum(err);
      }
      out.push(...decodeSecretAnswer(answer, part.length));
    }
    return out;
  }

  return {
    async read(keys) {
      if (keys.length === 0) return [];
      let sealed: (SealedSecret | undefined)[];
      if (opts.raftNode.status().inGroup) {
        try {
          sealed = await opts.raftNode.read(() => keys.map((k) => opts.fsm.secret(k.namespace, k.name)), { timeoutMs });
        } catch (err) {
          throw noQuorum(err);
        }
      } else {
        sealed = await sealedFromLeader(keys);
      }
      return sealed.map((s) => (s ? open(opts.sealer, s) : undefined));
    },
  };
}

/** The kubelet's source: the named secrets of one namespace, by name; missing ones are absent. */
export type PodSecretFetcher = (namespace: string, names: string[]) => Promise<Map<string, RevealedSecret>>;

export interface PodSecretFetcherOptions {
  nodeName: NodeId;
  raftNode: Pick<RaftNode, 'leader'>;
  transport: Pick<RaftTransport, 'request'>;
  sealer: SecretSealer;
  /** This agent's own handler, used when it is the leader (a transport does not dial itself). */
  localHandler: SecretRequestHandler;
  timeoutMs?: number;
}

export function createPodSecretFetcher(opts: PodSecretFetcherOptions): PodSecretFetcher {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return async (namespace, names) => {
    const out = new Map<string, RevealedSecret>();
    if (names.length === 0) return out;
    const leader = opts.raftNode.leader();
    if (leader === undefined) throw noQuorum(new Error('no Raft leader is known'));
    for (const part of chunks(names, MAX_KEYS_PER_REQUEST)) {
      const body = JSON.stringify({ namespace, names: part });
      let answer: string;
      try {
        answer =
          leader === opts.nodeName
            ? await opts.localHandler(opts.nodeName, SECRET_POD_FETCH, body)
            : await opts.transport.request(leader, SECRET_POD_FETCH, body, { timeoutMs });
      } catch (err) {
        throw noQuorum(err);
      }
      const sealed = decodeSecretAnswer(answer, part.length);
      sealed.forEach((s, i) => {
        if (s) out.set(part[i]!, open(opts.sealer, s));
      });
    }
    return out;
  };
}
