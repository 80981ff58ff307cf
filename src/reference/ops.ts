/**
 * CPU reference for every op of training, in float64: the dumbest correct
 * loop nest for each forward and backward, used to check the GPU kernels.
 * All arrays are flat, row-major, NCHW; conv weights are [out, in, kh, kw] and
 * linear weights [out, in], as in PyTorch.
 */
import {
  ADAM_DEFAULTS,
  checkPool2dShape,
  conv2dOutSize,
  pool2dOutSize,
  pool2dWindow,
  type AdamHyper,
  type Conv2dShape,
  type LinearShape,
  type Normalization,
  type Pool2dShape,
  type PrepareShape,
} from '../ops/shapes';

export { ADAM_DEFAULTS, type AdamHyper, type Conv2dShape, type LinearShape, type Normalization, type Pool2dShape, type PrepareShape };

// ---------------------------------------------------------------- conv2d

/**
 * The sizes of a conv2d, stride (default 1) and padding (default 0) included: input
 * pixel (y*stride + ky - padding, x*stride + kx - padding) meets tap (ky, kx) at
 * output (y, x); outside the input it is a zero of the padding.
 */
function conv2dSizes(s: Conv2dShape) {
  const { batch: N, inChannels: C, outChannels: O, height: H, width: W, kernel: K } = s;
  const { height: OH, width: OW } = conv2dOutSize(s);
  return { N, C, O, H, W, K, S: s.stride ?? 1, P: s.padding ?? 0, OH, OW };
}

export function conv2dForward(s: Conv2dShape, input: Float64Array, weight: Float64Array, bias: Float64Array): Float64Array {
  const { N, C, O, H, W, K, S, P, OH, OW } = conv2dSizes(s);
  const output = new Float64Array(N * O * OH * OW);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++)
      for (let y = 0; y < OH; y++)
        for (let x = 0; x < OW; x++) {
          let sum = bias[o];
          for (let c = 0; c < C; c++)
            for (let ky = 0; ky < K; ky++)
              for (let kx = 0; kx < K; kx++) {
                const iy = y * S + ky - P, ix = x * S + kx - P;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                sum += input[((n * C + c) * H + iy) * W + ix] * weight[((o * C + c) * K + ky) * K + kx];
              }
          output[((n * O + o) * OH + y) * OW + x] = sum;
        }
  return output;
}

export function conv2dBackwardInput(s: Conv2dShape, doutput: Float64Array, weight: Float64Array): Float64Array {
  const { N, C, O, H, W, K, S, P, OH, OW } = conv2dSizes(s);
  const dinput = new Float64Array(N * C * H * W);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++)
      for (let y = 0; y < OH; y++)
        for (let x = 0; x < OW; x++) {
          const g = doutput[((n * O + o) * OH + y) * OW + x];
          for (let c = 0; c < C; c++)
            for (let ky = 0; ky < K; ky++)
              for (let kx = 0; kx < K; kx++) {
                const iy = y * S + ky - P, ix = x * S + kx - P;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                dinput[((n * C + c) * H + iy) * W + ix] += g * weight[((o * C + c) * K + ky) * K + kx];
              }
        }
  return dinput;
}

export function conv2dBackwardWeight(s: Conv2dShape, doutput: Float64Array, input: Float64Array): Float64Array {
  const { N, C, O, H, W, K, S, P, OH, OW } = conv2dSizes(s);
  const dweight = new Float64Array(O * C * K * K);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++)
      for (let y = 0; y < OH; y++)
        for (let x = 0; x < OW; x++) {
          const g = doutput[((n * O + o) * OH + y) * OW + x];
          for (let c = 0; c < C; c++)
            for (let ky = 0; ky < K; ky++)
              for (let kx = 0; kx < K; kx++) {
                const iy = y * S + ky - P, ix = x * S + kx - P;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                dweight[((o * C + c) * K + ky) * K + kx] += g * input[((n * C + c) * H + iy) * W + ix];
              }
        }
  return dweight;
}

export function conv2dBackwardBias(s: Conv2dShape, doutput: Float64Array): Float64Array {
  const { N, O, OH, OW } = conv2dSizes(s);
  const plane = OH * OW;
  const dbias = new Float64Array(O);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++)
      for (let i = 0; i < plane; i++) dbias[o] += doutput[(n * O + o) * plane + i];
  return dbias;
}

