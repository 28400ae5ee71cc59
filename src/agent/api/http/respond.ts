// Writing responses: JSON bodies and Kubernetes Status errors.
import type { ServerResponse } from 'node:http';
import { ApiError, toStatus } from '../errors.ts';

/** 413: Kubernetes' RequestEntityTooLarge. Local until errors.ts carries it. */
export class RequestEntityTooLarge extends ApiError {
  readonly code = 413;
  readonly reason = 'RequestEntityTooLarge';
}

export function sendJson(res: ServerResponse, code: number, body: unknown, contentType = 'application/json'): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-cache, private' });
  res.end(text);
}

export function sendError(res: ServerResponse, err: unknown): void {
  const status = toStatus(err);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status.code, status);
}

export function successStatus(details: { name?: string; group?: string; kind?: string; uid?: string }) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details };
}
