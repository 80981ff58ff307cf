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

/** 2x2 max-pooling, stride 2, floor mode: the output is floor(height/2) x floor(width/2). */
export interface Pool2dShape {
  batch: number;
  channels: number;
  height: number;
  width: number;
}

export function pool2dTensorShapes(s: Pool2dShape) {
  return {
    input: [s.batch, s.channels, s.height, s.width],
    output: [s.batch, s.channels, Math.floor(s.height / 2), Math.floor(s.width / 2)],
  };
}

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
