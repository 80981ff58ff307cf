// maxpool2d.wgsl against the float64 reference: forward (output and argmax), backward
// and backward_relu, on lenet5's pools (from its description) and on windows of other
// sizes and strides: overlapping (stride < kernel), touching, apart (stride > kernel).
// Where windows do not overlap, backward's scatter kernels and its gather kernels
// (which the host takes for overlapping windows) are both checked.
import * as assert from 'uvu/assert';
import { LENET5 } from '../../src/model/network';
import { MaxPool2d } from '../../src/ops/maxpool2d';
import { pool2dTensorShapes, type Pool2dShape } from '../../src/ops/shapes';
import * as ref from '../../src/reference/ops';
import { gpuSuite } from '../helpers/gpu';
import { stagesOf } from '../helpers/network';
import { afterRelu, checkOp } from '../helpers/op-harness';

const test = gpuSuite('maxpool2d');
const lenetPools = stagesOf(LENET5, 'maxpool2d');

const pools: [string, Pool2dShape][] = [
  ...lenetPools.map((s): [string, Pool2dShape] => [`lenet5 ${s.name}`, s.shape]),
  ['batch 1, odd sizes', { batch: 1, channels: 3, height: 7, width: 9 }],
  ['awkward', { batch: 3, channels: 5, height: 11, width: 6 }],
  ['kernel 3, stride 2 (overlapping), odd sizes', { batch: 3, channels: 4, height: 13, width: 10, kernel: 3, stride: 2 }],
  ['kernel 3, stride 3, rows and columns left over', { batch: 2, channels: 3, height: 10, width: 11, kernel: 3, stride: 3 }],
  ['kernel 2, stride 1', { batch: 2, channels: 3, height: 7, width: 6, kernel: 2, stride: 1 }],
  ['kernel 2, stride 3 (gaps between windows)', { batch: 2, channels: 2, height: 9, width: 8, kernel: 2, stride: 3 }],
  ['kernel 4, stride 1, batch 1', { batch: 1, channels: 2, height: 9, width: 7, kernel: 4, stride: 1 }],
  ['one window, the whole input', { batch: 2, channels: 3, height: 5, width: 5, kernel: 5 }],
];

/** The backward forms a shape can use: the gather always, the scatter where windows do not overlap. */
const forms = (s: Pool2dShape) => ((s.stride ?? s.kernel ?? 2) >= (s.kernel ?? 2) ? [false, true] : [true]);
const formName = (gather: boolean) => (gather ? 'gather' : 'scatter');

for (const [name, s] of pools) {
  for (const gather of forms(s)) {
    test(`${name}: forward, argmax and backward (${formName(gather)}) match the reference`, async ({ rt }) => {
      const pool = await MaxPool2d.create(rt, s, { gather });
      const { input, output } = pool2dTensorShapes(s);
      await checkOp(rt, {
        inputs: { input, doutput: output },
        outputs: { output, argmax: { shape: output, type: 'u32' }, dinput: input },
        dispatches: (t) => [
          pool.forward({ input: t.input, output: t.output, argmax: t.argmax }),
          pool.backward({ doutput: t.doutput, saved_argmax: t.argmax, dinput: t.dinput }),
        ],
        reference: (x) => {
          const expected = ref.maxpool2dForward(s, x.input);
          return { ...expected, dinput: ref.maxpool2dBackward(s, x.doutput, expected.argmax) };
        },
      });
    });
  }
}

/** Whether some input is the maximum of more than one window (so backward adds several gradients). */
function shared(argmax: Uint32Array, s: Pool2dShape): boolean {
  const perPlane = argmax.length / (s.batch * s.channels);
  for (let p = 0; p < s.batch * s.channels; p++) {
    const plane = argmax.subarray(p * perPlane, (p + 1) * perPlane);
    if (new Set(plane).size < plane.length) return true;
  }
  return false;
}

