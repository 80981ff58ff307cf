// conv2d: PyTorch's nn.Conv2d (bias, zero padding, stride), NCHW, weight [out, in, k, k].
import { Conv2d } from '../../ops/conv2d';
import type { Conv2dShape } from '../../ops/shapes';
import * as ref from '../../reference/ops';
import type { Layer, LayerKind } from '../kind';
import { perImage } from './common';

export interface Conv2dLayer extends Layer {
  op: 'conv2d';
  name: string;
  inChannels: number;
  outChannels: number;
  kernel: number;
  stride: number;
  padding: number;
}

export type Conv2dStageShape = Omit<Conv2dShape, 'batch'>;

/** The largest kernel conv2d.wgsl takes. */
export const MAX_KERNEL = 7;

export const conv2dKind: LayerKind<Conv2dStageShape, Conv2dLayer> = {
  op: 'conv2d',
  named: true,
  fields: {
    inChannels: { type: 'int', min: 1 },
    outChannels: { type: 'int', min: 1 },
    kernel: { type: 'int', min: 1 },
    stride: { type: 'int', min: 1, default: 1 },
    padding: { type: 'int', min: 0, default: 0 },
  },
  resolve(l, input, fail) {
    if (input.length !== 3) fail(`needs a [channels, height, width] input, gets [${input.join(', ')}]`);
    const [c, h, w] = input;
    if (c !== l.inChannels) fail(`expects ${l.inChannels} input channels, gets ${c} (${input.join('x')})`);
    const oh = Math.floor((h + 2 * l.padding - l.kernel) / l.stride) + 1;
    const ow = Math.floor((w + 2 * l.padding - l.kernel) / l.stride) + 1;
    if (h + 2 * l.padding < l.kernel || w + 2 * l.padding < l.kernel) fail(`kernel ${l.kernel} is larger than its ${h}x${w} input${l.padding ? ` padded by ${l.padding}` : ''}`);
    if (l.kernel > MAX_KERNEL) fail(`kernel ${l.kernel} is larger than ${MAX_KERNEL}, the largest conv2d.wgsl takes`);
    const shape: Conv2dStageShape = { inChannels: c, outChannels: l.outChannels, height: h, width: w, kernel: l.kernel, ...(l.stride !== 1 ? { stride: l.stride } : {}), ...(l.padding !== 0 ? { padding: l.padding } : {}) };
    return { outShape: [l.outChannels, oh, ow], shape };
  },
  params(s) {
    const { inChannels, outChannels, kernel } = s.shape;
    const fanIn = inChannels * kernel * kernel;
    return [
      { suffix: 'weight', shape: [outChannels, inChannels, kernel, kernel], init: { fanIn }, role: 'parameter' },
      { suffix: 'bias', shape: [outChannels], init: { fanIn }, role: 'parameter' },
    ];
  },
  perImage: (s) => perImage(s.name, Conv2d.perImage(s.shape)),
  loops: (_s, batch) => Conv2d.batchLoopIterations(batch),
  async create({ rt, stage, batch, training, inputGrad }) {
    const op = await Conv2d.create(rt, { batch, ...stage.shape }, { label: stage.name, relu: stage.relu, backward: training, inputGrad: inputGrad !== 'none' });
    return {
      forward: (io) => [op.forward({ input: io.input, by_tap: io.packed().by_tap, bias: io.param('bias'), output: io.output })],
      backward(io) {
        const t = { doutput: io.doutput, input: io.input, dweight: io.grad('weight'), dbias: io.grad('bias') };
        return io.dinput ? op.backward({ ...t, by_tap_in: io.packed().by_tap_in!, dinput: io.dinput }) : op.backward(t);
      },
    };
  },
  reference: {
    forward: (s, x, p, c) => ({ y: ref.conv2dForward({ batch: c.batch, ...s.shape }, x, p('weight'), p('bias')) }),
    backward(s, dy, f, p, c, needInput) {
      const shape = { batch: c.batch, ...s.shape };
      return {
        grads: { weight: ref.conv2dBackwardWeight(shape, dy, f.x), bias: ref.conv2dBackwardBias(shape, dy) },
        dx: needInput ? ref.conv2dBackwardInput(shape, dy, p('weight')) : undefined,
      };
    },
  },
  module: (s) => {
    const l = s.layer;
    return `Conv2d(${l.inChannels}, ${l.outChannels}, kernel_size=(${l.kernel}, ${l.kernel}), stride=(${l.stride}, ${l.stride})${l.padding ? `, padding=(${l.padding}, ${l.padding})` : ''})`;
  },
};
