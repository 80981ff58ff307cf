/**
 * Tests of the float64 CPU reference (src/reference): every backward against central
 * finite differences on small awkward shapes, plus exact hand-computed values for the
 * forward ops, the input preparation and Adam, and a whole-network training check.
 * A fresh seed each run (override with SEED=...); every failure message names it.
 */
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ADAM_DEFAULTS,
  adamStep,
  conv2dBackwardBias,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  conv2dForward,
  crossEntropyBackward,
  linearBackwardBias,
  linearBackwardInput,
  linearBackwardWeight,
  linearForward,
  logSoftmaxBackward,
  logSoftmaxForward,
  avgpool2dBackward,
  avgpool2dForward,
  maxpool2dBackward,
  maxpool2dForward,
  nllLossBackward,
  nllLossForward,
  prepareInput,
  reluBackward,
  reluForward,
  type Conv2dShape,
  type LinearShape,
  type Pool2dShape,
} from '../src/reference/ops';
import { MNIST } from '../src/data/dataset';
import type { Runtime } from '../src/gpu/runtime';
import { AvgPool2d } from '../src/ops/avgpool2d';
import { MaxPool2d } from '../src/ops/maxpool2d';
import { conv2dOutSize, pool2dOutSize } from '../src/ops/shapes';
import { conv2d, flatten, LENET5, LENET5_RELU, linear, logSoftmax, maxpool2d, relu, resolve, type Network } from '../src/model/network';
import { parameterTable } from '../src/model/parameters';
import { modelSummary } from '../src/model/summary';
import { newAdamState, referenceForward, referenceGradients, referenceLoss, referenceTrainStep, type Params } from '../src/reference/network';
import { Rng } from '../src/util/rng';

const SEED = process.env.SEED !== undefined ? Number(process.env.SEED) >>> 0 : Date.now() >>> 0;
const H = 1e-6; // finite-difference step
const TOL = 1e-6; // relative to max(1, |value|)

/** An independent generator per test, so one test's failure reproduces alone with the same SEED. */
const rngFor = (k: number) => new Rng((SEED + k * 0x9e3779b9) >>> 0);
const where = (what: string) => `${what} (seed ${SEED})`;

function normals(rng: Rng, n: number): Float64Array {
  return Float64Array.from({ length: n }, () => rng.normal());
}

/** Distinct values in random order, at least 0.01 apart, so no max-pool window has a near-tie. */
function distinct(rng: Rng, n: number): Float64Array {
  const a = Float64Array.from({ length: n }, (_, i) => (i - n / 2) * 0.05 + rng.uniform(0, 0.04));
  return rng.shuffle(a);
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function close(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)),
    where(`${what}: got ${actual}, expected ${expected}`),
  );
}

/**
 * Compares analytic[i] with the central difference of f along x[i], for each i in coords
 * (default: all). f must read x each call. Also refuses an all-zero analytic gradient.
 */
function checkGrad(what: string, x: Float64Array, analytic: Float64Array, f: () => number, coords?: number[], h = H): void {
  assert.is(analytic.length, x.length, where(`${what}: gradient length`));
  assert.ok(analytic.some((g) => Math.abs(g) > 1e-4), where(`${what}: gradient is all ~zero`));
  for (const i of coords ?? x.keys()) {
    const old = x[i];
    x[i] = old + h;
    const fp = f();
    x[i] = old - h;
    const fm = f();
    x[i] = old;
    close(analytic[i], (fp - fm) / (2 * h), TOL, `${what}[${i}] (step ${h})`);
  }
}

// ---------------------------------------------------------------- conv2d

test('conv2d forward: hand-computed 3x3 input, 2x2 kernel', () => {
  const s: Conv2dShape = { batch: 1, inChannels: 1, outChannels: 1, height: 3, width: 3, kernel: 2 };
  const input = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const weight = Float64Array.from([1, 2, 3, 4]);
  const output = conv2dForward(s, input, weight, Float64Array.from([0.5]));
  // (0,0): 1*1 + 2*2 + 4*3 + 5*4 = 37; (0,1): 2+6+15+24 = 47; (1,0): 4+10+21+32 = 67; (1,1): 5+12+24+36 = 77
  assert.equal(Array.from(output), [37.5, 47.5, 67.5, 77.5], where('conv2d 3x3'));
});

test('conv2d forward: one-hot weight picks one shifted input channel', () => {
  // batch 2, 2 -> 3 channels, 4x5 input, 2x2 kernel; the only non-zero weight is [o=1, c=1, ky=1, kx=0] = 1,
  // so output[n,1,y,x] = input[n,1,y+1,x] + bias[1], and the other channels are their bias.
  const s: Conv2dShape = { batch: 2, inChannels: 2, outChannels: 3, height: 4, width: 5, kernel: 2 };
  const input = Float64Array.from({ length: 2 * 2 * 4 * 5 }, (_, i) => i);
  const weight = new Float64Array(3 * 2 * 2 * 2);
  weight[((1 * 2 + 1) * 2 + 1) * 2 + 0] = 1;
  const bias = Float64Array.from([10, 20, 30]);
  const output = conv2dForward(s, input, weight, bias);
  assert.is(output.length, 2 * 3 * 3 * 4);
  for (let n = 0; n < 2; n++)
    for (let o = 0; o < 3; o++)
      for (let y = 0; y < 3; y++)
        for (let x = 0; x < 4; x++) {
          const expected = o === 1 ? input[((n * 2 + 1) * 4 + y + 1) * 5 + x] + 20 : bias[o];
          assert.is(output[((n * 3 + o) * 3 + y) * 4 + x], expected, where(`conv2d one-hot [${n},${o},${y},${x}]`));
        }
});