const relu: [string, Pool2dShape][] = [
  // lenet5's first pool reads a ReLU's output; a small batch, and an odd width.
  ['lenet5 pool1, batch 3, odd width', { ...lenetPools[0].shape, batch: 3, width: lenetPools[0].shape.width - 1 }],
  ['kernel 3, stride 2 (overlapping)', { batch: 3, channels: 4, height: 13, width: 10, kernel: 3, stride: 2 }],
  ['kernel 2, stride 1', { batch: 2, channels: 3, height: 8, width: 9, kernel: 2, stride: 1 }],
];

for (const [name, s] of relu) {
  for (const gather of forms(s)) {
    test(`backward_relu (${formName(gather)}), ${name}: the gradient through a ReLU and the pool together`, async ({ rt }) => {
      const pool = await MaxPool2d.create(rt, s, { gather });
      const { input, output } = pool2dTensorShapes(s);
      const { gpu, seed } = await checkOp(rt, {
        // The pool's input is a ReLU's output: windows of zeros (all inputs were negative) occur.
        inputs: { input: { shape: input, values: afterRelu(-1, 0.3) }, doutput: output },
        outputs: { output, argmax: { shape: output, type: 'u32' }, dinput: input },
        dispatches: (t) => [
          pool.forward({ input: t.input, output: t.output, argmax: t.argmax }),
          pool.backwardRelu({ doutput: t.doutput, saved_argmax: t.argmax, saved_output: t.output, dinput: t.dinput }),
        ],
        reference: (x) => {
          const expected = ref.maxpool2dForward(s, x.input);
          const throughPool = ref.maxpool2dBackward(s, x.doutput, expected.argmax);
          return { ...expected, dinput: ref.reluBackward(throughPool, x.input) };
        },
      });
      if (forms(s).length === 1) assert.ok(shared(gpu.argmax, s), `no input is the maximum of two windows (seed ${seed})`);
    });
  }
}

test('overlapping windows: inputs that are the maximum of several windows get the sum of their gradients', async ({ rt }) => {
  const s: Pool2dShape = { batch: 2, channels: 3, height: 9, width: 9, kernel: 3, stride: 1 };
  const pool = await MaxPool2d.create(rt, s);
  const { input, output } = pool2dTensorShapes(s);
  const { gpu, seed } = await checkOp(rt, {
    inputs: { input, doutput: output },
    outputs: { output, argmax: { shape: output, type: 'u32' }, dinput: input },
    dispatches: (t) => [
      pool.forward({ input: t.input, output: t.output, argmax: t.argmax }),
      pool.backward({ doutput: t.doutput, saved_argmax: t.argmax, dinput: t.dinput }),
    ],
    reference: (x) => {
      const expected = ref.maxpool2dForward(s, x.input);
      return { ...expected, dinput: ref.maxpool2dBackward(s, x.doutput, expected.argmax) };
    },
  });
  assert.ok(shared(gpu.argmax, s), `no input is the maximum of two windows (seed ${seed})`);
});

test('ties go to the first element in scan order, as PyTorch', async ({ rt }) => {
  const s = { batch: 1, channels: 2, height: 4, width: 4 };
  const pool = await MaxPool2d.create(rt, s, { backward: false });
  const { input, output } = pool2dTensorShapes(s);
  const { gpu } = await checkOp(rt, {
    // plane 0 all zeros, plane 1 all ones
    inputs: { input: { shape: input, values: (_, length) => Array.from({ length }, (_, i) => (i < length / 2 ? 0 : 1)) } },
    outputs: { output, argmax: { shape: output, type: 'u32' } },
    dispatches: (t) => [pool.forward({ input: t.input, output: t.output, argmax: t.argmax })],
    reference: (x) => ref.maxpool2dForward(s, x.input),
  });
  assert.equal(Array.from(gpu.argmax), [0, 2, 8, 10, 0, 2, 8, 10]);
});

