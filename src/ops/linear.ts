// Host side of shaders/linear.wgsl: y = x W^T + b, with W [out_features, in_features].
// The layer's sizes are the shader's override constants; the batch is a uniform.
import { dispatch, expectLength, type Dispatch } from '../gpu/dispatch';
import type { Kernel } from '../gpu/kernel';
import type { Runtime, Tensor } from '../gpu/runtime';
import { elementCounts, linearTensorShapes, type LinearShape } from './shapes';

const BACKWARD = ['backward_input', 'backward_input_relu', 'backward_weight', 'backward_bias'] as const;
type Entry = 'forward' | (typeof BACKWARD)[number];

/** 4x4 register blocks per invocation (B in linear.wgsl). */
const B = 4;
const blocks = (n: number) => Math.ceil(n / B);

export class Linear {
  private constructor(
    readonly shape: LinearShape,
    private readonly k: Partial<Record<Entry, Kernel>>,
    private readonly params: GPUBuffer,
  ) {}

  /**
   * With `relu`, forward applies ReLU to its output (bias + ReLU fused). Without
   * `backward` (true by default), only the forward kernel is compiled.
   */
  static async create(rt: Runtime, shape: LinearShape, options: { relu?: boolean; backward?: boolean } = {}): Promise<Linear> {
    const sizes = { IN: shape.inFeatures, OUT: shape.outFeatures };
    const backward = (options.backward ?? true) ? BACKWARD : [];
    const [forward, ...rest] = await Promise.all([
      rt.kernel('linear', 'forward', options.relu ? { ...sizes, RELU: 1 } : sizes),
      ...backward.map((e) => rt.kernel('linear', e, sizes)),
    ]);
    const k: Partial<Record<Entry, Kernel>> = { forward, ...Object.fromEntries(backward.map((e, i) => [e, rest[i]])) };
    return new Linear(shape, k, forward.uniformBuffer({ batch: shape.batch }));
  }

  /**
   * Loop iterations, all loops together, of the invocation whose loops grow with the
   * batch (llvmpipe silently ends them at 65,535; src/train/limits.ts): backward_weight's
   * loop over the batch and the two that write its 4x4 block, each with its last test.
   */
  static batchLoopIterations(batch: number): number {
    return batch + 1 + (B + 1) + B * (B + 1);
  }

  private kernel(e: Entry): Kernel {
    const k = this.k[e];
    if (!k) throw new Error(`linear.${e}: this linear layer was created without backward kernels`);
    return k;
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
    return dispatch(this.kernel('forward'), this.params, t, blocks(this.shape.batch) * blocks(this.shape.outFeatures));
  }

  backwardInput(t: { doutput: Tensor; weight: Tensor; dinput: Tensor }): Dispatch {
    const n = this.sizes();
    expectLength('linear.backward_input', 'doutput', t.doutput, n.output);
    expectLength('linear.backward_input', 'weight', t.weight, n.weight);
    expectLength('linear.backward_input', 'dinput', t.dinput, n.input);
    return dispatch(this.kernel('backward_input'), this.params, t, blocks(this.shape.batch) * blocks(this.shape.inFeatures));
  }

  /**
   * backward_input through the ReLU whose output is this layer's `input`: the
   * gradient w.r.t. that ReLU's input (zero where input <= 0).
   */
  backwardInputRelu(t: { doutput: Tensor; weight: Tensor; input: Tensor; dinput: Tensor }): Dispatch {
    const n = this.sizes();
    expectLength('linear.backward_input_relu', 'doutput', t.doutput, n.output);
    expectLength('linear.backward_input_relu', 'weight', t.weight, n.weight);
    expectLength('linear.backward_input_relu', 'input', t.input, n.input);
    expectLength('linear.backward_input_relu', 'dinput', t.dinput, n.input);
    return dispatch(this.kernel('backward_input_relu'), this.params, t, blocks(this.shape.batch) * blocks(this.shape.inFeatures));
  }

  backwardWeight(t: { doutput: Tensor; input: Tensor; dweight: Tensor }): Dispatch {
    const n = this.sizes();
    expectLength('linear.backward_weight', 'doutput', t.doutput, n.output);
    expectLength('linear.backward_weight', 'input', t.input, n.input);
    expectLength('linear.backward_weight', 'dweight', t.dweight, n.weight);
    return dispatch(this.kernel('backward_weight'), this.params, t, blocks(this.shape.outFeatures) * blocks(this.shape.inFeatures));
  }

  backwardBias(t: { doutput: Tensor; dbias: Tensor }): Dispatch {
    const n = this.sizes();
    expectLength('linear.backward_bias', 'doutput', t.doutput, n.output);
    expectLength('linear.backward_bias', 'dbias', t.dbias, n.bias);
    return dispatch(this.kernel('backward_bias'), this.params, t, n.bias);
  }
}
