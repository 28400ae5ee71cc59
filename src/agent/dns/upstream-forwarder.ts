// Forwards names outside the cluster domain to upstream resolvers: the
// client's query bytes as they are, over UDP under an id of our own (many
// clients share one socket, and their ids collide), retried over TCP when the
// upstream truncates an answer a TCP client asked for.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, isIPv6 } from 'node:net';
import { randomInt } from 'node:crypto';
import type { Logger } from '../logger.ts';
import { isTruncated } from './dns-message.ts';

export interface Upstream {
  host: string;
  port: number;
}

export interface UpstreamForwarderOptions {
  upstreams: Upstream[];
  /** Per upstream tried. */
  timeoutMs: number;
  logger: Logger;
}

export interface UpstreamForwarder {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The upstream's answer with the client's id, or undefined when none answered in time. */
  forward(query: Buffer, viaTcp: boolean): Promise<Buffer | undefined>;
}

/** `10.0.0.2`, `10.0.0.2:5353`, `2001:db8::1`, `[2001:db8::1]:5353`. */
export function parseUpstream(text: string): Upstream {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) return { host: bracketed[1], port: bracketed[2] ? Number(bracketed[2]) : 53 };
  const hostPort = /^([^:]+):(\d+)$/.exec(text);
  if (hostPort) return { host: hostPort[1], port: Number(hostPort[2]) };
  return { host: text, port: 53 };
}

interface Pending {
  upstream: Upstream;
  done(reply: Buffer | undefined): void;
}

export function createUpstreamForwarder(opts: UpstreamForwarderOptions): UpstreamForwarder {
  const log = opts.logger;
  const sockets = new Map<'udp4' | 'udp6', UdpSocket>();
  const pending = new Map<number, Pending>();
  let stopped = false;

  function onReply(msg: Buffer, from: { address: string; port: number }): void {
    if (msg.length < 12 || !(msg.readUInt16BE(2) & 0x8000)) return;
    const p = pending.get(msg.readUInt16BE(0));
    // Only the server we asked may answer under that id.
    if (!p || p.upstream.host !== from.address || p.upstream.port !== from.port) return;
    p.done(msg);
  }

  async function open(family: 'udp4' | 'udp6'): Promise<UdpSocket> {
    const s = createSocket(family);
    s.on('message', (msg, rinfo) => onReply(msg, rinfo));
    s.on('error', (err) => log.warn({ err }, 'upstream DNS socket error'));
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(0, () => {
        s.off('error', reject);
        resolve();
      });
    });
    return s;
  }

  function freeId(): number | undefined {
    for (let i = 0; i < 64; i++) {
      const id = randomInt(0, 0x10000);
      if (!pending.has(id)) return id;
    }
    return undefined;
  }

  function viaUdp(query: Buffer, upstream: Upstream): Promise<Buffer | undefined> {
    const socket = sockets.get(isIPv6(upstream.host) ? 'udp6' : 'udp4');
    const picked = freeId();
    if (!socket || picked === undefined || stopped) return Promise.resolve(undefined);
    const id = picked;
    const clientId = query.readUInt16BE(0);
    const out = Buffer.from(query);
    out.writeUInt16BE(id, 0);
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(undefined), opts.timeoutMs);
      function finish(reply: Buffer | undefined): void {
        clearTimeout(timer);
        pending.delete(id);
        if (reply) {
          reply = Buffer.from(reply);
          reply.writeUInt16BE(clientId, 0);
        }
        resolve(reply);
      }
      pending.set(id, { upstream, done: finish });
      socket.send(out, upstream.port, upstream.host, (err) => {
        if (err) {
          log.debug({ err, upstream }, 'upstream DNS send failed');
          finish(undefined);
        }
      });
    });
  }

  function viaTcp(query: Buffer, upstream: Upstream): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const sock = connect({ host: upstream.host, port: upstream.port });
      let buf: Buffer = Buffer.alloc(0);
      const finish = (reply: Buffer | undefined) => {
        clearTimeout(timer);
        sock.destroy();
        resolve(reply);
      };
      const timer = setTimeout(() => finish(undefined), opts.timeoutMs);
      sock.on('error', () => finish(undefined));
      sock.on('close', () => finish(undefined));
      sock.on('connect', () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(query.length);
        sock.write(Buffer.concat([len, query]));
      });
      sock.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) finish(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      });
    });
  }

  return {
    async start() {
      stopped = false;
      if (opts.upstreams.some((u) => !isIPv6(u.host))) sockets.set('udp4', await open('udp4'));
      if (opts.upstreams.some((u) => isIPv6(u.host))) sockets.set('udp6', await open('udp6'));
    },

    async stop() {
      stopped = true;
      for (const p of [...pending.values()]) p.done(undefined);
      await Promise.all([...sockets.values()].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      sockets.clear();
    },

    async forward(query, tcpClient) {
      if (query.length < 12) return undefined;
      for (const upstream of opts.upstreams) {
        if (stopped) return undefined;
        const reply = await viaUdp(query, upstream);
        if (!reply) continue;
        if (tcpClient && isTruncated(reply)) return (await viaTcp(query, upstream)) ?? reply;
        return reply;
      }
      return undefined;
    },
  };
}
