// Helpers for tests that take their shapes from a network's description, or compare
// whole training steps with the float64 reference.
import type { Stage } from '../../src/model/kind';
import type { Conv2dStageShape } from '../../src/model/kinds/conv2d';
import type { LinearStageShape } from '../../src/model/kinds/linear';
import type { Pool2dStageShape } from '../../src/model/kinds/pool';
import { avgpool2d, batchnorm1d, batchnorm2d, conv2d, dropout, flatten, linear, logSoftmax, maxpool2d, relu, resolve, sigmoid, tanh, type Network } from '../../src/model/network';
import { parameterTable } from '../../src/model/parameters';
import { kinkMargin, type Params, type PassOptions } from '../../src/reference/network';
import { DEFAULT_CONFIG } from '../../src/train/options';
import { Rng } from '../../src/util/rng';

/** One layer of every kind, padded and strided convolutions, both modes' layers: on the raw 28x28 images. */
export const EVERY_LAYER: Network = {
  name: 'every',
  input: [1, 28, 28],
  layers: [
    conv2d('c1', 1, 4, 3, { padding: 1 }), batchnorm2d('n1', 4), relu(), maxpool2d(2),
    conv2d('c2', 4, 6, 3, { stride: 2, padding: 1 }), tanh(), avgpool2d(3, 2), sigmoid(),
    flatten(), linear('f1', 6 * 3 * 3, 16), batchnorm1d('n2', 16), relu(), dropout(0.25), linear('f2', 16, 10), logSoftmax(),
  ],
};

/** The batch the op tests give a network's layer shapes: the one training uses by default. */
export const BATCH = DEFAULT_CONFIG.batchSize;

/** Each op's shape per sample, as its stages have it. */
interface StageShapes {
  conv2d: Conv2dStageShape;
  linear: LinearStageShape;
  maxpool2d: Pool2dStageShape;
}
type Batched<Op extends keyof StageShapes> = Omit<Stage<StageShapes[Op]>, 'shape'> & { shape: StageShapes[Op] & { batch: number } };

/**
 * A network's stages of one op (from its description), each with `batch` added to
 * its per-sample shape: the shapes the op tests call the network's.
 */
export function stagesOf<Op extends keyof StageShapes>(net: Network, op: Op, batch = BATCH): Batched<Op>[] {
  return resolve(net)
    .stages.filter((s) => s.op === op)
    .map((s) => ({ ...s, shape: { ...(s.shape as StageShapes[Op]), batch } }) as unknown as Batched<Op>);
}

/** Reference parameters (float64) from the flat float32 layout. */
export function toReference(net: Network, flat: Float32Array): Params {
  const table = parameterTable(net);
  return Object.fromEntries(table.slots.map((s) => [s.name, Float64Array.from(table.view(flat, s.name))]));
}

export interface Batch {
  flat: Float32Array;
  input: Float32Array;
  labels: Uint32Array;
}

/**
 * Random initial weights (PyTorch's default init) and a random batch, drawn again
 * until the batch keeps `margin` away from every ReLU and max-pool decision.
 */
export function randomBatch(net: Network, rng: Rng, batch: number, margin = 2e-6, pass: PassOptions = {}): Batch {
  const table = parameterTable(net);
  const classes = table.resolved.classes;
  const size = net.input.reduce((a, b) => a * b, 1);
  for (let attempt = 0; attempt < 50; attempt++) {
    const flat = table.init(rng);
    // Constants (batchnorm's ones and zeros) drawn too, so that a mix-up of weight and bias, or of the running statistics, shows.
    for (const s of table.slots) {
      if (!('fill' in s.init) || s.role === 'counter') continue;
      const positive = s.name.endsWith('running_var') || s.name.endsWith('weight');
      for (let j = 0; j < s.length; j++) flat[s.offset + j] = positive ? rng.uniform(0.5, 1.5) : rng.uniform(-0.5, 0.5);
    }
    const input = Float32Array.from({ length: batch * size }, () => rng.normal());
    const labels = Uint32Array.from({ length: batch }, () => rng.int(classes));
    if (kinkMargin(net, toReference(net, flat), Float64Array.from(input), batch, pass) > margin) return { flat, input, labels };
  }
  throw new Error('could not draw a batch away from the ReLU and max-pool kinks');
}
