import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, type Server } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, Packet, RecordType, SrvAnswer } from 'dns-packet';
import { silentLogger } from '../../../src/agent/logger.ts';
import { createDnsServer, type DnsServer } from '../../../src/agent/dns/dns-server.ts';
import { createFakeObjectClient, type FakeObjectClient } from '../../support/fake-object-client.ts';

const HOST = '127.0.0.1';
const TIMEOUT_MS = 3000;

type Decoded = DecodedPacket & { rcode?: string };

function query(name: string, type: RecordType, extra: Partial<Packet> = {}): Packet {
  return { id: Math.floor(Math.random() * 0xffff), type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type }], ...extra };
}

function edns(size: number): Answer {
  return { name: '.', type: 'OPT', udpPayloadSize: size, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] };
}

async function udpExchange(port: number, msg: Buffer): Promise<{ raw: Buffer; packet: Decoded }> {
  const sock = createSocket('udp4');
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no UDP answer')), TIMEOUT_MS);
      sock.on('message', (raw) => {
        clearTimeout(timer);
        resolve({ raw, packet: dnsPacket.decode(raw) as Decoded });
      });
      sock.send(msg, port, HOST);
    });
  } finally {
    sock.close();
  }
}

function frame(msg: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(msg.length);
  return Buffer.concat([len, msg]);
}

/** Writes `chunks` in order and reads `count` framed answers. */
async function tcpExchange(port: number, chunks: Buffer[], count = 1): Promise<Decoded[]> {
  const sock = connect({ host: HOST, port });
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no TCP answer')), TIMEOUT_MS);
      const out: Decoded[] = [];
      let buf = Buffer.alloc(0);
      sock.on('error', reject);
      sock.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          out.push(dnsPacket.decode(buf.subarray(2, 2 + buf.readUInt16BE(0))) as Decoded);
          buf = buf.subarray(2 + buf.readUInt16BE(0));
        }
        if (out.length >= count) {
          clearTimeout(timer);
          resolve(out);
        }
      });
      sock.on('connect', async () => {
        for (const c of chunks) {
          sock.write(c);
          await new Promise((r) => setTimeout(r, 20));
        }
      });
    });
  } finally {
    sock.destroy();
  }
}

const addresses = (p: Packet, type = 'A') => (p.answers ?? []).filter((a) => a.type === type).map((a) => (a as { data: string }).data);

/** A resolver on loopback: A records from `zone`, silence for `silent.example`, TC over UDP for `big.example`. */
interface FakeUpstream {
  port: number;
  seen: { id: number; name: string; via: 'udp' | 'tcp' }[];
  close(): Promise<void>;
}

async function startUpstream(zone: Record<string, string[]>): Promise<FakeUpstream> {
  const seen: FakeUpstream['seen'] = [];
  const respond = (msg: Buffer, via: 'udp' | 'tcp'): Buffer | undefined => {
    const q = dnsPacket.decode(msg);
    const question = q.questions![0];
    seen.push({ id: q.id ?? 0, name: question.name, via });
    if (question.name === 'silent.example') return undefined;
    const ips = question.name === 'big.example' ? Array.from({ length: 60 }, (_, i) => `192.0.2.${i + 1}`) : zone[question.name];
    const truncate = question.name === 'big.example' && via === 'udp';
    return dnsPacket.encode({
      id: q.id,
      type: 'response',
      flags: (ips ? 0 : 3) | dnsPacket.RECURSION_AVAILABLE | (truncate ? dnsPacket.TRUNCATED_RESPONSE : 0),
      questions: [question],
      answers: truncate ? [] : (ips ?? []).map((ip) => ({ name: question.name, type: 'A' as const, ttl: 60, data: ip })),
    });
  };
  for (let attempt = 0; ; attempt++) {
    const udp: UdpSocket = createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, HOST, () => r()));
    const port = udp.address().port;
    const tcp: Server = createServer((sock) => {
      let buf = Buffer.alloc(0);
      sock.on('error', () => sock.destroy());
      sock.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const reply = respond(buf.subarray(2, 2 + buf.readUInt16BE(0)), 'tcp');
          if (reply) sock.write(frame(reply));
        }
      });
    });
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(port, HOST, () => resolve());
      });
    } catch (err) {
      udp.close();
      if (attempt > 5) throw err;
      continue;
    }
    udp.on('message', (msg, rinfo) => {
      const reply = respond(msg, 'udp');
      if (reply) udp.send(reply, rinfo.port, rinfo.address);
    });
    return {
      port,
      seen,
      close: async () => {
        await new Promise<void>((r) => udp.close(() => r()));
        await new Promise<void>((r) => tcp.close(() => r()));
      },
    };
  }
}

