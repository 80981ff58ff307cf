// nll_loss.wgsl against the float64 reference: forward, backward, backward_fused and
// accumulate on log-probabilities, and loss_backward, a training step's fused
// log-softmax, loss, metrics and gradient, against log_softmax.wgsl's forward and
// backward_fused to the bit; on lenet5's shapes (from its description) and on awkward ones.
import * as assert from 'uvu/assert';
import { LENET5, resolve } from '../../src/model/network';
import { LogSoftmax } from '../../src/ops/log_softmax';
import { NllLoss } from '../../src/ops/nll_loss';
import * as ref from '../../src/reference/ops';
import { gpuSuite } from '../helpers/gpu';
import { BATCH } from '../helpers/network';
import { checkOp, type TensorSpec } from '../helpers/op-harness';

const test = gpuSuite('nll_loss');

const classes = resolve(LENET5).classes;
const CASES = [
  [BATCH, classes, 5],
  [1, classes, 5],
  [67, 13, 5],
  [5, classes, 1000], // huge logits: finite only because the row max is subtracted
  [6000, classes, 5], // one invocation over batch x classes passed llvmpipe's 65,535 loop iterations from 5,462 on
];

/** Log-probabilities of `batch` rows of logits uniform in [-scale, scale): what log_softmax gives the loss. */
const logProbs = (batch: number, k: number, scale: number): TensorSpec['values'] => (rng, length) =>
  ref.logSoftmaxForward(batch, k, Float64Array.from({ length }, () => Math.fround(rng.uniform(-scale, scale))));

/** Samples whose largest log-probability is at their label (the first of equal maxima). */
function correct(batch: number, k: number, logp: Float64Array, labels: Uint32Array): number {
  let count = 0;
  for (let n = 0; n < batch; n++) {
    const row = Array.from(logp.subarray(n * k, (n + 1) * k));
    if (row.indexOf(Math.max(...row)) === labels[n]) count++;
  }
  return count;
}

for (const [batch, k, scale] of CASES) {
  test(`nll_loss, batch ${batch}, ${k} classes, logits up to ${scale}: forward, backward, backward_fused and accumulate match the reference`, async ({ rt }) => {
    const nll = await NllLoss.create(rt, batch, k, { unfused: true });
    const rows = [batch, k];
    await checkOp(rt, {
      inputs: { log_probs: { shape: rows, values: logProbs(batch, k, scale) }, labels: { shape: [batch], type: 'u32', range: [0, k] } },
      outputs: { loss: [1], dlog_probs: rows, dlogits: rows, metrics: { shape: [3], values: () => [1, 2, 3] } },
      dispatches: (t) => [
        nll.forward({ log_probs: t.log_probs, labels: t.labels, loss: t.loss }),
        nll.backward({ labels: t.labels, dlog_probs: t.dlog_probs }),
        nll.backwardFused({ log_probs: t.log_probs, labels: t.labels, dlogits: t.dlogits }),
        nll.accumulate({ log_probs: t.log_probs, labels: t.labels, metrics: t.metrics }),
      ],
      reference: (x) => {
        const loss = ref.nllLossForward(batch, k, x.log_probs, x.labels);
        return {
          loss: [loss],
          dlog_probs: ref.nllLossBackward(batch, k, x.labels),
          dlogits: ref.crossEntropyBackward(batch, k, x.log_probs, x.labels),
          metrics: [x.metrics[0] + loss * batch, x.metrics[1] + correct(batch, k, x.log_probs, x.labels), x.metrics[2] + batch],
        };
      },
    });
  });

  test(`loss_backward, batch ${batch}, ${k} classes, logits up to ${scale}: log_softmax's forward to the bit, then the loss, metrics and backward_fused's gradient`, async ({ rt }) => {
    const softmax = await LogSoftmax.create(rt, batch, k, { backward: false });
    const nll = await NllLoss.create(rt, batch, k, { unfused: true });
    const rows = [batch, k];
    const { gpu, seed } = await checkOp(rt, {
      inputs: { logits: { shape: rows, range: [-scale, scale] }, labels: { shape: [batch], type: 'u32', range: [0, k] } },
      outputs: {
        // What log_softmax.forward and backward_fused give, for loss_backward to agree with.
        log_probs: rows,
        dlogits: rows,
        // loss_backward: all at once from the logits, as a training step has them.
        step_log_probs: rows,
        step_loss: [1],
        step_dlogits: rows,
        step_metrics: { shape: [3], values: () => [1, 2, 3] },
      },
      dispatches: (t) => [
        softmax.forward({ input: t.logits, output: t.log_probs }),
        nll.backwardFused({ log_probs: t.log_probs, labels: t.labels, dlogits: t.dlogits }),
        nll.lossBackward({ logits: t.logits, log_probs: t.step_log_probs, labels: t.labels, loss: t.step_loss, dlogits: t.step_dlogits, metrics: t.step_metrics }),
      ],
      reference: (x, gpu) => {
        // The loss and the gradient are checked on the GPU's own log-probabilities (with
        // logits of 1000, float32 log-probabilities are off by ~6e-5 in absolute terms,
        // which exp() in the gradient would pass on).
        const saved = gpu.log_probs;
        const loss = ref.nllLossForward(batch, k, saved, x.labels);
        return {
          log_probs: ref.logSoftmaxForward(batch, k, x.logits),
          dlogits: ref.crossEntropyBackward(batch, k, saved, x.labels),
          step_log_probs: ref.logSoftmaxForward(batch, k, x.logits),
          step_loss: [loss],
          step_dlogits: ref.crossEntropyBackward(batch, k, saved, x.labels),
          step_metrics: [x.step_metrics[0] + loss * batch, x.step_metrics[1] + correct(batch, k, saved, x.labels), x.step_metrics[2] + batch],
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
