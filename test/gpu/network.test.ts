// A whole training step on the GPU (forward, loss, backward, Adam on every
// parameter tensor), planned from a network's description, against the float64
// reference step walked from the same description: LeNet-5 as the tutorial has it,
// with a ReLU after conv2, and a network that is neither, defined here in a few lines.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { submit } from '../../src/gpu/dispatch';
import type { Runtime } from '../../src/gpu/runtime';
import { Model } from '../../src/model/model';
import { conv2d, flatten, LENET5, LENET5_BN, LENET5_CLASSIC, LENET5_PAD, LENET5_RELU, linear, logSoftmax, maxpool2d, relu, type Network } from '../../src/model/network';
import { parameterTable } from '../../src/model/parameters';
import { resolve } from '../../src/model/network';
import { referenceGradients } from '../../src/reference/network';
import { ADAM_DEFAULTS, adamStep } from '../../src/reference/ops';
import { Backprop } from '../../src/train/backprop';
import { AdamOptimizer } from '../../src/train/optimizer';
import { Rng } from '../../src/util/rng';
import { assertClose, freshSeed, openRuntime } from '../helpers/gpu';
import { EVERY_LAYER, randomBatch, toReference } from '../helpers/network';

const test = suite('network step');
let rt: Runtime;
test.before(async () => {
  rt = await openRuntime();
});
test.after(() => rt.destroy());

/** Neither LeNet-5: 3x3 kernels, a ReLU after every conv (pooled, and read by a conv), 8 channels. */
const OTHER: Network = {
  name: 'other',
  description: 'conv 1->8 3x3, ReLU, pool, conv 8->16 3x3, ReLU, conv 16->8 3x3, ReLU, pool, linear, ReLU, linear 10',
  input: [1, 28, 28],
  layers: [
    conv2d('conv1', 1, 8, 3), relu(), maxpool2d(),
    conv2d('conv2', 8, 16, 3), relu(), conv2d('conv3', 16, 8, 3), relu(), maxpool2d(),
    flatten(), linear('fc1', 8 * 4 * 4, 32), relu(), linear('fc2', 32, 10), logSoftmax(),
  ],
};

const EVERY = EVERY_LAYER;

async function setUp(net: Network, maxBatch: number) {
  const model = await Model.create(rt, net, maxBatch, { training: true });
  const backprop = new Backprop(model);
  const adam = await AdamOptimizer.create(model, backprop);
  const step = async (batch: number) => {
    const f = await model.forward(batch, 'train');
    const b = await backprop.plan(batch);
    return [...f.logits, ...b.backward, adam.dispatch];
  };
  return { model, backprop, adam, step };
}