test('ties in overlapping windows: each window takes its own first element, backward adds nothing twice', async ({ rt }) => {
  // All equal: window (y, x) of a 3x3 stride-2 pool takes its top-left, (2y)*W + 2x.
  const s: Pool2dShape = { batch: 1, channels: 1, height: 7, width: 5, kernel: 3, stride: 2 };
  const pool = await MaxPool2d.create(rt, s);
  const { input, output } = pool2dTensorShapes(s);
  const { gpu } = await checkOp(rt, {
    inputs: { input: { shape: input, values: (_, length) => new Float32Array(length).fill(0.5) }, doutput: output },
    outputs: { output, argmax: { shape: output, type: 'u32' }, dinput: input },
    dispatches: (t) => [
      pool.forward({ input: t.input, output: t.output, argmax: t.argmax }),
      pool.backward({ doutput: t.doutput, saved_argmax: t.argmax, dinput: t.dinput }),
    ],
    reference: (x) => {
      const expected = ref.maxpool2dForward(s, x.input);
      return { ...expected, dinput: ref.maxpool2dBackward(s, x.doutput, expected.argmax) };
    },
  });
  assert.equal(Array.from(gpu.argmax), [0, 2, 10, 12, 20, 22]);
});

test('windows that do not overlap: scatter and gather give each input its window gradient to the bit (-0 included), or +0', async ({ rt }) => {
  // The bits LeNet-5 trains on: 2x2 stride-2 pools had a scatter kernel before there were others.
  const shapes: Pool2dShape[] = [lenetPools[1].shape, { batch: 3, channels: 2, height: 11, width: 9, kernel: 3, stride: 4 }, { batch: 2, channels: 2, height: 9, width: 7, kernel: 3 }];
  for (const [s, gather] of shapes.flatMap((s) => [false, true].map((g) => [s, g] as const))) {
    const pool = await MaxPool2d.create(rt, s, { gather });
    const { input, output } = pool2dTensorShapes(s);
    const signs = (_: unknown, length: number) => Array.from({ length }, (_, i) => [0, -0, 1e-30, -1e-30, 0.25, -3][i % 6]);
    const { gpu, x, seed } = await checkOp(rt, {
      inputs: { input, doutput: { shape: output, values: signs } },
      outputs: { argmax: { shape: output, type: 'u32' }, output, dinput: input, dinput_relu: input },
      dispatches: (t) => [
        pool.forward({ input: t.input, output: t.output, argmax: t.argmax }),
        pool.backward({ doutput: t.doutput, saved_argmax: t.argmax, dinput: t.dinput }),
        pool.backwardRelu({ doutput: t.doutput, saved_argmax: t.argmax, saved_output: t.output, dinput: t.dinput_relu }),
      ],
      reference: (x) => {
        const expected = ref.maxpool2dForward(s, x.input);
        const dinput = ref.maxpool2dBackward(s, x.doutput, expected.argmax);
        return { ...expected, dinput, dinput_relu: ref.reluBackward(dinput, x.input) };
      },
    });
    const dinput = new Float32Array(x.input.length);
    const relu = new Float32Array(x.input.length);
    const perPlane = gpu.argmax.length / (s.batch * s.channels);
    gpu.argmax.forEach((at, o) => {
      const i = Math.floor(o / perPlane) * s.height * s.width + at;
      dinput[i] = x.doutput[o];
      relu[i] = gpu.output[o] > 0 ? x.doutput[o] : 0;
    });
    const bits = (a: ArrayLike<number>) => Array.from(new Uint32Array(Float32Array.from(a).buffer));
    assert.equal(bits(gpu.dinput), bits(dinput), `backward (${formName(gather)}), ${JSON.stringify(s)} (seed ${seed})`);
    assert.equal(bits(gpu.dinput_relu), bits(relu), `backward_relu (${formName(gather)}), ${JSON.stringify(s)} (seed ${seed})`);
  }
});

test.run();
