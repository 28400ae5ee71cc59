// One pino root per agent; components take a child named after themselves.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(opts: { level?: string; destination?: string } = {}): Logger {
  const level = opts.level ?? process.env.MESH_LOG_LEVEL ?? 'info';
  if (opts.destination) return pino({ level }, pino.destination({ dest: opts.destination, mkdir: true, sync: false }));
  return pino({ level });
}

/** A logger that drops everything: for unit tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
