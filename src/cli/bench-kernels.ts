// npm run bench:kernels: time per dispatch of every kernel of a LeNet-5 training
// step at batch 64 on the current adapter (a benchmark, not a test).
//   --adapter NAME   auto (default), hardware, llvmpipe, swiftshader
//   --batch N        batch size (default 64)
//   --reps N         dispatches per timing (default 10)
import { parseArgs } from 'node:util';
import { profile, timeSteps } from '../bench/profile';
import { submit } from '../gpu/dispatch';
import { parseAdapterChoice, requestGpu } from '../gpu/node';
import { Runtime } from '../gpu/runtime';
import { Lenet5 } from '../model/lenet5';
import { initParameters } from '../model/parameters';
import { PrepareMnist } from '../ops/prepare_mnist';
import { Rng } from '../util/rng';
import { positiveInt } from './shared/args';

const { values } = parseArgs({
  options: {
    adapter: { type: 'string' },
    batch: { type: 'string', default: '64' },
    reps: { type: 'string', default: '10' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log('usage: npm run bench:kernels -- [--adapter auto|hardware|llvmpipe|swiftshader] [--batch 64] [--reps 10]');
  process.exit(0);
}
const batch = positiveInt(values.batch!, '--batch');
const reps = positiveInt(values.reps!, '--reps');
const rt = new Runtime(await requestGpu(values.adapter ? parseAdapterChoice(values.adapter, '--adapter') : undefined));
console.log(`adapter: ${rt.adapter.name} [${rt.adapter.description || rt.adapter.device}]`);

const rng = new Rng(1);
const model = new Lenet5(rt, batch);
const plan = await model.plan(batch);
model.setParameters(initParameters(rng));
model.writeBatch(
  Float32Array.from({ length: batch * 1024 }, () => rng.normal()),
  Uint32Array.from({ length: batch }, () => rng.int(10)),
);
plan.adam.setStep(1);

// The input preparation kernel, on random bytes standing in for MNIST.
const prepare = await PrepareMnist.create(rt, batch);
const images = rt.tensor('images', [Math.ceil((1000 * 784) / 4)]);
const allLabels = rt.tensor('all labels', [250]);
const indices = rt.tensor('batch indices', [batch]);
rt.write(indices, Uint32Array.from({ length: batch }, () => rng.int(1000)));
const prep = { ...prepare.forward({ images, all_labels: allLabels, batch_indices: indices, output: model.act.input, labels: model.labels }), label: 'input' };
submit(rt, plan.trainStep);
await rt.sync();

const rows = await profile(rt, [prep, ...plan.forward, ...plan.backward, plan.adamStep], reps);
const total = rows.reduce((s, r) => s + r.microseconds, 0);
console.log(`\nbatch ${batch}, ${reps} dispatches per timing, median of 3\n`);
console.log(`${'layer'.padEnd(12)}${'kernel'.padEnd(28)}${'us/dispatch'.padStart(12)}${'share'.padStart(8)}`);
for (const r of rows) {
  console.log(`${r.label.padEnd(12)}${r.kernel.padEnd(28)}${r.microseconds.toFixed(0).padStart(12)}${((100 * r.microseconds) / total).toFixed(1).padStart(7)}%`);
}
console.log(`${'sum'.padEnd(40)}${total.toFixed(0).padStart(12)}`);
const seconds = await timeSteps(rt, [prep, ...plan.trainStep], 10);
console.log(`\nwhole step (one submit, as in training): ${(seconds * 1000).toFixed(1)} ms = ${(batch / seconds).toFixed(0)} images/s`);
rt.destroy();
