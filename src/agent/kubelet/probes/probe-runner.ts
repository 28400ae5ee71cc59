// Runs one check of a probe or lifecycle handler against one container: exec
// inside the container, httpGet/tcpSocket/grpc from the agent's network
// namespace to the pod IP (or the handler's host).
import type { Container } from '../../api/object-types.ts';
import type { ContainerRuntime } from '../container-runtime.ts';
import { grpcHealthCheck } from './grpc-health.ts';
import { httpGetCheck } from './http-get.ts';
import type { LifecycleHandler, ProbeHandler, ProbeOutcome } from './probe-types.ts';
import { tcpSocketCheck } from './tcp-socket.ts';

export interface CheckTarget {
  container: Container;
  containerId: string;
  /** Where network checks go unless the handler names a host. */
  podIP?: string;
}

export interface ProbeRunner {
  run(handler: ProbeHandler | LifecycleHandler, target: CheckTarget, timeoutMs: number): Promise<ProbeOutcome>;
}

/** A port given by number, or by the name of one of the container's ports. */
export function resolvePort(port: number | string | undefined, container: Container): number | undefined {
  if (typeof port === 'number') return port;
  if (port === undefined || port === '') return undefined;
  if (/^\d+$/.test(port)) return Number(port);
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

export function createProbeRunner(runtime: Pick<ContainerRuntime, 'exec'>): ProbeRunner {
  function hostOf(explicit: string | undefined, target: CheckTarget): string | undefined {
    return explicit || target.podIP;
  }

  return {
    async run(handler, target, timeoutMs) {
      if (handler.exec) {
        const cmd = handler.exec.command ?? [];
        try {
          const r = await runtime.exec(target.containerId, cmd, timeoutMs);
          return { ok: r.exitCode === 0, output: r.exitCode === 0 ? r.output : r.output || `command ${JSON.stringify(cmd.join(' '))} exited with ${r.exitCode}` };
        } catch (err) {
          return { ok: false, output: err instanceof Error ? err.message : String(err) };
        }
      }
      if (handler.httpGet) {
        const g = handler.httpGet;
        const port = resolvePort(g.port, target.container);
        if (port === undefined) return { ok: false, output: `unable to find port "${g.port}" in container ${target.container.name}` };
        const host = hostOf(g.host, target);
        if (!host) return { ok: false, output: 'pod has no IP address yet' };
        return httpGetCheck({ scheme: g.scheme ?? 'HTTP', host, port, path: g.path ?? '/', headers: g.httpHeaders }, timeoutMs);
      }
      if (handler.tcpSocket) {
        const port = resolvePort(handler.tcpSocket.port, target.container);
        if (port === undefined) return { ok: false, output: `unable to find port "${handler.tcpSocket.port}" in container ${target.container.name}` };
        const host = hostOf(handler.tcpSocket.host, target);
        if (!host) return { ok: false, output: 'pod has no IP address yet' };
        return tcpSocketCheck(host, port, timeoutMs);
      }
      if ('grpc' in handler && handler.grpc) {
        if (!target.podIP) return { ok: false, output: 'pod has no IP address yet' };
        return grpcHealthCheck(target.podIP, handler.grpc.port, handler.grpc.service ?? '', timeoutMs);
      }
      if ('sleep' in handler && handler.sleep) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(handler.sleep!.seconds * 1000, timeoutMs)));
        return { ok: true, output: '' };
      }
      return { ok: false, output: 'missing probe handler' };
    },
  };
}
