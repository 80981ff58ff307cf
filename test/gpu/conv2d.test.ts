// conv2d.wgsl against the float64 reference, forward and all three backward passes.
import { suite } from 'uvu';
import { submit } from '../../src/gpu/dispatch';
import type { Runtime } from '../../src/gpu/runtime';
import { Conv2d, type Conv2dShape } from '../../src/ops/conv2d';
import * as ref from '../../src/reference/ops';
import { Rng } from '../../src/util/rng';
import { assertClose, freshSeed, openRuntime, poisoned, randomInput } from '../helpers/gpu';

const test = suite('conv2d');
let rt: Runtime;
test.before(async () => {
  rt = await openRuntime();
});
test.after(() => rt.destroy());

const shapes: [string, Conv2dShape][] = [
  ['LeNet-5 conv1', { batch: 64, inChannels: 1, outChannels: 6, height: 32, width: 32, kernel: 5 }],
  ['LeNet-5 conv2', { batch: 64, inChannels: 6, outChannels: 16, height: 14, width: 14, kernel: 5 }],
  // One loop over a batch's positions (128 x 784) would pass llvmpipe's 65,535 loop iterations: dbias was wrong from batch 84 on.
  ['LeNet-5 conv1, batch 128', { batch: 128, inChannels: 1, outChannels: 6, height: 32, width: 32, kernel: 5 }],
  ['batch 1', { batch: 1, inChannels: 3, outChannels: 4, height: 9, width: 7, kernel: 3 }],
  ['awkward', { batch: 3, inChannels: 2, outChannels: 5, height: 11, width: 13, kernel: 4 }],
  ['kernel = input', { batch: 2, inChannels: 2, outChannels: 3, height: 5, width: 5, kernel: 5 }],
];

for (const [name, s] of shapes) {
  test(`${name}: forward and backward match the reference`, async () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const oh = s.height - s.kernel + 1;
    const ow = s.width - s.kernel + 1;
    const conv = await Conv2d.create(rt, s);
    const input = randomInput(rt, rng, 'input', [s.batch, s.inChannels, s.height, s.width]);
    const weight = randomInput(rt, rng, 'weight', [s.outChannels, s.inChannels, s.kernel, s.kernel]);
    const bias = randomInput(rt, rng, 'bias', [s.outChannels]);
    const doutput = randomInput(rt, rng, 'doutput', [s.batch, s.outChannels, oh, ow]);
    const output = poisoned(rt, 'output', doutput.tensor.shape);
    const dinput = poisoned(rt, 'dinput', input.tensor.shape);
    const dweight = poisoned(rt, 'dweight', weight.tensor.shape);
    const dbias = poisoned(rt, 'dbias', bias.tensor.shape);
    submit(rt, [
      ...conv.forward({ input: input.tensor, weight: weight.tensor, bias: bias.tensor, output }),
      ...conv.backwardInput({ doutput: doutput.tensor, weight: weight.tensor, dinput }),
      ...conv.backwardWeight({ doutput: doutput.tensor, input: input.tensor, dweight }),
      ...conv.backwardBias({ doutput: doutput.tensor, dbias }),
    ]);
    assertClose('output', await rt.read(output), ref.conv2dForward(s, input.values, weight.values, bias.values), seed);
    assertClose('dinput', await rt.read(dinput), ref.conv2dBackwardInput(s, doutput.values, weight.values), seed);
    assertClose('dweight', await rt.read(dweight), ref.conv2dBackwardWeight(s, doutput.values, input.values), seed);
    assertClose('dbias', await rt.read(dbias), ref.conv2dBackwardBias(s, doutput.values), seed);
  });
}

test('with relu, forward applies ReLU to its output', async () => {
  const seed = freshSeed();
  const rng = new Rng(seed);
  const s: Conv2dShape = { batch: 3, inChannels: 2, outChannels: 6, height: 12, width: 11, kernel: 5 };
  const conv = await Conv2d.create(rt, s, { relu: true });
  const input = randomInput(rt, rng, 'input', [s.batch, s.inChannels, s.height, s.width]);
  const weight = randomInput(rt, rng, 'weight', [s.outChannels, s.inChannels, s.kernel, s.kernel]);
  const bias = randomInput(rt, rng, 'bias', [s.outChannels]);
  const output = poisoned(rt, 'output', [s.batch, s.outChannels, 8, 7]);
  submit(rt, conv.forward({ input: input.tensor, weight: weight.tensor, bias: bias.tensor, output }));
  assertClose('output', await rt.read(output), ref.reluForward(ref.conv2dForward(s, input.values, weight.values, bias.values)), seed);
});

test.run();
