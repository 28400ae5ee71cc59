// The node's cluster DNS server, on UDP and TCP (RFC 1035 / RFC 7766 framing):
// names under the cluster domain are answered from the local replica
// (dns-records.ts), everything else goes to the upstream resolvers. Without an
// upstream, or when none answers in time, the answer is SERVFAIL.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv6, type Server, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import dnsPacket from 'dns-packet';
import type { DecodedPacket } from 'dns-packet';
import type { ObjectClient } from '../api/object-client.ts';
import type { Logger } from '../logger.ts';
import { answerClusterQuestion, CLUSTER_DOMAIN, isClusterName, type ClusterRecordSource, type DnsResult } from './dns-records.ts';
import { encodeResponse, errorResponse, RCODE, readQuery, udpLimit } from './dns-message.ts';
import { createObjectClientSource } from './record-source.ts';
import { parseResolvConf } from './resolv-conf.ts';
import { createUpstreamForwarder, parseUpstream, type Upstream, type UpstreamForwarder } from './upstream-forwarder.ts';

export interface DnsServerOptions {
  client: ObjectClient;
  logger: Logger;
  /** Port 0 picks a free port, the same for UDP and TCP (see address()). */
  listen: { host: string; port: number };
  /** `ip` or `ip:port`; default: the nameservers of resolvConfPath other than the listen address. */
  upstream?: string[];
  /** Per upstream tried; default 2000. */
  upstreamTimeoutMs?: number;
  /** Default /etc/resolv.conf. */
  resolvConfPath?: string;
  domain?: string;
  /** Records to answer from; default: the client's Services, EndpointSlices and Pods. */
  source?: ClusterRecordSource;
}

export interface DnsServer {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Where it listens; the real port once started. */
  address(): { host: string; port: number };
  /** The upstreams in use (known once started). */
  upstreams(): Upstream[];
}

const TCP_IDLE_MS = 10_000;
const BIND_ATTEMPTS = 5;

