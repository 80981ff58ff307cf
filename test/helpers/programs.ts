// The command-line programs as the tests start them: the build for the runtime the
// tests run in, Node's (dist/cli, Dawn) or Deno's (dist/deno/cli, wgpu), so that a
// program's output is compared with the same WebGPU implementation in-process. The
// CPU tests of what the programs refuse before any GPU work start them in both
// (programIn), with no adapter to be had (NO_GPU).
import { existsSync } from 'node:fs';

const deno = (globalThis as { Deno?: { execPath(): string } }).Deno;

export type ProgramRuntime = 'node' | 'deno';

/** The runtime the tests run in. */
export const RUNTIME: ProgramRuntime = deno ? 'deno' : 'node';

const DENO = 'node_modules/.bin/deno';

/** The runtimes whose programs a test can start: Node's, and Deno's where npm install brought its binary. */
export const RUNTIMES: readonly ProgramRuntime[] = deno || existsSync(DENO) ? ['node', 'deno'] : ['node'];

/** The executable and the arguments that run `dist/.../cli/<program>.js` with `args`. */
export function program(name: string, args: string[] = []): [string, string[]] {
  return programIn(RUNTIME, name, args);
}

/** The same, for the programs built for `runtime`. */
export function programIn(runtime: ProgramRuntime, name: string, args: string[] = []): [string, string[]] {
  if (runtime === 'node') return [process.execPath, [`dist/cli/${name}.js`, ...args]];
  return [deno ? deno.execPath() : DENO, ['run', '-A', `dist/deno/cli/${name}.js`, ...args]];
}

/**
 * An environment in which any request for a GPU fails (an adapter that does not
 * exist): a program run in it that does what a test expects never needed one.
 */
export const NO_GPU = { ...process.env, LENET_ADAPTER: 'none-such' };