test('conv2d forward: hand-computed 3x3 input, 2x2 kernel, stride 2, padding 1', () => {
  const s: Conv2dShape = { batch: 1, inChannels: 1, outChannels: 1, height: 3, width: 3, kernel: 2, stride: 2, padding: 1 };
  const input = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const weight = Float64Array.from([1, 2, 3, 4]);
  const output = conv2dForward(s, input, weight, Float64Array.from([0.5]));
  // Windows start at input (2y - 1, 2x - 1). (0,0): only input 1 under tap (1,1): 4;
  // (0,1): 2*3 + 3*4 = 18; (1,0): 4*2 + 7*4 = 36; (1,1): 5 + 12 + 24 + 36 = 77.
  assert.equal(Array.from(output), [4.5, 18.5, 36.5, 77.5], where('conv2d 3x3, stride 2, padding 1'));
});

test("conv2d output size: torch.nn.Conv2d's floor((H + 2 padding - K) / stride) + 1", () => {
  const size = (height: number, width: number, kernel: number, stride?: number, padding?: number) =>
    conv2dOutSize({ inChannels: 1, outChannels: 1, height, width, kernel, stride, padding });
  assert.equal(size(32, 28, 5), { height: 28, width: 24 });
  assert.equal(size(7, 9, 3, 2, 1), { height: 4, width: 5 });
  assert.equal(size(8, 7, 2, 3), { height: 3, width: 2 });
  assert.equal(size(5, 6, 7, 1, 3), { height: 5, width: 6 });
  assert.equal(size(3, 3, 5, 2, 1), { height: 1, width: 1 });
});

const convShapes: Conv2dShape[] = [
  { batch: 3, inChannels: 2, outChannels: 3, height: 7, width: 9, kernel: 3 },
  { batch: 1, inChannels: 1, outChannels: 2, height: 5, width: 4, kernel: 4 },
  { batch: 2, inChannels: 3, outChannels: 1, height: 3, width: 5, kernel: 1 },
  { batch: 2, inChannels: 2, outChannels: 3, height: 7, width: 9, kernel: 3, stride: 2, padding: 1 },
  { batch: 2, inChannels: 2, outChannels: 2, height: 6, width: 5, kernel: 7, padding: 3 },
  // The stride passes the kernel: some input pixels meet no tap (their gradient is 0).
  { batch: 1, inChannels: 2, outChannels: 2, height: 8, width: 7, kernel: 2, stride: 3 },
  { batch: 2, inChannels: 1, outChannels: 3, height: 5, width: 6, kernel: 5, stride: 2, padding: 2 },
];

convShapes.forEach((s, k) => {
  test(`conv2d backward vs finite differences: ${JSON.stringify(s)}`, () => {
    const rng = rngFor(100 + k);
    const { height: OH, width: OW } = conv2dOutSize(s);
    const input = normals(rng, s.batch * s.inChannels * s.height * s.width);
    const weight = normals(rng, s.outChannels * s.inChannels * s.kernel * s.kernel);
    const bias = normals(rng, s.outChannels);
    const doutput = normals(rng, s.batch * s.outChannels * OH * OW);
    const f = () => dot(doutput, conv2dForward(s, input, weight, bias));
    checkGrad('conv2d dinput', input, conv2dBackwardInput(s, doutput, weight), f);
    checkGrad('conv2d dweight', weight, conv2dBackwardWeight(s, doutput, input), f);
    checkGrad('conv2d dbias', bias, conv2dBackwardBias(s, doutput), f);
  });
});

// ---------------------------------------------------------------- maxpool2d

test('maxpool2d: 5x5 -> 2x2 with argmax, ties to the first in scan order, leftovers get no gradient', () => {
  const s: Pool2dShape = { batch: 1, channels: 2, height: 5, width: 5 };
  // prettier-ignore
  const input = Float64Array.from([
    // channel 0: distinct values; row 4 and column 4 hold the biggest values but lie outside every window
    1, 9, 2, 3, 99,
    4, 5, 8, 7, 99,
    6, 0, 1, 2, 99,
    3, 2, 9, 5, 99,
    99, 99, 99, 99, 99,
    // channel 1: window (0,0) all equal -> (0,0); window (0,1) ties (0,3) and (1,2) -> (0,3); others tie too
    7, 7, 1, 6, 0,
    7, 7, 6, 2, 0,
    3, 5, 4, 4, 0,
    5, 3, 4, 4, 0,
    0, 0, 0, 0, 0,
  ]);
  const { output, argmax } = maxpool2dForward(s, input);
  assert.equal(Array.from(output), [9, 8, 6, 9, 7, 6, 5, 4], where('maxpool output'));
  assert.equal(Array.from(argmax), [1, 7, 10, 17, 0, 3, 11, 12], where('maxpool argmax'));
  const dinput = maxpool2dBackward(s, Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8]), argmax);
  const expected = new Float64Array(50);
  [1, 7, 10, 17].forEach((at, i) => (expected[at] = i + 1));
  [0, 3, 11, 12].forEach((at, i) => (expected[25 + at] = i + 5));
  assert.equal(Array.from(dinput), Array.from(expected), where('maxpool backward'));
});

