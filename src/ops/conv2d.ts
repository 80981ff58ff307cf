// Host side of shaders/conv2d.wgsl: stride-1, unpadded 2-D convolution.
import { dispatch, expectLength, type Dispatch } from '../gpu/dispatch';
import type { Kernel } from '../gpu/kernel';
import type { Runtime, Tensor } from '../gpu/runtime';

export interface Conv2dShape {
  batch: number;
  inChannels: number;
  outChannels: number;
  height: number;
  width: number;
  kernel: number;
}

export class Conv2d {
  private constructor(
    readonly shape: Conv2dShape,
    private readonly k: Record<'forward' | 'backward_input' | 'backward_weight' | 'backward_bias', Kernel>,
    private readonly params: GPUBuffer,
  ) {}

  static async create(rt: Runtime, shape: Conv2dShape): Promise<Conv2d> {
    const [forward, backward_input, backward_weight, backward_bias] = await Promise.all(
      ['forward', 'backward_input', 'backward_weight', 'backward_bias'].map((e) => rt.kernel('conv2d', e)),
    );
    const s = shape;
    if (s.kernel > s.height || s.kernel > s.width) throw new Error(`conv2d: kernel ${s.kernel} is larger than the ${s.height}x${s.width} input`);
    const params = forward.uniformBuffer({
      batch: s.batch,
      in_channels: s.inChannels,
      out_channels: s.outChannels,
      height: s.height,
      width: s.width,
      kernel: s.kernel,
    });
    return new Conv2d(shape, { forward, backward_input, backward_weight, backward_bias }, params);
  }

  get outHeight(): number {
    return this.shape.height - this.shape.kernel + 1;
  }

  get outWidth(): number {
    return this.shape.width - this.shape.kernel + 1;
  }

  private sizes() {
    const s = this.shape;
    return {
      input: s.batch * s.inChannels * s.height * s.width,
      output: s.batch * s.outChannels * this.outHeight * this.outWidth,
      weight: s.outChannels * s.inChannels * s.kernel * s.kernel,
      bias: s.outChannels,
    };
  }

  forward(t: { input: Tensor; weight: Tensor; bias: Tensor; output: Tensor }): Dispatch {
    const n = this.sizes();
    expectLength('conv2d.forward', 'input', t.input, n.input);
    expectLength('conv2d.forward', 'weight', t.weight, n.weight);
    expectLength('conv2d.forward', 'bias', t.bias, n.bias);
    expectLength('conv2d.forward', 'output', t.output, n.output);
    return dispatch(this.k.forward, this.params, t, n.output);
  }

  backwardInput(t: { doutput: Tensor; weight: Tensor; dinput: Tensor }): Dispatch {
    const n = this.sizes();
    expectLength('conv2d.backward_input', 'doutput', t.doutput, n.output);
    expectLength('conv2d.backward_input', 'weight', t.weight, n.weight);
    expectLength('conv2d.backward_input', 'dinput', t.dinput, n.input);
    return dispatch(this.k.backward_input, this.params, t, n.input);
  }

  backwardWeight(t: { doutput: Tensor; input: Tensor; dweight: Tensor }): Dispatch {
    const n = this.sizes();
    expectLength('conv2d.backward_weight', 'doutput', t.doutput, n.output);
    expectLength('conv2d.backward_weight', 'input', t.input, n.input);
    expectLength('conv2d.backward_weight', 'dweight', t.dweight, n.weight);
    return dispatch(this.k.backward_weight, this.params, t, n.weight);
  }

  backwardBias(t: { doutput: Tensor; dbias: Tensor }): Dispatch {
    const n = this.sizes();
    expectLength('conv2d.backward_bias', 'doutput', t.doutput, n.output);
    expectLength('conv2d.backward_bias', 'dbias', t.dbias, n.bias);
    return dispatch(this.k.backward_bias, this.params, t, n.bias);
  }
}
