// Lists the WebGPU adapters this machine offers the engine.
//   npm run adapters            a line per adapter
//   npm run adapters -- --json  names only, as JSON (for scripts)
import { listAdapters, SETUP_HINT } from '../gpu/node';
import { parseOptions } from './shared/args';
import { run } from './shared/common';

async function main(): Promise<number> {
  const { values } = parseOptions({ options: { json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    console.log('usage: npm run adapters [-- --json]\nLists the WebGPU adapters found (hardware, llvmpipe, swiftshader; in Deno also lavapipe); choose one with LENET_ADAPTER or --adapter.');
    return 0;
  }

  const found = await listAdapters();
  if (values.json) {
    console.log(JSON.stringify(found.map((f) => f.choice)));
  } else if (found.length === 0) {
    console.error(SETUP_HINT);
    return 1;
  } else {
    for (const f of found) console.log(`${f.choice.padEnd(12)} ${f.name}`);
  }
  return 0;
}

run(main);
