// HTTPS client for the Mesh (Kubernetes) API: pins the kubeconfig's CA, sends
// its credentials, and turns Status responses into CliErrors with the server's
// message. Streams (watch, logs) hand back the response body as it arrives.
import { request as httpsRequest, type RequestOptions as HttpsRequestOptions } from 'node:https';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { StatusCause } from '../agent/api/errors.ts';
import { CliError } from './cli-error.ts';
import type { ClientConfig } from './kubeconfig.ts';

export const TABLE_ACCEPT = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json';

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  /** Content-Type of body; JSON unless given. */
  contentType?: string;
  accept?: string;
  signal?: AbortSignal;
}

export interface ApiClient {
  readonly server: string;
  /** The namespace of the kubeconfig context. */
  readonly namespace: string;
  request<T = unknown>(method: string, path: string, opts?: RequestOptions): Promise<T>;
  /** GET whose body is consumed as a stream; resolves once a 2xx status arrives. */
  stream(path: string, opts?: RequestOptions): Promise<IncomingMessage>;
}

export function buildUrl(server: string, path: string, query: Query = {}): URL {
  const url = new URL(server + path);
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
  return url;
}

/** A non-2xx response to a CliError; Kubernetes Status bodies keep their message, reason and causes. */
export function errorFromResponse(statusCode: number, body: string): CliError {
  try {
    const s = JSON.parse(body) as { kind?: string; message?: string; reason?: string; code?: number; details?: { causes?: StatusCause[] } };
    if (s && s.kind === 'Status' && typeof s.message === 'string') {
      return new CliError(s.message, { code: s.code ?? statusCode, reason: s.reason, causes: s.details?.causes });
    }
  } catch {
    // not JSON: fall through to the raw text
  }
  const text = body.trim().split('\n')[0]?.slice(0, 300) ?? '';
  return new CliError(`the server responded with status ${statusCode}${text ? `: ${text}` : ''}`, { code: statusCode });
}

function connectError(server: string, err: NodeJS.ErrnoException): CliError {
  if (err.code === 'ECONNREFUSED') {
    return new CliError(`cannot reach the Mesh API at ${server}: connection refused (is an agent running? start one with "mesh init")`);
  }
  if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') return new CliError(`cannot reach the Mesh API at ${server}: unknown host`);
  if (err.code && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(err.code)) {
    return new CliError(`TLS error talking to ${server}: ${err.message} (does the kubeconfig's CA match the server?)`);
  }
  if (err.name === 'AbortError') return new CliError('request aborted', { exitCode: 130 });
  return new CliError(`request to ${server} failed: ${err.message}`);
}

function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

export function createApiClient(config: ClientConfig): ApiClient {
  const isHttps = config.server.startsWith('https:');

  function open(method: string, path: string, opts: RequestOptions): Promise<IncomingMessage> {
    const url = buildUrl(config.server, path, opts.query);
    const headers: Record<string, string> = { Accept: opts.accept ?? 'application/json', 'User-Agent': 'mesh-cli' };
    let payload: Buffer | undefined;
    if (opts.body !== undefined) {
      payload = Buffer.from(typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body), 'utf8');
      headers['Content-Type'] = opts.contentType ?? 'application/json';
      headers['Content-Length'] = String(payload.length);
    }
    if (config.token) headers.Authorization = `Bearer ${config.token}`;
    const reqOpts: HttpsRequestOptions = { method, headers, signal: opts.signal };
    if (isHttps) {
      if (config.ca) reqOpts.ca = config.ca;
      if (config.cert) reqOpts.cert = config.cert;
      if (config.key) reqOpts.key = config.key;
      reqOpts.rejectUnauthorized = !config.insecureSkipTlsVerify;
    }
    return new Promise((resolve, reject) => {
      const req = (isHttps ? httpsRequest : httpRequest)(url, reqOpts, (res) => resolve(res));
      req.on('error', (err: NodeJS.ErrnoException) => reject(connectError(config.server, err)));
      req.end(payload);
    });
  }

  return {
    server: config.server,
    namespace: config.namespace,
    async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
      const res = await open(method, path, opts);
      const body = await readAll(res);
      const status = res.statusCode ?? 0;
      if (status < 200 || status >= 300) throw errorFromResponse(status, body);
      if (body === '') return undefined as T;
      const type = res.headers['content-type'] ?? '';
      if (!type.includes('json')) return body as T;
      try {
        return JSON.parse(body) as T;
      } catch {
        throw new CliError(`the server sent malformed JSON for ${method} ${path}`);
      }
    },
    async stream(path: string, opts: RequestOptions = {}): Promise<IncomingMessage> {
      const res = await open('GET', path, opts);
      const status = res.statusCode ?? 0;
      if (status < 200 || status >= 300) throw errorFromResponse(status, await readAll(res));
      return res;
    },
  };
}

/** Splits a byte stream into lines (for watch: one JSON event per line). */
export async function* readLines(stream: AsyncIterable<Buffer | string>): AsyncGenerator<string> {
  // A streaming decoder keeps a multi-byte character split across chunks intact.
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of stream) {
    buf += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.trim() !== '') yield line;
    }
  }
  if (buf.trim() !== '') yield buf;
}
