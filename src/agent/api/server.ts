// The agent's HTTPS Kubernetes API: TLS with optional client certificates,
// authentication, discovery, OpenAPI stubs, and the resource paths.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from '../logger.ts';
import type { PodLogSource } from '../kubelet/log-source.ts';
import type { Registry } from './registry.ts';
import { NotFound, MethodNotAllowed, Unauthorized } from './errors.ts';
import { apiGroupDoc, apiGroupList, apiResourceList, apiVersions, versionInfo } from './discovery.ts';
import { serveOpenApiV2, serveOpenApiV3 } from './openapi.ts';
import { createAuthenticator } from './http/auth.ts';
import { parseResourcePath } from './http/router.ts';
import { sendError, sendJson } from './http/respond.ts';
import { createResourceHandler } from './http/resource-handler.ts';
import { createWatchTracker } from './http/watch-stream.ts';
import { DEFAULT_MAX_BODY_BYTES } from './http/request-body.ts';

export interface ApiServerTls {
  caCertPem: string;
  serverCertPem: string;
  serverKeyPem: string;
}

export interface ApiServerOptions {
  registry: Registry;
  tls: ApiServerTls;
  /** The admin bearer token (pki.ts). */
  adminToken: string;
  host: string;
  /** 0 picks a free port; see port() after start(). */
  port: number;
  logger: Logger;
  logSource?: PodLogSource;
  maxBodyBytes?: number;
  /**
   * Mesh's own endpoints (e.g. `/mesh/v1/status`), keyed by exact path. They are
   * authenticated like the rest of the API and answer with JSON.
   */
  meshRoutes?: Record<string, MeshRoute>;
  /**
   * Handlers that own a path and everything below it (e.g. `/apis/metrics.k8s.io`,
   * `/metrics`), authenticated like the rest; `group` is listed in /apis.
   */
  prefixRoutes?: PrefixRoute[];
  /** Called once per finished request (metrics). */
  onRequestDone?: (r: { method: string; url: URL; status: number; seconds: number }) => void;
}

export interface PrefixRoute {
  prefix: string;
  group?: { name: string; versions: string[] };
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void>;
}

export interface MeshRoute {
  method: 'GET' | 'POST';
  handle(): Promise<unknown>;
}

export interface ApiServer {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The port actually listened on. */
  port(): number;
  /** https://host:port */
  url(): string;
}

// Anonymous callers may read liveness and version, as in Kubernetes' public-info role.
const PUBLIC_PATHS = new Set(['/healthz', '/livez', '/readyz', '/version']);

export function createApiServer(opts: ApiServerOptions): ApiServer {
  const log = opts.logger.child({ component: 'api' });
  const auth = createAuthenticator({ adminToken: opts.adminToken });
  const watches = createWatchTracker();
  const sockets = new Set<Socket>();
  const handleResource = createResourceHandler({
    registry: opts.registry,
    logSource: opts.logSource,
    watches,
    maxBodyBytes: opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    logger: log,
  });
  let server: Server | undefined;
  let boundPort = opts.port;

  const hostForUrl = () => (opts.host.includes(':') ? `[${opts.host}]` : opts.host);

  function serveText(res: ServerResponse, text: string): void {
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  async function route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD' && !path.startsWith('/api') && !path.startsWith('/mesh/')) {
      throw new MethodNotAllowed(`method ${req.method} is not supported on ${path}`);
    }
    switch (path) {
      case '/healthz':
      case '/livez':
      case '/readyz':
        return serveText(res, 'ok');
      case '/version':
        return sendJson(res, 200, versionInfo());
      case '/api':
        return sendJson(res, 200, apiVersions(`${opts.host}:${boundPort}`));
      case '/apis':
        return sendJson(res, 200, apiGroupList(opts.prefixRoutes?.flatMap((r) => (r.group ? [r.group] : []))));
      case '/openapi/v2':
        return serveOpenApiV2(res);
      case '/openapi/v3':
        return serveOpenApiV3(res);
    }
    const meshRoute = opts.meshRoutes?.[path];
    if (meshRoute) {
      if (req.method !== meshRoute.method) throw new MethodNotAllowed(`method ${req.method} is not supported on ${path}`);
      return sendJson(res, 200, await meshRoute.handle());
    }
    const prefixRoute = opts.prefixRoutes?.find((r) => path === r.prefix || path.startsWith(`${r.prefix}/`));
    if (prefixRoute) return prefixRoute.handle(req, res, url);
    const segs = path.split('/').filter(Boolean);
    if (segs[0] === 'api' && segs.length === 2 && req.method === 'GET') {
      const doc = apiResourceList('', segs[1]!);
      if (doc) return sendJson(res, 200, doc);
    }
    if (segs[0] === 'apis' && segs.length === 2 && req.method === 'GET') {
      const doc = apiGroupDoc(segs[1]!);
      if (doc) return sendJson(res, 200, doc);
    }
    if (segs[0] === 'apis' && segs.length === 3 && req.method === 'GET') {
      const doc = apiResourceList(segs[1]!, segs[2]!);
      if (doc) return sendJson(res, 200, doc);
    }
    const resource = parseResourcePath(path);
    if (!resource) throw new NotFound('the server could not find the requested resource');
    return handleResource(req, res, resource, url.searchParams);
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const url = new URL(req.url ?? '/', 'https://localhost');
    let user = 'anonymous';
    res.on('close', () => {
      opts.onRequestDone?.({ method: req.method ?? 'GET', url, status: res.statusCode, seconds: (performance.now() - started) / 1000 });
      log.debug(
        { method: req.method, path: url.pathname, query: url.search || undefined, status: res.statusCode, user, ms: Math.round((performance.now() - started) * 10) / 10 },
        'request',
      );
    });
    try {
      const who = auth.authenticate(req);
      if (who) user = who.user;
      else if (!PUBLIC_PATHS.has(url.pathname)) throw new Unauthorized('Unauthorized');
      await route(req, res, url);
    } catch (err) {
      if (!(err instanceof Error && 'code' in err && typeof (err as { code: unknown }).code === 'number')) {
        log.error({ err, method: req.method, path: url.pathname }, 'request failed');
      }
      sendError(res, err);
    }
  }

  return {
    async start() {
      const srv = createServer(
        {
          key: opts.tls.serverKeyPem,
          cert: opts.tls.serverCertPem,
          ca: opts.tls.caCertPem,
          requestCert: true,
          // Clients without a certificate may still use a bearer token; auth decides.
          rejectUnauthorized: false,
        },
        (req, res) => void onRequest(req, res),
      );
      srv.on('connection', (s: Socket) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      });
      srv.on('tlsClientError', (err) => log.debug({ err: err.message }, 'TLS handshake failed'));
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(opts.port, opts.host, () => {
          srv.off('error', reject);
          resolve();
        });
      });
      server = srv;
      boundPort = (srv.address() as AddressInfo).port;
      log.info({ url: `https://${hostForUrl()}:${boundPort}` }, 'API server listening');
    },
    async stop() {
      const srv = server;
      if (!srv) return;
      server = undefined;
      watches.closeAll();
      const closed = new Promise<void>((resolve) => srv.close(() => resolve()));
      srv.closeIdleConnections();
      // Long-running requests (log follows) would hold close() open; cut them.
      setTimeout(() => {
        for (const s of sockets) s.destroy();
      }, 1000).unref();
      await closed;
    },
    port: () => boundPort,
    url: () => `https://${hostForUrl()}:${boundPort}`,
  };
}
