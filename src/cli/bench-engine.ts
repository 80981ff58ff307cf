// The engine's training speed alone, as one JSON line: what `npm run bench` runs in
// Deno (wgpu) to print its speed beside Node's (Dawn) on the same kind of adapter.
//   deno run -A dist/deno/cli/bench-engine.js --adapter llvmpipe --steps 200
import { benchEngine } from '../bench/engine';
import { parseOptions, positiveInt } from './shared/args';
import { archOption, openRuntime, readSplits, run } from './shared/common';
import { DEFAULT_CONFIG } from '../train/options';

async function main(): Promise<number> {
  const { values: o } = parseOptions({
    options: {
      adapter: { type: 'string' },
      arch: { type: 'string', default: DEFAULT_CONFIG.arch },
      steps: { type: 'string', default: '200' },
      'batch-size': { type: 'string', default: String(DEFAULT_CONFIG.batchSize) },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (o.help) {
    console.log('usage: bench-engine [--adapter NAME] [--arch NAME|FILE.json] [--steps N] [--batch-size N]\nPrints {adapter, engine: {setupSeconds, imagesPerSecond, msPerStep}} as one JSON line.');
    return 0;
  }
  const network = archOption(o.arch!);
  const { train } = readSplits(undefined, false);
  const rt = await openRuntime(o.adapter);
  const { run: engine } = await benchEngine(rt, network, train!, positiveInt(o['batch-size']!, '--batch-size'), positiveInt(o.steps!, '--steps'));
  console.log(JSON.stringify({ adapter: rt.adapter.name, engine }));
  return 0;
}

run(main);
