// Host side of shaders/conv2d.wgsl: 2-D convolution with PyTorch's stride and zero
// padding. The layer's sizes become the shader's override constants.
import { dispatch, expectLength, wholeWorkgroups, type Dispatch } from '../gpu/dispatch';
import type { Constants, Kernel } from '../gpu/kernel';
import type { Runtime, Tensor } from '../gpu/runtime';
import { CONV_COLUMNS, type ConvColumns } from '../gpu/tuning';
import { conv2dOutSize, conv2dTensorShapes, elementCounts, type Conv2dShape } from './shapes';

/**
 * conv2d.wgsl's UNIFORM_VEC4S, in floats: forward and backward_input also bind the
 * first 16 KiB (the least maxUniformBufferBindingSize WebGPU allows, in compatibility
 * mode) of their packed weights
 * as a uniform array, so src/ops/pack.ts gives each conv's copies that much at least.
 */
export const UNIFORM_FLOATS = 4096;

/**
 * The first 16 KiB from where packed weights start (conv2d.wgsl's by_tap_u and
 * by_tap_in_u): src/ops/pack.ts gives each conv's copies a region that long at least.
 */
function uniformView(t: Tensor): Tensor {
  return { buffer: t.buffer, offset: t.offset, shape: [UNIFORM_FLOATS / 4, 4], length: UNIFORM_FLOATS };
}

/** conv2d.wgsl's MAX_K: backward's weight part keeps a kernel row's taps in registers. */
const MAX_K = 7;

/** 4x4 register blocks per invocation (conv2d.wgsl's Acc). */
const blocks = (n: number) => Math.ceil(n / 4);
/** forward's and backward_input's blocks: eight channels (two 4x4 blocks) by four or eight columns. */
const blocks8 = (n: number) => Math.ceil(n / 8);

const BACKWARD = ['backward_input', 'backward_weight', 'backward_bias', 'reduce'] as const;
type Entry = 'forward' | (typeof BACKWARD)[number];


/**
 * The packed copies of a conv's weights that its kernels read (conv2d.wgsl, by_tap
 * and by_tap_in): four channels to a vec4, zero past the last channel.
 */
export interface ConvPacking {
  /** vec4s in by_tap (forward). */
  forward: number;
  /** vec4s in by_tap_in (backward's input part). */
  backward: number;
  /** For weight element j ([C_OUT, C_IN, K, K] order), its float index in by_tap and in by_tap_in. */
  slots(j: number): [number, number];
}

