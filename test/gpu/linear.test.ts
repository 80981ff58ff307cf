// linear.wgsl against the float64 reference, forward and all three backward passes.
import { suite } from 'uvu';
import { submit } from '../../src/gpu/dispatch';
import type { Runtime } from '../../src/gpu/runtime';
import { Linear, type LinearShape } from '../../src/ops/linear';
import * as ref from '../../src/reference/ops';
import { Rng } from '../../src/util/rng';
import { assertClose, freshSeed, openRuntime, poisoned, randomInput } from '../helpers/gpu';

const test = suite('linear');
let rt: Runtime;
test.before(async () => {
  rt = await openRuntime();
});
test.after(() => rt.destroy());

const shapes: [string, LinearShape][] = [
  ['LeNet-5 fc1', { batch: 64, inFeatures: 400, outFeatures: 120 }],
  ['LeNet-5 fc2', { batch: 64, inFeatures: 120, outFeatures: 84 }],
  ['LeNet-5 fc3', { batch: 64, inFeatures: 84, outFeatures: 10 }],
  ['batch 1', { batch: 1, inFeatures: 7, outFeatures: 3 }],
  ['awkward', { batch: 5, inFeatures: 67, outFeatures: 131 }],
];

for (const [name, s] of shapes) {
  test(`${name}: forward and backward match the reference`, async () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const layer = await Linear.create(rt, s);
    const input = randomInput(rt, rng, 'input', [s.batch, s.inFeatures]);
    const weight = randomInput(rt, rng, 'weight', [s.outFeatures, s.inFeatures]);
    const bias = randomInput(rt, rng, 'bias', [s.outFeatures]);
    const doutput = randomInput(rt, rng, 'doutput', [s.batch, s.outFeatures]);
    const output = poisoned(rt, 'output', doutput.tensor.shape);
    const dinput = poisoned(rt, 'dinput', input.tensor.shape);
    const dweight = poisoned(rt, 'dweight', weight.tensor.shape);
    const dbias = poisoned(rt, 'dbias', bias.tensor.shape);
    submit(rt, [
      layer.forward({ input: input.tensor, weight: weight.tensor, bias: bias.tensor, output }),
      layer.backwardInput({ doutput: doutput.tensor, weight: weight.tensor, dinput }),
      layer.backwardWeight({ doutput: doutput.tensor, input: input.tensor, dweight }),
      layer.backwardBias({ doutput: doutput.tensor, dbias }),
    ]);
    assertClose('output', await rt.read(output), ref.linearForward(s, input.values, weight.values, bias.values), seed);
    assertClose('dinput', await rt.read(dinput), ref.linearBackwardInput(s, doutput.values, weight.values), seed);
    assertClose('dweight', await rt.read(dweight), ref.linearBackwardWeight(s, doutput.values, input.values), seed);
    assertClose('dbias', await rt.read(dbias), ref.linearBackwardBias(s, doutput.values), seed);
  });
}

for (const [name, s] of [shapes[1], shapes[4]]) {
  test(`${name}: fused ReLU forward, and backward_input through the ReLU before the layer`, async () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const layer = await Linear.create(rt, s, { relu: true });
    // The input is itself a ReLU's output: non-negative, some exact zeros.
    const input = randomInput(rt, rng, 'input', [s.batch, s.inFeatures], -0.5, 1);
    const clipped = Float32Array.from(input.values, (v) => Math.max(v, 0));
    rt.write(input.tensor, clipped);
    const x = Float64Array.from(clipped);
    const weight = randomInput(rt, rng, 'weight', [s.outFeatures, s.inFeatures]);
    const bias = randomInput(rt, rng, 'bias', [s.outFeatures]);
    const doutput = randomInput(rt, rng, 'doutput', [s.batch, s.outFeatures]);
    const output = poisoned(rt, 'output', doutput.tensor.shape);
    const dinput = poisoned(rt, 'dinput', input.tensor.shape);
    submit(rt, [
      layer.forward({ input: input.tensor, weight: weight.tensor, bias: bias.tensor, output }),
      layer.backwardInputRelu({ doutput: doutput.tensor, weight: weight.tensor, input: input.tensor, dinput }),
    ]);
    assertClose('output', await rt.read(output), ref.reluForward(ref.linearForward(s, x, weight.values, bias.values)), seed);
    assertClose('dinput', await rt.read(dinput), ref.reluBackward(ref.linearBackwardInput(s, doutput.values, weight.values), x), seed);
  });
}

test.run();
