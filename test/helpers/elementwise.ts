// Shared pieces of the elementwise ops' GPU tests (relu, tanh, sigmoid, dropout): the
// awkward element counts, accuracy per element in float32 ulps, and an opt-in dump of
// a kernel's output bits for comparing the two WebGPU implementations.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { grid } from '../../src/gpu/kernel';
import type { Runtime } from '../../src/gpu/runtime';
import { RUNTIME } from './programs';

/** Counts around the 64-invocation workgroups: one, a workgroup but one, one over, 64² + 1. */
export const COUNTS = [1, 63, 65, 4097];

/**
 * One element more than a row of the grid holds (65,535 workgroups of `file`'s
 * `entry`), so the grid folds into y; null where it cannot (the kernel's grid() would refuse).
 */
export async function pastOneRow(rt: Runtime, file: string, entry = 'forward'): Promise<number | null> {
  const wg = (await rt.kernel(file, entry)).workgroupSize[0];
  const max = rt.device.limits.maxComputeWorkgroupsPerDimension;
  const count = max * wg + 1;
  return grid(count, wg, max) ? count : null;
}

const SMALLEST_NORMAL = 2 ** -126;

/** The spacing of float32 numbers at |v| (normal range; the smallest normal's below). */
export function ulpOf(v: number): number {
  const a = Math.max(Math.abs(v), SMALLEST_NORMAL);
  return 2 ** (Math.floor(Math.log2(a)) - 23);
}

/**
 * Every element within `ulps(i)` float32 ulps of the float64 reference (a result
 * below the smallest normal may also be 0 or any subnormal: WGSL lets a GPU flush
 * them); returns the worst error in ulps, for the report.
 */
export function assertUlps(what: string, gpu: ArrayLike<number>, ref: ArrayLike<number>, ulps: (i: number) => number, seed: number): number {
  let worst = 0;
  for (let i = 0; i < ref.length; i++) {
    if (Math.abs(ref[i]) < SMALLEST_NORMAL && Math.abs(gpu[i]) < SMALLEST_NORMAL) continue;
    const e = Math.abs(gpu[i] - ref[i]) / ulpOf(ref[i]);
    if (!(e <= ulps(i))) assert.unreachable(`${what}[${i}]: ${gpu[i]}, expected ${ref[i]}: ${e.toFixed(1)} ulps > ${ulps(i).toFixed(1)} (seed ${seed})`);
    worst = Math.max(worst, e);
  }
  return worst;
}

/**
 * With LENET_BITS_DIR set, writes a tensor's float32 bits to
 * $LENET_BITS_DIR/<name>.<node|deno>.<adapter>.f32, so that Dawn's and wgpu's can be
 * compared byte for byte (cmp) after running the test file in both (with LENET_SEED
 * fixed, so both draw the same inputs).
 */
export function dumpBits(rt: Runtime, name: string, values: ArrayLike<number>): void {
  const dir = process.env.LENET_BITS_DIR;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  const adapter = (process.env.LENET_ADAPTER ?? rt.adapter.name).replace(/[^\w-]+/g, '-');
  const path = join(dir, `${name}.${RUNTIME}.${adapter}.f32`);
  writeFileSync(path, new Uint8Array(Float32Array.from(values).buffer));
}
