// Just enough OpenAPI for kubectl: `apply` insists on an answer, and an empty
// v2 document makes it fall back to its compiled-in schemas (DESIGN.md §5).
import type { ServerResponse } from 'node:http';

export function serveOpenApiV2(res: ServerResponse): void {
  res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': '0' });
  res.end();
}

export function serveOpenApiV3(res: ServerResponse): void {
  const body = JSON.stringify({ paths: {} });
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}
