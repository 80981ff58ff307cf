// maxpool2d: PyTorch's nn.MaxPool2d (padding 0, dilation 1, ceil_mode False): windows
// that do not fit are dropped. Its argmax per output is kept for backward.
import { AvgPool2d } from '../../ops/avgpool2d';
import { MaxPool2d } from '../../ops/maxpool2d';
import type { Pool2dShape } from '../../ops/shapes';
import * as ref from '../../reference/ops';
import type { Layer, LayerKind, Stage } from '../kind';

export interface Pool2dLayer extends Layer {
  op: 'maxpool2d' | 'avgpool2d';
  kernel: number;
  stride: number;
}

/** Pool2dShape without its batch, the window always given. */
export type Pool2dStageShape = Omit<Pool2dShape, 'batch'> & { kernel: number; stride: number };

export const poolFields = {
  kernel: { type: 'int', min: 1 },
  stride: { type: 'int', min: 1, default: (l: Layer) => l.kernel as number },
} as const;

export function resolvePool(l: Pool2dLayer, input: readonly number[], fail: (what: string) => never): { outShape: number[]; shape: Pool2dStageShape } {
  if (input.length !== 3) fail(`needs a [channels, height, width] input, gets [${input.join(', ')}]`);
  const [c, h, w] = input;
  if (h < l.kernel || w < l.kernel) fail(`its ${h}x${w} input is smaller than the ${l.kernel}x${l.kernel} window`);
  const out = (n: number) => Math.floor((n - l.kernel) / l.stride) + 1;
  return { outShape: [c, out(h), out(w)], shape: { channels: c, height: h, width: w, kernel: l.kernel, stride: l.stride } };
}

/** Where float32 and float64 may pick different maxima: the gap between a window's two largest values. */
function tieMargin(s: Stage<Pool2dStageShape>, x: Float64Array, batch: number, reluBefore: boolean): number {
  const { channels, height: H, width: W } = s.shape;
  const { kernel: k, stride: st } = s.shape;
  const [, oh, ow] = s.outShape;
  let margin = Infinity;
  for (let p = 0; p < batch * channels; p++) {
    for (let y = 0; y < oh; y++) {
      for (let xx = 0; xx < ow; xx++) {
        const w: number[] = [];
        for (let dy = 0; dy < k; dy++) for (let dx = 0; dx < k; dx++) w.push(x[p * H * W + (y * st + dy) * W + xx * st + dx]);
        w.sort((a, b) => b - a);
        // A window of a ReLU's output whose maximum is 0 passes no gradient, whichever wins.
        if (w.length > 1 && (!reluBefore || w[0] > 0)) margin = Math.min(margin, w[0] - w[1]);
      }
    }
  }
  return margin;
}

export const maxpool2dKind: LayerKind<Pool2dStageShape, Pool2dLayer> = {
  op: 'maxpool2d',
  named: false,
  fields: poolFields,
  autoName: 'pool',
  resolve: resolvePool,
  saved: (s) => [{ name: 'argmax', label: `${s.name} argmax`, shape: s.outShape, type: 'u32' }],
  fusesInputRelu: true,
  async create({ rt, stage, batch, training }) {
    const op = await MaxPool2d.create(rt, { batch, ...stage.shape }, { backward: training });
    return {
      forward: (io) => [op.forward({ input: io.input, output: io.output, argmax: io.saved('argmax') })],
      backward(io) {
        if (!io.dinput) return [];
        const t = { doutput: io.doutput, saved_argmax: io.saved('argmax'), dinput: io.dinput };
        return [io.inputRelu ? op.backwardRelu({ ...t, saved_output: io.output }) : op.backward(t)];
      },
    };
  },
  reference: {
    forward(s, x, _p, c) {
      const r = ref.maxpool2dForward({ batch: c.batch, ...s.shape }, x);
      return { y: r.output, saved: r.argmax };
    },
    backward: (s, dy, f, _p, c, needInput) => ({ dx: needInput ? ref.maxpool2dBackward({ batch: c.batch, ...s.shape }, dy, f.saved as Uint32Array) : undefined }),
    margin: (s, x, _y, c, reluBefore) => tieMargin(s, x, c.batch, reluBefore),
  },
  module: (s) => `MaxPool2d(kernel_size=${s.layer.kernel}, stride=${s.layer.stride}, padding=0, dilation=1, ceil_mode=False)`,
  moduleName: (n) => `maxpool${n}`,
};

// avgpool2d: PyTorch's nn.AvgPool2d (padding 0, ceil_mode False): the mean of each window.
export const avgpool2dKind: LayerKind<Pool2dStageShape, Pool2dLayer> = {
  op: 'avgpool2d',
  named: false,
  fields: poolFields,
  autoName: 'pool',
  resolve: resolvePool,
  async create({ rt, stage, batch, training }) {
    const op = await AvgPool2d.create(rt, { batch, ...stage.shape }, { backward: training });
    return {
      forward: (io) => [op.forward({ input: io.input, output: io.output })],
      backward: (io) => (io.dinput ? [op.backward({ doutput: io.doutput, dinput: io.dinput })] : []),
    };
  },
  reference: {
    forward: (s, x, _p, c) => ({ y: ref.avgpool2dForward({ batch: c.batch, ...s.shape }, x) }),
    backward: (s, dy, _f, _p, c, needInput) => ({ dx: needInput ? ref.avgpool2dBackward({ batch: c.batch, ...s.shape }, dy) : undefined }),
  },
  module: (s) => `AvgPool2d(kernel_size=${s.layer.kernel}, stride=${s.layer.stride}, padding=0)`,
  moduleName: (n) => `avgpool${n}`,
};
