// One error class per condition. The API maps each to a Kubernetes Status
// (code + reason); nothing else should decide HTTP status codes.

export interface StatusCause {
  /** Kubernetes cause type, e.g. FieldValueRequired, FieldValueInvalid, FieldValueNotSupported. */
  reason: string;
  message: string;
  /** JSON path of the bad field, e.g. `spec.containers[0].image`. */
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export abstract class ApiError extends Error {
  abstract readonly code: number;
  abstract readonly reason: string;
  readonly details: StatusDetails;
  constructor(message: string, details: StatusDetails = {}) {
    super(message);
    this.name = new.target.name;
    this.details = details;
  }
}

export class BadRequest extends ApiError {
  readonly code = 400;
  readonly reason = 'BadRequest';
}
export class Unauthorized extends ApiError {
  readonly code = 401;
  readonly reason = 'Unauthorized';
}
export class Forbidden extends ApiError {
  readonly code = 403;
  readonly reason = 'Forbidden';
}
export class NotFound extends ApiError {
  readonly code = 404;
  readonly reason = 'NotFound';
}
export class MethodNotAllowed extends ApiError {
  readonly code = 405;
  readonly reason = 'MethodNotAllowed';
}
export class NotAcceptable extends ApiError {
  readonly code = 406;
  readonly reason = 'NotAcceptable';
}
export class AlreadyExists extends ApiError {
  readonly code = 409;
  readonly reason = 'AlreadyExists';
}
export class Conflict extends ApiError {
  readonly code = 409;
  readonly reason = 'Conflict';
}
/** A watch or list asked for a resourceVersion older than the retained history. */
export class Gone extends ApiError {
  readonly code = 410;
  readonly reason = 'Expired';
}
export class UnsupportedMediaType extends ApiError {
  readonly code = 415;
  readonly reason = 'UnsupportedMediaType';
}
export class Invalid extends ApiError {
  readonly code = 422;
  readonly reason = 'Invalid';
}
/** Leader-only work was asked of an agent that does not lead the Raft group, or there is no quorum. */
export class NotLeader extends ApiError {
  readonly code = 503;
  readonly reason = 'ServiceUnavailable';
}
export class InternalError extends ApiError {
  readonly code = 500;
  readonly reason = 'InternalError';
}

export interface KubeStatus {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message: string;
  reason: string;
  details?: StatusDetails;
  code: number;
}

export function toStatus(err: unknown): KubeStatus {
  const e = err instanceof ApiError ? err : new InternalError(err instanceof Error ? err.message : String(err));
  const status: KubeStatus = {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: e.message,
    reason: e.reason,
    code: e.code,
  };
  if (Object.keys(e.details).length > 0) status.details = e.details;
  return status;
}

/** Builds the 422 that Kubernetes returns for a bad object: one cause per bad field. */
export function invalidObject(kind: string, name: string | undefined, causes: StatusCause[], group = ''): Invalid {
  const list = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message)).join(', ');
  return new Invalid(`${kind} "${name ?? ''}" is invalid: ${list}`, { name, group, kind, causes });
}

export function notFound(resource: string, name: string, group = ''): NotFound {
  const qualified = group ? `${resource}.${group}` : resource;
  return new NotFound(`${qualified} "${name}" not found`, { name, group, kind: resource });
}

export function alreadyExists(resource: string, name: string, group = ''): AlreadyExists {
  const qualified = group ? `${resource}.${group}` : resource;
  return new AlreadyExists(`${qualified} "${name}" already exists`, { name, group, kind: resource });
}

export function conflict(resource: string, name: string, group = ''): Conflict {
  const qualified = group ? `${resource}.${group}` : resource;
  return new Conflict(
    `Operation cannot be fulfilled on ${qualified} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    { name, group, kind: resource },
  );
}
