// npm run bench: training throughput of this engine on the current adapter, on real
// MNIST batches through the real trainer, with set-up (pipeline compilation) apart
// from steady state, and the share of a step spent in each kernel.
import { parseArgs } from 'node:util';
import { profile } from '../bench/profile';
import { Trainer, DEFAULT_CONFIG } from '../train/trainer';
import { positiveInt } from './shared/args';
import { describe, openRuntime, readSplits, run } from './shared/common';

const HELP = `usage: npm run bench -- [--adapter NAME] [--steps N] [--batch-size N]

Trains LeNet-5 on MNIST for --steps steps (default 200) after a warm-up and prints
images/s, then the share of a training step spent in each kernel.`;

async function main(): Promise<number> {
  const { values: o } = parseArgs({
    options: {
      adapter: { type: 'string' },
      steps: { type: 'string', default: '200' },
      'batch-size': { type: 'string', default: String(DEFAULT_CONFIG.batchSize) },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (o.help) {
    console.log(HELP);
    return 0;
  }
  const steps = positiveInt(o.steps!, '--steps');
  const batchSize = positiveInt(o['batch-size']!, '--batch-size');
  const { train } = readSplits(undefined, false);
  const rt = await openRuntime(o.adapter);
  console.log(`adapter: ${describe(rt)}`);

  const warmUp = 20;
  const config = { ...DEFAULT_CONFIG, batchSize, limit: (steps + warmUp) * batchSize, epochs: 1, logEvery: 1e9 };
  const t0 = performance.now();
  const trainer = await Trainer.create(rt, config, train!, null);
  const setup = (performance.now() - t0) / 1000;
  // Warm-up steps first (first submits, driver caches), drained; then the timed ones.
  let taken = 0;
  await trainer.trainEpoch({ shouldStop: () => taken++ === warmUp });
  await rt.sync();
  const t1 = performance.now();
  taken = 0;
  await trainer.trainEpoch({ shouldStop: () => taken++ === steps });
  await rt.sync();
  const seconds = (performance.now() - t1) / 1000;
  const imagesPerSecond = (steps * batchSize) / seconds;
  console.log(`set-up (dataset upload, pipelines, bind groups): ${setup.toFixed(2)} s`);
  console.log(`training: ${steps} steps of ${batchSize} in ${seconds.toFixed(2)} s = ${imagesPerSecond.toFixed(0)} images/s (${((1000 * seconds) / steps).toFixed(1)} ms/step)`);

  const plan = await trainer.model.plan(batchSize);
  const rows = await profile(rt, [...plan.forward, ...plan.backward, plan.adamStep]);
  const byKernel = new Map<string, number>();
  for (const r of rows) byKernel.set(`${r.label} ${r.kernel}`, (byKernel.get(`${r.label} ${r.kernel}`) ?? 0) + r.microseconds);
  const total = rows.reduce((s, r) => s + r.microseconds, 0);
  console.log(`\nshare of a step by kernel (host timing of isolated dispatches; sum ${(total / 1000).toFixed(1)} ms):`);
  for (const [name, us] of [...byKernel].sort((a, b) => b[1] - a[1])) {
    console.log(`  ${name.padEnd(36)} ${(us / 1000).toFixed(2).padStart(8)} ms ${((100 * us) / total).toFixed(1).padStart(6)}%`);
  }
  rt.destroy();
  return 0;
}

run(main);
