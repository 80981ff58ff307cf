// The layers that only shape the network: flatten (a view of the same activation,
// as PyTorch's torch.flatten(x, 1)) and log_softmax, the last layer, whose output the
// loss reads (its backward is fused with the loss's: src/ops/nll_loss.ts).
import { LogSoftmax } from '../../ops/log_softmax';
import * as ref from '../../reference/ops';
import type { Layer, LayerKind } from '../kind';

export const flattenKind: LayerKind<null, Layer> = {
  op: 'flatten',
  named: false,
  fields: {},
  view(input, fail) {
    if (input.length === 1) fail('its input is flat already');
    return [input.reduce((a, b) => a * b, 1)];
  },
  resolve: () => {
    throw new Error('flatten is a view, not a stage');
  },
  create: () => {
    throw new Error('flatten is a view, not a stage');
  },
  reference: {
    forward: () => {
      throw new Error('flatten is a view, not a stage');
    },
    backward: () => ({}),
  },
};

export interface LogSoftmaxShape {
  classes: number;
}

export const logSoftmaxKind: LayerKind<LogSoftmaxShape, Layer> = {
  op: 'log_softmax',
  named: false,
  fields: {},
  resolve(_l, input, fail) {
    if (input.length !== 1) fail(`needs a flat input, gets ${input.join('x')}`);
    return { outShape: input, shape: { classes: input[0] } };
  },
  async create({ rt, stage, batch }) {
    // Training never runs log-softmax's own backward: the loss's gradient is fused with it.
    const op = await LogSoftmax.create(rt, batch, stage.shape.classes, { backward: false });
    return { forward: (io) => [op.forward({ input: io.input, output: io.output })] };
  },
  reference: {
    forward: (s, x, _p, c) => ({ y: ref.logSoftmaxForward(c.batch, s.shape.classes, x) }),
    backward: () => {
      throw new Error('reference: log_softmax has no backward of its own (the loss takes it)');
    },
  },
};
