// How the API's `pods/NAME/log` reaches the kubelet that runs the pod.
import type { Readable } from 'node:stream';
import type { Pod } from '../api/object-types.ts';

export interface LogOptions {
  /** Container name; required when the pod has more than one container. */
  container?: string;
  follow?: boolean;
  tailLines?: number;
  timestamps?: boolean;
  /** Logs of the previous (terminated) instance of the container. */
  previous?: boolean;
  sinceSeconds?: number;
}

export interface PodLogSource {
  /**
   * A stream of the container's log lines (stdout and stderr interleaved, as
   * kubectl shows them). Ends when the container's log ends, unless follow.
   * Throws BadRequest for an unknown container or a pod not started yet.
   */
  streamLogs(pod: Pod, opts: LogOptions): Promise<Readable>;
}
