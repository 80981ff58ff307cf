// Host side of shaders/avgpool2d.wgsl: average pooling, any kernel and stride, no padding, floor mode.
import { dispatch, expectLength, type Dispatch } from '../gpu/dispatch';
import type { Kernel } from '../gpu/kernel';
import type { Runtime, Tensor } from '../gpu/runtime';
import { checkPool2dShape, elementCounts, pool2dOutSize, pool2dTensorShapes, pool2dWindow, type Pool2dShape } from './shapes';

type Entry = 'forward' | 'backward';

export class AvgPool2d {
  private constructor(
    readonly shape: Pool2dShape,
    private readonly k: Partial<Record<Entry, Kernel>>,
    private readonly params: GPUBuffer,
  ) {}

  /**
   * Without `backward` (true by default), only the forward kernel is compiled. The
   * window is the shape's `kernel` and `stride` (2 and 2 by default); one that cannot
   * be (kernel or stride < 1, larger than the input) is an error.
   */
  static async create(rt: Runtime, shape: Pool2dShape, options: { backward?: boolean } = {}): Promise<AvgPool2d> {
    checkPool2dShape('avgpool2d', shape);
    const entries: Entry[] = (options.backward ?? true) ? ['forward', 'backward'] : ['forward'];
    const window = pool2dWindow(shape);
    const out = pool2dOutSize(shape);
    const kernels = await Promise.all(entries.map((e) => rt.kernel('avgpool2d', e, { K: window.kernel, S: window.stride, H: shape.height, W: shape.width, OH: out.height, OW: out.width })));
    const k: Partial<Record<Entry, Kernel>> = Object.fromEntries(entries.map((e, i) => [e, kernels[i]]));
    const params = kernels[0].uniformBuffer({
      planes: shape.batch * shape.channels,
      divisor: window.kernel * window.kernel,
    });
    return new AvgPool2d(shape, k, params);
  }

  /**
   * The most loop iterations one invocation runs, whatever the batch: forward's
   * kernel^2 window elements (backward visits ceil(kernel/stride)^2 windows, no more).
   */
  static loopIterations(shape: Omit<Pool2dShape, 'batch'>): number {
    const { kernel } = pool2dWindow({ batch: 1, ...shape });
    return kernel * kernel;
  }

  private kernel(e: Entry): Kernel {
    const k = this.k[e];
    if (!k) throw new Error(`avgpool2d.${e}: this pool was created without backward kernels`);
    return k;
  }

  private sizes() {
    return elementCounts(pool2dTensorShapes(this.shape));
  }

  forward(t: { input: Tensor; output: Tensor }): Dispatch {
    const n = this.sizes();
    expectLength('avgpool2d.forward', 'input', t.input, n.input);
    expectLength('avgpool2d.forward', 'output', t.output, n.output);
    const { kernel } = pool2dWindow(this.shape);
    return dispatch(this.kernel('forward'), this.params, t, n.output, { flops: n.output * kernel * kernel });
  }

  /** dinput is written whole (0 where an element lies in no window), not accumulated. */
  backward(t: { doutput: Tensor; dinput: Tensor }): Dispatch {
    const n = this.sizes();
    expectLength('avgpool2d.backward', 'doutput', t.doutput, n.output);
    expectLength('avgpool2d.backward', 'dinput', t.dinput, n.input);
    const { kernel } = pool2dWindow(this.shape);
    return dispatch(this.kernel('backward'), this.params, t, n.input, { flops: n.output * (kernel * kernel + 1) });
  }
}