export class Conv2d {
  private constructor(
    readonly shape: Conv2dShape,
    /** Output columns per invocation of forward and of backward_input (conv2d.wgsl's XB for each). */
    readonly columns: { forward: ConvColumns; input: ConvColumns },
    /** Whether backward_weight takes all kernel rows per invocation (conv2d.wgsl's ALL_ROWS). */
    readonly allRows: boolean,
    private readonly k: Partial<Record<Entry, Kernel>>,
    private readonly params: GPUBuffer,
    /** With backward: per-image weight and bias gradients, summed over the batch by reduce. */
    private readonly partial: { weight: Tensor; bias: Tensor } | null,
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

  /** The layout of the packed weights (conv2d.wgsl's by_tap and by_tap_in). */
  static packing(s: Omit<Conv2dShape, 'batch'>): ConvPacking {
    const kk = s.kernel * s.kernel;
    const taps = s.inChannels * kk;
    const outVec4s = 2 * blocks8(s.outChannels);
    const inVec4s = 2 * blocks8(s.inChannels);
    return {
      forward: taps * outVec4s,
      backward: s.outChannels * kk * inVec4s,
      slots(j) {
        const co = Math.floor(j / taps);
        const t = j % taps;
        const ci = Math.floor(t / kk);
        const tap = t % kk;
        return [(t * outVec4s + (co >> 2)) * 4 + (co & 3), ((co * kk + tap) * inVec4s + (ci >> 2)) * 4 + (ci & 3)];
      },
    };
  }

  /**
   * Loop iterations, all loops together, of the invocation whose loops grow with the
   * batch (llvmpipe silently ends them at 65,535; src/train/limits.ts): reduce's loops
   * over the batch, four images a trip and then the rest, each with its last test.
   * The other kernels loop over one image at most.
   */
  static batchLoopIterations(batch: number): number {
    return Math.floor(batch / 4) + 1 + (batch % 4) + 1;
  }

  /**
   * The shape's `stride` (default 1) and `padding` (default 0) are PyTorch's Conv2d's;
   * the kernel is at most 7 and the output (conv2dOutSize) at least 1x1. With `relu`,
   * forward applies ReLU to its output (bias + ReLU fused). Without
   * `backward` (true by default), only the forward kernel is compiled; with
   * `inputGrad` (true by default) backward also gives the input's gradient. `columns`,
   * `inputColumns` and `allRows` (the adapter's tuning by default) set conv2d.wgsl's
   * XB for forward and for backward_input, and ALL_ROWS; `uniformWeights` reads the
   * packed weights through a uniform binding where they fit (UNIFORM_WEIGHTS). The
   * same bits whatever the choices.
   */
  static async create(
    rt: Runtime,
    shape: Conv2dShape,
    options: { label?: string; relu?: boolean; backward?: boolean; inputGrad?: boolean; columns?: ConvColumns; inputColumns?: ConvColumns; allRows?: boolean; uniformWeights?: boolean } = {},
  ): Promise<Conv2d> {
    const s = shape;
    const stride = s.stride ?? 1;
    const padding = s.padding ?? 0;
    if (!Number.isInteger(stride) || stride < 1) throw new Error(`conv2d: stride must be a whole number of at least 1, got ${stride}`);
    if (!Number.isInteger(padding) || padding < 0) throw new Error(`conv2d: padding must be a whole number of at least 0, got ${padding}`);
    if (s.kernel > MAX_K) throw new Error(`conv2d: kernel ${s.kernel} is larger than ${MAX_K}, the largest conv2d.wgsl supports`);
    const out = conv2dOutSize(s);
    if (out.height < 1 || out.width < 1) {
      throw new Error(`conv2d: kernel ${s.kernel} with padding ${padding} does not fit the ${s.height}x${s.width} input (the output would be ${out.height}x${out.width})`);
    }
    const sizes = { C_IN: s.inChannels, C_OUT: s.outChannels, H: s.height, W: s.width, K: s.kernel, STRIDE: stride, PAD: padding };
    const backward = options.backward ?? true;
    const entries: Entry[] = ['forward', ...(backward ? [...((options.inputGrad ?? true) ? (['backward_input'] as const) : []), 'backward_weight' as const, 'backward_bias' as const, 'reduce' as const] : [])];
    const relu: Constants = options.relu ? { RELU: 1 } : {};
    const columns = { forward: options.columns ?? rt.tuning.convColumns, input: options.inputColumns ?? rt.tuning.convInputColumns };
    for (const c of Object.values(columns)) if (!CONV_COLUMNS.includes(c)) throw new Error(`conv2d: columns must be one of ${CONV_COLUMNS.join(', ')}, got ${c}`);
    const allRows = options.allRows ?? rt.tuning.convAllRows;
    // Through a uniform binding where the tuning says so and the packed weights fit in it.
    const uniform = options.uniformWeights ?? rt.tuning.convUniformWeights;
    const packing = Conv2d.packing(s);
    const fits = (vec4s: number) => Number(uniform && vec4s * 4 <= UNIFORM_FLOATS);
    const constants = (e: Entry): Constants =>
      e === 'forward'
        ? { ...sizes, ...relu, XB: columns.forward, UNIFORM_WEIGHTS: fits(packing.forward) }
        : e === 'backward_input'
          ? { ...sizes, XB: columns.input, UNIFORM_WEIGHTS: fits(packing.backward) }
          : e === 'backward_weight'
            ? { ...sizes, ALL_ROWS: Number(allRows) }
            : sizes;
    const kernels = await Promise.all(entries.map((e) => rt.kernel('conv2d', e, constants(e))));
    const k = Object.fromEntries(entries.map((e, i) => [e, kernels[i]])) as Partial<Record<Entry, Kernel>>;
    const [pw, pb] = Conv2d.perImage(s);
    const perImage = (p: { label: string; shape: number[] }) => rt.tensor(`${options.label ?? 'conv2d'} ${p.label}`, [s.batch, ...p.shape]);
    const partial = backward ? { weight: perImage(pw), bias: perImage(pb) } : null;
    return new Conv2d(shape, columns, allRows, k, k.forward!.uniformBuffer({ batch: s.batch }), partial);
  }

  /** A backward kernel, or an error saying the op was made without it. */
  private backwardKernel(e: (typeof BACKWARD)[number]): Kernel {
    const k = this.k[e];
    if (!k) {
      const why = this.k.reduce ? "without the input's gradient (inputGrad: false)" : 'without backward kernels';
      throw new Error(`conv2d.${e}: this conv2d was created ${why}`);
    }
    return k;
  }

  get outHeight(): number {
    return conv2dOutSize(this.shape).height;
  }

  get outWidth(): number {
    return conv2dOutSize(this.shape).width;
  }

  private sizes() {
    return elementCounts(conv2dTensorShapes(this.shape));
  }

  /** Multiply-adds of the convolution (and of each of its gradients' products): N C_OUT OH OW C_IN K K, the padding's zeros included. */
  private get macs(): number {
    const s = this.shape;
    return s.batch * s.outChannels * this.outHeight * this.outWidth * s.inChannels * s.kernel * s.kernel;
  }

  /** The convolution, from the weights packed by tap (by_tap). */
  forward(t: { input: Tensor; by_tap: Tensor; bias: Tensor; output: Tensor }): Dispatch {
    const n = this.sizes();
    const s = this.shape;
    expectLength('conv2d.forward', 'input', t.input, n.input);
    expectLength('conv2d.forward', 'by_tap', t.by_tap, Conv2d.packing(s).forward * 4);
    expectLength('conv2d.forward', 'bias', t.bias, n.bias);
    expectLength('conv2d.forward', 'output', t.output, n.output);
    const by_tap_u = uniformView(t.by_tap);
    return dispatch(this.k.forward!, this.params, { ...t, by_tap_u }, s.batch * blocks8(s.outChannels) * this.outHeight * Math.ceil(this.outWidth / this.columns.forward), { flops: 2 * this.macs });
  }

  /**
   * The gradients of every image (the input's, given `dinput` and the weights packed
   * for it; the weights' and the bias's), then the weights' and the bias's summed over
   * the batch in order: four dispatches, or three without the input's.
   */
  backward(t: { doutput: Tensor; input: Tensor; dweight: Tensor; dbias: Tensor; by_tap_in?: Tensor; dinput?: Tensor }): Dispatch[] {
    const n = this.sizes();
    const s = this.shape;
    const op = 'conv2d.backward';
    expectLength(op, 'doutput', t.doutput, n.output);
    expectLength(op, 'input', t.input, n.input);
    expectLength(op, 'dweight', t.dweight, n.weight);
    expectLength(op, 'dbias', t.dbias, n.bias);
    if ((t.dinput === undefined) !== (t.by_tap_in === undefined)) throw new Error(`${op}: dinput and by_tap_in come together`);
    const partial = this.partial;
    if (!partial) throw new Error(`${op}: this conv2d was created without backward kernels`);
    const list: Dispatch[] = [];
    if (t.dinput && t.by_tap_in) {
      expectLength(op, 'dinput', t.dinput, n.input);
      expectLength(op, 'by_tap_in', t.by_tap_in, Conv2d.packing(s).backward * 4);
      const invocations = s.batch * blocks8(s.inChannels) * s.height * Math.ceil(s.width / this.columns.input);
      list.push(dispatch(this.backwardKernel('backward_input'), this.params, { doutput: t.doutput, by_tap_in: t.by_tap_in, by_tap_in_u: uniformView(t.by_tap_in), dinput: t.dinput }, invocations, { flops: 2 * this.macs }));
    }
    const weightPart = s.batch * blocks(s.outChannels) * s.inChannels * (this.allRows ? 1 : s.kernel);
    list.push(dispatch(this.backwardKernel('backward_weight'), this.params, { doutput: t.doutput, input: t.input, partial: partial.weight }, weightPart, { flops: 2 * this.macs }));
    list.push(dispatch(this.backwardKernel('backward_bias'), this.params, { doutput: t.doutput, partial_bias: partial.bias }, s.batch * s.outChannels, { flops: n.output }));
    const reduce = this.backwardKernel('reduce');
    const sums = { saved_partial: partial.weight, saved_partial_bias: partial.bias, dweight: t.dweight, dbias: t.dbias };
    list.push(dispatch(reduce, this.params, sums, wholeWorkgroups(n.weight, reduce) + n.bias, { flops: partial.weight.length + partial.bias.length }));
    return list;
  }
}
