import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type IncomingHttpHeaders } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { Server as GrpcServer, ServerCredentials, status as grpcStatus } from '@grpc/grpc-js';
import type { Container } from '../../../../src/agent/api/object-types.ts';
import { createFakeRuntime } from '../../../../src/agent/kubelet/fake-runtime.ts';
import { createProbeRunner, resolvePort } from '../../../../src/agent/kubelet/probes/probe-runner.ts';
import {
  HEALTH_CHECK_PATH,
  decodeHealthRequest,
  decodeHealthResponse,
  encodeHealthRequest,
  encodeHealthResponse,
} from '../../../../src/agent/kubelet/probes/grpc-health.ts';
import { freePort } from '../../../support/agent-process.ts';

const HOST = '127.0.0.1';

function listen(server: Server | TcpServer): Promise<number> {
  return new Promise((resolve) => server.listen(0, HOST, () => resolve((server.address() as { port: number }).port)));
}

describe('probe runner', { timeout: 20_000 }, () => {
  let http: Server;
  let httpPort: number;
  let lastHeaders: IncomingHttpHeaders = {};
  let tcp: TcpServer;
  let tcpPort: number;
  let grpc: GrpcServer;
  let grpcPort: number;
  const serving = new Map<string, number>([['', 1], ['db', 2]]);
  const runtime = createFakeRuntime();
  const runner = createProbeRunner(runtime);
  const container = (): Container => ({ name: 'app', image: 'i', ports: [{ name: 'http', containerPort: httpPort }, { name: 'tcp', containerPort: tcpPort }] });

  before(async () => {
    http = createServer((req, res) => {
      lastHeaders = req.headers;
      if (req.url === '/ok') res.end('fine');
      else if (req.url === '/moved') res.writeHead(302, { Location: '/ok' }).end();
      else if (req.url === '/slow') setTimeout(() => res.end('late'), 2000);
      else res.writeHead(500).end('broken');
    });
    httpPort = await listen(http);
    tcp = createTcpServer((s) => s.end());
    tcpPort = await listen(tcp);
    grpc = new GrpcServer();
    grpc.addService(
      {
        Check: {
          path: HEALTH_CHECK_PATH,
          requestStream: false,
          responseStream: false,
          // An object, as protobuf gives: grpc-js takes a falsy request for a missing one.
          requestSerialize: (r: { service: string }) => encodeHealthRequest(r.service),
          requestDeserialize: (b: Buffer) => ({ service: decodeHealthRequest(b) }),
          responseSerialize: encodeHealthResponse,
          responseDeserialize: decodeHealthResponse,
          originalName: 'check',
        },
      },
      {
        Check: (call: { request: { service: string } }, cb: (err: unknown, value?: number) => void) => {
          const st = serving.get(call.request.service);
          if (st === undefined) cb({ code: grpcStatus.NOT_FOUND, details: 'unknown service' });
          else cb(null, st);
        },
      } as never,
    );
    grpcPort = await new Promise<number>((resolve, reject) =>
      grpc.bindAsync(`${HOST}:0`, ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
    );
  });
  after(async () => {
    http.closeAllConnections();
    await new Promise((r) => http.close(r));
    await new Promise((r) => tcp.close(r));
    grpc.forceShutdown();
    await runtime.close();
  });

  it('httpGet: 2xx and 3xx succeed, others fail with the status code; headers and port names apply', async () => {
    const target = { container: container(), containerId: 'x', podIP: HOST };
    const ok = await runner.run({ httpGet: { path: '/ok', port: 'http', httpHeaders: [{ name: 'X-Probe', value: 'yes' }] } }, target, 1000);
    assert.deepEqual(ok, { ok: true, output: 'fine' });
    assert.equal(lastHeaders['x-probe'], 'yes');
    assert.match(String(lastHeaders['user-agent']), /^kube-probe\//);
    assert.equal((await runner.run({ httpGet: { path: '/moved', port: httpPort } }, target, 1000)).ok, true);
    const bad = await runner.run({ httpGet: { path: '/boom', port: httpPort, scheme: 'HTTP' } }, target, 1000);
    assert.deepEqual(bad, { ok: false, output: 'HTTP probe failed with statuscode: 500' });
  });

  it('httpGet: a slow answer times out; a closed port is refused; an unknown port name fails', async () => {
    const target = { container: container(), containerId: 'x', podIP: HOST };
    const t0 = Date.now();
    const slow = await runner.run({ httpGet: { path: '/slow', port: httpPort } }, target, 200);
    assert.equal(slow.ok, false);
    assert.match(slow.output, /Client\.Timeout exceeded/);
    assert.ok(Date.now() - t0 < 1500);
    const closed = await freePort();
    const refused = await runner.run({ httpGet: { path: '/', port: closed } }, target, 1000);
    assert.equal(refused.ok, false);
    assert.match(refused.output, /connection refused/);
    const unnamed = await runner.run({ httpGet: { path: '/', port: 'nope' } }, target, 1000);
    assert.match(unnamed.output, /unable to find port "nope"/);
  });

  it('httpGet: accepts header lines that end in a bare LF (busybox httpd CGIs), as the Go kubelet does', async () => {
    const lf = createTcpServer((sock) => {
      sock.once('data', () => sock.end('HTTP/1.0 200 OK\nContent-Type: text/plain\n\nfine\n'));
    });
    await new Promise<void>((r) => lf.listen(0, HOST, r));
    try {
      const port = (lf.address() as { port: number }).port;
      const got = await runner.run({ httpGet: { path: '/', port } }, { container: container(), containerId: 'x', podIP: HOST }, 1000);
      assert.deepEqual([got.ok, got.output.trim()], [true, 'fine']);
    } finally {
      await new Promise((r) => lf.close(r));
    }
  });

  it('tcpSocket: an open port succeeds, a closed one fails; host overrides the pod IP', async () => {
    const target = { container: container(), containerId: 'x', podIP: '192.0.2.1' };
    assert.equal((await runner.run({ tcpSocket: { port: 'tcp', host: HOST } }, target, 1000)).ok, true);
    const closed = await freePort();
    const r = await runner.run({ tcpSocket: { port: closed, host: HOST } }, target, 1000);
    assert.deepEqual(r, { ok: false, output: `dial tcp ${HOST}:${closed}: connect: connection refused` });
  });

  it('exec: runs in the container; exit 0 succeeds, others fail with the output, slow ones time out', async () => {
    runtime.addImage('img');
    runtime.onExec((_c, cmd) => {
      if (cmd[0] === 'good') return { exitCode: 0, output: 'ok\n' };
      if (cmd[0] === 'slow') return { exitCode: 0, delayMs: 2000 };
      return { exitCode: 1, output: 'not healthy\n' };
    });
    const id = await runtime.createContainer({ name: 'c', image: 'img', labels: {} });
    await runtime.startContainer(id);
    const target = { container: container(), containerId: id };
    assert.deepEqual(await runner.run({ exec: { command: ['good'] } }, target, 1000), { ok: true, output: 'ok\n' });
    assert.deepEqual(await runner.run({ exec: { command: ['bad'] } }, target, 1000), { ok: false, output: 'not healthy\n' });
    const slow = await runner.run({ exec: { command: ['slow'] } }, target, 100);
    assert.equal(slow.ok, false);
    assert.match(slow.output, /timed out/);
    assert.deepEqual(
      runtime.calls.filter((c) => c.op === 'exec').map((c) => c.cmd),
      [['good'], ['bad'], ['slow']],
    );
  });

  it('grpc: SERVING succeeds; NOT_SERVING, unknown services and closed ports fail', async () => {
    const target = { container: container(), containerId: 'x', podIP: HOST };
    assert.deepEqual(await runner.run({ grpc: { port: grpcPort } }, target, 2000), { ok: true, output: '' });
    assert.deepEqual(await runner.run({ grpc: { port: grpcPort, service: 'db' } }, target, 2000), {
      ok: false,
      output: 'service unhealthy (responded with "NOT_SERVING")',
    });
    const unknown = await runner.run({ grpc: { port: grpcPort, service: 'cache' } }, target, 2000);
    assert.equal(unknown.ok, false);
    assert.match(unknown.output, /health rpc probe failed: unknown service/);
    const closed = await runner.run({ grpc: { port: await freePort() } }, target, 1000);
    assert.equal(closed.ok, false);
    assert.match(closed.output, /failed to connect service/);
  });

  it('encodes and decodes the health messages (round trip, defaults, unknown fields)', () => {
    for (const s of ['', 'a', 'grpc.health.v1.Health', 'x'.repeat(300)]) assert.equal(decodeHealthRequest(encodeHealthRequest(s)), s);
    for (const st of [0, 1, 2, 3]) assert.equal(decodeHealthResponse(encodeHealthResponse(st)), st);
    assert.deepEqual([...encodeHealthRequest('ab')], [0x0a, 2, 0x61, 0x62]);
    // An unknown length-delimited field 2 before the status is skipped.
    assert.equal(decodeHealthResponse(Buffer.from([0x12, 1, 0x41, 0x08, 2])), 2);
  });

  it('resolves ports by number, numeric text and name', () => {
    const c = container();
    assert.equal(resolvePort(8080, c), 8080);
    assert.equal(resolvePort('9090', c), 9090);
    assert.equal(resolvePort('http', c), httpPort);
    assert.equal(resolvePort('missing', c), undefined);
  });
});
