/**
 * The kernels' block shapes for each adapter, from a table measured with
 * `npm run bench:kernels` on this project's CPU adapters (bench/NOTES.md). A choice
 * changes how the work is split among invocations, never the order of any sum:
 * every choice gives the same bits, so a run stays reproducible across them.
 */
import type { AdapterDescription } from './device';

export interface Tuning {
  /**
   * conv2d.wgsl's XB: output columns per invocation in forward and backward_input, 4
   * or 8. Eight load each weight once for twice the multiply-adds: on llvmpipe,
   * where every storage-buffer load is a gather with a bounds check per lane, conv1
   * and conv2 forward took 1.2-1.3x less time. SwiftShader was no faster with eight.
   */
  convColumns: 4 | 8;
  /**
   * conv2d.wgsl's ALL_ROWS: backward_params takes all K kernel rows of a weight
   * gradient per invocation (K new inputs per step for K x K x 4 multiply-adds) rather
   * than one. llvmpipe: conv2 19 -> 14 ms, conv1 16.5 -> 10.5 ms; SwiftShader: 5-6x
   * slower (its arrays stay in memory, and conv1 has only 128 such invocations).
   */
  convAllRows: boolean;
}

export const DEFAULT_TUNING: Tuning = { convColumns: 4, convAllRows: false };

/** Mesa's gallivm: llvmpipe (OpenGL) and lavapipe (Vulkan) compile shaders alike. */
const GALLIVM = /llvmpipe|lavapipe/i;

/**
 * The tuning for an adapter; `override` (the LENET_CONV_COLUMNS variable, for
 * measuring) sets convColumns, and `allRows` (LENET_CONV_ALL_ROWS, 0 or 1)
 * convAllRows, whatever the adapter.
 */
export function tuningFor(adapter: Pick<AdapterDescription, 'name' | 'description'>, override?: string, allRows?: string): Tuning {
  const measured: Tuning = GALLIVM.test(`${adapter.name} ${adapter.description}`) ? { convColumns: 8, convAllRows: true } : DEFAULT_TUNING;
  const tuning = { ...measured };
  if (override !== undefined && override !== '') {
    if (override !== '4' && override !== '8') throw new Error(`LENET_CONV_COLUMNS must be 4 or 8, got "${override}"`);
    tuning.convColumns = Number(override) as 4 | 8;
  }
  if (allRows !== undefined && allRows !== '') {
    if (allRows !== '0' && allRows !== '1') throw new Error(`LENET_CONV_ALL_ROWS must be 0 or 1, got "${allRows}"`);
    tuning.convAllRows = allRows === '1';
  }
  return tuning;
}