// ---------------------------------------------------------------- maxpool2d, avgpool2d
// K x K windows S apart, no padding, floor mode: window (y, x) covers input rows
// S*y .. S*y+K-1 and columns S*x .. S*x+K-1 (pool2dOutSize windows per side).

/** argmax = iy*width+ix within its (n,c) plane; ties go to the first in scan order (ky, then kx), as PyTorch CPU. */
export function maxpool2dForward(s: Pool2dShape, input: Float64Array): { output: Float64Array; argmax: Uint32Array } {
  checkPool2dShape('maxpool2dForward', s);
  const { batch: N, channels: C, height: H, width: W } = s;
  const { kernel: K, stride: S } = pool2dWindow(s);
  const { height: OH, width: OW } = pool2dOutSize(s);
  const output = new Float64Array(N * C * OH * OW);
  const argmax = new Uint32Array(N * C * OH * OW);
  for (let p = 0; p < N * C; p++)
    for (let y = 0; y < OH; y++)
      for (let x = 0; x < OW; x++) {
        let best = -Infinity, bestAt = S * y * W + S * x;
        for (let ky = 0; ky < K; ky++)
          for (let kx = 0; kx < K; kx++) {
            const at = (S * y + ky) * W + S * x + kx;
            const v = input[p * H * W + at];
            if (v > best) { best = v; bestAt = at; } // strict: a tie keeps the earlier one
          }
        output[(p * OH + y) * OW + x] = best;
        argmax[(p * OH + y) * OW + x] = bestAt;
      }
  return { output, argmax };
}

/** Each window's gradient added at its argmax; inputs that are no window's maximum get 0. */
export function maxpool2dBackward(s: Pool2dShape, doutput: Float64Array, argmax: Uint32Array): Float64Array {
  checkPool2dShape('maxpool2dBackward', s);
  const { batch: N, channels: C, height: H, width: W } = s;
  const { height: OH, width: OW } = pool2dOutSize(s);
  const plane = OH * OW;
  const dinput = new Float64Array(N * C * H * W);
  for (let p = 0; p < N * C; p++)
    for (let i = 0; i < plane; i++) dinput[p * H * W + argmax[p * plane + i]] += doutput[p * plane + i];
  return dinput;
}

/** output = the sum of the window's K*K inputs / (K*K). */
export function avgpool2dForward(s: Pool2dShape, input: Float64Array): Float64Array {
  checkPool2dShape('avgpool2dForward', s);
  const { batch: N, channels: C, height: H, width: W } = s;
  const { kernel: K, stride: S } = pool2dWindow(s);
  const { height: OH, width: OW } = pool2dOutSize(s);
  const output = new Float64Array(N * C * OH * OW);
  for (let p = 0; p < N * C; p++)
    for (let y = 0; y < OH; y++)
      for (let x = 0; x < OW; x++) {
        let sum = 0;
        for (let ky = 0; ky < K; ky++)
          for (let kx = 0; kx < K; kx++) sum += input[(p * H + S * y + ky) * W + S * x + kx];
        output[(p * OH + y) * OW + x] = sum / (K * K);
      }
  return output;
}

/** Each window's gradient / (K*K) added to each of its inputs; inputs in no window get 0. */
export function avgpool2dBackward(s: Pool2dShape, doutput: Float64Array): Float64Array {
  checkPool2dShape('avgpool2dBackward', s);
  const { batch: N, channels: C, height: H, width: W } = s;
  const { kernel: K, stride: S } = pool2dWindow(s);
  const { height: OH, width: OW } = pool2dOutSize(s);
  const dinput = new Float64Array(N * C * H * W);
  for (let p = 0; p < N * C; p++)
    for (let y = 0; y < OH; y++)
      for (let x = 0; x < OW; x++) {
        const g = doutput[(p * OH + y) * OW + x] / (K * K);
        for (let ky = 0; ky < K; ky++)
          for (let kx = 0; kx < K; kx++) dinput[(p * H + S * y + ky) * W + S * x + kx] += g;
      }
  return dinput;
}

// ---------------------------------------------------------------- linear

/** output[n, o] = bias[o] + sum_i input[n, i] * weight[o, i]. */
export function linearForward(s: LinearShape, input: Float64Array, weight: Float64Array, bias: Float64Array): Float64Array {
  const { batch: N, inFeatures: I, outFeatures: O } = s;
  const output = new Float64Array(N * O);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++) {
      let sum = bias[o];
      for (let i = 0; i < I; i++) sum += input[n * I + i] * weight[o * I + i];
      output[n * O + o] = sum;
    }
  return output;
}

