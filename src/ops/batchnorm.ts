// Host side of shaders/batchnorm.wgsl: nn.BatchNorm2d and nn.BatchNorm1d, training
// and eval mode. The layer's sizes (C, S) are override constants; the batch, eps and
// momentum are uniforms.
import { dispatch, expectLength, type Dispatch } from '../gpu/dispatch';
import type { Kernel } from '../gpu/kernel';
import type { Runtime, Tensor } from '../gpu/runtime';
import { BATCHNORM_DEFAULTS, batchnormTensorShapes, elementCounts, oneValuePerChannel, type BatchNormShape } from './shapes';

/** llvmpipe ends an invocation's loops after this many iterations in all, silently. */
const LOOP_CAP = 65_535;

/**
 * Values of one image's channel per invocation of the elementwise kernels (forward,
 * forward_eval, backward_input; batchnorm.wgsl's RUN): on llvmpipe 16 took ~3x less
 * time than one per invocation ([64, 6, 28, 28]), the channel's numbers loaded once
 * per run. Any RUN gives the same bits.
 */
const RUN = 16;

type Entry = 'forward_eval' | 'image_stats' | 'batch_stats' | 'batch_stats_1d' | 'forward' | 'image_grads' | 'backward_params' | 'backward_params_1d' | 'backward_input';

/** The training kernels, forward and backward but the input's gradient: spatial 1 reads the input directly. */
const TRAINING: Record<'2d' | '1d', Entry[]> = {
  '2d': ['image_stats', 'batch_stats', 'forward', 'image_grads', 'backward_params'],
  '1d': ['batch_stats_1d', 'forward', 'backward_params_1d'],
};

/** The running statistics and the affine parameters a forward reads; each a range of the caller's (one flat buffer may hold all four). */
export interface BatchNormForward {
  input: Tensor;
  weight: Tensor;
  bias: Tensor;
  running_mean: Tensor;
  running_var: Tensor;
  output: Tensor;
}

export class BatchNorm {
  private constructor(
    readonly shape: BatchNormShape,
    private readonly k: Partial<Record<Entry, Kernel>>,
    private readonly params: GPUBuffer,
    /**
     * The batch's statistics per channel, (mean, invstd) pairs ([channels, 2]), written
     * by forwardTrain and read by backward: owned by the op, so one BatchNorm per layer.
     */
    readonly stats: Tensor | null,
    /** Per channel (dbias, dweight), from backward's second dispatch for its third. */
    private readonly gradSums: Tensor | null,
    /** Per image and channel, two floats: image_stats' and image_grads' sums (none where spatial is 1). */
    private readonly partial: Tensor | null,
  ) {}

  /**
   * What a batchnorm in training keeps per image, by buffer label (elements of 4 bytes),
   * for the batch-size limits (src/train/limits.ts): one partial-sums buffer that the
   * forward's statistics and then backward's sums use in turn. None where spatial is 1
   * (BatchNorm1d reads its input directly).
   */
  static perImage(s: Omit<BatchNormShape, 'batch'>): { label: string; shape: number[] }[] {
    return s.spatial > 1 ? [{ label: 'partial sums', shape: [s.channels, 2] }] : [];
  }

  /**
   * Loop iterations, all loops together, of the invocation whose loops grow with the
   * batch (llvmpipe silently ends them at 65,535; src/train/limits.ts): batch_stats'
   * and backward_params' loop over the batch, its last test included. The per-image
   * kernels loop over one image (imageLoopIterations).
   */
  static batchLoopIterations(batch: number): number {
    return batch + 1;
  }

  /** Loop iterations of image_stats (two loops over one image's S values, each with its last test): create() refuses more than llvmpipe's cap. */
  static imageLoopIterations(spatial: number): number {
    return spatial > 1 ? 2 * (spatial + 1) : 0;
  }

