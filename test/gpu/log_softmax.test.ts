// log_softmax.wgsl against the float64 reference, forward and backward, on lenet5's
// shapes (from its description) and on awkward ones.
import { LENET5, resolve } from '../../src/model/network';
import { LogSoftmax } from '../../src/ops/log_softmax';
import * as ref from '../../src/reference/ops';
import { gpuSuite } from '../helpers/gpu';
import { BATCH } from '../helpers/network';
import { checkOp } from '../helpers/op-harness';

const test = gpuSuite('log_softmax');

const classes = resolve(LENET5).classes;
for (const [batch, k, scale] of [
  [BATCH, classes, 5],
  [1, classes, 5],
  [67, 13, 5],
  [5, classes, 1000], // huge logits: finite only because the row max is subtracted
  [6000, classes, 5],
]) {
  test(`log_softmax, batch ${batch}, ${k} classes, logits up to ${scale}: forward and backward match the reference`, async ({ rt }) => {
    const softmax = await LogSoftmax.create(rt, batch, k);
    const rows = [batch, k];
    await checkOp(rt, {
      inputs: { logits: { shape: rows, range: [-scale, scale] }, doutput: rows },
      outputs: { log_probs: rows, dinput: rows },
      dispatches: (t) => [
        softmax.forward({ input: t.logits, output: t.log_probs }),
        softmax.backward({ doutput: t.doutput, saved_output: t.log_probs, dinput: t.dinput }),
      ],
      // The backward is checked on the input it was given: the GPU's own forward output
      // (with logits of 1000, float32 log-probabilities are off by ~6e-5 in absolute
      // terms, which exp() in the backward formula would pass on).
      reference: (x, gpu) => ({
        log_probs: ref.logSoftmaxForward(batch, k, x.logits),
        dinput: ref.logSoftmaxBackward(batch, k, x.doutput, gpu.log_probs),
      }),
    });
  });
}

test.run();
