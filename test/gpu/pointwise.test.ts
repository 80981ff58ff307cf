// maxpool2d, log_softmax and nll_loss kernels against the float64 reference,
// on lenet5's shapes (from its description) and on awkward ones.
import * as assert from 'uvu/assert';
import { LENET5, resolve } from '../../src/model/network';
import { LogSoftmax } from '../../src/ops/log_softmax';
import { MaxPool2d } from '../../src/ops/maxpool2d';
import { NllLoss } from '../../src/ops/nll_loss';
import { pool2dTensorShapes, type Pool2dShape } from '../../src/ops/shapes';
import * as ref from '../../src/reference/ops';
import { gpuSuite } from '../helpers/gpu';
import { BATCH, stagesOf } from '../helpers/network';
import { afterRelu, checkOp } from '../helpers/op-harness';

const test = gpuSuite('pointwise');
const lenetPools = stagesOf(LENET5, 'maxpool2d');

const pools: [string, Pool2dShape][] = [
  ...lenetPools.map((s): [string, Pool2dShape] => [`lenet5 ${s.name}`, s.shape]),
  ['batch 1, odd sizes', { batch: 1, channels: 3, height: 7, width: 9 }],
  ['awkward', { batch: 3, channels: 5, height: 11, width: 6 }],
];

for (const [name, s] of pools) {
  test(`maxpool2d ${name}: forward, argmax and backward match the reference`, async ({ rt }) => {
    const pool = await MaxPool2d.create(rt, s);
    const { input, output } = pool2dTensorShapes(s);
    await checkOp(rt, {
      inputs: { input, doutput: output },
      outputs: { output, argmax: { shape: output, type: 'u32' }, dinput: input },
      dispatches: (t) => [
        pool.forward({ input: t.input, output: t.output, argmax: t.argmax }),
        pool.backward({ doutput: t.doutput, saved_argmax: t.argmax, dinput: t.dinput }),
      ],
      reference: (x) => {
        const expected = ref.maxpool2dForward(s, x.input);
        return { ...expected, dinput: ref.maxpool2dBackward(s, x.doutput, expected.argmax) };
      },
    });
  });
}

test('maxpool2d backward_relu: the gradient through a ReLU and the pool together', async ({ rt }) => {
  // lenet5's first pool reads a ReLU's output; a small batch, and an odd width.
  const first = lenetPools[0].shape;
  const s: Pool2dShape = { ...first, batch: 3, width: first.width - 1 };
  const pool = await MaxPool2d.create(rt, s);
  const { input, output } = pool2dTensorShapes(s);
  await checkOp(rt, {
    // The pool's input is a ReLU's output: windows of zeros (all inputs were negative) occur.
    inputs: { input: { shape: input, values: afterRelu(-1, 0.3) }, doutput: output },
    outputs: { output, argmax: { shape: output, type: 'u32' }, dinput: input },
    dispatches: (t) => [
      pool.forward({ input: t.input, output: t.output, argmax: t.argmax }),
      pool.backwardRelu({ doutput: t.doutput, saved_argmax: t.argmax, saved_output: t.output, dinput: t.dinput }),
    ],
    reference: (x) => {
      const expected = ref.maxpool2dForward(s, x.input);
      const throughPool = ref.maxpool2dBackward(s, x.doutput, expected.argmax);
      return { ...expected, dinput: ref.reluBackward(throughPool, x.input) };
    },
  });
});

test('maxpool2d: ties go to the first element in scan order, as PyTorch', async ({ rt }) => {
  const s = { batch: 1, channels: 2, height: 4, width: 4 };
  const pool = await MaxPool2d.create(rt, s, { backward: false });
  const { input, output } = pool2dTensorShapes(s);
  const { gpu } = await checkOp(rt, {
    // plane 0 all zeros, plane 1 all ones
    inputs: { input: { shape: input, values: (_, length) => Array.from({ length }, (_, i) => (i < length / 2 ? 0 : 1)) } },
    outputs: { output, argmax: { shape: output, type: 'u32' } },
    dispatches: (t) => [pool.forward({ input: t.input, output: t.output, argmax: t.argmax })],
    reference: (x) => ref.maxpool2dForward(s, x.input),
  });
  assert.equal(Array.from(gpu.argmax), [0, 2, 8, 10, 0, 2, 8, 10]);
});

