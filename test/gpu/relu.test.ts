// relu.wgsl against the float64 reference: awkward counts, lenet5's largest ReLU'd
// activation, and a grid past one row of workgroups.
import { numel, type Runtime } from '../../src/gpu/runtime';
import { LENET5 } from '../../src/model/network';
import { Relu } from '../../src/ops/relu';
import * as ref from '../../src/reference/ops';
import { COUNTS, pastOneRow } from '../helpers/elementwise';
import { gpuSuite } from '../helpers/gpu';
import { BATCH, stagesOf } from '../helpers/network';
import { checkOp } from '../helpers/op-harness';

const test = gpuSuite('relu');

async function check(rt: Runtime, count: number) {
  const relu = await Relu.create(rt, count);
  await checkOp(rt, {
    inputs: { input: [count], doutput: [count] },
    outputs: { output: [count], dinput: [count] },
    dispatches: (t) => [relu.forward({ input: t.input, output: t.output }), relu.backward({ doutput: t.doutput, saved_output: t.output, dinput: t.dinput })],
    reference: (x) => {
      const output = ref.reluForward(x.input);
      return { output, dinput: ref.reluBackward(x.doutput, output) };
    },
  });
}

// lenet5's largest ReLU'd activation: its first conv's output, over a training batch.
const conv1 = stagesOf(LENET5, 'conv2d')[0];
for (const count of [...COUNTS, BATCH * numel(conv1.outShape), 100_003]) {
  test(`relu on ${count} elements: forward and backward match the reference`, async ({ rt }) => {
    await check(rt, count);
  });
}

test('relu past one row of 65,535 workgroups: the grid folds into y', async ({ rt }) => {
  const count = await pastOneRow(rt, 'relu');
  if (count === null) return console.log('  (skipped: the grid cannot fold)');
  await check(rt, count);
});

test.run();