for (const [net, maxBatch, batch] of [
  [LENET5, 64, 64],
  [LENET5, 64, 1],
  [LENET5, 64, 37], // a partial last batch in buffers sized for 64
  [LENET5_RELU, 64, 64],
  [OTHER, 16, 16],
  [OTHER, 16, 5],
  [EVERY, 16, 16],
  [EVERY, 16, 5],
  [LENET5_CLASSIC, 16, 16],
  [LENET5_PAD, 16, 16],
  [LENET5_BN, 16, 16],
] as const) {
  test(`${net.name}, batch ${batch} of ${maxBatch}: loss and gradients match the reference, Adam's step on them too`, async () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const table = parameterTable(net);
    // Dropout's masks from the run's seed (here the test's) and step 1.
    const pass = { mode: 'train' as const, seed: seed % 1000, step: 1 };
    const { flat, input, labels } = randomBatch(net, rng, batch, 2e-6, pass);
    const { model, backprop, adam, step } = await setUp(net, maxBatch);
    model.setParameters(flat);
    model.writeBatch(input, labels);
    model.resetMetrics();
    const dispatches = await step(batch);
    adam.next();
    model.setStep(pass.seed, 1);
    submit(rt, dispatches, 'train step');

    const params = toReference(net, flat);
    const x = Float64Array.from(input);
    const expected = referenceGradients(net, params, x, labels, batch, pass);

    assertClose('loss', await rt.read(backprop.loss), [expected.loss], seed);
    const metrics = await model.readMetrics();
    assert.is(metrics.samples, batch);
    assertClose('metrics loss', [metrics.loss], [expected.loss], seed);
    const grads = new Float32Array(await rt.readBytes(backprop.buffer, 0, table.flatLength * 4));
    const weights = await model.readParameters();
    const moments = await adam.read();
    assert.is(moments.step, 1);
    // A gradient is held to 1e-5 of its norm or, element by element, to 1e-5 of the sum of
    // the magnitudes it adds up (its layer's output gradient, times its largest input for a
    // weight): a gradient that is zero in exact arithmetic (a bias a batchnorm follows) is
    // float32 rounding of that sum, and only that can bound it.
    const stages = new Map(resolve(net).stages.map((s) => [s.name, s]));
    const atolOf = (name: string, stage: string) => {
      const d = expected.dact[stage];
      const s = stages.get(stage)!;
      const channels = s.outShape[0];
      const per = s.outShape.slice(1).reduce((a, b) => a * b, 1);
      let worst = 0;
      for (let c = 0; c < channels; c++) {
        let sum = 0;
        for (let n = 0; n < batch; n++) for (let j = 0; j < per; j++) sum += Math.abs(d[(n * channels + c) * per + j]);
        worst = Math.max(worst, sum);
      }
      const x = expected.forward.act[s.input];
      return 1e-5 * worst * (name.endsWith('.weight') && x ? x.reduce((m, v) => Math.max(m, Math.abs(v)), 0) : 1);
    };
    for (const { name, role, stage } of table.slots) {
      const grad = table.view(grads, name);
      if (role !== 'parameter') {
        // A buffer gets no gradient, so Adam leaves it as the forward pass left it: updated (running statistics) or as it was.
        assert.ok(grad.every((g) => g === 0), `grad ${name} is zero`);
        assertClose(`buffer ${name}`, table.view(weights, name), expected.updates[name] ?? params[name], seed);
        continue;
      }
      assertClose(`grad ${name}`, grad, expected.grads[name], seed, undefined, atolOf(name, stage));
      // Adam's first step is about lr * sign(grad), so it turns a gradient element near
      // zero, right to 1e-5 of the tensor's norm, into a different update: the step is
      // checked on the GPU's own gradient, which the line above checked.
      const [exp_avg, exp_avg_sq] = [new Float64Array(grad.length), new Float64Array(grad.length)];
      adamStep(params[name], Float64Array.from(grad), exp_avg, exp_avg_sq, 1, ADAM_DEFAULTS);
      assertClose(`exp_avg ${name}`, table.view(moments.expAvg, name), exp_avg, seed);
      assertClose(`exp_avg_sq ${name}`, table.view(moments.expAvgSq, name), exp_avg_sq, seed);
      assertClose(`weight ${name}`, table.view(weights, name), params[name], seed);
    }
  });
}

test('two identical runs give bitwise identical weights', async () => {
  const seed = freshSeed();
  const { flat, input, labels } = randomBatch(LENET5, new Rng(seed), 64, 0);
  const run = async () => {
    const { model, backprop, adam, step } = await setUp(LENET5, 64);
    model.setParameters(flat);
    model.writeBatch(input, labels);
    const dispatches = await step(64);
    for (let t = 1; t <= 3; t++) {
      adam.next();
      submit(rt, dispatches, 'train step');
    }
    const m = await adam.read();
    return [await model.readParameters(), new Float32Array(await rt.readBytes(backprop.buffer)), m.expAvgSq];
  };
  const [a, b] = [await run(), await run()];
  for (let i = 0; i < a.length; i++) {
    const same = Buffer.compare(Buffer.from(a[i].buffer), Buffer.from(b[i].buffer)) === 0;
    assert.ok(same, `buffer ${i} differs between runs (seed ${seed})`);
  }
});

test.run();