test('maxpool2d: overlapping 3x3 windows, stride 1, ties to the first in scan order; backward adds the shared gradients', () => {
  const s: Pool2dShape = { batch: 1, channels: 1, height: 4, width: 4, kernel: 3, stride: 1 };
  // prettier-ignore
  const input = Float64Array.from([
    1, 2, 3, 0,
    4, 9, 5, 1,
    7, 6, 8, 2,
    0, 3, 9, 9, // the 9s at (3, 2) and (3, 3) come after (1, 1)'s in scan order
  ]);
  const { output, argmax } = maxpool2dForward(s, input);
  assert.equal(Array.from(output), [9, 9, 9, 9], where('maxpool output'));
  assert.equal(Array.from(argmax), [5, 5, 5, 5], where('maxpool argmax'));
  const dinput = maxpool2dBackward(s, Float64Array.from([1, 2, 3, 4]), argmax);
  assert.equal(Array.from(dinput), Array.from({ length: 16 }, (_, i) => (i === 5 ? 10 : 0)), where('maxpool backward'));
});

test('avgpool2d: 3x3 windows, stride 2, on a 5x6 input (the last column in no window)', () => {
  const s: Pool2dShape = { batch: 1, channels: 1, height: 5, width: 6, kernel: 3, stride: 2 };
  const input = Float64Array.from({ length: 30 }, (_, i) => i);
  // each window's mean is its centre, (2y+1)*6 + 2x+1
  assert.equal(Array.from(avgpool2dForward(s, input)), [7, 9, 19, 21], where('avgpool output'));
  // gradients 9, 18, 27, 36 are 1, 2, 3, 4 per input; row and column 2 lie in two windows each
  // prettier-ignore
  const expected = [
    1, 1, 3, 2, 2, 0,
    1, 1, 3, 2, 2, 0,
    4, 4, 10, 6, 6, 0,
    3, 3, 7, 4, 4, 0,
    3, 3, 7, 4, 4, 0,
  ];
  assert.equal(Array.from(avgpool2dBackward(s, Float64Array.from([9, 18, 27, 36]))), expected, where('avgpool backward'));
});

test('pool2dOutSize: floor((side - kernel) / stride) + 1, stride = kernel and kernel = 2 by default', () => {
  const size = (s: Partial<Pool2dShape>) => pool2dOutSize({ batch: 1, channels: 1, height: 28, width: 28, ...s });
  assert.equal(size({}), { height: 14, width: 14 });
  assert.equal(size({ height: 7, width: 9 }), { height: 3, width: 4 });
  assert.equal(size({ height: 13, width: 10, kernel: 3, stride: 2 }), { height: 6, width: 4 });
  assert.equal(size({ height: 10, width: 11, kernel: 3 }), { height: 3, width: 3 });
  assert.equal(size({ height: 7, width: 6, kernel: 2, stride: 1 }), { height: 6, width: 5 });
  assert.equal(size({ height: 9, width: 8, kernel: 2, stride: 3 }), { height: 3, width: 3 });
  assert.equal(size({ height: 5, width: 5, kernel: 5 }), { height: 1, width: 1 });
});

test('pool windows that cannot be: one-line errors from the references and the host classes, before any GPU work', async () => {
  const base: Pool2dShape = { batch: 2, channels: 3, height: 6, width: 5 };
  const cases: [Partial<Pool2dShape>, RegExp][] = [
    [{ kernel: 0 }, /kernel must be a whole number >= 1, got 0$/],
    [{ kernel: 2.5 }, /kernel must be a whole number >= 1, got 2\.5$/],
    [{ kernel: 3, stride: 0 }, /stride must be a whole number >= 1, got 0$/],
    [{ stride: -1 }, /stride must be a whole number >= 1, got -1$/],
    [{ kernel: 6 }, /a 6x6 window is larger than the 6x5 input$/],
  ];
  const noGpu = undefined as unknown as Runtime; // the checks come first: nothing may touch it
  for (const [bad, message] of cases) {
    const s = { ...base, ...bad };
    const input = new Float64Array(2 * 3 * 6 * 5);
    assert.throws(() => maxpool2dForward(s, input), (e: Error) => /^maxpool2dForward: /.test(e.message) && message.test(e.message) && !e.message.includes('\n'));
    assert.throws(() => avgpool2dForward(s, input), (e: Error) => /^avgpool2dForward: /.test(e.message) && message.test(e.message));
    assert.throws(() => avgpool2dBackward(s, input), (e: Error) => /^avgpool2dBackward: /.test(e.message) && message.test(e.message));
    for (const [op, create] of [
      ['maxpool2d', () => MaxPool2d.create(noGpu, s)],
      ['avgpool2d', () => AvgPool2d.create(noGpu, s)],
    ] as const) {
      const error = await create().then(
        () => undefined,
        (e: Error) => e,
      );
      assert.ok(error && error.message.startsWith(`${op}: `) && message.test(error.message), where(`${op} ${JSON.stringify(bad)}: ${error?.message}`));
    }
  }
});

