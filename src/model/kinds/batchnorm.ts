// batchnorm2d and batchnorm1d: PyTorch's nn.BatchNorm2d (NCHW) and nn.BatchNorm1d (on
// [N, F]). Train mode normalises with the batch's statistics (biased variance) and
// updates the running ones (unbiased variance, `momentum`); eval mode normalises with
// the running statistics, which model files and checkpoints keep as buffers.
import { BatchNorm } from '../../ops/batchnorm';
import type { BatchNormShape } from '../../ops/shapes';
import { batchnormBackward, batchnormForwardEval, batchnormForwardTrain } from '../../reference/batchnorm';
import type { Layer, LayerKind, ParamSpec, Stage } from '../kind';
import { perImage } from './common';
import { pyFloat } from './dropout';

export interface BatchNormLayer extends Layer {
  op: 'batchnorm2d' | 'batchnorm1d';
  name: string;
  eps: number;
  momentum: number;
}

export type BatchNormStageShape = Omit<BatchNormShape, 'batch'>;

const hyper = {
  eps: { type: 'number', min: 0, above: true, default: 1e-5, doc: 'added to the variance' },
  momentum: { type: 'number', min: 0, default: 0.1, doc: 'of the running statistics, in [0, 1]' },
} as const;

function params(s: Stage<BatchNormStageShape>): ParamSpec[] {
  const c = [s.shape.channels];
  return [
    { suffix: 'weight', shape: c, init: { fill: 1 }, role: 'parameter' },
    { suffix: 'bias', shape: c, init: { fill: 0 }, role: 'parameter' },
    { suffix: 'running_mean', shape: c, init: { fill: 0 }, role: 'buffer' },
    { suffix: 'running_var', shape: c, init: { fill: 1 }, role: 'buffer' },
    { suffix: 'num_batches_tracked', shape: [], init: { fill: 0 }, role: 'counter' },
  ];
}

function kind(op: 'batchnorm2d' | 'batchnorm1d'): LayerKind<BatchNormStageShape, BatchNormLayer> {
  const twoD = op === 'batchnorm2d';
  const size = twoD ? 'channels' : 'features';
  return {
    op,
    named: true,
    fields: { [size]: { type: 'int', min: 1 }, ...hyper },
    resolve(l, input, fail) {
      const n = l[size] as number;
      if (twoD) {
        if (input.length !== 3) fail(`needs a [channels, height, width] input, gets [${input.join(', ')}]`);
        if (input[0] !== n) fail(`expects ${n} channels, gets ${input[0]} (${input.join('x')})`);
        return { outShape: input, shape: { channels: n, spatial: input[1] * input[2] } };
      }
      if (input.length !== 1) fail(`needs a flat input, gets ${input.join('x')}: put a flatten before it`);
      if (input[0] !== n) fail(`expects ${n} features, gets ${input[0]}`);
      return { outShape: input, shape: { channels: n, spatial: 1 } };
    },
    params,
    perImage: (s) => perImage(s.name, BatchNorm.perImage(s.shape)),
    loops: (_s, batch) => BatchNorm.batchLoopIterations(batch),
    trainBatch: (s, batch) =>
      batch * s.shape.spatial > 1
        ? null
        : `a training batch of ${batch} sample${batch === 1 ? '' : 's'} gives one value per channel, which batch normalisation cannot train on (PyTorch refuses it too); --drop-last drops a last batch of one, or choose another batch size`,
    async create({ rt, stage, batch, training, inputGrad }) {
      const { eps, momentum } = stage.layer;
      const op = await BatchNorm.create(rt, { batch, ...stage.shape }, { label: stage.name, eps, momentum, backward: training, inputGrad: inputGrad !== 'none' });
      const tensors = (io: import('../kind').ForwardIO) => ({
        input: io.input,
        weight: io.param('weight'),
        bias: io.param('bias'),
        running_mean: io.param('running_mean'),
        running_var: io.param('running_var'),
        output: io.output,
      });
      return {
        forward: (io) => (io.mode === 'train' ? op.forwardTrain(tensors(io)) : [op.forwardEval(tensors(io))]),
        backward(io) {
          const t = { doutput: io.doutput, input: io.input, weight: io.param('weight'), dweight: io.grad('weight'), dbias: io.grad('bias') };
          return op.backward(io.dinput ? { ...t, dinput: io.dinput } : t);
        },
      };
    },
    reference: {
      forward(s, x, p, c) {
        const shape = { batch: c.batch, ...s.shape };
        const { eps, momentum } = s.layer;
        if (c.mode === 'eval') return { y: batchnormForwardEval(shape, x, p('weight'), p('bias'), p('running_mean'), p('running_var'), eps) };
        const r = batchnormForwardTrain(shape, x, p('weight'), p('bias'), p('running_mean'), p('running_var'), { eps, momentum });
        return { y: r.output, updates: { running_mean: r.runningMean, running_var: r.runningVar } };
      },
      backward(s, dy, f, p, c, needInput) {
        const r = batchnormBackward({ batch: c.batch, ...s.shape }, dy, f.x, p('weight'), s.layer.eps);
        return { grads: { weight: r.dweight, bias: r.dbias }, dx: needInput ? r.dinput : undefined };
      },
    },
    module: (s) => `${twoD ? 'BatchNorm2d' : 'BatchNorm1d'}(${s.shape.channels}, eps=${pyFloat(s.layer.eps)}, momentum=${pyFloat(s.layer.momentum)}, affine=True, track_running_stats=True)`,
  };
}

export const batchnorm2dKind = kind('batchnorm2d');
export const batchnorm1dKind = kind('batchnorm1d');
