// Leader-only work writes through a fenced client. Every write first checks that
// this agent still leads the Raft group with a valid lease, in the same term its
// leadership began; a deposed leader's queued writes fail with NotLeader instead
// of racing the new leader's. The lease (shorter than any election) makes the
// check sufficient: no new leader can exist while it holds. Objects the leader
// creates carry the term that made them, for debugging and audits.
import type { DeleteOptions, ListOptions, ObjectClient, WatchRequest } from './api/object-client.ts';
import type { KubeObject } from './api/object-types.ts';
import { NotLeader } from './api/errors.ts';
import type { StoreEvent } from './store/object-store.ts';

export const LEADER_TERM_ANNOTATION = 'mesh.dev/leader-term';

export interface LeaderView {
  isLeading(): boolean;
  term(): number;
}

export interface LeaderFence {
  /** Call when this agent gains leadership: writes are allowed for this term only. */
  begin(term: number): void;
  /** Call when it loses leadership: every write fails from now on. */
  end(): void;
  /** Whether a write now would be allowed. */
  holds(): boolean;
  readonly client: ObjectClient;
  /** Wraps any other leader-only write (a pod binding, a Raft proposal) in the same check. */
  guarded<A extends unknown[], R>(write: (...args: A) => Promise<R>): (...args: A) => Promise<R>;
}

export function createLeaderFence(inner: ObjectClient, raft: LeaderView): LeaderFence {
  let term: number | undefined;
  const holds = () => term !== undefined && raft.isLeading() && raft.term() === term;
  const guard = () => {
    if (!holds()) throw new NotLeader(`this agent no longer leads the Raft group (term ${term ?? '-'}, now ${raft.term()}): leader-only write refused`);
  };
  const tagged = <T extends KubeObject>(obj: T): T => ({
    ...obj,
    metadata: { ...obj.metadata, annotations: { ...obj.metadata.annotations, [LEADER_TERM_ANNOTATION]: String(term) } },
  });
  const client: ObjectClient = {
    get: <T extends KubeObject>(resource: string, namespace: string, name: string) => inner.get<T>(resource, namespace, name),
    list: <T extends KubeObject>(resource: string, opts?: ListOptions) => inner.list<T>(resource, opts),
    watch: (resource: string, req: WatchRequest, handler: (event: StoreEvent) => void) => inner.watch(resource, req, handler),
    async create<T extends KubeObject>(resource: string, obj: T) {
      guard();
      return inner.create(resource, tagged(obj));
    },
    async update<T extends KubeObject>(resource: string, obj: T) {
      guard();
      return inner.update(resource, obj);
    },
    async updateStatus<T extends KubeObject>(resource: string, obj: T) {
      guard();
      return inner.updateStatus(resource, obj);
    },
    async delete(resource: string, namespace: string, name: string, opts?: DeleteOptions) {
      guard();
      return inner.delete(resource, namespace, name, opts);
    },
  };
  return {
    begin(t) {
      term = t;
    },
    end() {
      term = undefined;
    },
    holds,
    client,
    guarded: (write) => async (...args) => {
      guard();
      return write(...args);
    },
  };
}
