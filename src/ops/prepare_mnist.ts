// Host side of shaders/prepare_mnist.wgsl: batch gather, 28->32 bilinear resize,
// normalisation and optional flip, on the GPU.
import { dispatch, expectLength, type Dispatch } from '../gpu/dispatch';
import type { Kernel } from '../gpu/kernel';
import type { Runtime, Tensor } from '../gpu/runtime';

export const MNIST_MEAN = 0.1307;
export const MNIST_STD = 0.3081;
export const FLIP_BIT = 0x80000000;

export class PrepareMnist {
  private constructor(
    readonly batch: number,
    private readonly kernel: Kernel,
    private readonly params: GPUBuffer,
  ) {}

  static async create(rt: Runtime, batch: number, mean = MNIST_MEAN, std = MNIST_STD): Promise<PrepareMnist> {
    const kernel = await rt.kernel('prepare_mnist', 'forward');
    return new PrepareMnist(batch, kernel, kernel.uniformBuffer({ batch, mean, stddev: std }));
  }

  /**
   * images: all images' bytes packed four to a u32; all_labels: all labels' bytes,
   * likewise; batch_indices: [batch] image index | FLIP_BIT; output: [batch,1,32,32];
   * labels: [batch] u32.
   */
  forward(t: { images: Tensor; all_labels: Tensor; batch_indices: Tensor; output: Tensor; labels: Tensor }): Dispatch {
    expectLength('prepare_mnist.forward', 'batch_indices', t.batch_indices, this.batch);
    expectLength('prepare_mnist.forward', 'output', t.output, this.batch * 32 * 32);
    expectLength('prepare_mnist.forward', 'labels', t.labels, this.batch);
    return dispatch(this.kernel, this.params, t, this.batch * 32 * 32);
  }
}
