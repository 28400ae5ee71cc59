// Reads and decodes request bodies: JSON, YAML, or (for PATCH) the raw text.
import type { IncomingMessage } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { BadRequest, UnsupportedMediaType } from '../errors.ts';
import { RequestEntityTooLarge } from './respond.ts';

export const DEFAULT_MAX_BODY_BYTES = 3 * 1024 * 1024;

export async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    throw new RequestEntityTooLarge(`the request body is too large (limit ${limit} bytes)`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      req.resume();
      throw new RequestEntityTooLarge(`the request body is too large (limit ${limit} bytes)`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The media type without parameters, lower-case. */
export function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase();
}

/** Decodes a create/update body (JSON or YAML). Empty bodies are BadRequest. */
export function decodeObject(text: string, contentType: string | undefined): unknown {
  const type = mediaType(contentType);
  if (text.trim() === '') throw new BadRequest('the request body is empty');
  if (type === 'application/yaml' || type === 'application/x-yaml' || type === 'text/yaml') {
    try {
      return parseYaml(text);
    } catch (err) {
      throw new BadRequest(`the request body is not valid YAML: ${(err as Error).message}`);
    }
  }
  if (type === 'application/vnd.kubernetes.protobuf') {
    // kubectl's typed commands (`create configmap`, `create namespace`) send protobuf.
    throw new UnsupportedMediaType(
      'protobuf request bodies are not supported by Mesh; send JSON or YAML (e.g. `kubectl create ... --dry-run=client -o yaml | kubectl apply -f -`)',
    );
  }
  if (type && type !== 'application/json' && type !== '*/*') {
    throw new UnsupportedMediaType(`the body of the request was in an unknown format - accepted media types include: application/json, application/yaml`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new BadRequest(`the request body is not valid JSON: ${(err as Error).message}`);
  }
}