const poolShapes: Pool2dShape[] = [
  { batch: 3, channels: 2, height: 7, width: 9 },
  { batch: 1, channels: 1, height: 5, width: 5 },
  { batch: 2, channels: 3, height: 2, width: 3 },
  { batch: 2, channels: 2, height: 9, width: 8, kernel: 3, stride: 2 },
  { batch: 1, channels: 3, height: 6, width: 7, kernel: 2, stride: 1 },
  { batch: 2, channels: 1, height: 10, width: 11, kernel: 3, stride: 3 },
  { batch: 1, channels: 2, height: 8, width: 9, kernel: 2, stride: 3 },
  { batch: 2, channels: 2, height: 4, width: 4, kernel: 4 },
];

poolShapes.forEach((s, k) => {
  test(`maxpool2d backward vs finite differences (no ties): ${JSON.stringify(s)}`, () => {
    const rng = rngFor(200 + k);
    const input = distinct(rng, s.batch * s.channels * s.height * s.width);
    const { output, argmax } = maxpool2dForward(s, input);
    const doutput = normals(rng, output.length);
    const f = () => dot(doutput, maxpool2dForward(s, input).output);
    checkGrad('maxpool2d dinput', input, maxpool2dBackward(s, doutput, argmax), f);
  });

  test(`avgpool2d backward vs finite differences: ${JSON.stringify(s)}`, () => {
    const rng = rngFor(250 + k);
    const input = normals(rng, s.batch * s.channels * s.height * s.width);
    const doutput = normals(rng, avgpool2dForward(s, input).length);
    const f = () => dot(doutput, avgpool2dForward(s, input));
    checkGrad('avgpool2d dinput', input, avgpool2dBackward(s, doutput), f);
  });
});

// ---------------------------------------------------------------- linear

test('linear forward: hand-computed', () => {
  const s: LinearShape = { batch: 2, inFeatures: 3, outFeatures: 2 };
  const input = Float64Array.from([1, 2, 3, -1, 0, 2]);
  const weight = Float64Array.from([1, 0, -1, 2, 1, 0.5]); // [out, in]
  const output = linearForward(s, input, weight, Float64Array.from([0.25, -1]));
  // n0: [1-3, 2+2+1.5] + bias; n1: [-1-2, -2+0+1] + bias
  assert.equal(Array.from(output), [-1.75, 4.5, -2.75, -2], where('linear'));
});

const linearShapes: LinearShape[] = [
  { batch: 3, inFeatures: 7, outFeatures: 5 },
  { batch: 1, inFeatures: 1, outFeatures: 4 },
  { batch: 2, inFeatures: 9, outFeatures: 1 },
];

linearShapes.forEach((s, k) => {
  test(`linear backward vs finite differences: ${JSON.stringify(s)}`, () => {
    const rng = rngFor(300 + k);
    const input = normals(rng, s.batch * s.inFeatures);
    const weight = normals(rng, s.outFeatures * s.inFeatures);
    const bias = normals(rng, s.outFeatures);
    const doutput = normals(rng, s.batch * s.outFeatures);
    const f = () => dot(doutput, linearForward(s, input, weight, bias));
    checkGrad('linear dinput', input, linearBackwardInput(s, doutput, weight), f);
    checkGrad('linear dweight', weight, linearBackwardWeight(s, doutput, input), f);
    checkGrad('linear dbias', bias, linearBackwardBias(s, doutput), f);
  });
});

// ---------------------------------------------------------------- relu

test('relu forward/backward: exact values and finite differences', () => {
  assert.equal(Array.from(reluForward(Float64Array.from([-2, 0, 3, -0.5, 1e-9]))), [0, 0, 3, 0, 1e-9]);
  const back = reluBackward(Float64Array.from([1, 2, 3, 4]), Float64Array.from([0, 5, 0, 1e-9]));
  assert.equal(Array.from(back), [0, 2, 0, 4], where('relu backward exact'));
  const rng = rngFor(400);
  const input = Float64Array.from({ length: 37 }, () => (rng.int(2) ? 1 : -1) * rng.uniform(0.1, 2)); // away from 0
  const doutput = normals(rng, 37);
  const f = () => dot(doutput, reluForward(input));
  checkGrad('relu dinput', input, reluBackward(doutput, reluForward(input)), f);
});

// ---------------------------------------------------------------- log-softmax, NLL, cross-entropy

test('log-softmax forward: exact values and stability', () => {
  const y = logSoftmaxForward(2, 3, Float64Array.from([0, 0, Math.log(2), 1000, 1000, 1000]));
  // row 0: exp sums to 1 + 1 + 2 = 4 -> [-ln4, -ln4, ln2 - ln4]; row 1: -ln3 each despite the huge inputs
  const expected = [-Math.log(4), -Math.log(4), -Math.log(2), -Math.log(3), -Math.log(3), -Math.log(3)];
  expected.forEach((e, i) => close(y[i], e, 1e-14, `logsoftmax[${i}]`));
});

