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
}

export const DEFAULT_TUNING: Tuning = { convColumns: 4 };

/** Mesa's gallivm: llvmpipe (OpenGL) and lavapipe (Vulkan) compile shaders alike. */
const GALLIVM = /llvmpipe|lavapipe/i;

/**
 * The tuning for an adapter; `override` (the LENET_CONV_COLUMNS variable, for
 * measuring) sets convColumns whatever the adapter.
 */
export function tuningFor(adapter: Pick<AdapterDescription, 'name' | 'description'>, override?: string): Tuning {
  const measured: Tuning = GALLIVM.test(`${adapter.name} ${adapter.description}`) ? { convColumns: 8 } : DEFAULT_TUNING;
  if (override === undefined || override === '') return measured;
  if (override !== '4' && override !== '8') throw new Error(`LENET_CONV_COLUMNS must be 4 or 8, got "${override}"`);
  return { ...measured, convColumns: Number(override) as 4 | 8 };
}
