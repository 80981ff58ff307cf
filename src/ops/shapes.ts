// The shapes and hyper-parameters that an op's GPU host side (src/ops) and its
// float64 reference (src/reference/ops.ts) share: one vocabulary for both.

/**
 * PyTorch's Conv2d with a square kernel, `stride` (default 1) and zero `padding`
 * (default 0) on every side: the output is conv2dOutSize(shape).
 */
export interface Conv2dShape {
  batch: number;
  inChannels: number;
  outChannels: number;
  height: number;
  width: number;
  kernel: number;
  stride?: number;
  padding?: number;
}

/** OH = floor((H + 2 padding - K) / stride) + 1, and OW alike, as torch.nn.Conv2d. */
export function conv2dOutSize(s: Omit<Conv2dShape, 'batch'>): { height: number; width: number } {
  const stride = s.stride ?? 1;
  const padding = s.padding ?? 0;
  const out = (n: number) => Math.floor((n + 2 * padding - s.kernel) / stride) + 1;
  return { height: out(s.height), width: out(s.width) };
}

/** conv2d's tensors: NCHW activations, weights [out, in, kernel, kernel] as PyTorch. */
export function conv2dTensorShapes(s: Conv2dShape) {
  const { batch, inChannels, outChannels, height, width, kernel } = s;
  const out = conv2dOutSize(s);
  return {
    input: [batch, inChannels, height, width],
    weight: [outChannels, inChannels, kernel, kernel],
    bias: [outChannels],
    output: [batch, outChannels, out.height, out.width],
  };
}

/** y = x W^T + b, W [outFeatures, inFeatures]. */
export interface LinearShape {
  batch: number;
  inFeatures: number;
  outFeatures: number;
}

export function linearTensorShapes(s: LinearShape) {
  return {
    input: [s.batch, s.inFeatures],
    weight: [s.outFeatures, s.inFeatures],
    bias: [s.outFeatures],
    output: [s.batch, s.outFeatures],
  };
}

/**
 * Max- or average-pooling, no padding, floor mode (PyTorch's MaxPool2d and AvgPool2d
 * with padding=0, dilation=1, ceil_mode=False): kernel x kernel windows, `stride`
 * apart; windows that do not fit are dropped, so each side of the output is
 * floor((side - kernel) / stride) + 1 (pool2dOutSize). The defaults, a 2x2 window and
 * stride 2, are LeNet-5's pools.
 */
export interface Pool2dShape {
  batch: number;
  channels: number;
  height: number;
  width: number;
  /** The window's side; 2 by default. */
  kernel?: number;
  /** How far apart the windows start; `kernel` by default (windows that touch, none overlapping). */
  stride?: number;
}

/** The window of a pool, defaults filled in. */
export function pool2dWindow(s: Pool2dShape): { kernel: number; stride: number } {
  const kernel = s.kernel ?? 2;
  return { kernel, stride: s.stride ?? kernel };
}

/** The output's height and width: floor((side - kernel) / stride) + 1 each. */
export function pool2dOutSize(s: Pool2dShape): { height: number; width: number } {
  const { kernel, stride } = pool2dWindow(s);
  const side = (n: number) => Math.floor((n - kernel) / stride) + 1;
  return { height: side(s.height), width: side(s.width) };
}

/** Throws a one-line error, naming `op`, where a pool's window cannot be: kernel or stride < 1, a window larger than the input. */
export function checkPool2dShape(op: string, s: Pool2dShape): void {
  const { kernel, stride } = pool2dWindow(s);
  if (!Number.isInteger(kernel) || kernel < 1) throw new Error(`${op}: kernel must be a whole number >= 1, got ${kernel}`);
  if (!Number.isInteger(stride) || stride < 1) throw new Error(`${op}: stride must be a whole number >= 1, got ${stride}`);
  if (kernel > s.height || kernel > s.width) {
    throw new Error(`${op}: a ${kernel}x${kernel} window is larger than the ${s.height}x${s.width} input`);
  }
}

export function pool2dTensorShapes(s: Pool2dShape) {
  const out = pool2dOutSize(s);
  return {
    input: [s.batch, s.channels, s.height, s.width],
    output: [s.batch, s.channels, out.height, out.width],
  };
}

/**
 * Batch normalisation over [batch, channels, spatial]: nn.BatchNorm2d on NCHW
 * (spatial = height * width) or nn.BatchNorm1d on [batch, features] (channels =
 * features, spatial = 1). Statistics are per channel, over batch x spatial values.
 */
export interface BatchNormShape {
  batch: number;
  channels: number;
  spatial: number;
}

/** batchnorm's tensors: the activations, and per channel the affine weight and bias and the running statistics. */
export function batchnormTensorShapes(s: BatchNormShape) {
  const channel = [s.channels];
  return {
    input: [s.batch, s.channels, s.spatial],
    output: [s.batch, s.channels, s.spatial],
    weight: channel,
    bias: channel,
    running_mean: channel,
    running_var: channel,
  };
}

/** PyTorch's message (F.batch_norm) for a training batch with one value per channel, given the input's shape. */
export function oneValuePerChannel(shape: readonly number[]): string {
  return `Expected more than 1 value per channel when training, got input size [${shape.join(', ')}]`;
}

/** A batchnorm layer's hyper-parameters: eps in the denominator, momentum of the running statistics. */
export interface BatchNormHyper {
  eps: number;
  momentum: number;
}

/** nn.BatchNorm2d's and nn.BatchNorm1d's defaults. */
export const BATCHNORM_DEFAULTS: BatchNormHyper = { eps: 1e-5, momentum: 0.1 };

/** The number of elements of each of an op's tensors, from their shapes. */
export function elementCounts<K extends string>(shapes: Record<K, readonly number[]>): Record<K, number> {
  const counts = {} as Record<K, number>;
  for (const key in shapes) counts[key] = shapes[key].reduce((a, b) => a * b, 1);
  return counts;
}

export interface AdamHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
}

/** torch.optim.Adam's defaults. */
export const ADAM_DEFAULTS: AdamHyper = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 };

/** Input normalisation: (pixel / 255 - mean) / std, as torchvision's Normalize after ToTensor. */
export interface Normalization {
  mean: number;
  std: number;
}

/**
 * Input preparation: a batch of srcHeight x srcWidth byte images (the data set's size)
 * resized bilinearly to dstHeight x dstWidth (the network's input), one channel.
 */
export interface PrepareShape {
  batch: number;
  srcHeight: number;
  srcWidth: number;
  dstHeight: number;
  dstWidth: number;
}
