// maxpool2d, relu, log_softmax and nll_loss kernels against the float64 reference.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { submit } from '../../src/gpu/dispatch';
import type { Runtime } from '../../src/gpu/runtime';
import { LogSoftmax } from '../../src/ops/log_softmax';
import { MaxPool2d, type Pool2dShape } from '../../src/ops/maxpool2d';
import { NllLoss } from '../../src/ops/nll_loss';
import { Relu } from '../../src/ops/relu';
import * as ref from '../../src/reference/ops';
import { Rng } from '../../src/util/rng';
import { assertClose, fromValues, freshSeed, openRuntime, poisoned, poisonedU32, randomInput } from '../helpers/gpu';

const test = suite('pointwise');
let rt: Runtime;
test.before(async () => {
  rt = await openRuntime();
});
test.after(() => rt.destroy());

const pools: [string, Pool2dShape][] = [
  ['LeNet-5 pool1', { batch: 64, channels: 6, height: 28, width: 28 }],
  ['LeNet-5 pool2', { batch: 64, channels: 16, height: 10, width: 10 }],
  ['batch 1, odd sizes', { batch: 1, channels: 3, height: 7, width: 9 }],
  ['awkward', { batch: 3, channels: 5, height: 11, width: 6 }],
];

for (const [name, s] of pools) {
  test(`maxpool2d ${name}: forward, argmax and backward match the reference`, async () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const pool = await MaxPool2d.create(rt, s);
    const outShape = [s.batch, s.channels, Math.floor(s.height / 2), Math.floor(s.width / 2)];
    const input = randomInput(rt, rng, 'input', [s.batch, s.channels, s.height, s.width]);
    const doutput = randomInput(rt, rng, 'doutput', outShape);
    const output = poisoned(rt, 'output', outShape);
    const argmax = poisonedU32(rt, 'argmax', outShape);
    const dinput = poisoned(rt, 'dinput', input.tensor.shape);
    submit(rt, [
      pool.forward({ input: input.tensor, output, argmax }),
      pool.backward({ doutput: doutput.tensor, saved_argmax: argmax, dinput }),
    ]);
    const expected = ref.maxpool2dForward(s, input.values);
    assertClose('output', await rt.read(output), expected.output, seed);
    assert.equal(Array.from(await rt.readU32(argmax)), Array.from(expected.argmax), `argmax (seed ${seed})`);
    assertClose('dinput', await rt.read(dinput), ref.maxpool2dBackward(s, doutput.values, expected.argmax), seed);
  });
}

test('maxpool2d backward_relu: the gradient through a ReLU and the pool together', async () => {
  const seed = freshSeed();
  const rng = new Rng(seed);
  const s = { batch: 3, channels: 6, height: 28, width: 27 };
  const pool = await MaxPool2d.create(rt, s);
  const outShape = [s.batch, s.channels, 14, 13];
  // The pool's input is a ReLU's output: windows of zeros (all inputs were negative) occur.
  const pre = randomInput(rt, rng, 'pre-activation', [s.batch, s.channels, s.height, s.width], -1, 0.3);
  const relu = ref.reluForward(pre.values);
  const input = fromValues(rt, 'input', pre.tensor.shape, Float32Array.from(relu));
  const doutput = randomInput(rt, rng, 'doutput', outShape);
  const output = poisoned(rt, 'output', outShape);
  const argmax = poisonedU32(rt, 'argmax', outShape);
  const dinput = poisoned(rt, 'dinput', pre.tensor.shape);
  submit(rt, [
    pool.forward({ input: input.tensor, output, argmax }),
    pool.backwardRelu({ doutput: doutput.tensor, saved_argmax: argmax, saved_output: output, dinput }),
  ]);
  const expected = ref.maxpool2dForward(s, relu);
  const throughPool = ref.maxpool2dBackward(s, doutput.values, expected.argmax);
  assertClose('dinput', await rt.read(dinput), ref.reluBackward(throughPool, relu), seed);
});

test('maxpool2d: ties go to the first element in scan order, as PyTorch', async () => {
  const s = { batch: 1, channels: 2, height: 4, width: 4 };
  const pool = await MaxPool2d.create(rt, s);
  const data = new Float32Array(32);
  data.fill(1, 16); // plane 0 all zeros, plane 1 all ones
  const input = fromValues(rt, 'input', [1, 2, 4, 4], data);
  const output = poisoned(rt, 'output', [1, 2, 2, 2]);
  const argmax = poisonedU32(rt, 'argmax', [1, 2, 2, 2]);
  submit(rt, [pool.forward({ input: input.tensor, output, argmax })]);
  assert.equal(Array.from(await rt.readU32(argmax)), Array.from(ref.maxpool2dForward(s, input.values).argmax));
  assert.equal(Array.from(await rt.readU32(argmax)), [0, 2, 8, 10, 0, 2, 8, 10]);
});