const classes = resolve(LENET5).classes;
for (const [batch, k, scale] of [
  [BATCH, classes, 5],
  [1, classes, 5],
  [67, 13, 5],
  [5, classes, 1000], // huge logits: finite only because the row max is subtracted
  [6000, classes, 5], // one invocation over batch x classes passed llvmpipe's 65,535 loop iterations from 5,462 on
]) {
  test(`log_softmax + nll_loss, batch ${batch}, ${k} classes, logits up to ${scale}`, async ({ rt }) => {
    const softmax = await LogSoftmax.create(rt, batch, k);
    const nll = await NllLoss.create(rt, batch, k, { unfused: true });
    const rows = [batch, k];
    const { gpu, seed } = await checkOp(rt, {
      inputs: { logits: { shape: rows, range: [-scale, scale] }, doutput: rows, labels: { shape: [batch], type: 'u32', range: [0, k] } },
      outputs: {
        log_probs: rows,
        dinput: rows,
        loss: [1],
        dlog_probs: rows,
        dlogits: rows,
        metrics: { shape: [3], values: () => [1, 2, 3] },
        // loss_backward: all at once from the logits, as a training step has them.
        step_log_probs: rows,
        step_loss: [1],
        step_dlogits: rows,
        step_metrics: { shape: [3], values: () => [1, 2, 3] },
      },
      dispatches: (t) => [
        softmax.forward({ input: t.logits, output: t.log_probs }),
        softmax.backward({ doutput: t.doutput, saved_output: t.log_probs, dinput: t.dinput }),
        nll.forward({ log_probs: t.log_probs, labels: t.labels, loss: t.loss }),
        nll.backward({ labels: t.labels, dlog_probs: t.dlog_probs }),
        nll.backwardFused({ log_probs: t.log_probs, labels: t.labels, dlogits: t.dlogits }),
        nll.accumulate({ log_probs: t.log_probs, labels: t.labels, metrics: t.metrics }),
        nll.lossBackward({ logits: t.logits, log_probs: t.step_log_probs, labels: t.labels, loss: t.step_loss, dlogits: t.step_dlogits, metrics: t.step_metrics }),
      ],
      reference: (x, gpu) => {
        // The backward kernels are checked on the inputs they were given: the GPU's own
        // forward output (with logits of 1000, float32 log-probabilities are off by ~6e-5
        // in absolute terms, which exp() in the backward formula would pass on).
        const saved = gpu.log_probs;
        const loss = ref.nllLossForward(batch, k, saved, x.labels);
        let correct = 0;
        for (let n = 0; n < batch; n++) {
          const row = Array.from(saved.subarray(n * k, (n + 1) * k));
          if (row.indexOf(Math.max(...row)) === x.labels[n]) correct++;
        }
        return {
          log_probs: ref.logSoftmaxForward(batch, k, x.logits),
          dinput: ref.logSoftmaxBackward(batch, k, x.doutput, saved),
          loss: [loss],
          dlog_probs: ref.nllLossBackward(batch, k, x.labels),
          dlogits: ref.crossEntropyBackward(batch, k, saved, x.labels),
          metrics: [x.metrics[0] + loss * batch, x.metrics[1] + correct, x.metrics[2] + batch],
          step_log_probs: ref.logSoftmaxForward(batch, k, x.logits),
          step_loss: [loss],
          step_dlogits: ref.crossEntropyBackward(batch, k, saved, x.labels),
          step_metrics: [x.step_metrics[0] + loss * batch, x.step_metrics[1] + correct, x.step_metrics[2] + batch],
        };
      },
    });
    // The step's log-softmax is log_softmax.wgsl's, to the bit (eval and training see the same numbers).
    const differs = gpu.step_log_probs.findIndex((v, i) => !Object.is(v, gpu.log_probs[i]));
    assert.is(differs, -1, `loss_backward's log-probabilities differ from log_softmax.forward's at ${differs} (seed ${seed})`);
    assert.equal([...gpu.step_dlogits], [...gpu.dlogits], `loss_backward's dlogits differ from backward_fused's (seed ${seed})`);
  });
}

test.run();
