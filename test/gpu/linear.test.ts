// linear.wgsl against the float64 reference, forward and all three backward passes,
// on lenet5's linear layers (from its description) and on awkward shapes.
import * as assert from 'uvu/assert';
import { submit } from '../../src/gpu/dispatch';
import { LENET5 } from '../../src/model/network';
import { Linear } from '../../src/ops/linear';
import { linearTensorShapes, type LinearShape } from '../../src/ops/shapes';
import * as ref from '../../src/reference/ops';
import { Rng } from '../../src/util/rng';
import { freshSeed, gpuSuite, poisoned, randomInput } from '../helpers/gpu';
import { stagesOf } from '../helpers/network';
import { afterRelu, checkLayer, checkOp } from '../helpers/op-harness';

const test = gpuSuite('linear');

const lenet = stagesOf(LENET5, 'linear').map((s): [string, LinearShape] => [`lenet5 ${s.name}`, s.shape]);
const awkward: [string, LinearShape] = ['awkward', { batch: 5, inFeatures: 67, outFeatures: 131 }];
const shapes: [string, LinearShape][] = [...lenet, ['batch 1', { batch: 1, inFeatures: 7, outFeatures: 3 }], awkward];

const reference = { forward: ref.linearForward, backwardInput: ref.linearBackwardInput, backwardWeight: ref.linearBackwardWeight, backwardBias: ref.linearBackwardBias };

/** 4x4 and 8x8 blocks of results per invocation (linear.wgsl's WIDE; src/gpu/tuning.ts). */
const WIDE = [false, true];
const blocks = (wide: boolean) => (wide ? '8x8 blocks' : '4x4 blocks');

for (const [name, s] of shapes) {
  for (const wide of WIDE) {
    test(`${name}, ${blocks(wide)}: forward and backward match the reference`, async ({ rt }) => {
      const layer = await Linear.create(rt, s, { wide });
      await checkLayer(rt, s, linearTensorShapes(s), reference, (t) => [
        layer.forward({ input: t.input, weight: t.weight, bias: t.bias, output: t.output }),
        layer.backward({ doutput: t.doutput, input: t.input, dweight: t.dweight, dbias: t.dbias, weight: t.weight, dinput: t.dinput }),
      ]);
    });
  }
}

test('awkward: 4x4 and 8x8 blocks give the same bits', async ({ rt }) => {
  const s = awkward[1];
  const seed = freshSeed();
  const rng = new Rng(seed);
  const shapes = linearTensorShapes(s);
  const [input, weight, bias, doutput] = (['input', 'weight', 'bias', 'output'] as const).map((k) => randomInput(rt, rng, k, shapes[k]).tensor);
  const results: Float32Array[][] = [];
  for (const wide of WIDE) {
    const layer = await Linear.create(rt, s, { wide, relu: true, inputGrad: 'relu' });
    const outs = [poisoned(rt, 'output', shapes.output), poisoned(rt, 'dinput', shapes.input), poisoned(rt, 'dweight', shapes.weight), poisoned(rt, 'dbias', shapes.bias)];
    const [output, dinput, dweight, dbias] = outs;
    submit(rt, [layer.forward({ input, weight, bias, output }), layer.backward({ doutput, input, dweight, dbias, weight, dinput })]);
    results.push(await Promise.all(outs.map((t) => rt.read(t))));
  }
  for (const [i, what] of ['output', 'dinput', 'dweight', 'dbias'].entries()) {
    const at = results[0][i].findIndex((v, j) => !Object.is(v, results[1][i][j]));
    assert.is(at, -1, `${what} differs at ${at} (seed ${seed})`);
  }
});

for (const [name, s] of [...lenet, awkward]) {
  test(`${name}: fused ReLU forward, and backward through the ReLU before the layer`, async ({ rt }) => {
    const layer = await Linear.create(rt, s, { relu: true, inputGrad: 'relu' }); // the adapter's blocks: 8x8 on llvmpipe, 4x4 on SwiftShader
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
