// tanh.wgsl against the float64 reference: awkward counts, a grid past one row of
// workgroups, large inputs (exactly ±1, never NaN), and every element's accuracy in
// ulps over inputs of every magnitude (where 1 - exp(-2|x|) would cancel).
import * as assert from 'uvu/assert';
import type { Runtime } from '../../src/gpu/runtime';
import { Tanh } from '../../src/ops/tanh';
import * as ref from '../../src/reference/elementwise';
import { assertUlps, COUNTS, dumpBits, pastOneRow } from '../helpers/elementwise';
import { gpuSuite } from '../helpers/gpu';
import { checkOp, type TensorSpec } from '../helpers/op-harness';

const test = gpuSuite('tanh');

/** Forward and backward (from the GPU's own output, as a training step has it) against the reference. */
async function check(rt: Runtime, count: number, input: TensorSpec) {
  const tanh = await Tanh.create(rt, count);
  return checkOp(rt, {
    inputs: { input, doutput: [count] },
    outputs: { output: [count], dinput: [count] },
    dispatches: (t) => [tanh.forward({ input: t.input, output: t.output }), tanh.backward({ doutput: t.doutput, saved_output: t.output, dinput: t.dinput })],
    reference: (x, gpu) => ({ output: ref.tanhForward(x.input), dinput: ref.tanhBackward(x.doutput, gpu.output) }),
  });
}

for (const count of COUNTS) {
  test(`tanh on ${count} elements: forward and backward match the reference`, async ({ rt }) => {
    await check(rt, count, { shape: [count], range: [-5, 5] });
  });
}

test('tanh past one row of 65,535 workgroups: the grid folds into y', async ({ rt }) => {
  const count = await pastOneRow(rt, 'tanh');
  if (count === null) return console.log('  (skipped: the grid cannot fold)');
  await check(rt, count, { shape: [count], range: [-5, 5] });
});

const LARGE = [9, 16, 17, 100, 1e4, 1e30, 3.4028234663852886e38];

test('tanh of large inputs is ±1 exactly, and its gradient 0', async ({ rt }) => {
  const values = [...LARGE, ...LARGE.map((v) => -v)];
  const { gpu, seed } = await check(rt, values.length, { shape: [values.length], values: () => values });
  assert.equal(Array.from(gpu.output), values.map(Math.sign), `tanh (seed ${seed})`);
  assert.ok(gpu.dinput.every((v) => v === 0), `dinput: ${gpu.dinput} (seed ${seed})`);
});

test('tanh of inputs of every magnitude: each element within 8 ulps, its gradient within 3', async ({ rt }) => {
  // |x| log-uniform in [1e-30, 20], either sign, and both sides of the switch at 0.375.
  const count = 1 << 16;
  const magnitude = (rng: { uniform(a: number, b: number): number }, k: number) => (k % 16 === 0 ? rng.uniform(0.37, 0.38) : 10 ** rng.uniform(-30, 1.3));
  const values: TensorSpec['values'] = (rng, length) => Float32Array.from({ length }, (_, k) => (rng.uniform(0, 1) < 0.5 ? -1 : 1) * magnitude(rng, k));
  const { x, gpu, seed } = await check(rt, count, { shape: [count], values });
  // WGSL's exp is within 3 + 2|x| ulps; (1 - t) / (1 + t) passes on at most 1.2x its
  // relative error times t (< 0.48 at |x| = 0.375), a few ulps with the divide.
  const worst = assertUlps('output', gpu.output, ref.tanhForward(x.input), () => 8, seed);
  // (1 - y) is exact for y >= 1/2, so three roundings.
  const worstGrad = assertUlps('dinput', gpu.dinput, ref.tanhBackward(x.doutput, gpu.output), () => 3, seed);
  console.log(`  worst error ${worst.toFixed(2)} ulps, gradient ${worstGrad.toFixed(2)} ulps`);
  dumpBits(rt, 'tanh.output', gpu.output);
  dumpBits(rt, 'tanh.dinput', gpu.dinput);
});

test.run();
