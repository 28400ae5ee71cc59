// The tcpSocket check: success when a TCP connection opens; it is closed at once.
import { connect } from 'node:net';
import type { ProbeOutcome } from './probe-types.ts';

export function tcpSocketCheck(host: string, port: number, timeoutMs: number): Promise<ProbeOutcome> {
  const addr = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return new Promise((resolve) => {
    let settled = false;
    const socket = connect({ host, port });
    const done = (o: ProbeOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => done({ ok: false, output: `dial tcp ${addr}: i/o timeout` }), timeoutMs);
    socket.once('connect', () => done({ ok: true, output: '' }));
    socket.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'ECONNREFUSED' ? 'connect: connection refused' : err.message;
      done({ ok: false, output: `dial tcp ${addr}: ${why}` });
    });
  });
}
