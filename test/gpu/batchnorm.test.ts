// batchnorm.wgsl against the float64 reference (src/reference/batchnorm.ts): training
// forward (output, batch statistics, running statistics after one and after two
// forwards), eval forward, and training backward, on lenet-like 2d and 1d shapes and
// awkward ones, one whose batch x spatial values pass llvmpipe's 65,535 loop iterations;
// parameters given as ranges of one flat buffer; the same bits from a step run twice;
// PyTorch's refusal of one value per channel.
import * as assert from 'uvu/assert';
import { submit } from '../../src/gpu/dispatch';
import type { Runtime, Tensor } from '../../src/gpu/runtime';
import { BatchNorm } from '../../src/ops/batchnorm';
import { batchnormTensorShapes, type BatchNormHyper, type BatchNormShape } from '../../src/ops/shapes';
import * as ref from '../../src/reference/batchnorm';
import { Rng } from '../../src/util/rng';
import { assertClose, freshSeed, gpuSuite, poisoned, randomInput, RTOL } from '../helpers/gpu';
import { checkOp } from '../helpers/op-harness';

const test = gpuSuite('batchnorm');

/** Not the defaults: the shader must take both from its uniforms. */
const HYPER: BatchNormHyper = { eps: 1e-3, momentum: 0.25 };

/**
 * With two values per channel both xhat are +-sqrt(var / (var + eps)), and dinput is
 * eps / (var + eps) times the size of doutput: the formula's difference cancels all
 * but that, and float32 keeps ~1e-7 * (var + eps) / eps of it relative (as PyTorch's
 * float32 kernels). A larger eps keeps that within the test's 1e-5.
 */
const TWO_VALUES: BatchNormHyper = { eps: 0.1, momentum: 0.25 };

const shapes: [string, BatchNormShape, BatchNormHyper?][] = [
  ['lenet-like 2d [64, 6, 28, 28]', { batch: 64, channels: 6, spatial: 28 * 28 }],
  ['lenet-like 2d [64, 16, 10, 10]', { batch: 64, channels: 16, spatial: 10 * 10 }],
  ['lenet-like 1d [64, 120]', { batch: 64, channels: 120, spatial: 1 }],
  ['awkward 2d [3, 5, 7, 9]', { batch: 3, channels: 5, spatial: 7 * 9 }],
  ['2d batch 1 [1, 3, 4, 5]', { batch: 1, channels: 3, spatial: 4 * 5 }],
  ['1d batch 2 [2, 3]', { batch: 2, channels: 3, spatial: 1 }, TWO_VALUES],
  // 100 x 784 = 78,400 values per channel: one loop over them would pass llvmpipe's 65,535 iterations.
  ['large 2d [100, 2, 28, 28]', { batch: 100, channels: 2, spatial: 28 * 28 }],
  ['large 1d [1500, 7]', { batch: 1500, channels: 7, spatial: 1 }],
];

/** Running statistics as a layer has them: means about 0, variances positive. */
const RUNNING = { mean: { range: [-1, 1] as const }, var: { range: [0.5, 2] as const } };

function tensorsOf(s: BatchNormShape) {
  const t = batchnormTensorShapes(s);
  return { ...t, running_mean: { shape: t.running_mean, ...RUNNING.mean }, running_var: { shape: t.running_var, ...RUNNING.var } };
}

/**
 * The op's (mean, invstd) pairs against the reference's: invstd relative to itself,
 * the mean in standard deviations (a mean near 0 has no relative precision to keep:
 * float32 sums of values of spread 1 leave it ~1e-8 off).
 */
async function checkStats(rt: Runtime, bn: BatchNorm, want: { mean: Float64Array; invstd: Float64Array }, seed: number) {
  const got = await rt.read(bn.stats!);
  assertClose('stats (invstd)', got.filter((_, i) => i % 2 === 1), want.invstd, seed);
  want.mean.forEach((m, c) => {
    const off = Math.abs(got[2 * c] - m) * want.invstd[c];
    assert.ok(off <= RTOL, `stats (mean) of channel ${c}: ${got[2 * c]}, expected ${m}: ${off.toExponential(3)} standard deviations off (seed ${seed})`);
  });
}