async function seed(client: FakeObjectClient): Promise<void> {
  await client.create('services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 80 }] } });
  await client.create('services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'many', namespace: 'default' }, spec: { clusterIP: 'None' } });
  await client.create('services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'ext', namespace: 'default' }, spec: { type: 'ExternalName', externalName: 'example.org' } });
  await client.create('endpointslices.discovery.k8s.io', {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'many-abc', namespace: 'default', labels: { 'kubernetes.io/service-name': 'many' } },
    addressType: 'IPv4',
    endpoints: Array.from({ length: 60 }, (_, i) => ({ addresses: [`10.244.1.${i + 1}`], conditions: { ready: true } })),
    ports: [],
  });
}

describe('cluster DNS server (UDP and TCP on loopback)', { timeout: 30_000 }, () => {
  let client: FakeObjectClient;
  let upstream: FakeUpstream;
  let server: DnsServer;
  let port: number;

  before(async () => {
    client = createFakeObjectClient();
    await seed(client);
    upstream = await startUpstream({ 'example.org': ['192.0.2.80'], 'other.example': ['192.0.2.81'] });
    server = createDnsServer({ client, logger: silentLogger(), listen: { host: HOST, port: 0 }, upstream: [`${HOST}:${upstream.port}`], upstreamTimeoutMs: 300 });
    await server.start();
    port = server.address().port;
    assert.ok(port > 0);
  });
  after(async () => {
    await server.stop();
    await upstream.close();
  });

  it('answers cluster names over UDP, authoritatively, with the client id', async () => {
    const q = query('web.default.svc.cluster.local', 'A');
    const { packet } = await udpExchange(port, dnsPacket.encode(q));
    assert.equal(packet.id, q.id);
    assert.equal(packet.type, 'response');
    assert.equal(packet.rcode, 'NOERROR');
    assert.equal(packet.flag_aa, true);
    assert.equal(packet.flag_rd, true, 'RD echoed');
    assert.deepEqual(addresses(packet), ['10.96.0.10']);
    assert.equal(packet.questions?.[0].name, 'web.default.svc.cluster.local');

    const srv = await udpExchange(port, dnsPacket.encode(query('_http._tcp.web.default.svc.cluster.local', 'SRV')));
    assert.equal((srv.packet.answers?.[0] as SrvAnswer).data.port, 80);

    const nx = await udpExchange(port, dnsPacket.encode(query('nope.default.svc.cluster.local', 'A')));
    assert.equal(nx.packet.rcode, 'NXDOMAIN');
    assert.equal(nx.packet.authorities?.[0]?.type, 'SOA');
  });

  it('sees changes to the local objects at once', async () => {
    const name = 'late.default.svc.cluster.local';
    assert.equal((await udpExchange(port, dnsPacket.encode(query(name, 'A')))).packet.rcode, 'NXDOMAIN');
    await client.create('services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'late', namespace: 'default' }, spec: { clusterIP: '10.96.0.77' } });
    assert.deepEqual(addresses((await udpExchange(port, dnsPacket.encode(query(name, 'A')))).packet), ['10.96.0.77']);
  });

  it('answers over TCP with the 2-byte length prefix, several queries per connection, split or joined', async () => {
    const a = query('web.default.svc.cluster.local', 'A');
    const b = query('many.default.svc.cluster.local', 'A');
    const fa = frame(dnsPacket.encode(a));
    const fb = frame(dnsPacket.encode(b));
    const joined = Buffer.concat([fa, fb]);
    // The first query split mid-way, the second glued to its tail.
    const answers = await tcpExchange(port, [joined.subarray(0, 5), joined.subarray(5)], 2);
    const byId = new Map(answers.map((p) => [p.id, p]));
    assert.deepEqual(addresses(byId.get(a.id!)!), ['10.96.0.10']);
    assert.equal(addresses(byId.get(b.id!)!).length, 60, 'TCP is not truncated');
    assert.equal(byId.get(b.id!)!.flag_tc, false);
  });

  it('truncates UDP answers over 512 bytes (TC set) unless EDNS allows more', async () => {
    const plain = await udpExchange(port, dnsPacket.encode(query('many.default.svc.cluster.local', 'A')));
    assert.ok(plain.raw.length <= 512, `${plain.raw.length} bytes`);
    assert.equal(plain.packet.flag_tc, true);
    const kept = addresses(plain.packet).length;
    assert.ok(kept > 0 && kept < 60, `kept ${kept} of 60 answers`);

    const big = await udpExchange(port, dnsPacket.encode(query('many.default.svc.cluster.local', 'A', { additionals: [edns(4096)] })));
    assert.equal(big.packet.flag_tc, false);
    assert.equal(addresses(big.packet).length, 60);
    assert.ok(big.raw.length > 512);
    assert.ok(big.packet.additionals?.some((a) => a.type === 'OPT'), 'the answer carries an OPT record');

    const small = await udpExchange(port, dnsPacket.encode(query('many.default.svc.cluster.local', 'A', { additionals: [edns(600)] })));
    assert.ok(small.raw.length <= 600 && small.raw.length > 512, `${small.raw.length} bytes`);
    assert.equal(small.packet.flag_tc, true);
  });

  it('forwards other names to the upstream under its own ids and hands each client its answer', async () => {
    const before = upstream.seen.length;
    // The same client id for two different questions, at the same time.
    const q1 = query('example.org', 'A', { id: 4242 });
    const q2 = query('other.example', 'A', { id: 4242 });
    const [r1, r2] = await Promise.all([udpExchange(port, dnsPacket.encode(q1)), udpExchange(port, dnsPacket.encode(q2))]);
    assert.equal(r1.packet.id, 4242);
    assert.equal(r2.packet.id, 4242);
    assert.deepEqual(addresses(r1.packet), ['192.0.2.80']);
    assert.deepEqual(addresses(r2.packet), ['192.0.2.81']);
    const asked = upstream.seen.slice(before);
    assert.deepEqual(asked.map((s) => s.name).sort(), ['example.org', 'other.example']);
    assert.notEqual(asked[0].id, asked[1].id, 'distinct upstream ids');

    const viaTcp = await tcpExchange(port, [frame(dnsPacket.encode(query('example.org', 'A')))]);
    assert.deepEqual(addresses(viaTcp[0]), ['192.0.2.80']);

    const nx = await udpExchange(port, dnsPacket.encode(query('missing.example', 'A')));
    assert.equal(nx.packet.rcode, 'NXDOMAIN', "the upstream's rcode passes through");
  });

  it('retries truncated upstream answers over TCP for TCP clients', async () => {
    const [r] = await tcpExchange(port, [frame(dnsPacket.encode(query('big.example', 'A')))]);
    assert.equal(r.flag_tc, false);
    assert.equal(addresses(r).length, 60);
    assert.ok(upstream.seen.some((s) => s.name === 'big.example' && s.via === 'tcp'));
    const udp = await udpExchange(port, dnsPacket.encode(query('big.example', 'A')));
    assert.equal(udp.packet.flag_tc, true, 'a UDP client gets TC and retries itself');
  });

  it('completes an ExternalName CNAME to an outside name with the upstream answer', async () => {
    const { packet } = await udpExchange(port, dnsPacket.encode(query('ext.default.svc.cluster.local', 'A')));
    assert.equal(packet.rcode, 'NOERROR');
    assert.deepEqual(packet.answers?.map((a) => a.type), ['CNAME', 'A']);
    assert.deepEqual(addresses(packet), ['192.0.2.80']);
  });

  it('answers SERVFAIL when the upstream does not answer in time', async () => {
    const q = query('silent.example', 'A');
    const { packet } = await udpExchange(port, dnsPacket.encode(q));
    assert.equal(packet.id, q.id);
    assert.equal(packet.rcode, 'SERVFAIL');
  });

  it('answers malformed queries with FORMERR, other opcodes with NOTIMP, and keeps serving', async () => {
    const good = dnsPacket.encode(query('web.default.svc.cluster.local', 'A', { id: 777 }));
    // A header announcing a question that is cut off.
    const cut = good.subarray(0, 20);
    const r1 = await udpExchange(port, cut);
    assert.equal(r1.packet.id, 777);
    assert.equal(r1.packet.rcode, 'FORMERR');

    const two = dnsPacket.encode({ id: 778, type: 'query', questions: [{ name: 'a.example', type: 'A' }, { name: 'b.example', type: 'A' }] });
    assert.equal((await udpExchange(port, two)).packet.rcode, 'FORMERR');

    const garbage = Buffer.from([0x03, 0x09, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff]);
    const r3 = await udpExchange(port, garbage);
    assert.equal(r3.packet.id, 0x0309);
    assert.equal(r3.packet.rcode, 'FORMERR');

    const [overTcp] = await tcpExchange(port, [frame(cut)]);
    assert.equal(overTcp.rcode, 'FORMERR');

    const chaos = dnsPacket.encode({ id: 779, type: 'query', questions: [{ name: 'web.default.svc.cluster.local', type: 'TXT', class: 'CH' }] });
    assert.equal((await udpExchange(port, chaos)).packet.rcode, 'REFUSED', 'the cluster zone is class IN');

    const notify = Buffer.from(good);
    notify.writeUInt16BE((4 << 11) | dnsPacket.RECURSION_DESIRED, 2);
    assert.equal((await udpExchange(port, notify)).packet.rcode, 'NOTIMP');

    // A one-byte datagram gets no answer; the server still answers the next query.
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.send(Buffer.from([1]), port, HOST, () => r()));
    s.close();
    assert.deepEqual(addresses((await udpExchange(port, good)).packet), ['10.96.0.10']);
  });

  it('answers BADVERS to EDNS versions other than 0', async () => {
    const opt = { ...edns(1232), ednsVersion: 1 } as Answer;
    const { packet } = await udpExchange(port, dnsPacket.encode(query('web.default.svc.cluster.local', 'A', { additionals: [opt] })));
    const back = packet.additionals?.find((a) => a.type === 'OPT') as { extendedRcode?: number } | undefined;
    assert.equal(back?.extendedRcode, 1, 'BADVERS is extended rcode 16');
    assert.deepEqual(packet.answers, []);
  });
});

describe('cluster DNS server upstream configuration', { timeout: 20_000 }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mesh-dns-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('takes upstreams from resolv.conf, leaving out its own listen address', async () => {
    const path = join(dir, 'resolv.conf');
    writeFileSync(path, '# generated\nnameserver 192.0.2.53\nnameserver 198.51.100.53 ; second\nsearch example\n');
    const server = createDnsServer({ client: createFakeObjectClient(), logger: silentLogger(), listen: { host: HOST, port: 0 }, resolvConfPath: path });
    await server.start();
    try {
      assert.deepEqual(server.upstreams(), [
        { host: '192.0.2.53', port: 53 },
        { host: '198.51.100.53', port: 53 },
      ]);
    } finally {
      await server.stop();
    }

    const self = createDnsServer({ client: createFakeObjectClient(), logger: silentLogger(), listen: { host: HOST, port: 0 }, upstream: [] });
    await self.start();
    const own = self.address().port;
    await self.stop();
    const looped = createDnsServer({ client: createFakeObjectClient(), logger: silentLogger(), listen: { host: HOST, port: own }, upstream: [`${HOST}:${own}`, '192.0.2.53'] });
    await looped.start();
    try {
      assert.deepEqual(looped.upstreams(), [{ host: '192.0.2.53', port: 53 }]);
    } finally {
      await looped.stop();
    }
  });

  it('answers SERVFAIL for outside names without an upstream, and still serves the cluster zone', async () => {
    const path = join(dir, 'empty-resolv.conf');
    writeFileSync(path, 'options ndots:1\n');
    const client = createFakeObjectClient();
    await seed(client);
    const server = createDnsServer({ client, logger: silentLogger(), listen: { host: HOST, port: 0 }, resolvConfPath: path });
    await server.start();
    try {
      const port = server.address().port;
      assert.deepEqual(server.upstreams(), []);
      assert.equal((await udpExchange(port, dnsPacket.encode(query('example.org', 'A')))).packet.rcode, 'SERVFAIL');
      assert.deepEqual(addresses((await udpExchange(port, dnsPacket.encode(query('web.default.svc.cluster.local', 'A')))).packet), ['10.96.0.10']);
    } finally {
      await server.stop();
    }
  });
});
