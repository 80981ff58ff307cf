// dropout: PyTorch's nn.Dropout(p), inverted: in train mode each element is kept with
// probability 1 - p and scaled by 1 / (1 - p), its mask a hash of the run's seed, the
// step, the layer's position and the element's index (src/util/dropout-mask.ts), so a
// run is bitwise reproducible and a resumed run equal to an uninterrupted one. In eval
// mode it is the identity: a copy (p = 0 keeps every element, scale 1, exactly).
import { Dropout } from '../../ops/dropout';
import { dropoutBackward, dropoutForward } from '../../reference/elementwise';
import { keepMask } from '../../util/dropout-mask';
import type { Layer, LayerKind } from '../kind';
import { numel } from './common';
import type { ElementwiseShape } from './activation';

export interface DropoutLayer extends Layer {
  op: 'dropout';
  p: number;
}

export const dropoutKind: LayerKind<ElementwiseShape, DropoutLayer> = {
  op: 'dropout',
  named: false,
  fields: { p: { type: 'number', min: 0, below: 1, doc: 'the probability that an element is zeroed, in [0, 1)' } },
  autoName: 'dropout',
  resolve: (_l, input) => ({ outShape: input, shape: { count: numel(input) } }),
  async create({ rt, stage, batch, training }) {
    const count = batch * stage.shape.count;
    const [train, copy] = await Promise.all([
      training ? Dropout.create(rt, count, { p: stage.layer.p, layer: stage.index }) : null,
      Dropout.create(rt, count, { p: 0, layer: stage.index }),
    ]);
    return {
      forward: (io) => [(io.mode === 'train' && train ? train : copy).forward({ input: io.input, output: io.output })],
      backward: (io) => (io.dinput && train ? [train.backward({ doutput: io.doutput, dinput: io.dinput })] : []),
      setStep: (seed, step) => train?.setStep(seed, step),
    };
  },
  reference: {
    forward(s, x, _p, c) {
      if (c.mode === 'eval') return { y: x.slice() };
      const mask = keepMask(c.seed, c.step, s.index, x.length, s.layer.p);
      return { y: dropoutForward(x, mask, s.layer.p), saved: mask };
    },
    backward: (s, dy, f, _p, _c, needInput) => ({ dx: needInput ? dropoutBackward(dy, f.saved as Uint8Array, s.layer.p) : undefined }),
  },
  module: (s) => `Dropout(p=${pyFloat(s.layer.p)}, inplace=False)`,
  moduleName: (n) => `dropout${n === 1 ? '' : n}`,
};

/** A number as Python's repr() writes a float: 0.5, 1e-05, 0.1. */
export function pyFloat(x: number): string {
  if (Number.isInteger(x)) return `${x}.0`;
  const exp = Math.floor(Math.log10(Math.abs(x)));
  if (exp < -4 || exp >= 16) {
    const [m, e] = x.toExponential().split('e');
    const n = Number(e);
    return `${m}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  return String(x);
}