for (const [name, s, hyper = HYPER] of shapes) {
  test(`${name}: training forward, its batch statistics and running statistics match the reference`, async ({ rt }) => {
    const bn = await BatchNorm.create(rt, s, hyper);
    const t = tensorsOf(s);
    let expected: ReturnType<typeof ref.batchnormForwardTrain> | undefined;
    const { seed } = await checkOp(rt, {
      inputs: { input: t.input, weight: t.weight, bias: t.bias },
      outputs: { output: t.output, running_mean: t.running_mean, running_var: t.running_var },
      dispatches: (x) => [bn.forwardTrain(x)],
      reference: (x) => {
        expected = ref.batchnormForwardTrain(s, x.input, x.weight, x.bias, x.running_mean, x.running_var, hyper);
        return { output: expected.output, running_mean: expected.runningMean, running_var: expected.runningVar };
      },
    });
    await checkStats(rt, bn, expected!, seed);
  });

  test(`${name}: two training forwards update the running statistics twice; eval forward uses them`, async ({ rt }) => {
    const bn = await BatchNorm.create(rt, s, hyper);
    const t = tensorsOf(s);
    await checkOp(rt, {
      inputs: { input: t.input, input2: t.input, input3: t.input, weight: t.weight, bias: t.bias },
      outputs: { output: t.output, output2: t.output, eval_output: t.output, running_mean: t.running_mean, running_var: t.running_var },
      dispatches: (x) => {
        const p = { weight: x.weight, bias: x.bias, running_mean: x.running_mean, running_var: x.running_var };
        return [
          bn.forwardTrain({ ...p, input: x.input, output: x.output }),
          bn.forwardTrain({ ...p, input: x.input2, output: x.output2 }),
          bn.forwardEval({ ...p, input: x.input3, output: x.eval_output }),
        ];
      },
      reference: (x) => {
        const first = ref.batchnormForwardTrain(s, x.input, x.weight, x.bias, x.running_mean, x.running_var, hyper);
        const second = ref.batchnormForwardTrain(s, x.input2, x.weight, x.bias, first.runningMean, first.runningVar, hyper);
        return {
          output: first.output,
          output2: second.output,
          eval_output: ref.batchnormForwardEval(s, x.input3, x.weight, x.bias, second.runningMean, second.runningVar, hyper.eps),
          running_mean: second.runningMean,
          running_var: second.runningVar,
        };
      },
    });
  });

  test(`${name}: training backward (input, weight and bias gradients) matches the reference`, async ({ rt }) => {
    const bn = await BatchNorm.create(rt, s, hyper);
    const t = tensorsOf(s);
    await checkOp(rt, {
      inputs: { input: t.input, weight: t.weight, bias: t.bias, doutput: t.output },
      outputs: { output: t.output, running_mean: t.running_mean, running_var: t.running_var, dinput: t.input, dweight: t.weight, dbias: t.bias },
      // dbias and dweight sum M = batch x spatial terms of about 0.5 in size to a total
      // of about sqrt(M) / 2: float32 keeps that sum to a few 1e-8 of M, not always to
      // 1e-5 of itself (78,400 terms gave 1.3e-5 once). Each element within 2e-7 x M.
      atol: { dweight: 2e-7 * s.batch * s.spatial, dbias: 2e-7 * s.batch * s.spatial },
      dispatches: (x) => [
        bn.forwardTrain(x),
        bn.backward({ doutput: x.doutput, input: x.input, weight: x.weight, dweight: x.dweight, dbias: x.dbias, dinput: x.dinput }),
      ],
      reference: (x) => {
        const f = ref.batchnormForwardTrain(s, x.input, x.weight, x.bias, x.running_mean, x.running_var, hyper);
        return { output: f.output, running_mean: f.runningMean, running_var: f.runningVar, ...ref.batchnormBackward(s, x.doutput, x.input, x.weight, hyper.eps) };
      },
    });
  });
}

