/**
 * CPU reference for batch normalisation, in float64: nn.BatchNorm2d on NCHW and
 * nn.BatchNorm1d on [N, F], both as [batch, channels, spatial] (spatial = H*W, or 1),
 * https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm2d.html
 * The dumbest correct loops: per channel c, over the M = batch * spatial values
 * x[n, c, s].
 */
import { BATCHNORM_DEFAULTS, oneValuePerChannel, type BatchNormHyper, type BatchNormShape } from '../ops/shapes';

export { BATCHNORM_DEFAULTS, type BatchNormHyper, type BatchNormShape };

/** Per channel: the batch mean and the biased variance, sum (x - mean)^2 / M. */
export function batchnormStats(s: BatchNormShape, input: Float64Array): { mean: Float64Array; variance: Float64Array } {
  const { batch: N, channels: C, spatial: S } = s;
  const M = N * S;
  const mean = new Float64Array(C);
  const variance = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    let sum = 0;
    for (let n = 0; n < N; n++) for (let i = 0; i < S; i++) sum += input[(n * C + c) * S + i];
    mean[c] = sum / M;
    let sq = 0;
    for (let n = 0; n < N; n++) for (let i = 0; i < S; i++) sq += (input[(n * C + c) * S + i] - mean[c]) ** 2;
    variance[c] = sq / M;
  }
  return { mean, variance };
}

/** y = (x - mean[c]) * invstd[c] * weight[c] + bias[c]. */
function normalize(s: BatchNormShape, input: Float64Array, mean: Float64Array, invstd: Float64Array, weight: Float64Array, bias: Float64Array): Float64Array {
  const { batch: N, channels: C, spatial: S } = s;
  const output = new Float64Array(N * C * S);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let i = 0; i < S; i++) {
        const at = (n * C + c) * S + i;
        output[at] = (input[at] - mean[c]) * invstd[c] * weight[c] + bias[c];
      }
  return output;
}

/**
 * Training mode: normalised with the batch's statistics; the running statistics
 * returned updated (the arguments are not changed), running_var with the unbiased
 * variance var * M / (M - 1). `mean` and `invstd` = 1 / sqrt(var + eps) are what
 * backward needs. Throws PyTorch's error where M = 1.
 */
export function batchnormForwardTrain(
  s: BatchNormShape,
  input: Float64Array,
  weight: Float64Array,
  bias: Float64Array,
  runningMean: Float64Array,
  runningVar: Float64Array,
  h: BatchNormHyper = BATCHNORM_DEFAULTS,
): { output: Float64Array; mean: Float64Array; invstd: Float64Array; runningMean: Float64Array; runningVar: Float64Array } {
  const M = s.batch * s.spatial;
  if (M <= 1) throw new Error(oneValuePerChannel([s.batch, s.channels, s.spatial]));
  const { mean, variance } = batchnormStats(s, input);
  const invstd = variance.map((v) => 1 / Math.sqrt(v + h.eps));
  return {
    output: normalize(s, input, mean, invstd, weight, bias),
    mean,
    invstd,
    runningMean: runningMean.map((r, c) => (1 - h.momentum) * r + h.momentum * mean[c]),
    runningVar: runningVar.map((r, c) => (1 - h.momentum) * r + (h.momentum * variance[c] * M) / (M - 1)),
  };
}

/** Eval mode: y = (x - running_mean) / sqrt(running_var + eps) * weight + bias. */
export function batchnormForwardEval(
  s: BatchNormShape,
  input: Float64Array,
  weight: Float64Array,
  bias: Float64Array,
  runningMean: Float64Array,
  runningVar: Float64Array,
  eps = BATCHNORM_DEFAULTS.eps,
): Float64Array {
  const invstd = runningVar.map((v) => 1 / Math.sqrt(v + eps));
  return normalize(s, input, runningMean, invstd, weight, bias);
}

/**
 * Training mode's gradients (the batch statistics depend on the input). With
 * xhat = (x - mean) * invstd:
 *   dbias[c]   = sum_{n,s} dy
 *   dweight[c] = sum_{n,s} dy * xhat
 *   dinput     = weight[c] * invstd[c] / M * (M * dy - dbias[c] - xhat * dweight[c])
 */
export function batchnormBackward(
  s: BatchNormShape,
  doutput: Float64Array,
  input: Float64Array,
  weight: Float64Array,
  eps = BATCHNORM_DEFAULTS.eps,
): { dinput: Float64Array; dweight: Float64Array; dbias: Float64Array } {
  const { batch: N, channels: C, spatial: S } = s;
  const M = N * S;
  const { mean, variance } = batchnormStats(s, input);
  const invstd = variance.map((v) => 1 / Math.sqrt(v + eps));
  const xhat = (at: number, c: number) => (input[at] - mean[c]) * invstd[c];
  const dweight = new Float64Array(C);
  const dbias = new Float64Array(C);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let i = 0; i < S; i++) {
        const at = (n * C + c) * S + i;
        dbias[c] += doutput[at];
        dweight[c] += doutput[at] * xhat(at, c);
      }
  const dinput = new Float64Array(N * C * S);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let i = 0; i < S; i++) {
        const at = (n * C + c) * S + i;
        dinput[at] = ((weight[c] * invstd[c]) / M) * (M * doutput[at] - dbias[c] - xhat(at, c) * dweight[c]);
      }
  return { dinput, dweight, dbias };
}
