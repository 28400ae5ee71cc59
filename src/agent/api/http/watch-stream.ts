// Streams a watch as newline-delimited JSON events over a chunked response.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../logger.ts';
import type { KubeObject } from '../object-types.ts';
import type { Registry } from '../registry.ts';
import type { ResourceType } from '../resources.ts';
import { resourceKey } from '../resources.ts';
import { sendError } from './respond.ts';

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
  const write = (type: string, obj: KubeObject) => {
    const line = JSON.stringify({ type, object: p.transform(obj, first) }) + '\n';
    first = false;
    if (ready) res.write(line);
    else buffered.push(line);
  };
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
  for (const obj of initial) write('ADDED', obj);
  ready = true;
  if (buffered.length) res.write(buffered.join(''));
  buffered.length = 0;

  let timer: NodeJS.Timeout | undefined;
  let closed = false;
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
