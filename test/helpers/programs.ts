// The command-line programs as the tests start them: the build for the runtime the
// tests run in, Node's (dist/cli, Dawn) or Deno's (dist/deno/cli, wgpu), so that a
// program's output is compared with the same WebGPU implementation in-process.
const deno = (globalThis as { Deno?: { execPath(): string } }).Deno;

/** The runtime the tests run in. */
export const RUNTIME = deno ? 'deno' : 'node';

/** The executable and the arguments that run `dist/.../cli/<program>.js` with `args`. */
export function program(name: string, args: string[] = []): [string, string[]] {
  return deno ? [deno.execPath(), ['run', '-A', `dist/deno/cli/${name}.js`, ...args]] : [process.execPath, [`dist/cli/${name}.js`, ...args]];
}
