// Host side of shaders/prepare_input.wgsl: batch gather, bilinear resize from the data
// set's image size to the network's input size, normalisation and optional flip, on
// the GPU. The sizes become the shader's override constants, the normalisation its
// uniform (which setNormalization() rewrites in place: bind groups stay as they are).
import { dispatch, expectLength, PER_INVOCATION, type Dispatch } from '../gpu/dispatch';
import type { Kernel } from '../gpu/kernel';
import type { Runtime, Tensor } from '../gpu/runtime';
import type { Normalization, PrepareShape } from './shapes';

export type { PrepareShape };

export const FLIP_BIT = 0x80000000;

export class PrepareInput {
  private constructor(
    readonly shape: PrepareShape,
    private readonly rt: Runtime,
    private readonly kernel: Kernel,
    private readonly params: GPUBuffer,
  ) {}

  static async create(rt: Runtime, shape: PrepareShape, normalization: Normalization): Promise<PrepareInput> {
    for (const [name, v] of Object.entries(shape)) {
      if (!(Number.isInteger(v) && v >= 1)) throw new Error(`prepare_input: ${name} must be a positive integer, got ${v}`);
    }
    const sizes = { SRC_H: shape.srcHeight, SRC_W: shape.srcWidth, DST_H: shape.dstHeight, DST_W: shape.dstWidth };
    const kernel = await rt.kernel('prepare_input', 'forward', { ...sizes, PER: PER_INVOCATION });
    return new PrepareInput(shape, rt, kernel, kernel.uniformBuffer(uniforms(shape.batch, normalization)));
  }

  /** Takes effect with the next submission. */
  setNormalization(n: Normalization): void {
    this.rt.device.queue.writeBuffer(this.params, 0, this.kernel.encodeUniform(uniforms(this.shape.batch, n)));
  }

  /**
   * images: all images' bytes packed four to a u32; all_labels: all labels' bytes,
   * likewise; batch_indices: [batch] image index | FLIP_BIT; output:
   * [batch, 1, dstHeight, dstWidth]; labels: [batch] u32.
   */
  forward(t: { images: Tensor; all_labels: Tensor; batch_indices: Tensor; output: Tensor; labels: Tensor }): Dispatch {
    const { batch, dstHeight, dstWidth } = this.shape;
    expectLength('prepare_input.forward', 'batch_indices', t.batch_indices, batch);
    expectLength('prepare_input.forward', 'output', t.output, batch * dstHeight * dstWidth);
    expectLength('prepare_input.forward', 'labels', t.labels, batch);
    // It reads the batch's images only, not the whole data set it binds.
    const bytes = batch * (this.shape.srcHeight * this.shape.srcWidth + 4 + 4) + 4 * batch * dstHeight * dstWidth;
    return dispatch(this.kernel, this.params, t, Math.ceil((batch * dstHeight * dstWidth) / PER_INVOCATION), { bytes });
  }
}

function uniforms(batch: number, n: Normalization): Record<string, number> {
  return { batch, mean: n.mean, stddev: n.std };
}