[
  [3, 7],
  [1, 10],
].forEach(([batch, classes], k) => {
  test(`log-softmax backward vs finite differences: batch ${batch}, classes ${classes}`, () => {
    const rng = rngFor(500 + k);
    const input = normals(rng, batch * classes).map((v) => 3 * v);
    const doutput = normals(rng, batch * classes);
    const f = () => dot(doutput, logSoftmaxForward(batch, classes, input));
    const dinput = logSoftmaxBackward(batch, classes, doutput, logSoftmaxForward(batch, classes, input));
    checkGrad('logsoftmax dinput', input, dinput, f);
  });

  test(`NLL loss and fused cross-entropy backward vs finite differences: batch ${batch}, classes ${classes}`, () => {
    const rng = rngFor(600 + k);
    const labels = Uint32Array.from({ length: batch }, () => rng.int(classes));
    // NLL is linear in logp; any values will do.
    const logp = normals(rng, batch * classes);
    const fNll = () => nllLossForward(batch, classes, logp, labels);
    checkGrad('nll dlogp', logp, nllLossBackward(batch, classes, labels), fNll);
    // Cross-entropy w.r.t. the logits, through log-softmax.
    const logits = normals(rng, batch * classes).map((v) => 2 * v);
    const fCe = () => nllLossForward(batch, classes, logSoftmaxForward(batch, classes, logits), labels);
    const y = logSoftmaxForward(batch, classes, logits);
    const fused = crossEntropyBackward(batch, classes, y, labels);
    checkGrad('cross-entropy dlogits', logits, fused, fCe);
    // The fused form equals log-softmax backward of the NLL backward.
    const chained = logSoftmaxBackward(batch, classes, nllLossBackward(batch, classes, labels), y);
    fused.forEach((g, i) => close(g, chained[i], 1e-14, `fused vs chained [${i}]`));
  });
});

test('NLL loss: exact value', () => {
  const logp = Float64Array.from([-1, -2, -3, -0.5, -4, -6]);
  // labels 2 and 0: mean of 3 and 0.5
  assert.is(nllLossForward(2, 3, logp, Uint32Array.from([2, 0])), 1.75, where('nll'));
  assert.equal(Array.from(nllLossBackward(2, 3, Uint32Array.from([2, 0]))), [0, 0, -0.5, -0.5, 0, 0], where('nll backward'));
});

// ---------------------------------------------------------------- prepareInput

/** MNIST into LeNet-5: 28x28 -> 32x32. */
const mnistInto32 = (batch: number) => ({ batch, srcHeight: 28, srcWidth: 28, dstHeight: 32, dstWidth: 32 });

test('prepareInput: a constant image stays constant', () => {
  const images = new Uint8Array(28 * 28).fill(100);
  const out = prepareInput(mnistInto32(1), images, Uint32Array.from([0]), Uint8Array.from([1]), MNIST.normalization);
  assert.is(out.length, 32 * 32);
  const expected = (100 / 255 - 0.1307) / 0.3081;
  out.forEach((v, i) => close(v, expected, 1e-14, `constant [${i}]`));
});

test('prepareInput: hand-computed resize pixels, index gather, flip', () => {
  const rng = rngFor(700);
  const images = Uint8Array.from({ length: 3 * 28 * 28 }, () => rng.int(256));
  const o = { mean: 0, std: 1 / 255 }; // (v - 0) * 255: back to pixel units
  const out = prepareInput(mnistInto32(3), images, Uint32Array.from([2, 0, 2]), Uint8Array.from([0, 0, 1]), o);
  assert.is(out.length, 3 * 32 * 32);
  const p = (img: number, y: number, x: number) => images[img * 784 + y * 28 + x];
  const q = (n: number, y: number, x: number) => out[n * 1024 + y * 32 + x];
  for (const [n, img] of [[0, 2], [1, 0]]) {
    // (0,0): both sources clamp to 0 -> pixel (0,0).
    close(q(n, 0, 0), p(img, 0, 0), 1e-12, `out(0,0) img ${img}`);
    // (0,1): y clamps to 0; x = 1.5*0.875 - 0.5 = 0.8125 between columns 0 and 1.
    close(q(n, 0, 1), 0.1875 * p(img, 0, 0) + 0.8125 * p(img, 0, 1), 1e-12, `out(0,1) img ${img}`);
    // (31,31): 31.5*0.875 - 0.5 = 27.0625, i0 = 27 and i1 = min(28, 27) = 27 -> pixel (27,27).
    close(q(n, 31, 31), p(img, 27, 27), 1e-12, `out(31,31) img ${img}`);
    // (5,10): y = 5.5*0.875 - 0.5 = 4.3125 (rows 4,5); x = 10.5*0.875 - 0.5 = 8.6875 (columns 8,9).
    const v =
      0.6875 * (0.3125 * p(img, 4, 8) + 0.6875 * p(img, 4, 9)) + 0.3125 * (0.3125 * p(img, 5, 8) + 0.6875 * p(img, 5, 9));
    close(q(n, 5, 10), v, 1e-12, `out(5,10) img ${img}`);
  }
  // Sample 2 is image 2 flipped: column x of it is column 31-x of sample 0.
  for (let y = 0; y < 32; y++)
    for (let x = 0; x < 32; x++) assert.is(q(2, y, x), q(0, y, 31 - x), where(`flip (${y},${x})`));
  // And flipping after the resize equals resizing the mirrored 28x28 image.
  const mirrored = Uint8Array.from({ length: 784 }, (_, i) => p(2, Math.floor(i / 28), 27 - (i % 28)));
  const viaMirror = prepareInput(mnistInto32(1), mirrored, Uint32Array.from([0]), Uint8Array.from([0]), o);
  viaMirror.forEach((v, i) => close(out[2 * 1024 + i], v, 1e-12, `mirror-first [${i}]`));
});

