// Process entry of `mesh` (bin/mesh runs it): everything else is in run.ts.
import { runCli } from './run.ts';

const controller = new AbortController();
// Long-running commands (watch, logs -f, delete --wait) end cleanly on Ctrl-C;
// init/join/agent listen for the signals themselves to stop the agent.
const long = new Set(['init', 'join', 'agent']);
const runsAgent = long.has(process.argv.slice(2).find((a) => !a.startsWith('-')) ?? '');
if (!runsAgent) {
  process.once('SIGINT', () => controller.abort());
  process.once('SIGTERM', () => controller.abort());
}
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  // `mesh get pods | head` closes the pipe early; that is not an error.
  if (err.code === 'EPIPE') process.exit(0);
});

const code = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, signal: controller.signal });
process.exitCode = code;
// An agent leaves library handles (sockets, timers) open even after a clean stop,
// and one that failed half-way through starting may too; don't hang.
if (runsAgent) process.exit(code);