for (const count of [1, 63, 64 * 6 * 28 * 28, 100_003]) {
  test(`relu on ${count} elements: forward and backward match the reference`, async () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const relu = await Relu.create(rt, count);
    const input = randomInput(rt, rng, 'input', [count]);
    const doutput = randomInput(rt, rng, 'doutput', [count]);
    const output = poisoned(rt, 'output', [count]);
    const dinput = poisoned(rt, 'dinput', [count]);
    submit(rt, [relu.forward({ input: input.tensor, output }), relu.backward({ doutput: doutput.tensor, saved_output: output, dinput })]);
    const expected = ref.reluForward(input.values);
    assertClose('output', await rt.read(output), expected, seed);
    assertClose('dinput', await rt.read(dinput), ref.reluBackward(doutput.values, expected), seed);
  });
}

for (const [batch, classes, scale] of [
  [64, 10, 5],
  [1, 10, 5],
  [67, 13, 5],
  [5, 10, 1000], // huge logits: finite only because the row max is subtracted
  [6000, 10, 5], // one invocation over batch x classes passed llvmpipe's 65,535 loop iterations from 5,462 on
]) {
  test(`log_softmax + nll_loss, batch ${batch}, ${classes} classes, logits up to ${scale}`, async () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const softmax = await LogSoftmax.create(rt, batch, classes);
    const nll = await NllLoss.create(rt, batch, classes);
    const logits = randomInput(rt, rng, 'logits', [batch, classes], -scale, scale);
    const doutput = randomInput(rt, rng, 'doutput', [batch, classes]);
    const labelValues = Uint32Array.from({ length: batch }, () => rng.int(classes));
    const labels = rt.tensor('labels', [batch]);
    rt.write(labels, labelValues);
    const logp = poisoned(rt, 'log_probs', [batch, classes]);
    const dinput = poisoned(rt, 'dinput', [batch, classes]);
    const loss = poisoned(rt, 'loss', [1]);
    const dlogp = poisoned(rt, 'dlog_probs', [batch, classes]);
    const dlogits = poisoned(rt, 'dlogits', [batch, classes]);
    const metrics = rt.tensor('metrics', [3]);
    rt.write(metrics, Float32Array.of(1, 2, 3));
    submit(rt, [
      softmax.forward({ input: logits.tensor, output: logp }),
      softmax.backward({ doutput: doutput.tensor, saved_output: logp, dinput }),
      nll.forward({ log_probs: logp, labels, loss }),
      nll.backward({ labels, dlog_probs: dlogp }),
      nll.backwardFused({ log_probs: logp, labels, dlogits }),
      nll.accumulate({ log_probs: logp, labels, metrics }),
    ]);
    const expected = ref.logSoftmaxForward(batch, classes, logits.values);
    const gpuLogp = await rt.read(logp);
    assertClose('log_softmax output', gpuLogp, expected, seed);
    // The backward kernels are checked on the inputs they were given: the GPU's own
    // forward output (with logits of 1000, float32 log-probabilities are off by ~6e-5
    // in absolute terms, which exp() in the backward formula would pass on).
    const saved = Float64Array.from(gpuLogp);
    assertClose('log_softmax dinput', await rt.read(dinput), ref.logSoftmaxBackward(batch, classes, doutput.values, saved), seed);
    const expectedLoss = ref.nllLossForward(batch, classes, saved, labelValues);
    assertClose('loss', await rt.read(loss), [expectedLoss], seed);
    assertClose('dlog_probs', await rt.read(dlogp), ref.nllLossBackward(batch, classes, labelValues), seed);
    assertClose('dlogits', await rt.read(dlogits), ref.crossEntropyBackward(batch, classes, saved, labelValues), seed);
    let correct = 0;
    for (let n = 0; n < batch; n++) {
      const row = Array.from(gpuLogp.subarray(n * classes, (n + 1) * classes));
      if (row.indexOf(Math.max(...row)) === labelValues[n]) correct++;
    }
    assertClose('metrics', await rt.read(metrics), [1 + expectedLoss * batch, 2 + correct, 3 + batch], seed);
  });
}

test.run();
