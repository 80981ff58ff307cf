// npm run bench:kernels: time per dispatch of every kernel of a training step on
// the current adapter, with the FLOPs and bytes each must handle and the rates it
// reaches (a benchmark, not a test).
//   --adapter NAME   auto (default), hardware, llvmpipe, swiftshader
//   --arch NAME|FILE the network: a preset or a network file (default lenet5)
//   --batch N        batch size (default 64)
//   --reps N         dispatches per timing (default 10)
import { profile, profileTable, timeSteps } from '../bench/profile';
import { DEFAULT_CONFIG } from '../train/options';
import { Trainer } from '../train/trainer';
import { parseOptions, positiveInt } from './shared/args';
import { archOption, openRuntime, readSplits, run } from './shared/common';

async function main(): Promise<number> {
  const { values } = parseOptions({
    options: {
      adapter: { type: 'string' },
      arch: { type: 'string', default: DEFAULT_CONFIG.arch },
      batch: { type: 'string', default: '64' },
      reps: { type: 'string', default: '10' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log('usage: npm run bench:kernels -- [--adapter auto|hardware|llvmpipe|swiftshader] [--arch NAME|FILE.json] [--batch 64] [--reps 10]');
    return 0;
  }
  const batch = positiveInt(values.batch!, '--batch');
  const reps = positiveInt(values.reps!, '--reps');
  const network = archOption(values.arch!);
  const { train } = readSplits(undefined, false);
  const rt = await openRuntime(values.adapter);
  console.log(`adapter: ${rt.adapter.name} [${rt.adapter.description || rt.adapter.device}]`);

  // One real MNIST batch, trained on once so that every buffer holds real values.
  const trainer = await Trainer.create(rt, { ...DEFAULT_CONFIG, arch: network.name, batchSize: batch, limit: batch, epochs: 1, shuffle: false }, train!, null, { network });
  await trainer.trainEpoch();
  const step = await trainer.stepDispatches(batch);

  const rows = await profile(rt, step, reps);
  console.log(`\n${network.name}, batch ${batch}: ${step.length} dispatches per training step; each timed alone, ${reps} in a row, median of 3\n`);
  for (const line of profileTable(rows)) console.log(line);
  const seconds = await timeSteps(rt, step, 10);
  console.log(`\nwhole step (one submit, as in training): ${(seconds * 1000).toFixed(1)} ms = ${(batch / seconds).toFixed(0)} images/s`);
  return 0;
}

run(main);
