// postStart and preStop handlers: one run of an exec, httpGet, tcpSocket or
// sleep action, with Kubernetes' failure messages.
import type { Container, Pod } from '../../api/object-types.ts';
import { podDesc } from '../kubelet-events.ts';
import type { ProbeRunner } from './probe-runner.ts';
import type { LifecycleHandler } from './probe-types.ts';

/** Runs the handler; resolves with the failure message, or undefined on success. */
export async function runLifecycleHook(
  runner: ProbeRunner,
  handler: LifecycleHandler,
  target: { pod: Pod; container: Container; containerId: string; podIP?: string },
  timeoutMs: number,
): Promise<string | undefined> {
  const outcome = await runner.run(handler, { container: target.container, containerId: target.containerId, podIP: target.podIP }, timeoutMs);
  if (outcome.ok) return undefined;
  const where = `for Container "${target.container.name}" in Pod "${podDesc(target.pod)}"`;
  if (handler.exec) {
    const cmd = (handler.exec.command ?? []).join(' ');
    return `Exec lifecycle hook ([${cmd}]) ${where} failed - error: ${outcome.output}, message: ${JSON.stringify(outcome.output)}`;
  }
  if (handler.httpGet) {
    return `HTTP lifecycle hook (${handler.httpGet.path ?? '/'}) ${where} failed - error: ${outcome.output}, message: ""`;
  }
  return `Lifecycle hook ${where} failed - error: ${outcome.output}`;
}
