// Helpers for tests that take their shapes from a network's description, or compare
// whole training steps with the float64 reference.
import { resolve, type Network, type Stage } from '../../src/model/network';
import { parameterTable } from '../../src/model/parameters';
import { kinkMargin, type Params } from '../../src/reference/network';
import { DEFAULT_CONFIG } from '../../src/train/options';
import { Rng } from '../../src/util/rng';

/** The batch the op tests give a network's layer shapes: the one training uses by default. */
export const BATCH = DEFAULT_CONFIG.batchSize;

type StageOf<Op extends Stage['op']> = Extract<Stage, { op: Op }>;
type Batched<S> = S extends { shape: infer T } ? Omit<S, 'shape'> & { shape: T & { batch: number } } : S;

/**
 * A network's stages of one op (from its description), each with `batch` added to
 * its per-sample shape: the shapes the op tests call the network's.
 */
export function stagesOf<Op extends 'conv2d' | 'linear' | 'maxpool2d'>(net: Network, op: Op, batch = BATCH): Batched<StageOf<Op>>[] {
  return resolve(net)
    .stages.filter((s): s is StageOf<Op> => s.op === op)
    .map((s) => ({ ...s, shape: { ...(s as { shape: object }).shape, batch } }) as Batched<StageOf<Op>>);
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
export function randomBatch(net: Network, rng: Rng, batch: number, margin = 2e-6): Batch {
  const table = parameterTable(net);
  const classes = table.resolved.classes;
  const size = net.input.reduce((a, b) => a * b, 1);
  for (let attempt = 0; attempt < 50; attempt++) {
    const flat = table.init(rng);
    const input = Float32Array.from({ length: batch * size }, () => rng.normal());
    const labels = Uint32Array.from({ length: batch }, () => rng.int(classes));
    if (kinkMargin(net, toReference(net, flat), Float64Array.from(input), batch) > margin) return { flat, input, labels };
  }
  throw new Error('could not draw a batch away from the ReLU and max-pool kinks');
}
