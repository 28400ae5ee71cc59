// The httpGet check: any status from 200 to 399 is a success, as for Kubernetes.
// HTTPS does not verify the certificate (Kubernetes' prober doesn't either).
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { HTTPHeader, ProbeOutcome } from './probe-types.ts';

export interface HttpGetTarget {
  scheme: 'HTTP' | 'HTTPS';
  host: string;
  port: number;
  path: string;
  headers?: HTTPHeader[];
}

const USER_AGENT = 'kube-probe/1.32';
const MAX_BODY = 10 * 1024;

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export function httpGetCheck(t: HttpGetTarget, timeoutMs: number): Promise<ProbeOutcome> {
  const path = t.path.startsWith('/') ? t.path : `/${t.path}`;
  const url = `${t.scheme.toLowerCase()}://${hostPort(t.host, t.port)}${path}`;
  const headers: Record<string, string> = { 'User-Agent': USER_AGENT, Accept: '*/*' };
  // Probe headers replace the defaults with the same name (Host included).
  for (const h of t.headers ?? []) {
    for (const k of Object.keys(headers)) if (k.toLowerCase() === h.name.toLowerCase()) delete headers[k];
    headers[h.name] = h.value;
  }
  const request = t.scheme === 'HTTPS' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    let settled = false;
    const done = (o: ProbeOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(o);
    };
    const timer = setTimeout(
      () => done({ ok: false, output: `Get "${url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)` }),
      timeoutMs,
    );
    // Lenient parsing, as Go's client in the kubelet: servers such as busybox httpd end CGI header lines with a bare LF.
    const req = request(
      { host: t.host, port: t.port, path, method: 'GET', headers, rejectUnauthorized: false, agent: false, insecureHTTPParser: true },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (body.length < MAX_BODY) body += chunk;
        });
        res.on('error', (err) => done({ ok: false, output: `Get "${url}": ${err.message}` }));
        res.on('end', () => {
          const code = res.statusCode ?? 0;
          if (code >= 200 && code < 400) done({ ok: true, output: body.slice(0, MAX_BODY) });
          else done({ ok: false, output: `HTTP probe failed with statuscode: ${code}` });
        });
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'ECONNREFUSED' ? `dial tcp ${hostPort(t.host, t.port)}: connect: connection refused` : err.message;
      done({ ok: false, output: `Get "${url}": ${why}` });
    });
    req.end();
  });
}
