// Host side of shaders/pack.wgsl: the packed copies of a flat parameter buffer's conv
// weights (conv2d.wgsl's by_tap and by_tap_in), one buffer for all of them, and the
// slots that say where each parameter is copied. Adam keeps the copies up to date as
// it updates (adam.wgsl, step_and_pack); pack() makes them from weights set by the host.
import { dispatch, expectLength, type Dispatch } from '../gpu/dispatch';
import type { Kernel } from '../gpu/kernel';
import type { Runtime, Tensor } from '../gpu/runtime';
import { Conv2d, UNIFORM_FLOATS } from './conv2d';
import type { Conv2dShape } from './shapes';

/** pack.wgsl's NONE: a parameter without a copy in that slot. */
export const NONE = 0xffffffff;

/** A conv's weight within a flat parameter buffer: its name, shape and offset (in floats). */
export interface PackedConv {
  name: string;
  shape: Omit<Conv2dShape, 'batch'>;
  offset: number;
}

/** Each copy starts on a 256-byte boundary, as a binding's offset must. */
const ALIGN_FLOATS = 64;
/** And spans 16 KiB at least: conv2d.wgsl also binds the first 16 KiB of each as a uniform array. */
const region = (n: number) => Math.max(Math.ceil(n / ALIGN_FLOATS) * ALIGN_FLOATS, UNIFORM_FLOATS);

export class PackedWeights {
  private constructor(
    /** All the copies, zero where no weight goes (the padding past a last channel). */
    readonly packed: Tensor,
    /** [count, 2] u32: each parameter's two slots in `packed`, or NONE. */
    readonly slots: Tensor,
    private readonly views: Map<string, { by_tap: Tensor; by_tap_in: Tensor | null }>,
    private readonly kernel: Kernel,
    private readonly params: GPUBuffer,
    readonly count: number,
  ) {}

  /**
   * Lays out the copies of these convs' weights within a flat buffer of `count`
   * parameters: by_tap for each, and by_tap_in too with `backward`.
   */
  static async create(rt: Runtime, convs: readonly PackedConv[], count: number, backward: boolean): Promise<PackedWeights> {
    const slots = new Uint32Array(count * 2).fill(NONE);
    const places: { conv: PackedConv; forward: number; backward: number; lengths: [number, number] }[] = [];
    let floats = 0;
    for (const conv of convs) {
      const p = Conv2d.packing(conv.shape);
      const forward = floats;
      floats += region(p.forward * 4);
      const back = floats;
      if (backward) floats += region(p.backward * 4);
      const length = conv.shape.outChannels * conv.shape.inChannels * conv.shape.kernel ** 2;
      if (conv.offset + length > count) throw new Error(`packed weights: ${conv.name} (${length} at ${conv.offset}) lies outside the ${count} parameters`);
      for (let j = 0; j < length; j++) {
        const [f, b] = p.slots(j);
        slots[2 * (conv.offset + j)] = forward + f;
        if (backward) slots[2 * (conv.offset + j) + 1] = back + b;
      }
      places.push({ conv, forward, backward: back, lengths: [p.forward * 4, p.backward * 4] });
    }
    // A binding cannot be empty: a network without convs still gets one vec4.
    const length = Math.max(floats, 4);
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const buffer = rt.buffer('packed weights', length * 4, usage);
    const view = (offset: number, length: number): Tensor => ({ buffer, offset: offset * 4, shape: [length / 4, 4], length });
    const views = new Map(
      places.map((p) => [p.conv.name, { by_tap: view(p.forward, p.lengths[0]), by_tap_in: backward ? view(p.backward, p.lengths[1]) : null }]),
    );
    const slotTensor = rt.tensor('packed weight slots', [count, 2]);
    rt.write(slotTensor, slots);
    const kernel = await rt.kernel('pack', 'pack');
    const packed: Tensor = { buffer, offset: 0, shape: [length], length };
    return new PackedWeights(packed, slotTensor, views, kernel, kernel.uniformBuffer({ count }), count);
  }

  /** The copies of one conv's weights, by the name it was given. */
  of(name: string): { by_tap: Tensor; by_tap_in: Tensor | null } {
    // Each view is followed by the rest of its 16 KiB region (see UNIFORM_FLOATS).
    const v = this.views.get(name);
    if (!v) throw new Error(`packed weights: no conv named "${name}" (there are: ${[...this.views.keys()].join(', ') || 'none'})`);
    return v;
  }

  /** Copies every conv weight of `param` (the flat buffer the slots were laid out for) into its slots. */
  pack(param: Tensor): Dispatch {
    expectLength('pack', 'param', param, this.count);
    return dispatch(this.kernel, this.params, { param, slots: this.slots, packed: this.packed }, this.count);
  }
}
