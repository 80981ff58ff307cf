// linear: PyTorch's nn.Linear, y = x W^T + b with W [out_features, in_features].
import { Linear } from '../../ops/linear';
import type { LinearShape } from '../../ops/shapes';
import * as ref from '../../reference/ops';
import type { Layer, LayerKind } from '../kind';

export interface LinearLayer extends Layer {
  op: 'linear';
  name: string;
  inFeatures: number;
  outFeatures: number;
}

export type LinearStageShape = Omit<LinearShape, 'batch'>;

export const linearKind: LayerKind<LinearStageShape, LinearLayer> = {
  op: 'linear',
  named: true,
  fields: { inFeatures: { type: 'int', min: 1 }, outFeatures: { type: 'int', min: 1 } },
  resolve(l, input, fail) {
    if (input.length !== 1) fail(`needs a flat input, gets ${input.join('x')}: put a flatten before it`);
    if (input[0] !== l.inFeatures) fail(`expects ${l.inFeatures} input features, gets ${input[0]}`);
    return { outShape: [l.outFeatures], shape: { inFeatures: l.inFeatures, outFeatures: l.outFeatures } };
  },
  params(s) {
    const fanIn = s.shape.inFeatures;
    return [
      { suffix: 'weight', shape: [s.shape.outFeatures, s.shape.inFeatures], init: { fanIn }, role: 'parameter' },
      { suffix: 'bias', shape: [s.shape.outFeatures], init: { fanIn }, role: 'parameter' },
    ];
  },
  loops: (_s, batch) => Linear.batchLoopIterations(batch),
  fusesInputRelu: true,
  async create({ rt, stage, batch, training, inputGrad }) {
    const op = await Linear.create(rt, { batch, ...stage.shape }, { relu: stage.relu, backward: training, inputGrad });
    return {
      forward: (io) => [op.forward({ input: io.input, weight: io.param('weight'), bias: io.param('bias'), output: io.output })],
      backward(io) {
        const t = { doutput: io.doutput, input: io.input, dweight: io.grad('weight'), dbias: io.grad('bias') };
        return [op.backward(io.dinput ? { ...t, weight: io.param('weight'), dinput: io.dinput } : t)];
      },
    };
  },
  reference: {
    forward: (s, x, p, c) => ({ y: ref.linearForward({ batch: c.batch, ...s.shape }, x, p('weight'), p('bias')) }),
    backward(s, dy, f, p, c, needInput) {
      const shape = { batch: c.batch, ...s.shape };
      return {
        grads: { weight: ref.linearBackwardWeight(shape, dy, f.x), bias: ref.linearBackwardBias(shape, dy) },
        dx: needInput ? ref.linearBackwardInput(shape, dy, p('weight')) : undefined,
      };
    },
  },
  module: (s) => `Linear(in_features=${s.shape.inFeatures}, out_features=${s.shape.outFeatures}, bias=True)`,
};
