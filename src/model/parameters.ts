/**
 * LeNet-5's parameters as PyTorch names and shapes them (its state_dict), and where
 * each lives in the engine's flat buffers. Parameters, gradients and Adam's two
 * moments are four flat float32 buffers with the same layout, so Adam is one
 * dispatch and a checkpoint is four copies. Every tensor starts on a 256-byte
 * boundary (64 floats), as WebGPU requires of a binding's offset; the padding
 * between tensors stays zero in all four buffers, and Adam leaves zeros unchanged.
 */
import type { Rng } from '../util/rng';

export const PARAMETERS = [
  { name: 'conv1.weight', shape: [6, 1, 5, 5], fanIn: 25 },
  { name: 'conv1.bias', shape: [6], fanIn: 25 },
  { name: 'conv2.weight', shape: [16, 6, 5, 5], fanIn: 150 },
  { name: 'conv2.bias', shape: [16], fanIn: 150 },
  { name: 'fc1.weight', shape: [120, 400], fanIn: 400 },
  { name: 'fc1.bias', shape: [120], fanIn: 400 },
  { name: 'fc2.weight', shape: [84, 120], fanIn: 120 },
  { name: 'fc2.bias', shape: [84], fanIn: 120 },
  { name: 'fc3.weight', shape: [10, 84], fanIn: 84 },
  { name: 'fc3.bias', shape: [10], fanIn: 84 },
] as const;

export type ParameterName = (typeof PARAMETERS)[number]['name'];

export interface Slot {
  name: ParameterName;
  shape: readonly number[];
  /** In elements; a multiple of 64. */
  offset: number;
  length: number;
}

const ALIGN = 64;

export const SLOTS: readonly Slot[] = (() => {
  let offset = 0;
  return PARAMETERS.map((p) => {
    const length = (p.shape as readonly number[]).reduce((a, b) => a * b, 1);
    const slot = { name: p.name, shape: p.shape, offset, length };
    offset += Math.ceil(length / ALIGN) * ALIGN;
    return slot;
  });
})();

/** Elements in a flat buffer, padding included. */
export const FLAT_LENGTH = SLOTS.reduce((end, s) => Math.max(end, s.offset + Math.ceil(s.length / ALIGN) * ALIGN), 0);

/** Parameters proper: 61,706 for LeNet-5. */
export const PARAMETER_COUNT = SLOTS.reduce((n, s) => n + s.length, 0);

export function slot(name: string): Slot {
  const s = SLOTS.find((x) => x.name === name);
  if (!s) throw new Error(`LeNet-5 has no parameter "${name}"`);
  return s;
}

/**
 * PyTorch's default initialisation for Conv2d and Linear: weights by
 * kaiming_uniform_(a=sqrt(5)) and biases alike, which both come to
 * uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)). Drawn in state_dict order.
 */
export function initParameters(rng: Rng): Float32Array {
  const flat = new Float32Array(FLAT_LENGTH);
  PARAMETERS.forEach((p, i) => {
    const bound = 1 / Math.sqrt(p.fanIn);
    const s = SLOTS[i];
    for (let j = 0; j < s.length; j++) flat[s.offset + j] = rng.uniform(-bound, bound);
  });
  return flat;
}

/** Named tensors (a state_dict) from a flat buffer. */
export function unflatten(flat: Float32Array): Map<ParameterName, Float32Array> {
  return new Map(SLOTS.map((s) => [s.name, flat.slice(s.offset, s.offset + s.length)]));
}

/** A flat buffer from named tensors; every parameter must be there with its exact size. */
export function flatten(tensors: ReadonlyMap<string, Float32Array>, source = 'parameters'): Float32Array {
  const flat = new Float32Array(FLAT_LENGTH);
  for (const s of SLOTS) {
    const t = tensors.get(s.name);
    if (!t) throw new Error(`${source}: missing tensor "${s.name}"`);
    if (t.length !== s.length) throw new Error(`${source}: "${s.name}" has ${t.length} values, expected ${s.length} [${s.shape.join(', ')}]`);
    flat.set(t, s.offset);
  }
  return flat;
}
