// Streams a watch as newline-delimited JSON events over a chunked response.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../logger.ts';
import type { KubeObject } from '../object-types.ts';
import type { Registry } from '../registry.ts';
import type { ResourceType } from '../resources.ts';
import { resourceKey } from '../resources.ts';
import { sendError } from './respond.ts';
import { toStatus } from '../errors.ts';

export interface WatchParams {
  type: ResourceType;
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  timeoutSeconds?: number;
  /** Turns each event's object into what the client asked for (e.g. a Table). */
  transform: (obj: KubeObject, first: boolean) => unknown;
  contentType: string;
}

export interface WatchTracker {
  add(close: () => void): () => void;
  closeAll(): void;
}

export function createWatchTracker(): WatchTracker {
  const open = new Set<() => void>();
  return {
    add(close) {
      open.add(close);
      return () => open.delete(close);
    },
    closeAll() {
      for (const close of [...open]) close();
      open.clear();
    },
  };
}

export function serveWatch(
  req: IncomingMessage,
  res: ServerResponse,
  registry: Registry,
  tracker: WatchTracker,
  p: WatchParams,
  log: Logger,
): void {
  const key = resourceKey(p.type);
  const fromNow = !p.resourceVersion || p.resourceVersion === '0';
  let first = true;
  const buffered: string[] = [];
  let ready = false;
  let closed = false;
  const emit = (type: string, obj: KubeObject) => {
    const line = JSON.stringify({ type, object: p.transform(obj, first) }) + '\n';
    first = false;
    if (ready) res.write(line);
    else buffered.push(line);
  };
  // Secrets kept in Raft get their values filled in asynchronously; the chain
  // keeps events in order. Without the quorum the watch ends with an ERROR event.
  const reveals = registry.revealsData(key);
  let revealed: Promise<void> = Promise.resolve();
  const writeAll = (type: string, objs: KubeObject[]) => {
    if (!reveals) {
      for (const obj of objs) emit(type, obj);
      return;
    }
    revealed = revealed.then(async () => {
      if (closed) return;
      const shown = await registry.reveal(key, objs, { keysOnly: type === 'DELETED' });
      if (!closed) for (const obj of shown) emit(type, obj);
    });
    revealed = revealed.catch((err: unknown) => {
      if (closed) return;
      res.write(JSON.stringify({ type: 'ERROR', object: toStatus(err) }) + '\n');
      close();
    });
  };
  const write = (type: string, obj: KubeObject) => writeAll(type, [obj]);
  let unsubscribe: () => void;
  let initial: KubeObject[] = [];
  try {
    // List and subscribe in the same tick, so nothing falls between them.
    if (fromNow) initial = registry.list(key, p).items;
    unsubscribe = registry.watch(key, { ...p, resourceVersion: fromNow ? undefined : p.resourceVersion }, (ev) => write(ev.type, ev.object));
  } catch (err) {
    sendError(res, err); // e.g. 410 Gone for a resourceVersion that is too old
    return;
  }
  res.writeHead(200, { 'Content-Type': p.contentType, 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache, private' });
  res.flushHeaders();
  writeAll('ADDED', initial);
  ready = true;
  if (buffered.length) res.write(buffered.join(''));
  buffered.length = 0;

  let timer: NodeJS.Timeout | undefined;
  const close = () => {
    if (closed) return;
    closed = true;
    unsubscribe();
    untrack();
    if (timer) clearTimeout(timer);
    if (!res.writableEnded) res.end();
  };
  const untrack = tracker.add(close);
  if (p.timeoutSeconds && p.timeoutSeconds > 0) timer = setTimeout(close, p.timeoutSeconds * 1000);
  req.on('close', close);
  res.on('close', close);
  res.on('error', (err) => log.debug({ err }, 'watch stream error'));
}