test('default eps and momentum: PyTorch\'s', async ({ rt }) => {
  const s = shapes[3][1];
  const bn = await BatchNorm.create(rt, s);
  const t = tensorsOf(s);
  await checkOp(rt, {
    inputs: { input: t.input, weight: t.weight, bias: t.bias },
    outputs: { output: t.output, running_mean: t.running_mean, running_var: t.running_var },
    dispatches: (x) => [bn.forwardTrain(x)],
    reference: (x) => {
      const f = ref.batchnormForwardTrain(s, x.input, x.weight, x.bias, x.running_mean, x.running_var);
      return { output: f.output, running_mean: f.runningMean, running_var: f.runningVar };
    },
  });
});

// A mean 36 standard deviations from 0: per-image sums of x^2 minus a square would be
// ~1e-4 off in the output (tried), float32 rounding of the mean alone ~1e-6. (The
// gradients there are bounded by that rounding: dweight is off by it times sum dy,
// ~5e-6 of dweight at this offset, as in any float32 kernel that keeps the mean in one
// float32, so this case checks the forward pass.)
for (const [name, s] of [shapes[0], shapes[2]]) {
  test(`${name}, inputs in [10, 11): the statistics stay accurate far from 0`, async ({ rt }) => {
    const bn = await BatchNorm.create(rt, s, HYPER);
    const t = tensorsOf(s);
    let expected: ReturnType<typeof ref.batchnormForwardTrain> | undefined;
    const { seed } = await checkOp(rt, {
      inputs: { input: { shape: t.input, range: [10, 11] }, weight: t.weight, bias: t.bias },
      outputs: { output: t.output, running_mean: t.running_mean, running_var: t.running_var },
      dispatches: (x) => [bn.forwardTrain(x)],
      reference: (x) => {
        expected = ref.batchnormForwardTrain(s, x.input, x.weight, x.bias, x.running_mean, x.running_var, HYPER);
        return { output: expected.output, running_mean: expected.runningMean, running_var: expected.runningVar };
      },
    });
    await checkStats(rt, bn, expected!, seed);
  });
}

for (const [name, s] of [shapes[1], shapes[2]]) {
  test(`${name}, inputGrad false: backward gives the weight and bias gradients alone`, async ({ rt }) => {
    const bn = await BatchNorm.create(rt, s, { ...HYPER, inputGrad: false });
    const t = tensorsOf(s);
    await checkOp(rt, {
      inputs: { input: t.input, weight: t.weight, bias: t.bias, doutput: t.output },
      outputs: { output: t.output, running_mean: t.running_mean, running_var: t.running_var, dweight: t.weight, dbias: t.bias },
      dispatches: (x) => [bn.forwardTrain(x), bn.backward({ doutput: x.doutput, input: x.input, weight: x.weight, dweight: x.dweight, dbias: x.dbias })],
      reference: (x) => {
        const f = ref.batchnormForwardTrain(s, x.input, x.weight, x.bias, x.running_mean, x.running_var, HYPER);
        const g = ref.batchnormBackward(s, x.doutput, x.input, x.weight, HYPER.eps);
        return { output: f.output, running_mean: f.runningMean, running_var: f.runningVar, dweight: g.dweight, dbias: g.dbias };
      },
    });
    assert.throws(
      () => bn.backward({ doutput: rt.tensor('d', t.output), input: rt.tensor('i', t.input), weight: rt.tensor('w', t.weight), dweight: rt.tensor('dw', t.weight), dbias: rt.tensor('db', t.bias), dinput: rt.tensor('di', t.input) }),
      /batchnorm\.backward_input: this batchnorm was created without the input's gradient/,
    );
  });
}

/** A range of a buffer, at a 256-byte offset. */
function view(buffer: GPUBuffer, offset: number, shape: readonly number[]): Tensor {
  return { buffer, offset, shape, length: shape.reduce((a, b) => a * b, 1) };
}