  /**
   * `eps` and `momentum` as nn.BatchNorm2d's (1e-5 and 0.1 by default). Without
   * `backward` (true by default) only forward_eval is compiled: an inference layer.
   * With it, forwardTrain and backward; `inputGrad` (true by default) also compiles
   * the input's gradient.
   */
  static async create(
    rt: Runtime,
    shape: BatchNormShape,
    options: { label?: string; eps?: number; momentum?: number; backward?: boolean; inputGrad?: boolean } = {},
  ): Promise<BatchNorm> {
    const s = shape;
    for (const [name, v] of Object.entries(s)) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`batchnorm: ${name} must be a positive integer, got ${v}`);
    }
    if (BatchNorm.imageLoopIterations(s.spatial) > LOOP_CAP) {
      throw new Error(`batchnorm: ${s.spatial.toLocaleString('en-US')} values per image and channel are more than one invocation may loop over (llvmpipe's ${LOOP_CAP.toLocaleString('en-US')} iterations)`);
    }
    const eps = options.eps ?? BATCHNORM_DEFAULTS.eps;
    const momentum = options.momentum ?? BATCHNORM_DEFAULTS.momentum;
    if (!(eps >= 0)) throw new Error(`batchnorm: eps must be >= 0, got ${eps}`);
    if (!(momentum >= 0 && momentum <= 1)) throw new Error(`batchnorm: momentum must be in [0, 1], got ${momentum}`);
    const backward = options.backward ?? true;
    const entries: Entry[] = ['forward_eval'];
    if (backward) entries.push(...TRAINING[s.spatial === 1 ? '1d' : '2d'], ...((options.inputGrad ?? true) ? (['backward_input'] as const) : []));
    const sizes = { C: s.channels, S: s.spatial, RUN };
    const kernels = await Promise.all(entries.map((e) => rt.kernel('batchnorm', e, sizes)));
    const k = Object.fromEntries(entries.map((e, i) => [e, kernels[i]])) as Partial<Record<Entry, Kernel>>;
    const params = kernels[0].uniformBuffer({ batch: s.batch, eps, momentum });
    const stats = backward ? rt.tensor(`${options.label ?? 'batchnorm'} stats`, [s.channels, 2]) : null;
    const gradSums = backward ? rt.tensor(`${options.label ?? 'batchnorm'} grad sums`, [s.channels, 2]) : null;
    const [pi] = BatchNorm.perImage(s);
    const partial = backward && pi ? rt.tensor(`${options.label ?? 'batchnorm'} ${pi.label}`, [s.batch, ...pi.shape]) : null;
    return new BatchNorm(shape, k, params, stats, gradSums, partial);
  }

  private kernel(e: Entry): Kernel {
    const k = this.k[e];
    if (!k) {
      const why = this.k.forward ? "without the input's gradient (inputGrad: false)" : 'for eval only (backward: false)';
      throw new Error(`batchnorm.${e}: this batchnorm was created ${why}`);
    }
    return k;
  }

  /** Invocations of the elementwise kernels: runs of up to RUN values of one image's channel. */
  private get runs(): number {
    const s = this.shape;
    return s.batch * s.channels * Math.ceil(s.spatial / RUN);
  }

  private sizes() {
    return elementCounts(batchnormTensorShapes(this.shape));
  }

  private expectForward(op: string, t: BatchNormForward): void {
    const n = this.sizes();
    for (const name of ['input', 'output', 'weight', 'bias', 'running_mean', 'running_var'] as const) expectLength(op, name, t[name], n[name]);
  }

  /** PyTorch's refusal of a training batch with one value per channel (M = batch * spatial = 1). */
  private expectTrainable(op: string, input: Tensor): void {
    if (this.shape.batch * this.shape.spatial <= 1) throw new Error(`${op}: ${oneValuePerChannel(input.shape)}`);
  }

  /**
   * Training mode: the batch's statistics (into `stats`, for backward), the running
   * statistics updated in place, the output normalised. Three dispatches, two where
   * spatial is 1. The dispatch that writes running_mean and running_var binds neither
   * weight nor bias.
   */
  forwardTrain(t: BatchNormForward): Dispatch[] {
    const op = 'batchnorm.forwardTrain';
    this.expectForward(op, t);
    this.expectTrainable(op, t.input);
    const stats = this.stats;
    if (!stats) throw new Error(`${op}: this batchnorm was created for eval only (backward: false)`);
    const s = this.shape;
    const n = this.sizes();
    const running = { running_mean: t.running_mean, running_var: t.running_var, stats };
    const list: Dispatch[] = [];
    if (this.partial) {
      list.push(dispatch(this.kernel('image_stats'), this.params, { input: t.input, partial: this.partial }, s.batch * s.channels, { flops: 4 * n.input }));
      list.push(dispatch(this.kernel('batch_stats'), this.params, { saved_partial: this.partial, ...running }, s.channels, { flops: 8 * s.batch * s.channels }));
    } else {
      list.push(dispatch(this.kernel('batch_stats_1d'), this.params, { input: t.input, ...running }, s.channels, { flops: 8 * n.input }));
    }
    const normalize = { input: t.input, saved_stats: stats, weight: t.weight, bias: t.bias, output: t.output };
    list.push(dispatch(this.kernel('forward'), this.params, normalize, this.runs, { flops: 4 * n.input }));
    return list;
  }

  /** Eval mode: normalised with the running statistics, which it only reads. One dispatch. */
  forwardEval(t: BatchNormForward): Dispatch {
    this.expectForward('batchnorm.forwardEval', t);
    const n = this.sizes();
    const tensors = { input: t.input, weight: t.weight, bias: t.bias, saved_running_mean: t.running_mean, saved_running_var: t.running_var, output: t.output };
    return dispatch(this.kernel('forward_eval'), this.params, tensors, this.runs, { flops: 4 * n.input });
  }

  /**
   * Training mode's gradients, from the statistics of the last forwardTrain: per-image
   * sums, then per channel dweight and dbias (written, not accumulated), then the
   * input's where `dinput` is given. Three dispatches (two where spatial is 1), one
   * fewer without dinput. `weight` is read for dinput only.
   */
  backward(t: { doutput: Tensor; input: Tensor; weight: Tensor; dweight: Tensor; dbias: Tensor; dinput?: Tensor }): Dispatch[] {
    const op = 'batchnorm.backward';
    const n = this.sizes();
    expectLength(op, 'doutput', t.doutput, n.output);
    expectLength(op, 'input', t.input, n.input);
    expectLength(op, 'weight', t.weight, n.weight);
    expectLength(op, 'dweight', t.dweight, n.weight);
    expectLength(op, 'dbias', t.dbias, n.bias);
    if (t.dinput) expectLength(op, 'dinput', t.dinput, n.input);
    this.expectTrainable(op, t.input);
    const s = this.shape;
    const saved_stats = this.stats;
    if (!saved_stats) throw new Error(`${op}: this batchnorm was created for eval only (backward: false)`);
    const sums = { saved_stats, dweight: t.dweight, dbias: t.dbias, grad_sums: this.gradSums! };
    const list: Dispatch[] = [];
    if (this.partial) {
      list.push(dispatch(this.kernel('image_grads'), this.params, { input: t.input, doutput: t.doutput, saved_stats, partial: this.partial }, s.batch * s.channels, { flops: 3 * n.input }));
      list.push(dispatch(this.kernel('backward_params'), this.params, { saved_partial: this.partial, ...sums }, s.channels, { flops: 2 * s.batch * s.channels }));
    } else {
      list.push(dispatch(this.kernel('backward_params_1d'), this.params, { input: t.input, doutput: t.doutput, ...sums }, s.channels, { flops: 3 * n.input }));
    }
    if (t.dinput) {
      const grads = { input: t.input, doutput: t.doutput, weight: t.weight, saved_stats, saved_grad_sums: this.gradSums!, dinput: t.dinput };
      list.push(dispatch(this.kernel('backward_input'), this.params, grads, this.runs, { flops: 7 * n.input }));
    }
    return list;
  }
}
