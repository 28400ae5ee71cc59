// The grpc check: one call of the standard grpc.health.v1.Health/Check. The two
// messages are tiny, so they are encoded by hand instead of loading a .proto:
//   HealthCheckRequest  { string service = 1; }
//   HealthCheckResponse { ServingStatus status = 1; }  (enum, varint)
import { Client, credentials, status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import type { ProbeOutcome } from './probe-types.ts';

export const HEALTH_CHECK_PATH = '/grpc.health.v1.Health/Check';
export const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'] as const;

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/** Reads a varint at offset; returns [value, next offset]. */
function readVarint(buf: Buffer, offset: number): [number, number] {
  let value = 0;
  let shift = 0;
  for (;;) {
    if (offset >= buf.length) throw new Error('truncated varint');
    const b = buf[offset++];
    value += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return [value, offset];
    shift += 7;
  }
}

/** Skips the value of a field with the given wire type. */
function skipField(buf: Buffer, offset: number, wireType: number): number {
  if (wireType === 0) return readVarint(buf, offset)[1];
  if (wireType === 1) return offset + 8;
  if (wireType === 5) return offset + 4;
  if (wireType === 2) {
    const [len, next] = readVarint(buf, offset);
    return next + len;
  }
  throw new Error(`unsupported wire type ${wireType}`);
}

function stringField(buf: Buffer, want: number): string {
  let offset = 0;
  while (offset < buf.length) {
    const [tag, next] = readVarint(buf, offset);
    if (tag >>> 3 === want && (tag & 7) === 2) {
      const [len, start] = readVarint(buf, next);
      return buf.subarray(start, start + len).toString('utf8');
    }
    offset = skipField(buf, next, tag & 7);
  }
  return '';
}

function varintField(buf: Buffer, want: number): number {
  let offset = 0;
  let value = 0;
  while (offset < buf.length) {
    const [tag, next] = readVarint(buf, offset);
    if (tag >>> 3 === want && (tag & 7) === 0) {
      [value, offset] = readVarint(buf, next);
      continue; // the last occurrence wins, as in protobuf
    }
    offset = skipField(buf, next, tag & 7);
  }
  return value;
}

export function encodeHealthRequest(service: string): Buffer {
  if (!service) return Buffer.alloc(0);
  const bytes = Buffer.from(service, 'utf8');
  return Buffer.from([0x0a, ...varint(bytes.length), ...bytes]);
}

export function decodeHealthRequest(buf: Buffer): string {
  return stringField(buf, 1);
}

export function encodeHealthResponse(status: number): Buffer {
  // proto3 leaves a zero (default) field out.
  return status === 0 ? Buffer.alloc(0) : Buffer.from([0x08, ...varint(status)]);
}

export function decodeHealthResponse(buf: Buffer): number {
  return varintField(buf, 1);
}

export function grpcHealthCheck(host: string, port: number, service: string, timeoutMs: number): Promise<ProbeOutcome> {
  const addr = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  const client = new Client(addr, credentials.createInsecure());
  return new Promise<ProbeOutcome>((resolve) => {
    client.makeUnaryRequest<Buffer, number>(
      HEALTH_CHECK_PATH,
      (req) => req,
      decodeHealthResponse,
      encodeHealthRequest(service),
      { deadline: new Date(Date.now() + timeoutMs) },
      (err: ServiceError | null, value?: number) => {
        if (err) {
          if (err.code === grpcStatus.UNAVAILABLE || err.code === grpcStatus.DEADLINE_EXCEEDED) {
            resolve({ ok: false, output: `timeout: failed to connect service "${addr}" within ${timeoutMs / 1000}s: ${err.details || err.message}` });
          } else {
            resolve({ ok: false, output: `error: health rpc probe failed: ${err.details || err.message}` });
          }
          return;
        }
        const name = SERVING_STATUS[value ?? 0] ?? String(value);
        if (value === 1) resolve({ ok: true, output: '' });
        else resolve({ ok: false, output: `service unhealthy (responded with "${name}")` });
      },
    );
  }).finally(() => client.close());
}
