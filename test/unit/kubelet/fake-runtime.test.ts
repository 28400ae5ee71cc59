import { isDeepStrictEqual } from 'node:util';
import { createFakeRuntime } from '../../../src/agent/kubelet/fake-runtime.ts';
import { EXEC_COMMANDS, PROGRAMS, runtimeContract } from './runtime-contract.ts';

runtimeContract('fake', async () => {
  const runtime = createFakeRuntime();
  runtime.addImage('mesh.local/busybox:latest');
  runtime.behave((spec) => {
    if (isDeepStrictEqual(spec.entrypoint, PROGRAMS.exit3)) return { logs: ['out', 'err'], exitAfterMs: 50, exitCode: 3 };
    if (isDeepStrictEqual(spec.entrypoint, PROGRAMS.ignoreTerm)) return { ignoreSigterm: true };
    if (isDeepStrictEqual(spec.entrypoint, PROGRAMS.printThenWait)) return { logs: ['a'] };
    if (isDeepStrictEqual(spec.entrypoint, PROGRAMS.busy)) return { usage: { cpuNanoCores: 0.9e9, memoryWorkingSetBytes: 600 * 1024 } };
    return undefined;
  });
  runtime.onExec((_c, cmd) => {
    if (isDeepStrictEqual(cmd, EXEC_COMMANDS.exit3)) return { exitCode: 3, output: 'hi\noops\n' };
    if (isDeepStrictEqual(cmd, EXEC_COMMANDS.slow)) return { exitCode: 0, delayMs: 5000 };
    return undefined;
  });
  return {
    runtime,
    image: 'mesh.local/busybox:latest',
    labels: { 'io.mesh.test': 'fake' },
    cleanup: () => runtime.close(),
  };
});
