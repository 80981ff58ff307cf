/**
 * Tests of batchnorm's float64 reference (src/reference/batchnorm.ts): hand-computed
 * values, PyTorch's refusal of one value per channel, and training mode's gradients
 * against central finite differences, on 2d and 1d shapes. A fresh seed each run
 * (override with SEED=...); every failure message names it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  BATCHNORM_DEFAULTS,
  batchnormBackward,
  batchnormForwardEval,
  batchnormForwardTrain,
  batchnormStats,
  type BatchNormHyper,
  type BatchNormShape,
} from '../src/reference/batchnorm';
import { Rng } from '../src/util/rng';
import { checkGrad, dot } from './helpers/finite-difference';

const SEED = process.env.SEED !== undefined ? Number(process.env.SEED) >>> 0 : Date.now() >>> 0;

const rngFor = (k: number) => new Rng((SEED + k * 0x9e3779b9) >>> 0);
const where = (what: string) => `${what} (seed ${SEED})`;

function normals(rng: Rng, n: number, scale = 1, offset = 0): Float64Array {
  return Float64Array.from({ length: n }, () => offset + scale * rng.normal());
}


function close(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), where(`${what}: got ${actual}, expected ${expected}`));
}


test('batchnorm training forward: hand-computed, two channels, running statistics with the unbiased variance', () => {
  // [2, 2, 2]: channel 0 holds 1, 2 (image 0) and 3, 4 (image 1); channel 1 holds 10, 10, 10, 14.
  const s: BatchNormShape = { batch: 2, channels: 2, spatial: 2 };
  const input = Float64Array.from([1, 2, 10, 10, 3, 4, 10, 14]);
  const h: BatchNormHyper = { eps: 0.25, momentum: 0.5 };
  const r = batchnormForwardTrain(s, input, Float64Array.from([2, 1]), Float64Array.from([1, -1]), Float64Array.from([1, 2]), Float64Array.from([3, 4]), h);
  // channel 0: mean 2.5, biased var 1.25, invstd 1/sqrt(1.5); channel 1: mean 11, var 3, invstd 1/sqrt(3.25)
  assert.equal(Array.from(r.mean), [2.5, 11], where('mean'));
  close(r.invstd[0], 1 / Math.sqrt(1.5), 1e-15, 'invstd[0]');
  close(r.invstd[1], 1 / Math.sqrt(3.25), 1e-15, 'invstd[1]');
  const y0 = (x: number) => ((x - 2.5) / Math.sqrt(1.5)) * 2 + 1;
  const y1 = (x: number) => (x - 11) / Math.sqrt(3.25) - 1;
  [y0(1), y0(2), y1(10), y1(10), y0(3), y0(4), y1(10), y1(14)].forEach((e, i) => close(r.output[i], e, 1e-15, `output[${i}]`));
  // running_mean = 0.5 * old + 0.5 * mean; running_var = 0.5 * old + 0.5 * var * 4/3
  assert.equal(Array.from(r.runningMean), [1.75, 6.5], where('running_mean'));
  close(r.runningVar[0], 0.5 * 3 + 0.5 * (5 / 3), 1e-15, 'running_var[0]');
  close(r.runningVar[1], 0.5 * 4 + 0.5 * 4, 1e-15, 'running_var[1]');
});

test('batchnorm training forward: each channel of the output has mean bias and variance weight^2 * var / (var + eps)', () => {
  const rng = rngFor(1);
  const s: BatchNormShape = { batch: 5, channels: 3, spatial: 7 };
  const input = normals(rng, 5 * 3 * 7, 2, 3);
  const weight = Float64Array.from([1, -2, 0.5]);
  const bias = Float64Array.from([0, 1, -3]);
  const r = batchnormForwardTrain(s, input, weight, bias, new Float64Array(3), new Float64Array(3).fill(1));
  const before = batchnormStats(s, input);
  const after = batchnormStats(s, r.output);
  for (let c = 0; c < 3; c++) {
    close(after.mean[c], bias[c], 1e-12, `output mean[${c}]`);
    const v = before.variance[c];
    close(after.variance[c], (weight[c] ** 2 * v) / (v + BATCHNORM_DEFAULTS.eps), 1e-12, `output variance[${c}]`);
  }
});

test('batchnorm eval forward: the running statistics in place of the batch\'s', () => {
  const s: BatchNormShape = { batch: 1, channels: 2, spatial: 1 };
  const out = batchnormForwardEval(s, Float64Array.from([3, -1]), Float64Array.from([2, 1]), Float64Array.from([0.5, 0]), Float64Array.from([1, 1]), Float64Array.from([4, 0.25]), 0);
  assert.equal(Array.from(out), [((3 - 1) / 2) * 2 + 0.5, (-1 - 1) / 0.5], where('eval output'));
  // With the running statistics equal to the batch's (biased variance), eval gives training's output.
  const rng = rngFor(2);
  const t: BatchNormShape = { batch: 4, channels: 3, spatial: 5 };
  const input = normals(rng, 60);
  const weight = normals(rng, 3);
  const bias = normals(rng, 3);
  const { mean, variance } = batchnormStats(t, input);
  const train = batchnormForwardTrain(t, input, weight, bias, new Float64Array(3), new Float64Array(3)).output;
  const evalOut = batchnormForwardEval(t, input, weight, bias, mean, variance);
  train.forEach((v, i) => close(evalOut[i], v, 1e-13, `eval = train [${i}]`));
});

test('batchnorm training: one value per channel is refused with PyTorch\'s message', () => {
  const one = new Float64Array(3);
  assert.throws(
    () => batchnormForwardTrain({ batch: 1, channels: 3, spatial: 1 }, one, one, one, one, one),
    /^Expected more than 1 value per channel when training, got input size \[1, 3, 1\]$/,
  );
  // Batch 1 with spatial > 1 is fine (M = spatial), as nn.BatchNorm2d.
  batchnormForwardTrain({ batch: 1, channels: 1, spatial: 2 }, Float64Array.from([0, 1]), one, one, one, one);
});

const shapes: BatchNormShape[] = [
  { batch: 3, channels: 2, spatial: 5 }, // 2d
  { batch: 1, channels: 2, spatial: 6 }, // 2d, batch 1
  { batch: 4, channels: 3, spatial: 1 }, // 1d
  { batch: 2, channels: 1, spatial: 1 }, // the least M
];

shapes.forEach((s, k) => {
  test(`batchnorm backward vs finite differences: ${JSON.stringify(s)}`, () => {
    const rng = rngFor(100 + k);
    // A larger eps: its term in the gradient is checked too. With M = 2 the input's
    // gradient is only eps / (var + eps) of the output's: larger still there.
    const M = s.batch * s.spatial;
    const h: BatchNormHyper = { eps: M === 2 ? 1 : 0.01, momentum: 0.1 };
    const numel = s.batch * s.channels * s.spatial;
    // Channels of nearly equal values (likely where M is 2) have a variance near 0, where
    // the loss curves too fast for a finite difference: draw until every one is spread.
    let input = normals(rng, numel, 1.5, 0.5);
    // And not too spread either, nor a weight near 0: with M = 2 the input's gradient is
    // only eps / (var + eps) of the output's, and must stay measurable.
    while (batchnormStats(s, input).variance.some((v) => v < 0.25 || v > 2)) input = normals(rng, numel, 1.5, 0.5);
    let weight = normals(rng, s.channels);
    while (weight.some((w) => Math.abs(w) < 0.5)) weight = normals(rng, s.channels);
    const bias = normals(rng, s.channels);
    let doutput = normals(rng, numel);
    // With M = 2 the input's gradient is proportional to the difference of the two output gradients.
    while (M === 2 && Math.abs(doutput[0] - doutput[1]) < 0.1) doutput = normals(rng, numel);
    const zeros = new Float64Array(s.channels);
    const f = () => dot(doutput, batchnormForwardTrain(s, input, weight, bias, zeros, zeros, h).output);
    const g = batchnormBackward(s, doutput, input, weight, h.eps);
    checkGrad('batchnorm dinput', input, g.dinput, f, where);
    checkGrad('batchnorm dweight', weight, g.dweight, f, where);
    checkGrad('batchnorm dbias', bias, g.dbias, f, where);
  });
});

test('batchnorm backward: the input gradient sums to zero per channel and, with eps 0, is orthogonal to xhat', () => {
  const rng = rngFor(200);
  const s: BatchNormShape = { batch: 3, channels: 2, spatial: 4 };
  const input = normals(rng, 24);
  const { dinput } = batchnormBackward(s, normals(rng, 24), input, Float64Array.from([1.5, -0.5]), 0);
  const { mean } = batchnormStats(s, input);
  for (let c = 0; c < 2; c++) {
    let sum = 0, dotx = 0;
    for (let n = 0; n < 3; n++)
      for (let i = 0; i < 4; i++) {
        const at = (n * 2 + c) * 4 + i;
        sum += dinput[at];
        dotx += dinput[at] * (input[at] - mean[c]);
      }
    close(sum, 0, 1e-12, `sum of dinput, channel ${c}`);
    close(dotx, 0, 1e-12, `dinput . (x - mean), channel ${c}`);
  }
});

test.run();
