// sigmoid.wgsl against the float64 reference: awkward counts, a grid past one row of
// workgroups, large inputs (exactly 1 and 0, never NaN), and every element's accuracy
// in ulps over inputs of every magnitude, the far negative tail included.
import * as assert from 'uvu/assert';
import type { Runtime } from '../../src/gpu/runtime';
import { Sigmoid } from '../../src/ops/sigmoid';
import * as ref from '../../src/reference/elementwise';
import { assertUlps, COUNTS, dumpBits, pastOneRow } from '../helpers/elementwise';
import { gpuSuite } from '../helpers/gpu';
import { checkOp, type TensorSpec } from '../helpers/op-harness';

const test = gpuSuite('sigmoid');

/** Forward and backward (from the GPU's own output, as a training step has it) against the reference. */
async function check(rt: Runtime, count: number, input: TensorSpec) {
  const sigmoid = await Sigmoid.create(rt, count);
  return checkOp(rt, {
    inputs: { input, doutput: [count] },
    outputs: { output: [count], dinput: [count] },
    dispatches: (t) => [
      sigmoid.forward({ input: t.input, output: t.output }),
      sigmoid.backward({ doutput: t.doutput, saved_output: t.output, dinput: t.dinput }),
    ],
    reference: (x, gpu) => ({ output: ref.sigmoidForward(x.input), dinput: ref.sigmoidBackward(x.doutput, gpu.output) }),
  });
}

for (const count of COUNTS) {
  test(`sigmoid on ${count} elements: forward and backward match the reference`, async ({ rt }) => {
    await check(rt, count, { shape: [count], range: [-8, 8] });
  });
}

test('sigmoid past one row of 65,535 workgroups: the grid folds into y', async ({ rt }) => {
  const count = await pastOneRow(rt, 'sigmoid');
  if (count === null) return console.log('  (skipped: the grid cannot fold)');
  await check(rt, count, { shape: [count], range: [-8, 8] });
});

test('sigmoid of large inputs is 1 and 0 exactly (below the normal floats for -100), its gradient 0', async ({ rt }) => {
  const large = [110, 120, 1e4, 1e30, 3.4028234663852886e38];
  const values = [100, -100, ...large, ...large.map((v) => -v)];
  const { gpu, seed } = await check(rt, values.length, { shape: [values.length], values: () => values });
  // sigmoid(-100) = 3.7e-44 is a subnormal float32, which WGSL lets a GPU flush to 0.
  assert.ok(gpu.output[1] >= 0 && gpu.output[1] < 2 ** -126, `sigmoid(-100) = ${gpu.output[1]} (seed ${seed})`);
  const rest = [gpu.output[0], ...gpu.output.subarray(2)];
  assert.equal(rest, [1, ...large.map(() => 1), ...large.map(() => 0)], `sigmoid (seed ${seed})`);
  assert.ok(gpu.dinput.every((v, i) => i === 1 || v === 0), `dinput: ${gpu.dinput} (seed ${seed})`);
});

test('sigmoid of inputs of every magnitude: each element within WGSL exp error bound', async ({ rt }) => {
  // |x| log-uniform in [1e-30, 110], either sign: the negative tail goes down to the subnormals.
  const count = 1 << 16;
  const values: TensorSpec['values'] = (rng, length) => Float32Array.from({ length }, () => (rng.uniform(0, 1) < 0.5 ? -1 : 1) * 10 ** rng.uniform(-30, 2.04));
  const { x, gpu, seed } = await check(rt, count, { shape: [count], values });
  // WGSL's exp(-|x|) is within 3 + 2|x| ulps: for x < 0 the result is e / (1 + e), which
  // keeps that relative error (plus two roundings); for x >= 0, 1 / (1 + e) damps it.
  const bound = (i: number) => 5 + 2 * Math.abs(x.input[i]);
  const worst = assertUlps('output', gpu.output, ref.sigmoidForward(x.input), bound, seed);
  // (1 - y) is exact for y >= 1/2, so three roundings.
  const worstGrad = assertUlps('dinput', gpu.dinput, ref.sigmoidBackward(x.doutput, gpu.output), () => 3, seed);
  console.log(`  worst error ${worst.toFixed(2)} ulps, gradient ${worstGrad.toFixed(2)} ulps`);
  dumpBits(rt, 'sigmoid.output', gpu.output);
  dumpBits(rt, 'sigmoid.dinput', gpu.dinput);
});

test.run();
