// Host side of shaders/conv2d.wgsl: stride-1, unpadded 2-D convolution. The layer's
// sizes become the shader's override constants.
import { dispatch, expectLength, type Dispatch } from '../gpu/dispatch';
import type { Kernel } from '../gpu/kernel';
import type { Runtime, Tensor } from '../gpu/runtime';
import { conv2dTensorShapes, elementCounts, type Conv2dShape } from './shapes';

/** conv2d.wgsl's MAX_K: backward_weight keeps a kernel row's taps in registers. */
const MAX_K = 5;

/** 4x4 register blocks per invocation (conv2d.wgsl's Acc). */
const blocks = (n: number) => Math.ceil(n / 4);
/** forward's and backward_input's blocks: eight channels (two 4x4 blocks) by four columns. */
const blocks8 = (n: number) => Math.ceil(n / 8);

const FORWARD = ['pack_forward', 'forward'] as const;
const BACKWARD = ['pack_backward', 'backward_input', 'backward_weight', 'reduce_weight', 'backward_bias', 'reduce_bias'] as const;
type Entry = (typeof FORWARD)[number] | (typeof BACKWARD)[number];

export class Conv2d {
  private constructor(
    readonly shape: Conv2dShape,
    private readonly k: Partial<Record<Entry, Kernel>>,
    private readonly params: GPUBuffer,
    /** The weights regrouped for forward (pack_forward). */
    private readonly byTap: Tensor,
    /**
     * With backward: per-image weight and bias gradients, summed over the batch by
     * reduce_weight and reduce_bias, and the weights regrouped for backward_input.
     */
    private readonly partial: { weight: Tensor; bias: Tensor } | null,
    private readonly byTapIn: Tensor | null,
  ) {}

  /**
   * What a conv2d with backward kernels keeps per image, by buffer label: its
   * per-image gradients (elements of 4 bytes). The batch-size limits count them
   * (src/train/limits.ts).
   */
  static perImage(s: Omit<Conv2dShape, 'batch'>): { label: string; shape: number[] }[] {
    return [
      { label: 'partial dweight', shape: [s.outChannels * s.inChannels * s.kernel * s.kernel] },
      { label: 'partial dbias', shape: [s.outChannels] },
    ];
  }

  /**
   * Loop iterations, all loops together, of the invocation whose loops grow with the
   * batch (llvmpipe silently ends them at 65,535; src/train/limits.ts): reduce_weight's
   * and reduce_bias's loop over the batch, its last test included. The other kernels
   * loop over one image at most.
   */
  static batchLoopIterations(batch: number): number {
    return batch + 1;
  }

  /**
   * With `relu`, forward applies ReLU to its output (bias + ReLU fused). Without
   * `backward` (true by default), only the forward kernels are compiled.
   */
  static async create(rt: Runtime, shape: Conv2dShape, options: { relu?: boolean; backward?: boolean } = {}): Promise<Conv2d> {
    const s = shape;
    if (s.kernel > s.height || s.kernel > s.width) throw new Error(`conv2d: kernel ${s.kernel} is larger than the ${s.height}x${s.width} input`);
    if (s.kernel > MAX_K) throw new Error(`conv2d: kernel ${s.kernel} is larger than ${MAX_K}, the largest conv2d.wgsl supports`);
    const sizes = { C_IN: s.inChannels, C_OUT: s.outChannels, H: s.height, W: s.width, K: s.kernel };
    const backward = options.backward ?? true;
    const entries: Entry[] = [...FORWARD, ...(backward ? BACKWARD : [])];
    const relu = options.relu ? { RELU: 1 } : {};
    const kernels = await Promise.all(entries.map((e) => rt.kernel('conv2d', e, e === 'forward' ? { ...sizes, ...relu } : sizes)));
    const k = Object.fromEntries(entries.map((e, i) => [e, kernels[i]])) as Partial<Record<Entry, Kernel>>;
    const kk = s.kernel * s.kernel;
    const byTap = rt.tensor('conv2d weight by tap', [s.inChannels * kk * 2 * blocks8(s.outChannels), 4]);
    const [pw, pb] = Conv2d.perImage(s);
    const perImage = (p: { label: string; shape: number[] }) => rt.tensor(`conv2d ${p.label}`, [s.batch, ...p.shape]);
    const partial = backward ? { weight: perImage(pw), bias: perImage(pb) } : null;
    const byTapIn = backward ? rt.tensor('conv2d weight by tap (backward)', [s.outChannels * kk * 2 * blocks8(s.inChannels), 4]) : null;
    return new Conv2d(shape, k, k.forward!.uniformBuffer({ batch: s.batch }), byTap, partial, byTapIn);
  }