for (const [name, s] of [shapes[1], shapes[2]]) {
  test(`${name}: weight, bias and running statistics in one buffer, dweight and dbias in another`, async ({ rt }) => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const t = batchnormTensorShapes(s);
    const slot = Math.ceil((s.channels * 4) / 256) * 256;
    const params = rt.buffer('parameters', 4 * slot);
    const grads = rt.buffer('gradients', 2 * slot);
    const [weight, bias, running_mean, running_var] = [0, 1, 2, 3].map((k) => view(params, k * slot, [s.channels]));
    const [dweight, dbias] = [0, 1].map((k) => view(grads, k * slot, [s.channels]));
    const values = (lo: number, hi: number) => Float32Array.from({ length: s.channels }, () => rng.uniform(lo, hi));
    const host = { weight: values(-1, 1), bias: values(-1, 1), running_mean: values(-1, 1), running_var: values(0.5, 2) };
    for (const [k, v] of Object.entries(host)) rt.write({ weight, bias, running_mean, running_var }[k as keyof typeof host], v);
    const input = randomInput(rt, rng, 'input', t.input);
    const doutput = randomInput(rt, rng, 'doutput', t.output);
    const [output, dinput, evalOutput] = [poisoned(rt, 'output', t.output), poisoned(rt, 'dinput', t.input), poisoned(rt, 'eval output', t.output)];
    const bn = await BatchNorm.create(rt, s, HYPER);
    const p = { weight, bias, running_mean, running_var };
    submit(rt, [
      ...bn.forwardTrain({ ...p, input: input.tensor, output }),
      ...bn.backward({ doutput: doutput.tensor, input: input.tensor, weight, dweight, dbias, dinput }),
      bn.forwardEval({ ...p, input: input.tensor, output: evalOutput }),
    ]);
    await rt.sync();
    const x = Object.fromEntries(Object.entries(host).map(([k, v]) => [k, Float64Array.from(v)])) as Record<keyof typeof host, Float64Array>;
    const f = ref.batchnormForwardTrain(s, input.values, x.weight, x.bias, x.running_mean, x.running_var, HYPER);
    const g = ref.batchnormBackward(s, doutput.values, input.values, x.weight, HYPER.eps);
    const want: [string, Tensor, ArrayLike<number>][] = [
      ['output', output, f.output],
      ['running_mean', running_mean, f.runningMean],
      ['running_var', running_var, f.runningVar],
      ['dinput', dinput, g.dinput],
      ['dweight', dweight, g.dweight],
      ['dbias', dbias, g.dbias],
      ['eval output', evalOutput, ref.batchnormForwardEval(s, input.values, x.weight, x.bias, f.runningMean, f.runningVar, HYPER.eps)],
      ['weight (unchanged)', weight, x.weight],
      ['bias (unchanged)', bias, x.bias],
    ];
    const got = await rt.readTensors(want.map((w) => w[1]));
    want.forEach(([what, , expected], i) => assertClose(what, got[i], expected, seed));
  });
}

test(`${shapes[0][0]}: a training step run twice gives the same bits`, async ({ rt }) => {
  const s = shapes[0][1];
  const seed = freshSeed();
  const rng = new Rng(seed);
  const t = batchnormTensorShapes(s);
  const [input, weight, bias, doutput] = (['input', 'weight', 'bias', 'output'] as const).map((k) => randomInput(rt, rng, k, t[k]).tensor);
  const bn = await BatchNorm.create(rt, s, HYPER);
  const results: Float32Array[][] = [];
  for (let run = 0; run < 2; run++) {
    const [running_mean, running_var] = [rt.tensor('running_mean', t.running_mean), rt.tensor('running_var', t.running_var)];
    rt.write(running_var, new Float32Array(s.channels).fill(1));
    const [output, dinput, dweight, dbias] = [poisoned(rt, 'output', t.output), poisoned(rt, 'dinput', t.input), poisoned(rt, 'dweight', t.weight), poisoned(rt, 'dbias', t.bias)];
    submit(rt, [...bn.forwardTrain({ input, weight, bias, running_mean, running_var, output }), ...bn.backward({ doutput, input, weight, dweight, dbias, dinput })]);
    results.push(await rt.readTensors([output, running_mean, running_var, bn.stats!, dinput, dweight, dbias]));
  }
  ['output', 'running_mean', 'running_var', 'stats', 'dinput', 'dweight', 'dbias'].forEach((what, i) => {
    const at = results[0][i].findIndex((v, j) => !Object.is(v, results[1][i][j]));
    assert.is(at, -1, `${what} differs at ${at} (seed ${seed})`);
  });
});

