// Lists the WebGPU adapters this machine offers the engine.
//   npm run adapters            a line per adapter
//   npm run adapters -- --json  names only, as JSON (for scripts)
import { parseArgs } from 'node:util';
import { requestGpu, SETUP_HINT, type AdapterChoice } from '../gpu/node';

const { values } = parseArgs({ options: { json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } } });
if (values.help) {
  console.log('usage: npm run adapters [-- --json]\nLists the WebGPU adapters found (hardware, llvmpipe, swiftshader); choose one with LENET_ADAPTER or --adapter.');
  process.exit(0);
}

const found: { choice: AdapterChoice; name: string }[] = [];
for (const choice of ['hardware', 'llvmpipe', 'swiftshader'] as const) {
  try {
    const gpu = await requestGpu(choice);
    found.push({ choice, name: gpu.adapter.name });
    gpu.destroy();
  } catch {
    /* not available */
  }
}
if (values.json) {
  console.log(JSON.stringify(found.map((f) => f.choice)));
} else if (found.length === 0) {
  console.error(SETUP_HINT);
  process.exitCode = 1;
} else {
  for (const f of found) console.log(`${f.choice.padEnd(12)} ${f.name}`);
}
