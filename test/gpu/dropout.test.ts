// dropout.wgsl against the float64 reference with the mask of src/util/dropout-mask.ts:
// awkward counts, a grid past one row of workgroups, p = 0, 0.25, 0.5, 0.9; the mask
// exactly the reference's (each kept element exactly input * f32(scale)), the kept
// fraction near 1 - p; the same step the same mask, another step or layer another.
import * as assert from 'uvu/assert';
import type { Runtime } from '../../src/gpu/runtime';
import { Dropout } from '../../src/ops/dropout';
import * as ref from '../../src/reference/elementwise';
import { dropoutScale, keepMask } from '../../src/util/dropout-mask';
import { COUNTS, pastOneRow } from '../helpers/elementwise';
import { freshSeed, gpuSuite } from '../helpers/gpu';
import { checkOp, type TensorSpec } from '../helpers/op-harness';

const test = gpuSuite('dropout');

/** Away from 0, either sign: an output is 0 exactly where the element was dropped. */
const nonzero: TensorSpec['values'] = (rng, length) => Float32Array.from({ length }, () => (rng.uniform(0, 1) < 0.5 ? -1 : 1) * rng.uniform(0.25, 1));

/**
 * Forward and backward at (seed, step) against the reference, each element exactly
 * what the reference's mask and f32(scale) give; returns the mask the GPU applied.
 */
async function check(rt: Runtime, dropout: Dropout, seed: number, step: number): Promise<Uint8Array> {
  const { count } = dropout;
  const { p, layer } = dropout.options;
  const mask = keepMask(seed, step, layer, count, p);
  dropout.setStep(seed, step);
  const { x, gpu } = await checkOp(rt, {
    inputs: { input: { shape: [count], values: nonzero }, doutput: { shape: [count], values: nonzero } },
    outputs: { output: [count], dinput: [count] },
    dispatches: (t) => [dropout.forward({ input: t.input, output: t.output }), dropout.backward({ doutput: t.doutput, dinput: t.dinput })],
    reference: (x) => ({ output: ref.dropoutForward(x.input, mask, p), dinput: ref.dropoutBackward(x.doutput, mask, p) }),
  });
  const scale = Math.fround(dropoutScale(p));
  const what = `p ${p}, layer ${layer}, dropout seed ${seed}, step ${step}`;
  for (const [name, from] of [['output', x.input], ['dinput', x.doutput]] as const) {
    const bad = gpu[name].findIndex((v, i) => v !== (mask[i] ? Math.fround(from[i] * scale) : 0));
    if (bad >= 0) assert.unreachable(`${name}[${bad}] = ${gpu[name][bad]}, expected ${mask[bad] ? 'kept' : 'dropped'} (${what})`);
  }
  const applied = Uint8Array.from(gpu.output, (v) => (v === 0 ? 0 : 1));
  if (count >= 4097) {
    const kept = applied.reduce((s, k) => s + k, 0) / count;
    const sigma = Math.sqrt((p * (1 - p)) / count);
    assert.ok(Math.abs(kept - (1 - p)) <= 6 * sigma, `kept ${kept} of the elements, expected ${1 - p} ± ${(6 * sigma).toFixed(4)} (${what})`);
  }
  return applied;
}

for (const p of [0, 0.25, 0.5, 0.9]) {
  test(`dropout p = ${p} on ${COUNTS.join(', ')} elements: the reference's mask, exactly`, async ({ rt }) => {
    for (const count of COUNTS) {
      const dropout = await Dropout.create(rt, count, { p, layer: 2 });
      const applied = await check(rt, dropout, freshSeed(), 7);
      if (p === 0) assert.ok(applied.every((k) => k === 1), 'p = 0 keeps every element');
    }
  });
}

test('dropout past one row of 65,535 workgroups: the grid folds into y', async ({ rt }) => {
  const count = await pastOneRow(rt, 'dropout');
  if (count === null) return console.log('  (skipped: the grid cannot fold)');
  await check(rt, await Dropout.create(rt, count, { p: 0.5, layer: 0 }), freshSeed(), 1);
});

test('dropout: the same step gives the same mask, another step or layer another', async ({ rt }) => {
  const count = 65_537;
  const seed = freshSeed();
  const first = await Dropout.create(rt, count, { p: 0.5, layer: 0 });
  const second = await Dropout.create(rt, count, { p: 0.5, layer: 1 });
  const step1 = await check(rt, first, seed, 1);
  const step2 = await check(rt, first, seed, 2);
  const again = await check(rt, first, seed, 1);
  const layer1 = await check(rt, second, seed, 1);
  const agree = (a: Uint8Array, b: Uint8Array) => a.reduce((s, v, i) => s + (v === b[i] ? 1 : 0), 0) / count;
  assert.equal(again, step1, `step 1 twice: the same mask (dropout seed ${seed})`);
  for (const [what, other] of [['step 2', step2], ['layer 1', layer1]] as const) {
    assert.ok(Math.abs(agree(step1, other) - 0.5) < 0.02, `${what} agrees with step 1 on ${agree(step1, other)} of the elements; independent masks, on half (dropout seed ${seed})`);
  }
});

test('dropout: setStep refuses a step below 1 and a seed that is not a u32', async ({ rt }) => {
  const dropout = await Dropout.create(rt, 8, { p: 0.5, layer: 0 });
  assert.throws(() => dropout.setStep(1, 0), /step must be an integer in \[1, 4294967295\], got 0/);
  assert.throws(() => dropout.setStep(-1, 1), /seed must be an integer in \[0, 4294967295\], got -1/);
  assert.throws(() => dropout.setStep(2 ** 32, 1), /seed must be an integer/);
  assert.throws(() => dropout.setStep(1.5, 1), /seed must be an integer/);
});

test.run();
