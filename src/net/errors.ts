// Errors of the peer-to-peer layer. They are not API errors: when one reaches the
// HTTP API it is reported as an internal error, which is what a peer failure is
// from a client's point of view.

export class NetError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A dial or request did not finish within its deadline. */
export class RequestTimeout extends NetError {}

/** No connection could be made to the peer (wrong key, nothing listening, ...). */
export class PeerUnreachable extends NetError {}

/** The remote handler failed; the message is the remote's. */
export class RemoteError extends NetError {}

/** The cluster refused a join, or the joiner refused what it was offered. */
export class JoinRefused extends NetError {}
