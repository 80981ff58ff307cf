/**
 * CPU reference for the elementwise activations and dropout, in float64, as PyTorch
 * defines them: the backward passes of tanh and sigmoid take the forward's output (as
 * torch's tanh_backward and sigmoid_backward do), dropout's take the keep mask
 * (src/util/dropout-mask.ts).
 */

// ---------------------------------------------------------------- tanh

export function tanhForward(input: Float64Array): Float64Array {
  return input.map(Math.tanh);
}

/** doutput * (1 - y²), y the forward's output. */
export function tanhBackward(doutput: Float64Array, output: Float64Array): Float64Array {
  return doutput.map((g, i) => g * (1 - output[i] * output[i]));
}

// ---------------------------------------------------------------- sigmoid

/** 1 / (1 + exp(-x)), from exp(-|x|) so that nothing overflows. */
export function sigmoidForward(input: Float64Array): Float64Array {
  return input.map((x) => {
    const e = Math.exp(-Math.abs(x));
    return x >= 0 ? 1 / (1 + e) : e / (1 + e);
  });
}

/** doutput * (1 - y) * y, y the forward's output. */
export function sigmoidBackward(doutput: Float64Array, output: Float64Array): Float64Array {
  return doutput.map((g, i) => g * (1 - output[i]) * output[i]);
}

// ---------------------------------------------------------------- dropout

/** Inverted dropout in training: input * mask / (1 - p). */
export function dropoutForward(input: Float64Array, mask: ArrayLike<number>, p: number): Float64Array {
  if (mask.length !== input.length) throw new Error(`dropout: ${input.length} elements, a mask of ${mask.length}`);
  return input.map((x, i) => (mask[i] ? x / (1 - p) : 0));
}

/** The same mask and scale on the gradient. */
export function dropoutBackward(doutput: Float64Array, mask: ArrayLike<number>, p: number): Float64Array {
  return dropoutForward(doutput, mask, p);
}
