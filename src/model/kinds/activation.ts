// Elementwise activations as layers of their own: relu (fused into the conv2d or
// linear before it where there is one), and, as their twins, tanh and sigmoid. Each
// backward takes the gradient from the saved output, as PyTorch's threshold_backward,
// tanh_backward and sigmoid_backward do.
import { Relu } from '../../ops/relu';
import { Sigmoid } from '../../ops/sigmoid';
import { Tanh } from '../../ops/tanh';
import { sigmoidBackward, sigmoidForward, tanhBackward, tanhForward } from '../../reference/elementwise';
import * as ref from '../../reference/ops';
import type { Layer, LayerKind, ReferenceKind, Stage, StageOp } from '../kind';
import { numel } from './common';

export interface ActivationLayer extends Layer {
  op: 'relu' | 'tanh' | 'sigmoid';
}

export interface ElementwiseShape {
  /** Elements per sample. */
  count: number;
}

/** The host side every elementwise op has (src/ops/relu.ts and its twins). */
interface ElementwiseOp {
  forward(t: { input: import('../../gpu/runtime').Tensor; output: import('../../gpu/runtime').Tensor }): import('../../gpu/dispatch').Dispatch;
  backward(t: { doutput: import('../../gpu/runtime').Tensor; saved_output: import('../../gpu/runtime').Tensor; dinput: import('../../gpu/runtime').Tensor }): import('../../gpu/dispatch').Dispatch;
}

/**
 * The kind of an elementwise activation, from its host op and reference. Standing
 * alone, its input's gradient through a ReLU before it is Backprop's to apply.
 */
export function activationKind(
  op: ActivationLayer['op'],
  make: (rt: import('../../gpu/runtime').Runtime, count: number) => Promise<ElementwiseOp>,
  reference: { forward(x: Float64Array): Float64Array; backward(dy: Float64Array, y: Float64Array): Float64Array },
  module: string,
  extra: Partial<LayerKind<ElementwiseShape, ActivationLayer>> = {},
): LayerKind<ElementwiseShape, ActivationLayer> {
  const refKind: ReferenceKind<ElementwiseShape> = {
    forward: (_s, x) => ({ y: reference.forward(x) }),
    backward: (_s, dy, f, _p, _c, needInput) => ({ dx: needInput ? reference.backward(dy, f.y) : undefined }),
  };
  return {
    op,
    named: false,
    fields: {},
    autoName: op,
    resolve: (_l, input) => ({ outShape: input, shape: { count: numel(input) } }),
    async create({ rt, stage, batch }): Promise<StageOp> {
      const k = await make(rt, batch * stage.shape.count);
      return {
        forward: (io) => [k.forward({ input: io.input, output: io.output })],
        backward: (io) => (io.dinput ? [k.backward({ doutput: io.doutput, saved_output: io.output, dinput: io.dinput })] : []),
      };
    },
    reference: refKind,
    module: () => module,
    moduleName: () => op,
    sharedModule: true,
    ...extra,
  };
}

/** Fused into a conv2d or linear whose output it reads, whose kernels apply it (and undo it on the way back). */
function fuseRelu(previous: Stage | undefined, layer: ActivationLayer): boolean {
  if (!previous || (previous.op !== 'conv2d' && previous.op !== 'linear') || previous.relu) return false;
  previous.relu = true;
  previous.reluLayer = layer;
  return true;
}

export const reluKind = activationKind('relu', (rt, count) => Relu.create(rt, count), { forward: ref.reluForward, backward: ref.reluBackward }, 'ReLU()', {
  fuse: fuseRelu,
  reference: {
    forward: (_s, x) => ({ y: ref.reluForward(x) }),
    backward: (_s, dy, f, _p, _c, needInput) => ({ dx: needInput ? ref.reluBackward(dy, f.y) : undefined }),
    margin: (_s, x) => x.reduce((m, v) => Math.min(m, Math.abs(v)), Infinity),
  },
});

export const tanhKind = activationKind('tanh', (rt, count) => Tanh.create(rt, count), { forward: tanhForward, backward: tanhBackward }, 'Tanh()');
export const sigmoidKind = activationKind('sigmoid', (rt, count) => Sigmoid.create(rt, count), { forward: sigmoidForward, backward: sigmoidBackward }, 'Sigmoid()');
