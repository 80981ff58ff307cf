// npm run demo: serves the page that build.mjs put in dist/demo (with its MNIST
// data) on http://localhost:PORT.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { nonNegativeInt, parseOptions } from './shared/args';
import { run, setInterruptHandler, signalCode, type Signal } from './shared/common';
import { serveStatic } from './shared/serve';

const HELP = `usage: npm run demo -- [--port N] [--host ADDRESS]

Serves the browser demo (dist/demo, built by npm run build) on http://localhost:PORT.
Open it in a browser with WebGPU: train LeNet-5 on MNIST in the page, draw digits,
load models saved by npm run train:node.

  --port N        port (default 8080; 0 picks a free one)
  --host ADDRESS  address to listen on (default 127.0.0.1: this machine only)`;

async function main(): Promise<number> {
  const { values: o } = parseOptions({
    options: {
      port: { type: 'string', default: '8080' },
      host: { type: 'string', default: '127.0.0.1' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (o.help) {
    console.log(HELP);
    return 0;
  }
  const port = nonNegativeInt(o.port!, '--port');
  if (port > 65535) throw new Error(`--port must be at most 65535, got ${port}`);
  // dist/cli/demo.js serves dist/demo, wherever it is run from.
  const root = fileURLToPath(new URL('../demo/', import.meta.url));
  if (!existsSync(`${root}/index.html`)) throw new Error(`${root} has no page: build it first with npm run build`);
  // A file the server cannot read is answered with an error and reported here; it keeps serving.
  const server = await serveStatic(root, port, o.host!, (line) => console.error(`demo server: ${line}`)).catch((err: NodeJS.ErrnoException) => {
    throw hostError(o.host!, err);
  });
  console.log(`LeNet-5 demo: ${server.url}  (serving ${root}; Ctrl-C stops)`);
  // The program ends when Ctrl-C (or SIGTERM) has closed the server, with a shell's code for it.
  const signal = await new Promise<Signal>((resolve) => setInterruptHandler((s) => void server.close().then(() => resolve(s))));
  return signalCode(signal);
}

/** An address that cannot be listened on, as an error naming --host. */
function hostError(host: string, err: NodeJS.ErrnoException): Error {
  const why: Record<string, string> = {
    ENOTFOUND: 'no such host',
    EAI_AGAIN: 'its name cannot be looked up now (no DNS?)',
    EADDRNOTAVAIL: 'not an address of this machine',
    EACCES: 'permission denied',
  };
  const reason = err.code && why[err.code];
  return reason ? new Error(`--host ${host}: ${reason}`) : err;
}

run(main);
