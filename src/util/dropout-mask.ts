/**
 * Dropout's keep mask, as shaders/dropout.wgsl computes it: a counter-based generator,
 * a hash of (seed, step, layer, element index), so nothing is stored and backward
 * recomputes it. The reference and the tests take their masks from here; the PyTorch
 * twin has the same in Python. Changing it changes every run with dropout.
 *
 *   mix(x)  = x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15; x *= 0x846ca68b; x ^= x >> 16  (u32, wrapping;
 *             Chris Wellons' lowbias32)
 *   bits    = mix(mix(mix(mix(seed) ^ step) ^ layer) ^ i)
 *   keep(i) = bits >= floor(p * 2^32)
 */

/** The u32 hash of the generator, on a u32. */
export function mix(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/** The 32 random bits of element i in step `step` (1-based) of dropout layer `layer` (0-based). */
export function dropoutBits(seed: number, step: number, layer: number, i: number): number {
  return mix((mix((mix((mix(seed >>> 0) ^ step) >>> 0) ^ layer) >>> 0) ^ i) >>> 0);
}

/** floor(p * 2^32): an element is kept where its bits are at least this (0 keeps all). */
export function dropoutThreshold(p: number): number {
  if (!(p >= 0 && p < 1)) throw new Error(`dropout: p must be in [0, 1), got ${p}`);
  return Math.floor(p * 2 ** 32);
}

/** 1 / (1 - p) in float64: what the kept elements are multiplied by (float32 on the GPU). */
export function dropoutScale(p: number): number {
  dropoutThreshold(p); // checks p
  return 1 / (1 - p);
}

/** 1 where element i of `count` is kept, 0 where it is dropped. */
export function keepMask(seed: number, step: number, layer: number, count: number, p: number): Uint8Array {
  const threshold = dropoutThreshold(p);
  const mask = new Uint8Array(count);
  for (let i = 0; i < count; i++) mask[i] = dropoutBits(seed, step, layer, i) >= threshold ? 1 : 0;
  return mask;
}
