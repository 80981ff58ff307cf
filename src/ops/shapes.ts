// The shapes and hyper-parameters that an op's GPU host side (src/ops) and its
// float64 reference (src/reference/ops.ts) share: one vocabulary for both.

/** Stride 1, no padding: the output is (height - kernel + 1) x (width - kernel + 1). */
export interface Conv2dShape {
  batch: number;
  inChannels: number;
  outChannels: number;
  height: number;
  width: number;
  kernel: number;
}

/** y = x W^T + b, W [outFeatures, inFeatures]. */
export interface LinearShape {
  batch: number;
  inFeatures: number;
  outFeatures: number;
}

/** 2x2 max-pooling, stride 2, floor mode: the output is floor(height/2) x floor(width/2). */
export interface Pool2dShape {
  batch: number;
  channels: number;
  height: number;
  width: number;
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
