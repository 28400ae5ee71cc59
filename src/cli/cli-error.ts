// The one error type the CLI prints: a message for the user, never a stack trace.
import type { StatusCause } from '../agent/api/errors.ts';

export class CliError extends Error {
  readonly exitCode: number;
  /** HTTP status code when the error came from the server. */
  readonly code?: number;
  /** Kubernetes Status reason (NotFound, Invalid, ...) when the error came from the server. */
  readonly reason?: string;
  readonly causes: StatusCause[];
  constructor(message: string, opts: { exitCode?: number; code?: number; reason?: string; causes?: StatusCause[] } = {}) {
    super(message);
    this.name = 'CliError';
    this.exitCode = opts.exitCode ?? 1;
    this.code = opts.code;
    this.reason = opts.reason;
    this.causes = opts.causes ?? [];
  }
}

export function isNotFound(err: unknown): boolean {
  return err instanceof CliError && err.code === 404;
}

/** One printable line for any error: CliErrors as-is, anything else with its message only. */
export function errorLine(err: unknown): string {
  if (err instanceof CliError) return `error: ${err.message}`;
  if (err instanceof Error) return `error: ${err.message}`;
  return `error: ${String(err)}`;
}