export function linearBackwardInput(s: LinearShape, doutput: Float64Array, weight: Float64Array): Float64Array {
  const { batch: N, inFeatures: I, outFeatures: O } = s;
  const dinput = new Float64Array(N * I);
  for (let n = 0; n < N; n++)
    for (let i = 0; i < I; i++) {
      let sum = 0;
      for (let o = 0; o < O; o++) sum += doutput[n * O + o] * weight[o * I + i];
      dinput[n * I + i] = sum;
    }
  return dinput;
}

export function linearBackwardWeight(s: LinearShape, doutput: Float64Array, input: Float64Array): Float64Array {
  const { batch: N, inFeatures: I, outFeatures: O } = s;
  const dweight = new Float64Array(O * I);
  for (let o = 0; o < O; o++)
    for (let i = 0; i < I; i++) {
      let sum = 0;
      for (let n = 0; n < N; n++) sum += doutput[n * O + o] * input[n * I + i];
      dweight[o * I + i] = sum;
    }
  return dweight;
}

export function linearBackwardBias(s: LinearShape, doutput: Float64Array): Float64Array {
  const { batch: N, outFeatures: O } = s;
  const dbias = new Float64Array(O);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++) dbias[o] += doutput[n * O + o];
  return dbias;
}

// ---------------------------------------------------------------- relu

export function reluForward(input: Float64Array): Float64Array {
  return input.map((v) => (v > 0 ? v : 0));
}

/** Gradient passes where output > 0 (PyTorch's threshold_backward on the result). */
export function reluBackward(doutput: Float64Array, output: Float64Array): Float64Array {
  return doutput.map((g, i) => (output[i] > 0 ? g : 0));
}

// ---------------------------------------------------------------- log-softmax, NLL loss

/** Row-wise log-softmax over [batch, classes], subtracting the row max first. */
export function logSoftmaxForward(batch: number, classes: number, input: Float64Array): Float64Array {
  const output = new Float64Array(batch * classes);
  for (let n = 0; n < batch; n++) {
    const row = input.subarray(n * classes, (n + 1) * classes);
    let max = -Infinity;
    for (const v of row) max = Math.max(max, v);
    let sum = 0;
    for (const v of row) sum += Math.exp(v - max);
    const logSum = Math.log(sum);
    for (let k = 0; k < classes; k++) output[n * classes + k] = row[k] - max - logSum;
  }
  return output;
}

/** dinput = doutput - exp(output) * sum(doutput), per row. */
export function logSoftmaxBackward(batch: number, classes: number, doutput: Float64Array, output: Float64Array): Float64Array {
  const dinput = new Float64Array(batch * classes);
  for (let n = 0; n < batch; n++) {
    let sum = 0;
    for (let k = 0; k < classes; k++) sum += doutput[n * classes + k];
    for (let k = 0; k < classes; k++)
      dinput[n * classes + k] = doutput[n * classes + k] - Math.exp(output[n * classes + k]) * sum;
  }
  return dinput;
}

/** Mean over the batch of -logp[n, label[n]]. */
export function nllLossForward(batch: number, classes: number, logp: Float64Array, labels: Uint32Array): number {
  let sum = 0;
  for (let n = 0; n < batch; n++) sum -= logp[n * classes + labels[n]];
  return sum / batch;
}

/** Gradient of the mean NLL loss (with d(loss) = 1): -1/batch at the label, 0 elsewhere. */
export function nllLossBackward(batch: number, classes: number, labels: Uint32Array): Float64Array {
  const dlogp = new Float64Array(batch * classes);
  for (let n = 0; n < batch; n++) dlogp[n * classes + labels[n]] = -1 / batch;
  return dlogp;
}

/** Fused log-softmax + mean NLL backward w.r.t. the logits: (exp(logp) - onehot) / batch. */
export function crossEntropyBackward(batch: number, classes: number, logp: Float64Array, labels: Uint32Array): Float64Array {
  const dinput = new Float64Array(batch * classes);
  for (let n = 0; n < batch; n++)
    for (let k = 0; k < classes; k++)
      dinput[n * classes + k] = (Math.exp(logp[n * classes + k]) - (k === labels[n] ? 1 : 0)) / batch;
  return dinput;
}

