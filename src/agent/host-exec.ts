// Runs host networking tools (ip, iptables-restore, arping) for the per-node
// network components. They take it as an option, so tests can run the same code
// inside a network namespace of their own (`ip netns exec NAME ...`).
import { spawn } from 'node:child_process';

export interface HostExecResult {
  /** Exit code; 127 when the command was not found. */
  code: number;
  stdout: string;
  stderr: string;
}

/** Never rejects for a failing command: callers look at `code`. */
export type HostExec = (cmd: string, args: string[], opts?: { input?: string }) => Promise<HostExecResult>;

export function createHostExec(): HostExec {
  return (cmd, args, opts) =>
    new Promise((resolve) => {
      const p = spawn(cmd, args, { stdio: [opts?.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout!.on('data', (d) => (stdout += d));
      p.stderr!.on('data', (d) => (stderr += d));
      p.on('error', (err: NodeJS.ErrnoException) => {
        resolve({ code: err.code === 'ENOENT' ? 127 : 126, stdout, stderr: stderr + err.message });
      });
      p.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr }));
      if (opts?.input !== undefined) {
        p.stdin!.on('error', () => {}); // EPIPE when it exits first; the exit code tells the story
        p.stdin!.end(opts.input);
      }
    });
}

/** Wraps an exec so every command runs in network namespace `netns` (tests). */
export function inNetns(exec: HostExec, netns: string): HostExec {
  return (cmd, args, opts) => exec('ip', ['netns', 'exec', netns, cmd, ...args], opts);
}

/** Runs and throws with the command's stderr when it fails. */
export async function mustExec(exec: HostExec, cmd: string, args: string[], input?: string): Promise<string> {
  const r = await exec(cmd, args, input === undefined ? undefined : { input });
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}
