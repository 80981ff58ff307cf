// Every WGSL file of the engine, as text. Node and the page import the same files.
import adam from '../shaders/adam.wgsl';
import conv2d from '../shaders/conv2d.wgsl';
import linear from '../shaders/linear.wgsl';
import logSoftmax from '../shaders/log_softmax.wgsl';
import maxpool2d from '../shaders/maxpool2d.wgsl';
import nllLoss from '../shaders/nll_loss.wgsl';
import prepareInput from '../shaders/prepare_input.wgsl';
import relu from '../shaders/relu.wgsl';

export const SHADERS = {
  adam,
  conv2d,
  linear,
  log_softmax: logSoftmax,
  maxpool2d,
  nll_loss: nllLoss,
  prepare_input: prepareInput,
  relu,
} as const;

export type ShaderName = keyof typeof SHADERS;
