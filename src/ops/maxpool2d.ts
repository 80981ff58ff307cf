// Host side of shaders/maxpool2d.wgsl: 2x2 max-pooling, stride 2, floor mode.
import { dispatch, expectLength, type Dispatch } from '../gpu/dispatch';
import type { Kernel } from '../gpu/kernel';
import type { Runtime, Tensor } from '../gpu/runtime';

export interface Pool2dShape {
  batch: number;
  channels: number;
  height: number;
  width: number;
}

export class MaxPool2d {
  private constructor(
    readonly shape: Pool2dShape,
    private readonly k: Record<'forward' | 'backward' | 'backward_relu', Kernel>,
    private readonly params: GPUBuffer,
  ) {}

  static async create(rt: Runtime, shape: Pool2dShape): Promise<MaxPool2d> {
    const [forward, backward, backward_relu] = await Promise.all(['forward', 'backward', 'backward_relu'].map((e) => rt.kernel('maxpool2d', e)));
    const params = forward.uniformBuffer({
      planes: shape.batch * shape.channels,
      height: shape.height,
      width: shape.width,
    });
    return new MaxPool2d(shape, { forward, backward, backward_relu }, params);
  }

  get outHeight(): number {
    return Math.floor(this.shape.height / 2);
  }

  get outWidth(): number {
    return Math.floor(this.shape.width / 2);
  }

  private sizes() {
    const planes = this.shape.batch * this.shape.channels;
    return { input: planes * this.shape.height * this.shape.width, output: planes * this.outHeight * this.outWidth };
  }

  /** `argmax` (u32) keeps, per output, where its maximum came from, for backward. */
  forward(t: { input: Tensor; output: Tensor; argmax: Tensor }): Dispatch {
    const n = this.sizes();
    expectLength('maxpool2d.forward', 'input', t.input, n.input);
    expectLength('maxpool2d.forward', 'output', t.output, n.output);
    expectLength('maxpool2d.forward', 'argmax', t.argmax, n.output);
    return dispatch(this.k.forward, this.params, t, n.output);
  }

  backward(t: { doutput: Tensor; saved_argmax: Tensor; dinput: Tensor }): Dispatch {
    const n = this.sizes();
    expectLength('maxpool2d.backward', 'doutput', t.doutput, n.output);
    expectLength('maxpool2d.backward', 'saved_argmax', t.saved_argmax, n.output);
    expectLength('maxpool2d.backward', 'dinput', t.dinput, n.input);
    return dispatch(this.k.backward, this.params, t, n.output);
  }

  /**
   * backward through a ReLU before the pool as well: `saved_output` is the pool's
   * forward output; the gradient passes only where that maximum is > 0.
   */
  backwardRelu(t: { doutput: Tensor; saved_argmax: Tensor; saved_output: Tensor; dinput: Tensor }): Dispatch {
    const n = this.sizes();
    expectLength('maxpool2d.backward_relu', 'doutput', t.doutput, n.output);
    expectLength('maxpool2d.backward_relu', 'saved_argmax', t.saved_argmax, n.output);
    expectLength('maxpool2d.backward_relu', 'saved_output', t.saved_output, n.output);
    expectLength('maxpool2d.backward_relu', 'dinput', t.dinput, n.input);
    return dispatch(this.k.backward_relu, this.params, t, n.output);
  }
}