export function createDnsServer(opts: DnsServerOptions): DnsServer {
  const log = opts.logger.child({ component: 'dns' });
  const domain = opts.domain ?? CLUSTER_DOMAIN;
  const source = opts.source ?? createObjectClientSource(opts.client, log);
  const family = isIPv6(opts.listen.host) ? 'udp6' : 'udp4';
  let port = opts.listen.port;
  let udp: UdpSocket | undefined;
  let tcp: Server | undefined;
  let forwarder: UpstreamForwarder | undefined;
  let upstreams: Upstream[] = [];
  const connections = new Set<Socket>();

  function defaultUpstreams(): string[] {
    let text = '';
    try {
      text = readFileSync(opts.resolvConfPath ?? '/etc/resolv.conf', 'utf8');
    } catch (err) {
      log.warn({ err }, 'no resolv.conf; names outside the cluster get SERVFAIL');
    }
    return parseResolvConf(text).nameservers;
  }

  /**
   * An ExternalName service's CNAME to a name outside the cluster, completed
   * with the upstream's records for it: stub resolvers (glibc, musl) do not
   * chase a CNAME themselves.
   */
  async function chaseExternalName(result: DnsResult, type: string): Promise<DnsResult> {
    const last = result.answers[result.answers.length - 1];
    if (!forwarder || (type !== 'A' && type !== 'AAAA') || last?.type !== 'CNAME' || isClusterName(last.data, domain)) return result;
    const query = dnsPacket.encode({ id: randomInt(0, 0x10000), type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ name: last.data, type }] });
    const reply = await forwarder.forward(query, false);
    if (!reply) return result;
    let decoded: DecodedPacket;
    try {
      decoded = dnsPacket.decode(reply);
    } catch {
      return result;
    }
    const rcode = (decoded.flags ?? 0) & 0xf;
    if (rcode !== RCODE.NOERROR && rcode !== RCODE.NXDOMAIN) return result;
    return {
      rcode: rcode === RCODE.NXDOMAIN ? 'NXDOMAIN' : 'NOERROR',
      answers: [...result.answers, ...(decoded.answers ?? []).filter((a) => a.type === 'CNAME' || a.type === type)],
      authorities: [],
      additionals: [],
    };
  }

  async function answer(msg: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    const reading = readQuery(msg);
    if (!reading.ok) return reading.response;
    const { query } = reading;
    const limit = transport === 'udp' ? udpLimit(query) : undefined;
    try {
      if (isClusterName(query.question.name, domain)) {
        const qclass = query.question.class ?? 'IN';
        if (qclass !== 'IN' && qclass !== 'ANY') return errorResponse(query, 'REFUSED');
        const result = await chaseExternalName(answerClusterQuestion(source, query.question, { domain }), query.question.type);
        return encodeResponse(query, { ...result, authoritative: true }, limit);
      }
      const reply = forwarder ? await forwarder.forward(msg, transport === 'tcp') : undefined;
      return reply ?? errorResponse(query, 'SERVFAIL');
    } catch (err) {
      log.warn({ err, name: query.question.name }, 'DNS query failed');
      return errorResponse(query, 'SERVFAIL');
    }
  }

  function onDatagram(msg: Buffer, rinfo: { address: string; port: number }): void {
    void answer(msg, 'udp').then(
      (reply) => {
        if (reply && udp) udp.send(reply, rinfo.port, rinfo.address);
      },
      (err) => log.warn({ err }, 'DNS reply failed'),
    );
  }

  function onConnection(sock: Socket): void {
    connections.add(sock);
    let buf: Buffer = Buffer.alloc(0);
    sock.setTimeout(TCP_IDLE_MS, () => sock.destroy());
    sock.on('error', () => sock.destroy());
    sock.on('close', () => connections.delete(sock));
    sock.on('data', (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (len === 0) {
          sock.destroy();
          return;
        }
        if (buf.length < 2 + len) break;
        const msg = Buffer.from(buf.subarray(2, 2 + len));
        buf = buf.subarray(2 + len);
        void answer(msg, 'tcp').then(
          (reply) => {
            if (!reply || sock.destroyed) return;
            const prefix = Buffer.alloc(2);
            prefix.writeUInt16BE(reply.length);
            sock.write(Buffer.concat([prefix, reply]));
          },
          (err) => log.warn({ err }, 'DNS reply failed'),
        );
      }
    });
  }

  function bindUdp(p: number): Promise<UdpSocket> {
    const s = createSocket(family);
    return new Promise((resolve, reject) => {
      s.once('error', (err) => {
        try {
          s.close();
        } catch {
          // never bound: nothing to close
        }
        reject(err);
      });
      s.bind(p, opts.listen.host, () => {
        s.removeAllListeners('error');
        s.on('error', (err) => log.warn({ err }, 'DNS UDP socket error'));
        s.on('message', onDatagram);
        resolve(s);
      });
    });
  }

  function listenTcp(p: number): Promise<Server> {
    const server = createServer(onConnection);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: p, host: opts.listen.host }, () => {
        server.off('error', reject);
        server.on('error', (err) => log.warn({ err }, 'DNS TCP server error'));
        resolve(server);
      });
    });
  }

  async function bindBoth(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const u = await bindUdp(opts.listen.port);
      try {
        tcp = await listenTcp(u.address().port);
        udp = u;
        port = u.address().port;
        return;
      } catch (err) {
        await new Promise<void>((resolve) => u.close(() => resolve()));
        // A picked port may be free for UDP and taken for TCP: pick again.
        if (opts.listen.port !== 0 || attempt >= BIND_ATTEMPTS) throw err;
      }
    }
  }

  async function stop(): Promise<void> {
    const u = udp;
    const t = tcp;
    udp = undefined;
    tcp = undefined;
    for (const c of connections) c.destroy();
    connections.clear();
    await Promise.all([
      u ? new Promise<void>((resolve) => u.close(() => resolve())) : undefined,
      t ? new Promise<void>((resolve) => t.close(() => resolve())) : undefined,
      forwarder?.stop(),
    ]);
    forwarder = undefined;
  }

  return {
    async start() {
      await bindBoth();
      // Forwarding to ourselves would loop until the timeout.
      upstreams = (opts.upstream ?? defaultUpstreams()).map(parseUpstream).filter((u) => !(u.host === opts.listen.host && u.port === port));
      if (upstreams.length === 0) log.warn('no upstream resolvers; names outside the cluster get SERVFAIL');
      const f = upstreams.length ? createUpstreamForwarder({ upstreams, timeoutMs: opts.upstreamTimeoutMs ?? 2000, logger: log }) : undefined;
      try {
        await f?.start();
      } catch (err) {
        await f?.stop();
        await stop();
        throw err;
      }
      forwarder = f;
      log.info({ host: opts.listen.host, port, upstreams }, 'cluster DNS listening');
    },

    stop,
    address: () => ({ host: opts.listen.host, port }),
    upstreams: () => [...upstreams],
  };
}