  /** A backward kernel, or an error saying the op was made for forward only. */
  private backwardKernel(e: (typeof BACKWARD)[number]): Kernel {
    const k = this.k[e];
    if (!k) throw new Error(`conv2d.${e}: this conv2d was created without backward kernels`);
    return k;
  }

  get outHeight(): number {
    return this.shape.height - this.shape.kernel + 1;
  }

  get outWidth(): number {
    return this.shape.width - this.shape.kernel + 1;
  }

  private sizes() {
    return elementCounts(conv2dTensorShapes(this.shape));
  }

  /** Two dispatches: the weights regrouped by tap, then the convolution. */
  forward(t: { input: Tensor; weight: Tensor; bias: Tensor; output: Tensor }): Dispatch[] {
    const n = this.sizes();
    expectLength('conv2d.forward', 'input', t.input, n.input);
    expectLength('conv2d.forward', 'weight', t.weight, n.weight);
    expectLength('conv2d.forward', 'bias', t.bias, n.bias);
    expectLength('conv2d.forward', 'output', t.output, n.output);
    const s = this.shape;
    return [
      dispatch(this.k.pack_forward!, this.params, { weight: t.weight, packed: this.byTap }, this.byTap.shape[0]),
      dispatch(this.k.forward!, this.params, { input: t.input, by_tap: this.byTap, bias: t.bias, output: t.output }, s.batch * blocks8(s.outChannels) * this.outHeight * blocks(this.outWidth)),
    ];
  }

  /** Two dispatches: the weights regrouped by tap, then the gradient. */
  backwardInput(t: { doutput: Tensor; weight: Tensor; dinput: Tensor }): Dispatch[] {
    const n = this.sizes();
    expectLength('conv2d.backward_input', 'doutput', t.doutput, n.output);
    expectLength('conv2d.backward_input', 'weight', t.weight, n.weight);
    expectLength('conv2d.backward_input', 'dinput', t.dinput, n.input);
    const s = this.shape;
    return [
      dispatch(this.backwardKernel('pack_backward'), this.params, { weight: t.weight, packed: this.byTapIn! }, this.byTapIn!.shape[0]),
      dispatch(this.backwardKernel('backward_input'), this.params, { doutput: t.doutput, by_tap_in: this.byTapIn!, dinput: t.dinput }, s.batch * blocks8(s.inChannels) * s.height * blocks(s.width)),
    ];
  }

  /** Two dispatches: per-image gradients, then their sum over the batch in order. */
  backwardWeight(t: { doutput: Tensor; input: Tensor; dweight: Tensor }): Dispatch[] {
    const n = this.sizes();
    const s = this.shape;
    expectLength('conv2d.backward_weight', 'doutput', t.doutput, n.output);
    expectLength('conv2d.backward_weight', 'input', t.input, n.input);
    expectLength('conv2d.backward_weight', 'dweight', t.dweight, n.weight);
    return [
      dispatch(this.backwardKernel('backward_weight'), this.params, { doutput: t.doutput, input: t.input, partial: this.partial!.weight }, s.batch * blocks(s.outChannels) * s.inChannels * s.kernel),
      dispatch(this.backwardKernel('reduce_weight'), this.params, { saved_partial: this.partial!.weight, dweight: t.dweight }, n.weight),
    ];
  }

  /** Two dispatches: per-image sums, then their sum over the batch in order. */
  backwardBias(t: { doutput: Tensor; dbias: Tensor }): Dispatch[] {
    const n = this.sizes();
    expectLength('conv2d.backward_bias', 'doutput', t.doutput, n.output);
    expectLength('conv2d.backward_bias', 'dbias', t.dbias, n.bias);
    const [sum, reduce] = [this.backwardKernel('backward_bias'), this.backwardKernel('reduce_bias')];
    const partial = this.partial!.bias;
    return [
      dispatch(sum, this.params, { doutput: t.doutput, partial }, partial.length),
      dispatch(reduce, this.params, { saved_partial: partial, dbias: t.dbias }, n.bias),
    ];
  }
}
