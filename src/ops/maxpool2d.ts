// Host side of shaders/maxpool2d.wgsl: 2x2 max-pooling, stride 2, floor mode.
import { dispatch, expectLength, type Dispatch } from '../gpu/dispatch';
import type { Kernel } from '../gpu/kernel';
import type { Runtime, Tensor } from '../gpu/runtime';
import { elementCounts, pool2dTensorShapes, type Pool2dShape } from './shapes';

type Entry = 'forward' | 'backward' | 'backward_relu';

export class MaxPool2d {
  private constructor(
    readonly shape: Pool2dShape,
    private readonly k: Partial<Record<Entry, Kernel>>,
    private readonly params: GPUBuffer,
  ) {}

  /** Without `backward` (true by default), only the forward kernel is compiled. */
  static async create(rt: Runtime, shape: Pool2dShape, options: { backward?: boolean } = {}): Promise<MaxPool2d> {
    const entries: Entry[] = (options.backward ?? true) ? ['forward', 'backward', 'backward_relu'] : ['forward'];
    const kernels = await Promise.all(entries.map((e) => rt.kernel('maxpool2d', e)));
    const k: Partial<Record<Entry, Kernel>> = Object.fromEntries(entries.map((e, i) => [e, kernels[i]]));
    const params = kernels[0].uniformBuffer({
      planes: shape.batch * shape.channels,
      height: shape.height,
      width: shape.width,
    });
    return new MaxPool2d(shape, k, params);
  }

  private kernel(e: Entry): Kernel {
    const k = this.k[e];
    if (!k) throw new Error(`maxpool2d.${e}: this pool was created without backward kernels`);
    return k;
  }

  private sizes() {
    return elementCounts(pool2dTensorShapes(this.shape));
  }

  /** `argmax` (u32) keeps, per output, where its maximum came from, for backward. */
  forward(t: { input: Tensor; output: Tensor; argmax: Tensor }): Dispatch {
    const n = this.sizes();
    expectLength('maxpool2d.forward', 'input', t.input, n.input);
    expectLength('maxpool2d.forward', 'output', t.output, n.output);
    expectLength('maxpool2d.forward', 'argmax', t.argmax, n.output);
    return dispatch(this.kernel('forward'), this.params, t, n.output);
  }

  backward(t: { doutput: Tensor; saved_argmax: Tensor; dinput: Tensor }): Dispatch {
    const n = this.sizes();
    expectLength('maxpool2d.backward', 'doutput', t.doutput, n.output);
    expectLength('maxpool2d.backward', 'saved_argmax', t.saved_argmax, n.output);
    expectLength('maxpool2d.backward', 'dinput', t.dinput, n.input);
    return dispatch(this.kernel('backward'), this.params, t, n.output);
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
    return dispatch(this.kernel('backward_relu'), this.params, t, n.output);
  }
}
