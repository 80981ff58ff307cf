// conv2d.wgsl against the float64 reference, forward and all three backward passes,
// on lenet5's conv layers (from its description) and on awkward shapes, strided and
// padded ones among them.
import { LENET5 } from '../../src/model/network';
import * as assert from 'uvu/assert';
import { submit } from '../../src/gpu/dispatch';
import { numel, type Runtime } from '../../src/gpu/runtime';
import { Conv2d } from '../../src/ops/conv2d';
import { PackedWeights } from '../../src/ops/pack';
import { CONV_COLUMNS, type ConvColumns } from '../../src/gpu/tuning';
import { conv2dTensorShapes, type Conv2dShape } from '../../src/ops/shapes';
import * as ref from '../../src/reference/ops';
import { Rng } from '../../src/util/rng';
import { freshSeed, gpuSuite, poisoned, randomInput } from '../helpers/gpu';
import { stagesOf } from '../helpers/network';
import { checkLayer, checkOp } from '../helpers/op-harness';

const test = gpuSuite('conv2d');
const lenet = stagesOf(LENET5, 'conv2d');

const shapes: [string, Conv2dShape][] = [
  ...lenet.map((s): [string, Conv2dShape] => [`lenet5 ${s.name}`, s.shape]),
  // One loop over a batch's positions (128 x 784) would pass llvmpipe's 65,535 loop iterations: dbias was wrong from batch 84 on.
  [`lenet5 ${lenet[0].name}, batch 128`, { ...lenet[0].shape, batch: 128 }],
  ['batch 1', { batch: 1, inChannels: 3, outChannels: 4, height: 9, width: 7, kernel: 3 }],
  ['awkward', { batch: 3, inChannels: 2, outChannels: 5, height: 11, width: 13, kernel: 4 }],
  ['kernel = input', { batch: 2, inChannels: 2, outChannels: 3, height: 5, width: 5, kernel: 5 }],
  // Stride and padding (PyTorch's): odd sizes, ragged column blocks, channels past a block of 8.
  ['stride 2', { batch: 2, inChannels: 3, outChannels: 5, height: 11, width: 10, kernel: 3, stride: 2 }],
  ['padding 1', { batch: 2, inChannels: 2, outChannels: 9, height: 9, width: 13, kernel: 3, padding: 1 }],
  ['padding 2, kernel 5', { batch: 2, inChannels: 3, outChannels: 4, height: 7, width: 6, kernel: 5, padding: 2 }],
  ['stride 2, padding 1', { batch: 3, inChannels: 2, outChannels: 6, height: 9, width: 11, kernel: 3, stride: 2, padding: 1 }],
  ['stride 3, past the kernel', { batch: 2, inChannels: 2, outChannels: 4, height: 11, width: 14, kernel: 2, stride: 3 }],
  ['kernel 7', { batch: 2, inChannels: 1, outChannels: 6, height: 12, width: 9, kernel: 7 }],
  ['kernel 7, padding 3', { batch: 2, inChannels: 2, outChannels: 3, height: 10, width: 9, kernel: 7, padding: 3 }],
  ['kernel 7, stride 2, padding 2, batch 1', { batch: 1, inChannels: 3, outChannels: 10, height: 13, width: 15, kernel: 7, stride: 2, padding: 2 }],
  // Windows wholly in the padding: those outputs are the bias, their taps' gradients 0.
  ['padding 3, kernel 3', { batch: 1, inChannels: 1, outChannels: 2, height: 3, width: 4, kernel: 3, padding: 3 }],
  ['kernel 6, stride 2, padding 1', { batch: 2, inChannels: 2, outChannels: 3, height: 10, width: 11, kernel: 6, stride: 2, padding: 1 }],
  ['kernel 1, stride 2', { batch: 2, inChannels: 3, outChannels: 5, height: 7, width: 8, kernel: 1, stride: 2 }],
  // A 32x32 output with K = 7: ALL_ROWS's weight part would pass llvmpipe's 65,535 loop
  // iterations per invocation (32 x 32 x 7 x 13) if its loops over K did not unroll.
  ['kernel 7, padding 3, 32x32', { batch: 2, inChannels: 1, outChannels: 4, height: 32, width: 32, kernel: 7, padding: 3 }],
];
const named = (name: string) => shapes.find(([n]) => n === name)!;

const reference = { forward: ref.conv2dForward, backwardInput: ref.conv2dBackwardInput, backwardWeight: ref.conv2dBackwardWeight, backwardBias: ref.conv2dBackwardBias };

/** A conv and its weights' packed copies, made by pack.wgsl from its weight tensor. */
/** The block shapes an adapter may be tuned to (src/gpu/tuning.ts): each pair is tested. */
const TUNINGS = [
  { columns: 4, inputColumns: 4, allRows: false, uniformWeights: false },
  { columns: 16, inputColumns: 16, allRows: true, uniformWeights: true },
] as const;
const tuned = (t: (typeof TUNINGS)[number]) =>
  `${t.columns} columns per invocation, ${t.allRows ? 'all kernel rows' : 'one kernel row'} per weight invocation, weights as ${t.uniformWeights ? 'uniforms' : 'storage'}`;

async function convWithPacking(rt: Runtime, s: Conv2dShape, options: { relu?: boolean; backward?: boolean; columns?: ConvColumns; inputColumns?: ConvColumns; allRows?: boolean; uniformWeights?: boolean } = {}) {
  const conv = await Conv2d.create(rt, s, options);
  const packed = await PackedWeights.create(rt, [{ name: 'conv', shape: s, offset: 0 }], numel(conv2dTensorShapes(s).weight), options.backward ?? true);
  return { conv, packed, ...packed.of('conv') };
}

