// Helpers for tests that compare whole LeNet-5 steps with the float64 reference.
import { SLOTS, initParameters, type ParameterName } from '../../src/model/parameters';
import * as ref from '../../src/reference/ops';
import type { Params } from '../../src/reference/lenet5';
import { Rng } from '../../src/util/rng';

/** Reference parameters (float64) from the flat float32 layout. */
export function toReference(flat: Float32Array): Params {
  return Object.fromEntries(SLOTS.map((s) => [s.name, Float64Array.from(flat.subarray(s.offset, s.offset + s.length))]));
}

export function slice(flat: Float32Array, name: ParameterName): Float32Array {
  const s = SLOTS.find((x) => x.name === name)!;
  return flat.subarray(s.offset, s.offset + s.length);
}

/**
 * How close a batch comes to a point where float32 and float64 can take different
 * branches: a ReLU input near 0, or two near-equal maxima in a pooling window. A
 * comparison at 1e-5 is only meaningful away from those (as finite differences are).
 */
export function kinkMargin(params: Params, input: Float64Array, batch: number): number {
  const conv1 = ref.conv2dForward({ batch, inChannels: 1, outChannels: 6, height: 32, width: 32, kernel: 5 }, input, params['conv1.weight'], params['conv1.bias']);
  const relu1 = ref.reluForward(conv1);
  const pool1 = ref.maxpool2dForward({ batch, channels: 6, height: 28, width: 28 }, relu1).output;
  const conv2 = ref.conv2dForward({ batch, inChannels: 6, outChannels: 16, height: 14, width: 14, kernel: 5 }, pool1, params['conv2.weight'], params['conv2.bias']);
  const pool2 = ref.maxpool2dForward({ batch, channels: 16, height: 10, width: 10 }, conv2).output;
  const fc1 = ref.linearForward({ batch, inFeatures: 400, outFeatures: 120 }, pool2, params['fc1.weight'], params['fc1.bias']);
  const fc2 = ref.linearForward({ batch, inFeatures: 120, outFeatures: 84 }, ref.reluForward(fc1), params['fc2.weight'], params['fc2.bias']);
  let margin = Infinity;
  for (const x of [conv1, fc1, fc2]) for (const v of x) margin = Math.min(margin, Math.abs(v));
  for (const [x, planes, size] of [[relu1, batch * 6, 28], [conv2, batch * 16, 10]] as const) {
    for (let p = 0; p < planes; p++) {
      for (let y = 0; y < size; y += 2) {
        for (let xx = 0; xx < size; xx += 2) {
          const at = p * size * size + y * size + xx;
          const w = [x[at], x[at + 1], x[at + size], x[at + size + 1]].sort((a, b) => b - a);
          if (w[0] > 0 || x === conv2) margin = Math.min(margin, w[0] - w[1]);
        }
      }
    }
  }
  return margin;
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
export function randomBatch(rng: Rng, batch: number, margin = 2e-6): Batch {
  for (let attempt = 0; attempt < 50; attempt++) {
    const flat = initParameters(rng);
    const input = Float32Array.from({ length: batch * 32 * 32 }, () => rng.normal());
    const labels = Uint32Array.from({ length: batch }, () => rng.int(10));
    if (kinkMargin(toReference(flat), Float64Array.from(input), batch) > margin) return { flat, input, labels };
  }
  throw new Error('could not draw a batch away from the ReLU and max-pool kinks');
}