// ---------------------------------------------------------------- evaluation's tally

/**
 * An evaluation's tally of one batch (shaders/confusion.wgsl): each sample's predicted
 * class (the first of equal maxima of its log-probabilities) counted in
 * confusion[label * classes + predicted], and written with its probability at its
 * image's index (indices[n] without the flip bit) in `predicted` and `confidence`,
 * all in place.
 */
export function confusionTally(
  batch: number,
  classes: number,
  logp: ArrayLike<number>,
  labels: Uint32Array,
  indices: Uint32Array,
  out: { confusion: Uint32Array | Float64Array; predicted: Uint32Array | Float64Array; confidence: Float64Array },
): void {
  for (let n = 0; n < batch; n++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logp[n * classes + c] > logp[n * classes + best]) best = c;
    out.confusion[labels[n] * classes + best]++;
    const image = indices[n] & 0x7fffffff;
    out.predicted[image] = best;
    out.confidence[image] = Math.exp(logp[n * classes + best]);
  }
}

// ---------------------------------------------------------------- Adam

/**
 * One Adam step in place, exactly torch.optim.Adam's single-tensor algorithm
 * (no weight decay, no amsgrad), https://pytorch.org/docs/stable/generated/torch.optim.Adam.html
 * `step` is 1-based and already incremented for this step.
 */
export function adamStep(param: Float64Array, grad: Float64Array, expAvg: Float64Array, expAvgSq: Float64Array, step: number, h: AdamHyper): void {
  const bc1 = 1 - Math.pow(h.beta1, step);
  const bc2 = 1 - Math.pow(h.beta2, step);
  const stepSize = h.lr / bc1;
  const bc2Sqrt = Math.sqrt(bc2);
  for (let i = 0; i < param.length; i++) {
    const g = grad[i];
    expAvg[i] = expAvg[i] + (g - expAvg[i]) * (1 - h.beta1);
    expAvgSq[i] = expAvgSq[i] * h.beta2 + (1 - h.beta2) * g * g;
    const denom = Math.sqrt(expAvgSq[i]) / bc2Sqrt + h.eps;
    param[i] -= (stepSize * expAvg[i]) / denom;
  }
}

// ---------------------------------------------------------------- input preparation

/** Bilinear source taps of one output coordinate along an axis of `src` -> `dst` pixels, as PyTorch's align_corners=False. */
function bilinearTap(dst: number, srcSize: number, dstSize: number): { i0: number; i1: number; lambda: number } {
  const src = Math.max((dst + 0.5) * (srcSize / dstSize) - 0.5, 0);
  const i0 = Math.floor(src);
  return { i0, i1: Math.min(i0 + 1, srcSize - 1), lambda: src - i0 };
}

/**
 * Gathers a batch of srcHeight x srcWidth uint8 images into [batch, 1, dstHeight, dstWidth]
 * float64: pixel/255, resized like F.interpolate(x, size=(dstHeight, dstWidth),
 * mode='bilinear', align_corners=False), then (v - mean)/std. flip[k] = 1 mirrors sample
 * k horizontally (output column x comes from column dstWidth-1-x).
 */
export function prepareInput(s: PrepareShape, images: Uint8Array, indices: Uint32Array, flip: Uint8Array, n: Normalization): Float64Array {
  const { batch, srcHeight: SH, srcWidth: SW, dstHeight: DH, dstWidth: DW } = s;
  const output = new Float64Array(batch * DH * DW);
  for (let b = 0; b < batch; b++) {
    const base = indices[b] * SH * SW;
    const p = (y: number, x: number) => images[base + y * SW + x] / 255;
    for (let y = 0; y < DH; y++) {
      const ty = bilinearTap(y, SH, DH), ly = ty.lambda;
      for (let x = 0; x < DW; x++) {
        const tx = bilinearTap(flip[b] ? DW - 1 - x : x, SW, DW), lx = tx.lambda;
        const v =
          (1 - ly) * ((1 - lx) * p(ty.i0, tx.i0) + lx * p(ty.i0, tx.i1)) +
          ly * ((1 - lx) * p(ty.i1, tx.i0) + lx * p(ty.i1, tx.i1));
        output[(b * DH + y) * DW + x] = (v - n.mean) / n.std;
      }
    }
  }
  return output;
}
