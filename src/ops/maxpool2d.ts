// Host side of shaders/maxpool2d.wgsl: max-pooling, any kernel and stride, no padding, floor mode.
import { dispatch, expectLength, PER_INVOCATION, type Dispatch } from '../gpu/dispatch';
import type { Kernel } from '../gpu/kernel';
import type { Runtime, Tensor } from '../gpu/runtime';
import { checkPool2dShape, elementCounts, pool2dOutSize, pool2dTensorShapes, pool2dWindow, type Pool2dShape } from './shapes';

type Entry = 'forward' | 'backward' | 'backward_relu';

export interface MaxPool2dOptions {
  /** Compile the backward kernels (true by default); without, forward only. */
  backward?: boolean;
  /**
   * Test only: backward by the gather kernels even where windows do not overlap (where
   * the faster scatter kernels serve otherwise), to check that both give the same bits.
   */
  gather?: boolean;
}

/** Whether backward scatters (one invocation per window) or gathers (one per input element). */
function backwardForm(shape: Pool2dShape, options: MaxPool2dOptions): 'scatter' | 'gather' {
  const { kernel, stride } = pool2dWindow(shape);
  return stride >= kernel && !options.gather ? 'scatter' : 'gather';
}

export class MaxPool2d {
  private constructor(
    readonly shape: Pool2dShape,
    private readonly k: Partial<Record<Entry, Kernel>>,
    private readonly params: GPUBuffer,
    /** What backward goes through per plane: its windows (scatter) or its input elements (gather). */
    private readonly backwardPerPlane: number,
    /** How many of those an invocation of backward takes (the shader's PER). */
    private readonly backwardPer: number,
  ) {}

  /**
   * The window is the shape's `kernel` and `stride` (2 and 2 by default); one that
   * cannot be (kernel or stride < 1, larger than the input) is an error. backward
   * scatters where windows do not overlap (stride >= kernel) and gathers where they do.
   */
  static async create(rt: Runtime, shape: Pool2dShape, options: MaxPool2dOptions = {}): Promise<MaxPool2d> {
    checkPool2dShape('maxpool2d', shape);
    const entries: Entry[] = (options.backward ?? true) ? ['forward', 'backward', 'backward_relu'] : ['forward'];
    const window = pool2dWindow(shape);
    const out = pool2dOutSize(shape);
    const suffix = backwardForm(shape, options) === 'gather' ? '_gather' : '';
    const sizes = { K: window.kernel, S: window.stride, H: shape.height, W: shape.width, OH: out.height, OW: out.width };
    // forward and the scatter take PER_INVOCATION windows to an invocation; the gather, one input element.
    const per = (e: Entry) => (e === 'forward' || suffix === '' ? PER_INVOCATION : 1);
    const kernels = await Promise.all(entries.map((e) => rt.kernel('maxpool2d', e === 'forward' ? e : `${e}${suffix}`, per(e) > 1 ? { ...sizes, PER: per(e) } : sizes)));
    const k: Partial<Record<Entry, Kernel>> = Object.fromEntries(entries.map((e, i) => [e, kernels[i]]));
    const params = kernels[0].uniformBuffer({
      planes: shape.batch * shape.channels,
    });
    return new MaxPool2d(shape, k, params, suffix === '' ? out.height * out.width : shape.height * shape.width, suffix === '' ? PER_INVOCATION : 1);
  }

  /**
   * The most loop iterations one invocation runs, whatever the batch: forward's
   * PER_INVOCATION windows of kernel^2 elements, the scatter's PER_INVOCATION cells as
   * large as the largest (the last window's, which reaches to the end of the plane),
   * the gather's ceil(kernel/stride)^2 windows.
   */
  static loopIterations(shape: Omit<Pool2dShape, 'batch'>, options: MaxPool2dOptions = {}): number {
    const s = { batch: 1, ...shape };
    const { kernel, stride } = pool2dWindow(s);
    const out = pool2dOutSize(s);
    const cell = (side: number, count: number) => (count > 1 ? Math.max(stride, side - (count - 1) * stride) : side);
    const backward = backwardForm(s, options) === 'scatter' ? PER_INVOCATION * cell(s.height, out.height) * cell(s.width, out.width) : Math.ceil(kernel / stride) ** 2;
    return Math.max(PER_INVOCATION * kernel * kernel, backward);
  }

  private kernel(e: Entry): Kernel {
    const k = this.k[e];
    if (!k) throw new Error(`maxpool2d.${e}: this pool was created without backward kernels`);
    return k;
  }

  private backwardInvocations(): number {
    return Math.ceil((this.shape.batch * this.shape.channels * this.backwardPerPlane) / this.backwardPer);
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
    return dispatch(this.kernel('forward'), this.params, t, Math.ceil(n.output / PER_INVOCATION));
  }

  backward(t: { doutput: Tensor; saved_argmax: Tensor; dinput: Tensor }): Dispatch {
    const n = this.sizes();
    expectLength('maxpool2d.backward', 'doutput', t.doutput, n.output);
    expectLength('maxpool2d.backward', 'saved_argmax', t.saved_argmax, n.output);
    expectLength('maxpool2d.backward', 'dinput', t.dinput, n.input);
    return dispatch(this.kernel('backward'), this.params, t, this.backwardInvocations());
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
    return dispatch(this.kernel('backward_relu'), this.params, t, this.backwardInvocations());
  }
}
