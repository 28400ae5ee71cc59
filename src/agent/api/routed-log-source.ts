// `pods/NAME/log` on any agent: the logs live with the kubelet of the pod's
// node, so a request for a pod on another node is forwarded to that node's API
// (as kube-apiserver forwards to the kubelet), streaming included.
import { request } from 'node:https';
import type { Readable } from 'node:stream';
import type { ObjectClient } from './object-client.ts';
import type { KubeObject, Pod } from './object-types.ts';
import { ApiError, BadRequest, InternalError, NotFound } from './errors.ts';
import type { LogOptions, PodLogSource } from '../kubelet/log-source.ts';

/** The Node annotation where an agent says its API answers. */
export const API_ENDPOINT_ANNOTATION = 'mesh.dev/api-endpoint';

export function createRoutedLogSource(opts: {
  nodeName: string;
  local: PodLogSource;
  client: ObjectClient;
  caPem: string;
  token: string;
}): PodLogSource {
  return {
    async streamLogs(pod: Pod, logOpts: LogOptions): Promise<Readable> {
      const target = pod.spec.nodeName;
      if (!target || target === opts.nodeName) return opts.local.streamLogs(pod, logOpts);
      const node = opts.client.get<KubeObject>('nodes', '', target);
      const endpoint = node?.metadata.annotations?.[API_ENDPOINT_ANNOTATION];
      if (!endpoint) {
        throw new BadRequest(`the logs of pod "${pod.metadata.name}" are on node "${target}", which announces no API endpoint`);
      }
      const query = new URLSearchParams();
      if (logOpts.container) query.set('container', logOpts.container);
      if (logOpts.follow) query.set('follow', 'true');
      if (logOpts.tailLines !== undefined) query.set('tailLines', String(logOpts.tailLines));
      if (logOpts.timestamps) query.set('timestamps', 'true');
      if (logOpts.previous) query.set('previous', 'true');
      if (logOpts.sinceSeconds !== undefined) query.set('sinceSeconds', String(logOpts.sinceSeconds));
      const ns = encodeURIComponent(pod.metadata.namespace ?? 'default');
      const url = new URL(`/api/v1/namespaces/${ns}/pods/${encodeURIComponent(pod.metadata.name!)}/log?${query}`, endpoint);
      return new Promise<Readable>((resolve, reject) => {
        const req = request(url, { ca: opts.caPem, headers: { Authorization: `Bearer ${opts.token}` } }, (res) => {
          if (res.statusCode === 200) return resolve(res);
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => reject(remoteError(res.statusCode ?? 500, body, target)));
        });
        req.on('error', (err) => reject(new InternalError(`cannot reach node "${target}" at ${endpoint} for logs: ${err.message}`)));
        req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
        req.end();
      });
    },
  };
}

function remoteError(code: number, body: string, node: string): ApiError {
  let message = body.trim();
  try {
    message = (JSON.parse(body) as { message?: string }).message ?? message;
  } catch {
    // a plain-text answer
  }
  if (code === 400) return new BadRequest(message);
  if (code === 404) return new NotFound(message);
  return new InternalError(`node "${node}" answered ${code}: ${message}`);
}