test('prepareInput: normalisation', () => {
  const images = new Uint8Array(28 * 28);
  images[0] = 255;
  const out = prepareInput(mnistInto32(1), images, Uint32Array.from([0]), Uint8Array.from([0]), MNIST.normalization);
  close(out[0], (1 - 0.1307) / 0.3081, 1e-14, 'normalised (0,0)');
  close(out[1023], -0.1307 / 0.3081, 1e-14, 'normalised (31,31)');
});

test('prepareInput: other sizes: the same size copies, half the size averages 2x2 blocks, rows and columns apart', () => {
  const rng = rngFor(701);
  const raw = { mean: 0, std: 1 / 255 };
  const images = Uint8Array.from({ length: 2 * 6 * 8 }, () => rng.int(256));
  const same = prepareInput({ batch: 2, srcHeight: 6, srcWidth: 8, dstHeight: 6, dstWidth: 8 }, images, Uint32Array.from([1, 0]), Uint8Array.from([0, 0]), raw);
  same.forEach((v, i) => close(v, images[(i + 48) % 96], 1e-12, `same size [${i}]`));
  // 6x8 -> 3x4: source = (dst + 0.5) * 2 - 0.5 = 2 dst + 0.5, halfway between pixels 2 dst and 2 dst + 1.
  const half = prepareInput({ batch: 1, srcHeight: 6, srcWidth: 8, dstHeight: 3, dstWidth: 4 }, images, Uint32Array.from([1]), Uint8Array.from([0]), raw);
  const p = (y: number, x: number) => images[48 + y * 8 + x];
  for (let y = 0; y < 3; y++)
    for (let x = 0; x < 4; x++) {
      const mean = (p(2 * y, 2 * x) + p(2 * y, 2 * x + 1) + p(2 * y + 1, 2 * x) + p(2 * y + 1, 2 * x + 1)) / 4;
      close(half[y * 4 + x], mean, 1e-12, `half (${y},${x})`);
    }
});

// ---------------------------------------------------------------- Adam