for (const [name, s] of shapes) {
  for (const tuning of TUNINGS) {
    test(`${name}, ${tuned(tuning)}: forward and backward match the reference`, async ({ rt }) => {
      const { conv, packed, by_tap, by_tap_in } = await convWithPacking(rt, s, tuning);
      await checkLayer(rt, s, conv2dTensorShapes(s), reference, (t) => [
        packed.pack(t.weight),
        conv.forward({ input: t.input, by_tap, bias: t.bias, output: t.output }),
        conv.backward({ doutput: t.doutput, input: t.input, dweight: t.dweight, dbias: t.dbias, by_tap_in: by_tap_in!, dinput: t.dinput }),
      ]);
    });
  }
}

type Tuning = { columns: ConvColumns; inputColumns: ConvColumns; allRows: boolean; uniformWeights: boolean };
/**
 * Every choice of each kernel: forward's columns and backward_input's are in
 * different kernels, so pairing each forward choice with a different input choice
 * (4 with 16, 8 with 8, 16 with 4) meets every value of both, by allRows, by
 * uniformWeights.
 */
const EVERY_TUNING: Tuning[] = CONV_COLUMNS.flatMap((columns, i) => {
  const inputColumns = CONV_COLUMNS[CONV_COLUMNS.length - 1 - i];
  return [false, true].flatMap((allRows) => [false, true].map((uniformWeights) => ({ columns, inputColumns, allRows, uniformWeights })));
});

const sameBits: [[string, Conv2dShape], readonly Tuning[]][] = [
  [shapes[1], TUNINGS],
  [shapes[4], TUNINGS],
  [named('stride 2, padding 1'), EVERY_TUNING],
  [named('kernel 7, stride 2, padding 2, batch 1'), EVERY_TUNING],
  [named('padding 2, kernel 5'), EVERY_TUNING],
];

for (const [[name, s], tunings] of sameBits) {
  test(`${name}: every tuning (${tunings.length}) gives the same bits`, async ({ rt }) => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const shapes = conv2dTensorShapes(s);
    const input = randomInput(rt, rng, 'input', shapes.input).tensor;
    const weight = randomInput(rt, rng, 'weight', shapes.weight).tensor;
    const bias = randomInput(rt, rng, 'bias', shapes.bias).tensor;
    const doutput = randomInput(rt, rng, 'doutput', shapes.output).tensor;
    const results: Float32Array[][] = [];
    for (const tuning of tunings) {
      const { conv, packed, by_tap, by_tap_in } = await convWithPacking(rt, s, { ...tuning, relu: true });
      const [output, dinput] = [poisoned(rt, 'output', shapes.output), poisoned(rt, 'dinput', shapes.input)];
      const [dweight, dbias] = [poisoned(rt, 'dweight', shapes.weight), poisoned(rt, 'dbias', shapes.bias)];
      submit(rt, [packed.pack(weight), conv.forward({ input, by_tap, bias, output }), ...conv.backward({ doutput, input, dweight, dbias, by_tap_in: by_tap_in!, dinput })]);
      results.push([await rt.read(output), await rt.read(dinput), await rt.read(dweight), await rt.read(dbias)]);
    }
    for (const [k, result] of results.entries()) {
      for (const [i, what] of ['output', 'dinput', 'dweight', 'dbias'].entries()) {
        const [a, b] = [results[0][i], result[i]];
        const at = a.findIndex((v, j) => !Object.is(v, b[j]));
        assert.is(at, -1, `${what} differs at ${at} between ${JSON.stringify(tunings[0])} and ${JSON.stringify(tunings[k])} (seed ${seed})`);
      }
    }
  });
}

test('lenet5 conv1: backward without the input gradient gives the same weight and bias gradients', async ({ rt }) => {
  const s = lenet[0].shape;
  const conv = await Conv2d.create(rt, s, { inputGrad: false });
  const { input, weight, bias, output } = conv2dTensorShapes(s);
  await checkOp(rt, {
    inputs: { input, doutput: output },
    outputs: { dweight: weight, dbias: bias },
    dispatches: (t) => [conv.backward({ doutput: t.doutput, input: t.input, dweight: t.dweight, dbias: t.dbias })],
    reference: (x) => ({ dweight: ref.conv2dBackwardWeight(s, x.doutput, x.input), dbias: ref.conv2dBackwardBias(s, x.doutput) }),
  });
});

const fused: [string, Conv2dShape][] = [
  ...lenet.filter((s) => s.relu).map((s): [string, Conv2dShape] => [`lenet5 ${s.name}`, s.shape]),
  ['awkward', { batch: 3, inChannels: 2, outChannels: 6, height: 12, width: 11, kernel: 5 }],
  ['stride 2, padding 2', { batch: 2, inChannels: 2, outChannels: 6, height: 12, width: 11, kernel: 5, stride: 2, padding: 2 }],
];

for (const [name, s] of fused) {
  test(`${name} with relu: forward applies ReLU to its output`, async ({ rt }) => {
    const { conv, packed, by_tap } = await convWithPacking(rt, s, { relu: true, backward: false });
    const { input, weight, bias, output } = conv2dTensorShapes(s);
    await checkOp(rt, {
      inputs: { input, weight, bias },
      outputs: { output },
      dispatches: (t) => [packed.pack(t.weight), conv.forward({ input: t.input, by_tap, bias: t.bias, output: t.output })],
      reference: (x) => ({ output: ref.reluForward(ref.conv2dForward(s, x.input, x.weight, x.bias)) }),
    });
  });
}

test.run();
