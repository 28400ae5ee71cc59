// The onRequest side shared by the Raft transports: several components may
// serve requests on one transport, each owning some kinds; a handler passes a
// kind it does not serve on by throwing UnknownRequestKind.
import { UnknownRequestKind } from './raft-node.ts';
import type { NodeId } from './raft-types.ts';

export type RaftRequestHandler = (from: NodeId, kind: string, body: string) => Promise<string>;

export interface RaftRequestHandlers {
  add(handler: RaftRequestHandler): () => void;
  /** Answers with the first handler that serves `kind`; rejects with UnknownRequestKind when none does. */
  dispatch(from: NodeId, kind: string, body: string): Promise<string>;
  clear(): void;
}

export function createRaftRequestHandlers(): RaftRequestHandlers {
  const handlers: RaftRequestHandler[] = [];
  return {
    add(handler) {
      handlers.push(handler);
      return () => {
        const i = handlers.indexOf(handler);
        if (i >= 0) handlers.splice(i, 1);
      };
    },
    async dispatch(from, kind, body) {
      for (const h of [...handlers]) {
        try {
          return await h(from, kind, body);
        } catch (err) {
          if (err instanceof UnknownRequestKind) continue;
          throw err;
        }
      }
      throw new UnknownRequestKind(kind);
    },
    clear() {
      handlers.length = 0;
    },
  };
}
