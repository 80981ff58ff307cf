// linear.wgsl against the float64 reference, forward and all three backward passes,
// on lenet5's linear layers (from its description) and on awkward shapes.
import { LENET5 } from '../../src/model/network';
import { Linear } from '../../src/ops/linear';
import { linearTensorShapes, type LinearShape } from '../../src/ops/shapes';
import * as ref from '../../src/reference/ops';
import { gpuSuite } from '../helpers/gpu';
import { stagesOf } from '../helpers/network';
import { afterRelu, checkLayer, checkOp } from '../helpers/op-harness';

const test = gpuSuite('linear');

const lenet = stagesOf(LENET5, 'linear').map((s): [string, LinearShape] => [`lenet5 ${s.name}`, s.shape]);
const awkward: [string, LinearShape] = ['awkward', { batch: 5, inFeatures: 67, outFeatures: 131 }];
const shapes: [string, LinearShape][] = [...lenet, ['batch 1', { batch: 1, inFeatures: 7, outFeatures: 3 }], awkward];

const reference = { forward: ref.linearForward, backwardInput: ref.linearBackwardInput, backwardWeight: ref.linearBackwardWeight, backwardBias: ref.linearBackwardBias };

for (const [name, s] of shapes) {
  test(`${name}: forward and backward match the reference`, async ({ rt }) => {
    const layer = await Linear.create(rt, s);
    await checkLayer(rt, s, linearTensorShapes(s), reference, (t) => [
      layer.forward({ input: t.input, weight: t.weight, bias: t.bias, output: t.output }),
      layer.backward({ doutput: t.doutput, input: t.input, dweight: t.dweight, dbias: t.dbias, weight: t.weight, dinput: t.dinput }),
    ]);
  });
}

for (const [name, s] of [...lenet, awkward]) {
  test(`${name}: fused ReLU forward, and backward through the ReLU before the layer`, async ({ rt }) => {
    const layer = await Linear.create(rt, s, { relu: true, inputGrad: 'relu' });
    const { input, weight, bias, output } = linearTensorShapes(s);
    await checkOp(rt, {
      // The input is itself a ReLU's output: non-negative, some exact zeros.
      inputs: { input: { shape: input, values: afterRelu(-0.5, 1) }, weight, bias, doutput: output },
      outputs: { output, dinput: input, dweight: weight, dbias: bias },
      dispatches: (t) => [
        layer.forward({ input: t.input, weight: t.weight, bias: t.bias, output: t.output }),
        layer.backward({ doutput: t.doutput, input: t.input, dweight: t.dweight, dbias: t.dbias, weight: t.weight, dinput: t.dinput }),
      ],
      reference: (x) => ({
        output: ref.reluForward(ref.linearForward(s, x.input, x.weight, x.bias)),
        dinput: ref.reluBackward(ref.linearBackwardInput(s, x.doutput, x.weight), x.input),
        dweight: ref.linearBackwardWeight(s, x.doutput, x.input),
        dbias: ref.linearBackwardBias(s, x.doutput),
      }),
    });
  });
}

test('awkward: backward without the input gradient gives the weight and bias gradients', async ({ rt }) => {
  const s = awkward[1];
  const layer = await Linear.create(rt, s, { inputGrad: 'none' });
  const { input, weight, bias, output } = linearTensorShapes(s);
  await checkOp(rt, {
    inputs: { input, doutput: output },
    outputs: { dweight: weight, dbias: bias },
    dispatches: (t) => [layer.backward({ doutput: t.doutput, input: t.input, dweight: t.dweight, dbias: t.dbias })],
    reference: (x) => ({ dweight: ref.linearBackwardWeight(s, x.doutput, x.input), dbias: ref.linearBackwardBias(s, x.doutput) }),
  });
});

test.run();
