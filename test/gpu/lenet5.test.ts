// A whole LeNet-5 training step on the GPU (forward, loss, backward, Adam on all 10
// parameter tensors) against the float64 reference step.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { submit } from '../../src/gpu/dispatch';
import type { Runtime } from '../../src/gpu/runtime';
import { Lenet5 } from '../../src/model/lenet5';
import { SLOTS } from '../../src/model/parameters';
import { lenet5Gradients, lenet5TrainStep, newAdamState } from '../../src/reference/lenet5';
import { Rng } from '../../src/util/rng';
import { assertClose, freshSeed, openRuntime } from '../helpers/gpu';
import { randomBatch, slice, toReference } from '../helpers/lenet5';

const test = suite('lenet5 step');
let rt: Runtime;
test.before(async () => {
  rt = await openRuntime();
});
test.after(() => rt.destroy());

for (const [maxBatch, batch] of [
  [64, 64],
  [64, 1],
  [64, 37], // a partial last batch in buffers sized for 64
]) {
  test(`training step, batch ${batch} of ${maxBatch}: loss, gradients, Adam state and weights match the reference`, async () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const { flat, input, labels } = randomBatch(rng, batch);
    const model = new Lenet5(rt, maxBatch);
    const plan = await model.plan(batch);
    model.setParameters(flat);
    model.writeBatch(input, labels);
    model.resetMetrics();
    plan.adam.setStep(1);
    submit(rt, plan.trainStep, 'train step');

    const params = toReference(flat);
    const x = Float64Array.from(input);
    const expected = lenet5Gradients(params, x, labels, batch);
    const state = newAdamState(params);
    lenet5TrainStep(params, state, x, labels, batch);

    assertClose('loss', await rt.read(model.loss), [expected.loss], seed);
    const metrics = await model.readMetrics();
    assert.is(metrics.samples, batch);
    assertClose('metrics loss', [metrics.loss], [expected.loss], seed);
    const grads = await model.readFlat('grad');
    const weights = await model.readFlat('param');
    const expAvg = await model.readFlat('exp_avg');
    const expAvgSq = await model.readFlat('exp_avg_sq');
    for (const s of SLOTS) {
      assertClose(`grad ${s.name}`, slice(grads, s.name), expected.grads[s.name], seed);
      assertClose(`exp_avg ${s.name}`, slice(expAvg, s.name), state.expAvg[s.name], seed);
      assertClose(`exp_avg_sq ${s.name}`, slice(expAvgSq, s.name), state.expAvgSq[s.name], seed);
      assertClose(`weight ${s.name}`, slice(weights, s.name), params[s.name], seed);
    }
  });
}

test('two identical runs give bitwise identical weights', async () => {
  const seed = freshSeed();
  const { flat, input, labels } = randomBatch(new Rng(seed), 64, 0);
  const run = async () => {
    const model = new Lenet5(rt, 64);
    const plan = await model.plan(64);
    model.setParameters(flat);
    model.writeBatch(input, labels);
    for (let t = 1; t <= 3; t++) {
      plan.adam.setStep(t);
      submit(rt, plan.trainStep, 'train step');
    }
    return [await model.readFlat('param'), await model.readFlat('grad'), await model.readFlat('exp_avg_sq')];
  };
  const [a, b] = [await run(), await run()];
  for (let i = 0; i < a.length; i++) {
    const same = Buffer.compare(Buffer.from(a[i].buffer), Buffer.from(b[i].buffer)) === 0;
    assert.ok(same, `buffer ${i} differs between runs (seed ${seed})`);
  }
});

test.run();
