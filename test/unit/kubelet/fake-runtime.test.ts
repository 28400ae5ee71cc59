import { isDeepStrictEqual } from 'node:util';
import { createFakeRuntime } from '../../../src/agent/kubelet/fake-runtime.ts';
import { PROGRAMS, runtimeContract } from './runtime-contract.ts';

runtimeContract('fake', async () => {
  const runtime = createFakeRuntime();
  runtime.addImage('mesh.local/busybox:latest');
  runtime.behave((spec) => {
    if (isDeepStrictEqual(spec.entrypoint, PROGRAMS.exit3)) return { logs: ['out', 'err'], exitAfterMs: 50, exitCode: 3 };
    if (isDeepStrictEqual(spec.entrypoint, PROGRAMS.ignoreTerm)) return { ignoreSigterm: true };
    if (isDeepStrictEqual(spec.entrypoint, PROGRAMS.printThenWait)) return { logs: ['a'] };
    return undefined;
  });
  return {
    runtime,
    image: 'mesh.local/busybox:latest',
    labels: { 'io.mesh.test': 'fake' },
    cleanup: () => runtime.close(),
  };
});
