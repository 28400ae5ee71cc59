// `pods/NAME/log`: streams a container's log from the node's log source as text.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PodLogSource, LogOptions } from '../../kubelet/log-source.ts';
import type { Pod } from '../object-types.ts';
import { BadRequest } from '../errors.ts';

function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new BadRequest(`${name} must be a non-negative integer`);
  return n;
}

const boolParam = (q: URLSearchParams, name: string) => q.get(name) === 'true' || q.get(name) === '1';

export function logOptions(q: URLSearchParams): LogOptions {
  return {
    container: q.get('container') || undefined,
    follow: boolParam(q, 'follow'),
    tailLines: intParam(q, 'tailLines'),
    timestamps: boolParam(q, 'timestamps'),
    previous: boolParam(q, 'previous'),
    sinceSeconds: intParam(q, 'sinceSeconds'),
  };
}

export async function servePodLogs(req: IncomingMessage, res: ServerResponse, pod: Pod, q: URLSearchParams, source: PodLogSource | undefined): Promise<void> {
  if (!source) throw new BadRequest(`logs are not available for pod ${pod.metadata.name}: this agent runs no kubelet`);
  const stream = await source.streamLogs(pod, logOptions(q));
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache, private' });
  res.flushHeaders();
  const stop = () => stream.destroy();
  req.on('close', stop);
  res.on('close', stop);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}