test('one value per channel: training is refused with PyTorch\'s message, eval is not', async ({ rt }) => {
  const s: BatchNormShape = { batch: 1, channels: 120, spatial: 1 };
  const bn = await BatchNorm.create(rt, s);
  const t = batchnormTensorShapes(s);
  const input = rt.tensor('input', [1, 120]);
  const p = { input, weight: rt.tensor('w', t.weight), bias: rt.tensor('b', t.bias), running_mean: rt.tensor('rm', t.running_mean), running_var: rt.tensor('rv', t.running_var), output: rt.tensor('o', t.output) };
  assert.throws(() => bn.forwardTrain(p), /^batchnorm\.forwardTrain: Expected more than 1 value per channel when training, got input size \[1, 120\]$/);
  assert.throws(
    () => bn.backward({ doutput: p.output, input, weight: p.weight, dweight: rt.tensor('dw', t.weight), dbias: rt.tensor('db', t.bias) }),
    /^batchnorm\.backward: Expected more than 1 value per channel when training/,
  );
  bn.forwardEval(p);
  // Batch 1 with more than one value per image trains (nn.BatchNorm2d does).
  const two = await BatchNorm.create(rt, { batch: 1, channels: 1, spatial: 2 });
  const q = batchnormTensorShapes({ batch: 1, channels: 1, spatial: 2 });
  two.forwardTrain({ input: rt.tensor('i', q.input), weight: rt.tensor('w', [1]), bias: rt.tensor('b', [1]), running_mean: rt.tensor('rm', [1]), running_var: rt.tensor('rv', [1]), output: rt.tensor('o', q.output) });
});

test('an eval-only batchnorm (backward: false) refuses training; sizes and limits are checked', async ({ rt }) => {
  const s: BatchNormShape = { batch: 4, channels: 3, spatial: 5 };
  const bn = await BatchNorm.create(rt, s, { backward: false });
  const t = batchnormTensorShapes(s);
  const p = { input: rt.tensor('i', t.input), weight: rt.tensor('w', t.weight), bias: rt.tensor('b', t.bias), running_mean: rt.tensor('rm', t.running_mean), running_var: rt.tensor('rv', t.running_var), output: rt.tensor('o', t.output) };
  bn.forwardEval(p);
  assert.throws(() => bn.forwardTrain(p), /batchnorm\.forwardTrain: this batchnorm was created for eval only \(backward: false\)/);
  assert.throws(() => bn.forwardEval({ ...p, running_var: rt.tensor('x', [4]) }), /batchnorm\.forwardEval: running_var has 4 elements \[4\], expected 3/);
  await BatchNorm.create(rt, { batch: 2, channels: 1, spatial: 32_766 }, { backward: false }); // 65,534 iterations: allowed
  let refused = '';
  await BatchNorm.create(rt, { batch: 2, channels: 1, spatial: 32_767 }).catch((e: Error) => (refused = e.message));
  assert.match(refused, /32,767 values per image and channel are more than one invocation may loop over/);
  assert.equal(BatchNorm.perImage({ channels: 6, spatial: 784 }), [{ label: 'partial sums', shape: [6, 2] }]);
  assert.equal(BatchNorm.perImage({ channels: 120, spatial: 1 }), []);
  assert.is(BatchNorm.batchLoopIterations(1000), 1001);
});

test.run();
