// Host side of shaders/linear.wgsl: y = x W^T + b, with W [out_features, in_features].
// The layer's sizes are the shader's override constants; the batch is a uniform.
import { dispatch, expectLength, wholeWorkgroups, type Dispatch } from '../gpu/dispatch';
import type { Kernel } from '../gpu/kernel';
import type { Runtime, Tensor } from '../gpu/runtime';
import { elementCounts, linearTensorShapes, type LinearShape } from './shapes';

/** What backward gives besides the parameters' gradients: nothing, the input's, or the input's through the ReLU that made it. */
export type InputGrad = 'none' | 'plain' | 'relu';
const ENTRY = { none: 'backward_params', plain: 'backward', relu: 'backward_relu' } as const;
type Entry = 'forward' | (typeof ENTRY)[InputGrad];

/** The largest side of a block of results per invocation: 8 with WIDE, else 4 (linear.wgsl's side()). */
const B = 8;

export class Linear {
  private constructor(
    readonly shape: LinearShape,
    private readonly k: Partial<Record<Entry, Kernel>>,
    private readonly params: GPUBuffer,
    private readonly inputGrad: InputGrad | null,
    /** 8x8 blocks of results per invocation, not 4x4 (linear.wgsl's WIDE). */
    readonly wide: boolean,
  ) {}

  /** Blocks of the side this layer computes along a dimension of n. */
  private blocks(n: number): number {
    return Math.ceil(n / (this.wide ? 8 : 4));
  }

  /**
   * With `relu`, forward applies ReLU to its output (bias + ReLU fused). Without
   * `backward` (true by default), only the forward kernel is compiled; `inputGrad`
   * (default 'plain') says what backward gives besides the parameters' gradients.
   * `wide` (the adapter's tuning by default) makes each invocation compute 8x8 blocks:
   * the same bits either way.
   */
  static async create(rt: Runtime, shape: LinearShape, options: { relu?: boolean; backward?: boolean; inputGrad?: InputGrad; wide?: boolean } = {}): Promise<Linear> {
    const wide = options.wide ?? rt.tuning.linearWide;
    const sizes = { IN: shape.inFeatures, OUT: shape.outFeatures, WIDE: Number(wide) };
    const inputGrad = (options.backward ?? true) ? (options.inputGrad ?? 'plain') : null;
    const [forward, backward] = await Promise.all([
      rt.kernel('linear', 'forward', options.relu ? { ...sizes, RELU: 1 } : sizes),
      inputGrad ? rt.kernel('linear', ENTRY[inputGrad], sizes) : null,
    ]);
    const k: Partial<Record<Entry, Kernel>> = { forward, ...(inputGrad && backward ? { [ENTRY[inputGrad]]: backward } : {}) };
    return new Linear(shape, k, forward.uniformBuffer({ batch: shape.batch }), inputGrad, wide);
  }

  /**
   * Loop iterations, all loops together, of the invocation whose loops grow with the
   * batch (llvmpipe silently ends them at 65,535; src/train/limits.ts): the weight
   * part's loop over the batch and the two that write its block (8x8 at most), each
   * with its last test.
   */
  static batchLoopIterations(batch: number): number {
    return batch + 1 + (B + 1) + B * (B + 1);
  }

  private sizes() {
    return elementCounts(linearTensorShapes(this.shape));
  }

  forward(t: { input: Tensor; weight: Tensor; bias: Tensor; output: Tensor }): Dispatch {
    const n = this.sizes();
    expectLength('linear.forward', 'input', t.input, n.input);
    expectLength('linear.forward', 'weight', t.weight, n.weight);
    expectLength('linear.forward', 'bias', t.bias, n.bias);
    expectLength('linear.forward', 'output', t.output, n.output);
    return dispatch(this.k.forward!, this.params, t, this.blocks(this.shape.batch) * this.blocks(this.shape.outFeatures), { flops: 2 * n.weight * this.shape.batch });
  }

  /**
   * One dispatch: the weights' and the bias's gradients and, as the layer was made
   * (inputGrad), the input's: `weight` and `dinput` are then needed.
   */
  backward(t: { doutput: Tensor; input: Tensor; dweight: Tensor; dbias: Tensor; weight?: Tensor; dinput?: Tensor }): Dispatch {
    const mode = this.inputGrad;
    if (!mode) throw new Error('linear.backward: this linear layer was created without backward kernels');
    const entry = ENTRY[mode];
    const op = `linear.${entry}`;
    const n = this.sizes();
    expectLength(op, 'doutput', t.doutput, n.output);
    expectLength(op, 'input', t.input, n.input);
    expectLength(op, 'dweight', t.dweight, n.weight);
    expectLength(op, 'dbias', t.dbias, n.bias);
    const s = this.shape;
    const kernel = this.k[entry]!;
    const paramsPart = wholeWorkgroups(this.blocks(s.outFeatures) * this.blocks(s.inFeatures), kernel) + s.outFeatures;
    const common = { doutput: t.doutput, dweight: t.dweight, dbias: t.dbias, input: t.input };
    if (mode === 'none') {
      if (t.dinput || t.weight) throw new Error(`${op}: this layer was made without the input's gradient (inputGrad: 'none'); give no dinput or weight`);
      return dispatch(kernel, this.params, common, paramsPart, { flops: 2 * n.weight * s.batch + n.output });
    }
    if (!t.dinput || !t.weight) throw new Error(`${op}: the input's gradient needs weight and dinput`);
    expectLength(op, 'weight', t.weight, n.weight);
    expectLength(op, 'dinput', t.dinput, n.input);
    const inputPart = wholeWorkgroups(this.blocks(s.batch) * this.blocks(s.inFeatures), kernel);
    return dispatch(kernel, this.params, { ...common, weight: t.weight, dinput: t.dinput }, inputPart + paramsPart, { flops: 4 * n.weight * s.batch + n.output });
  }
}