test('adamStep: two hand-computed steps on 2 numbers', () => {
  assert.equal(ADAM_DEFAULTS, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
  const h = { ...ADAM_DEFAULTS, lr: 0.1 };
  const param = Float64Array.from([1, -2]);
  const expAvg = new Float64Array(2), expAvgSq = new Float64Array(2);
  // Step 1, g = [0.5, -1]: m = 0.1 g, v = 0.001 g^2, bc1 = 0.1, bc2 = 0.001,
  // so p -= 0.1 * g / (|g| + 1e-8): 1 - 0.05/0.50000001 = 0.900000002, -2 + 0.1/1.00000001 = -1.900000001.
  adamStep(param, Float64Array.from([0.5, -1]), expAvg, expAvgSq, 1, h);
  close(expAvg[0], 0.05, 1e-15, 'm1[0]');
  close(expAvgSq[1], 0.001, 1e-15, 'v1[1]');
  close(param[0], 0.900000002, 1e-15, 'p1[0]');
  close(param[1], -1.900000001, 1e-15, 'p1[1]');
  // Step 2, g = [0.1, 2]: m = [0.055, 0.11], v = [0.00025975, 0.004999], bc1 = 0.19, bc2 = 0.001999;
  // p -= 0.1 * (m/0.19) / (sqrt(v/0.001999) + 1e-8).
  adamStep(param, Float64Array.from([0.1, 2]), expAvg, expAvgSq, 2, h);
  close(expAvg[0], 0.055, 1e-15, 'm2[0]');
  close(expAvg[1], 0.11, 1e-15, 'm2[1]');
  close(expAvgSq[0], 0.00025975, 1e-15, 'v2[0]');
  close(expAvgSq[1], 0.004999, 1e-15, 'v2[1]');
  close(param[0], 0.8196959063846518, 1e-13, 'p2[0]');
  close(param[1], -1.9366103534720749, 1e-13, 'p2[1]');
});

// ---------------------------------------------------------------- whole networks

/** Neither LeNet-5: 3x3 kernels, a ReLU after each conv, odd sizes, a ReLU'd activation read by a conv. */
const SMALL: Network = {
  name: 'small-test',
  description: 'a test network',
  input: [2, 13, 12],
  layers: [conv2d('c1', 2, 4, 3), relu(), conv2d('c2', 4, 5, 3), relu(), maxpool2d(), flatten(), linear('f1', 5 * 4 * 4, 7), relu(), linear('f2', 7, 3), logSoftmax()],
};

/** PyTorch's default init for conv and linear: weight and bias uniform in +-1/sqrt(fan_in), from the table. */
function initParams(net: Network, rng: Rng): Params {
  const params: Params = {};
  for (const s of parameterTable(net).slots) {
    if ('fill' in s.init) {
      params[s.name] = new Float64Array(s.length).fill(s.init.fill);
      continue;
    }
    const bound = 1 / Math.sqrt(s.init.fanIn);
    params[s.name] = Float64Array.from({ length: s.length }, () => rng.uniform(-bound, bound));
  }
  return params;
}

const inputSize = (net: Network) => net.input[0] * net.input[1] * net.input[2];

/** What PyTorch itself says of the tutorial's module (test/fixtures/pytorch-state-dict.py). */
const PYTORCH = JSON.parse(readFileSync('test/fixtures/pytorch-state-dict.json', 'utf8')) as { state_dict: [string, number[]][]; parameters: number; print: string };

test('LeNet-5 parameter table: the names, shapes and count of PyTorch\'s state_dict, fan-in; lenet5-relu has the same', () => {
  const t = parameterTable(LENET5);
  assert.equal(t.slots.map((s) => [s.name, s.shape]), PYTORCH.state_dict);
  assert.is(t.count, PYTORCH.parameters);
  // fan_in: a weight's elements per output; its bias has its weight's.
  for (let i = 0; i < t.slots.length; i += 2) {
    const [w, b] = [t.slots[i], t.slots[i + 1]];
    assert.equal(w.init, { fanIn: w.length / w.shape[0] }, w.name);
    assert.equal(b.init, w.init, b.name);
  }
  assert.ok(t.slots.every((s) => s.offset % 64 === 0), 'every tensor starts on 256 bytes');
  assert.equal(parameterTable(LENET5_RELU).slots, t.slots);
});

test('the summary prints the module as PyTorch does, then the forward pass', () => {
  const summary = modelSummary(LENET5);
  assert.ok(summary.startsWith(`${PYTORCH.print}\n`), summary);
  const flat = PYTORCH.state_dict.find(([name]) => name === 'fc1.weight')![1][1];
  assert.ok(summary.includes(`forward: conv1 -> relu -> maxpool1 -> conv2 -> maxpool2 -> flatten(${flat}) -> fc1 -> relu -> fc2 -> relu -> fc3 -> log_softmax`), summary);
  assert.ok(summary.includes(`parameters: ${PYTORCH.parameters.toLocaleString('en-US')}`), summary);
  assert.match(modelSummary(LENET5_RELU), /conv2 -> relu -> maxpool2/);
});

test('network descriptions: a mistake is an error naming the layer and what does not fit', () => {
  const bad = (layers: Network['layers'], message: RegExp) =>
    assert.throws(() => resolve({ name: 'bad', description: '', input: [1, 8, 8], layers }), message);
  bad([conv2d('c', 2, 4, 3), flatten(), linear('f', 144, 2), logSoftmax()], /layer 1 \(conv2d "c"\): expects 2 input channels, gets 1/);
  bad([conv2d('c', 1, 4, 3), flatten(), linear('f', 100, 2), logSoftmax()], /layer 3 \(linear "f"\): expects 100 input features, gets 144/);
  bad([conv2d('c', 1, 4, 3), linear('f', 144, 2), logSoftmax()], /needs a flat input, gets 4x6x6: put a flatten before it/);
  bad([conv2d('c', 1, 4, 9), flatten(), linear('f', 4, 2), logSoftmax()], /kernel 9 is larger than its 8x8 input/);
  bad([maxpool2d(), relu(), flatten(), linear('f', 16, 2), logSoftmax()], /a ReLU must come right after a conv2d or linear layer/);
  bad([conv2d('c', 1, 4, 3), maxpool2d(3), flatten(), linear('f', 16, 2), logSoftmax()], /only 2x2 max-pooling/);
  bad([conv2d('c', 1, 4, 3), flatten(), linear('c', 144, 2), logSoftmax()], /the name "c" is used twice/);
  bad([conv2d('c', 1, 4, 3), flatten(), linear('f', 144, 2)], /the last layer must be log_softmax/);
  bad([conv2d('c', 1, 4, 3), flatten(), linear('f', 144, 2), relu(), logSoftmax()], /log_softmax must follow a linear layer without a ReLU/);
});

test('LeNet-5 forward: activation sizes, no ReLU after conv2 (as the tutorial), bias-only logits; lenet5-relu has one', () => {
  const rng = rngFor(750);
  const batch = 2;
  const params = initParams(LENET5, rng);
  params['conv2.bias'].fill(-100); // every conv2 output is far below 0
  const input = normals(rng, batch * inputSize(LENET5));
  const { logp, act } = referenceForward(LENET5, params, input, batch);
  for (const [name, shape] of resolve(LENET5).activations) assert.is(act[name].length, batch * shape.reduce((a, b) => a * b, 1), name);
  assert.is(logp.length, batch * 10);
  assert.ok(act.pool2.every((v) => v < 0), where('pool2 must keep negative conv2 outputs'));
  assert.ok(act.conv1.every((v) => v >= 0) && act.fc1.every((v) => v >= 0), where('conv1 and fc1 are ReLU\'d'));
  assert.ok(referenceForward(LENET5_RELU, params, input, batch).act.pool2.every((v) => v === 0), where('lenet5-relu: ReLU after conv2'));
  // With fc3's weight zero the logits are its bias, whatever the input.
  params['fc3.weight'].fill(0);
  params['fc3.bias'].set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const expected = logSoftmaxForward(1, 10, Float64Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
  const got = referenceForward(LENET5, params, input, batch).logp;
  for (let n = 0; n < batch; n++) expected.forEach((e, k) => close(got[n * 10 + k], e, 1e-15, `bias-only logp [${n},${k}]`));
});

/** ReLU signs and max-pool choices: the loss is smooth in a neighbourhood where these stay the same. */
function pattern(net: Network, params: Params, input: Float64Array, batch: number): string {
  const f = referenceForward(net, params, input, batch);
  const signs = (v: Float64Array) => Array.from(v, (x) => (x > 0 ? '1' : '0')).join('');
  return [...Object.values(f.preRelu).map(signs), ...Object.values(f.saved).map((a) => (a as Uint32Array).join())].join('|');
}

/** The largest of 1e-6, 1e-7, 1e-8 whose +-step along x[i] crosses no ReLU kink and changes no max-pool choice. */
function smoothStep(net: Network, params: Params, x: Float64Array, i: number, input: Float64Array, batch: number): number | undefined {
  const old = x[i];
  for (const h of [H, H / 10, H / 100]) {
    x[i] = old + h;
    const plus = pattern(net, params, input, batch);
    x[i] = old - h;
    const minus = pattern(net, params, input, batch);
    x[i] = old;
    if (plus === minus) return h;
  }
  return undefined;
}

for (const [net, seed] of [[LENET5, 800], [LENET5_RELU, 820], [SMALL, 840]] as const) {
  test(`${net.name} gradients vs finite differences, every parameter tensor`, () => {
    const rng = rngFor(seed);
    const batch = 3;
    const params = initParams(net, rng);
    const input = normals(rng, batch * inputSize(net));
    const classes = resolve(net).classes;
    const labels = Uint32Array.from({ length: batch }, () => rng.int(classes));
    const { loss, grads, logp } = referenceGradients(net, params, input, labels, batch);
    close(loss, referenceLoss(net, params, input, labels, batch), 1e-15, 'loss');
    assert.equal(Array.from(logp), Array.from(referenceForward(net, params, input, batch).logp), where('logp'));
    const f = () => referenceLoss(net, params, input, labels, batch);
    let checked = 0, skipped = 0;
    for (const { name } of parameterTable(net).slots) {
      const x = params[name];
      // Every coordinate of a small tensor, 12 random ones of a big one.
      const coords = x.length <= 16 ? [...x.keys()] : Array.from({ length: 12 }, () => rng.int(x.length));
      for (const i of coords) {
        const h = smoothStep(net, params, x, i, input, batch);
        if (h === undefined) {
          skipped++; // a kink within 1e-8 of this coordinate: vanishingly rare
          continue;
        }
        checkGrad(`${net.name} ${name}`, x, grads[name], f, [i], h);
        checked++;
      }
    }
    assert.ok(skipped <= 2, where(`${skipped} of ${checked + skipped} coordinates had no smooth step`));
  });
}

test('LeNet-5 train step: state, and 20 steps on a fixed batch lower the loss', () => {
  const rng = rngFor(900);
  const batch = 4;
  const params = initParams(LENET5, rng);
  const names = Object.keys(params);
  const input = normals(rng, batch * inputSize(LENET5));
  const labels = Uint32Array.from({ length: batch }, () => rng.int(10));
  const state = newAdamState(params);
  assert.is(state.step, 0);
  // The first step equals gradients + adamStep with step 1.
  const expected: Params = {};
  for (const name of names) expected[name] = params[name].slice();
  const { loss: loss0, grads } = referenceGradients(LENET5, params, input, labels, batch);
  for (const name of names) {
    const n = params[name].length;
    adamStep(expected[name], grads[name], new Float64Array(n), new Float64Array(n), 1, ADAM_DEFAULTS);
  }
  const losses = [referenceTrainStep(LENET5, params, state, input, labels, batch)];
  assert.is(losses[0], loss0, where('train step returns the loss before the update'));
  assert.is(state.step, 1);
  for (const name of names) assert.equal(Array.from(params[name]), Array.from(expected[name]), where(`first step ${name}`));
  for (let k = 1; k < 20; k++) losses.push(referenceTrainStep(LENET5, params, state, input, labels, batch));
  const final = referenceLoss(LENET5, params, input, labels, batch);
  assert.is(state.step, 20);
  assert.ok(final < 0.7 * losses[0], where(`loss ${losses[0]} -> ${final} (${losses.map((l) => l.toFixed(3)).join(' ')})`));
});

test.run();
