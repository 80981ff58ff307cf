/**
 * The kernels' block shapes for each adapter, from a table measured with
 * `npm run bench:kernels` on this project's CPU adapters (bench/NOTES.md). A choice
 * changes how the work is split among invocations, never the order of any sum:
 * every choice gives the same bits, so a run stays reproducible across them.
 */
import type { AdapterDescription } from './device';

/** Output columns per invocation of a conv kernel (conv2d.wgsl's XB). */
export type ConvColumns = 4 | 8 | 16;
export const CONV_COLUMNS: readonly ConvColumns[] = [4, 8, 16];

export interface Tuning {
  /**
   * conv2d.wgsl's XB for forward: output columns per invocation, 4, 8 or 16. More load
   * each weight once for more multiply-adds: on llvmpipe, where every storage-buffer
   * load is a gather with a bounds check per lane and each tap has fixed costs, conv1
   * and conv2 forward took 1.2-1.3x less time with eight than four (Mesa 22.3.6), and
   * conv2 1.7x less with 16 than eight (Mesa 25.0.7). SwiftShader was no faster with eight.
   */
  convColumns: ConvColumns;
  /**
   * conv2d.wgsl's XB for backward_input: llvmpipe 38 -> 23 ms, SwiftShader 73 -> 48 ms
   * with eight rather than four (Mesa 22.3.6); on Mesa 25.0.7, conv2 1.8x less with 16
   * than eight.
   */
  convInputColumns: ConvColumns;
  /**
   * conv2d.wgsl's ALL_ROWS: backward_weight takes all K kernel rows of a weight
   * gradient per invocation (K new inputs per step for K x K x 4 multiply-adds) rather
   * than one. llvmpipe: conv2 19 -> 14 ms, conv1 16.5 -> 10.5 ms; SwiftShader: 5-6x
   * slower (its arrays stay in memory, and conv1 has only 128 such invocations).
   */
  convAllRows: boolean;
  /**
   * linear.wgsl's WIDE: 8x8 blocks of results per invocation, not 4x4: per step, 16
   * loads for 64 multiply-adds instead of 8 for 16.
   */
  linearWide: boolean;
  /**
   * conv2d.wgsl's UNIFORM_WEIGHTS: forward and backward_input read the packed weights
   * through a uniform binding (where they fit in 16 KiB). llvmpipe gathers every
   * storage load lane by lane with a bounds check, but not uniform ones: conv2
   * forward 17 -> 7.5 ms, conv1 9 -> 4.5 ms.
   */
  convUniformWeights: boolean;
}

export const DEFAULT_TUNING: Tuning = { convColumns: 4, convInputColumns: 4, convAllRows: false, linearWide: false, convUniformWeights: false };

/** Measured here (bench/NOTES.md); an adapter not named keeps DEFAULT_TUNING. */
const MEASURED: { adapter: RegExp; tuning: Tuning }[] = [
  // Mesa's gallivm: llvmpipe (OpenGL) and lavapipe (Vulkan) compile shaders alike.
  // Measured on Mesa 22.3.6 (2026-11-29) and again on 25.0.7 (2026-12-08), where loads
  // cost half as much: every choice was still the faster one on both, so one row
  // serves both (16 columns: conv2 faster on both, conv1 forward faster on 25.0.7 and
  // about level on 22.3.6, 1,297 against 1,237 us). `npm run bench` records the driver's version and the tuning with
  // its figures, for a host where they part.
  { adapter: /llvmpipe|lavapipe/i, tuning: { convColumns: 16, convInputColumns: 16, convAllRows: true, linearWide: true, convUniformWeights: true } },
  { adapter: /swiftshader/i, tuning: { convColumns: 4, convInputColumns: 8, convAllRows: false, linearWide: true, convUniformWeights: false } },
];

/**
 * The tuning for an adapter, with `override` (the LENET_TUNING variable, for
 * measuring: e.g. "convColumns=8,convAllRows=0,linearWide=1") applied over it.
 */
export function tuningFor(adapter: Pick<AdapterDescription, 'name' | 'description'>, override?: string): Tuning {
  const name = `${adapter.name} ${adapter.description}`;
  const tuning: Tuning = { ...(MEASURED.find((m) => m.adapter.test(name))?.tuning ?? DEFAULT_TUNING) };
  for (const item of (override ?? '').split(',').filter((x) => x.trim() !== '')) {
    const [key, value] = item.split('=').map((x) => x.trim());
    if ((key === 'convColumns' || key === 'convInputColumns') && CONV_COLUMNS.map(String).includes(value)) tuning[key] = Number(value) as ConvColumns;
    else if ((key === 'convAllRows' || key === 'linearWide' || key === 'convUniformWeights') && (value === '0' || value === '1')) tuning[key] = value === '1';
    else throw new Error(`LENET_TUNING: "${item}" is not one of convColumns=4|8|16, convInputColumns=4|8|16, convAllRows=0|1, linearWide=0|1, convUniformWeights=0|1`);
  }
  return tuning;
}
