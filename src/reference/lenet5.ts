/**
 * CPU reference of the whole LeNet-5 of the PyTorch tutorial in float64, built only
 * from ./ops: forward, mean NLL loss, backward and one Adam training step.
 *
 *   conv1 1->6 5x5 -> ReLU -> maxpool 2x2 -> conv2 6->16 5x5 -> maxpool 2x2 -> flatten 400
 *   -> fc1 400->120 -> ReLU -> fc2 120->84 -> ReLU -> fc3 84->10 -> log-softmax -> NLL (mean)
 *
 * There is deliberately NO ReLU between conv2 and the second maxpool: the tutorial's
 * network has none, and this reference follows it.
 */
import {
  ADAM_DEFAULTS,
  adamStep,
  conv2dBackwardBias,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  conv2dForward,
  crossEntropyBackward,
  linearBackwardBias,
  linearBackwardInput,
  linearBackwardWeight,
  linearForward,
  logSoftmaxForward,
  maxpool2dBackward,
  maxpool2dForward,
  nllLossForward,
  reluBackward,
  reluForward,
  type AdamHyper,
  type Conv2dShape,
  type LinearShape,
  type Pool2dShape,
} from './ops';

/** Parameter names and shapes in PyTorch state_dict order (61,706 numbers in all). */
export const PARAMETER_SHAPES: ReadonlyArray<readonly [name: string, shape: readonly number[]]> = [
  ['conv1.weight', [6, 1, 5, 5]],
  ['conv1.bias', [6]],
  ['conv2.weight', [16, 6, 5, 5]],
  ['conv2.bias', [16]],
  ['fc1.weight', [120, 400]],
  ['fc1.bias', [120]],
  ['fc2.weight', [84, 120]],
  ['fc2.bias', [84]],
  ['fc3.weight', [10, 84]],
  ['fc3.bias', [10]],
];

export type Params = Record<string, Float64Array>;

const CLASSES = 10;

function shapes(batch: number) {
  const conv1: Conv2dShape = { batch, inChannels: 1, outChannels: 6, height: 32, width: 32, kernel: 5 }; // -> 6x28x28
  const pool1: Pool2dShape = { batch, channels: 6, height: 28, width: 28 }; // -> 6x14x14
  const conv2: Conv2dShape = { batch, inChannels: 6, outChannels: 16, height: 14, width: 14, kernel: 5 }; // -> 16x10x10
  const pool2: Pool2dShape = { batch, channels: 16, height: 10, width: 10 }; // -> 16x5x5 = 400
  const fc1: LinearShape = { batch, inFeatures: 400, outFeatures: 120 };
  const fc2: LinearShape = { batch, inFeatures: 120, outFeatures: 84 };
  const fc3: LinearShape = { batch, inFeatures: 84, outFeatures: CLASSES };
  return { conv1, pool1, conv2, pool2, fc1, fc2, fc3 };
}

/** Everything the backward pass needs, named after the layer that produced it. */
export interface Activations {
  input: Float64Array; // [batch,1,32,32]
  relu1: Float64Array; // conv1 + ReLU, [batch,6,28,28]
  pool1: Float64Array; // [batch,6,14,14]
  pool1Argmax: Uint32Array;
  pool2: Float64Array; // [batch,16,5,5], flattened it is fc1's input [batch,400]
  pool2Argmax: Uint32Array;
  relu3: Float64Array; // fc1 + ReLU, [batch,120]
  relu4: Float64Array; // fc2 + ReLU, [batch,84]
}

export function lenet5Forward(params: Params, input: Float64Array, batch: number): { logp: Float64Array; activations: Activations } {
  const s = shapes(batch);
  const relu1 = reluForward(conv2dForward(s.conv1, input, params['conv1.weight'], params['conv1.bias']));
  const p1 = maxpool2dForward(s.pool1, relu1);
  const conv2 = conv2dForward(s.conv2, p1.output, params['conv2.weight'], params['conv2.bias']); // no ReLU, as the tutorial
  const p2 = maxpool2dForward(s.pool2, conv2);
  const relu3 = reluForward(linearForward(s.fc1, p2.output, params['fc1.weight'], params['fc1.bias']));
  const relu4 = reluForward(linearForward(s.fc2, relu3, params['fc2.weight'], params['fc2.bias']));
  const logits = linearForward(s.fc3, relu4, params['fc3.weight'], params['fc3.bias']);
  const logp = logSoftmaxForward(batch, CLASSES, logits);
  const activations: Activations = {
    input, relu1, pool1: p1.output, pool1Argmax: p1.argmax, pool2: p2.output, pool2Argmax: p2.argmax, relu3, relu4,
  };
  return { logp, activations };
}

/** Mean NLL loss of the log-softmax output. */
export function lenet5Loss(params: Params, input: Float64Array, labels: Uint32Array, batch: number): number {
  return nllLossForward(batch, CLASSES, lenet5Forward(params, input, batch).logp, labels);
}

export function lenet5Gradients(params: Params, input: Float64Array, labels: Uint32Array, batch: number): { loss: number; grads: Params; logp: Float64Array } {
  const s = shapes(batch);
  const { logp, activations: a } = lenet5Forward(params, input, batch);
  const loss = nllLossForward(batch, CLASSES, logp, labels);
  const grads: Params = {};

  const dlogits = crossEntropyBackward(batch, CLASSES, logp, labels);
  grads['fc3.weight'] = linearBackwardWeight(s.fc3, dlogits, a.relu4);
  grads['fc3.bias'] = linearBackwardBias(s.fc3, dlogits);
  const dfc2 = reluBackward(linearBackwardInput(s.fc3, dlogits, params['fc3.weight']), a.relu4);
  grads['fc2.weight'] = linearBackwardWeight(s.fc2, dfc2, a.relu3);
  grads['fc2.bias'] = linearBackwardBias(s.fc2, dfc2);
  const dfc1 = reluBackward(linearBackwardInput(s.fc2, dfc2, params['fc2.weight']), a.relu3);
  grads['fc1.weight'] = linearBackwardWeight(s.fc1, dfc1, a.pool2);
  grads['fc1.bias'] = linearBackwardBias(s.fc1, dfc1);
  const dpool2 = linearBackwardInput(s.fc1, dfc1, params['fc1.weight']);
  const dconv2 = maxpool2dBackward(s.pool2, dpool2, a.pool2Argmax); // no ReLU to undo here
  grads['conv2.weight'] = conv2dBackwardWeight(s.conv2, dconv2, a.pool1);
  grads['conv2.bias'] = conv2dBackwardBias(s.conv2, dconv2);
  const dpool1 = conv2dBackwardInput(s.conv2, dconv2, params['conv2.weight']);
  const dconv1 = reluBackward(maxpool2dBackward(s.pool1, dpool1, a.pool1Argmax), a.relu1);
  grads['conv1.weight'] = conv2dBackwardWeight(s.conv1, dconv1, a.input);
  grads['conv1.bias'] = conv2dBackwardBias(s.conv1, dconv1);

  return { loss, grads, logp };
}

export interface AdamState {
  step: number;
  expAvg: Params;
  expAvgSq: Params;
}

export function newAdamState(params: Params): AdamState {
  const expAvg: Params = {}, expAvgSq: Params = {};
  for (const [name] of PARAMETER_SHAPES) {
    expAvg[name] = new Float64Array(params[name].length);
    expAvgSq[name] = new Float64Array(params[name].length);
  }
  return { step: 0, expAvg, expAvgSq };
}

/** One forward, loss, backward and Adam step; mutates params and state; returns the loss before the update. */
export function lenet5TrainStep(params: Params, state: AdamState, input: Float64Array, labels: Uint32Array, batch: number, h: AdamHyper = ADAM_DEFAULTS): number {
  const { loss, grads } = lenet5Gradients(params, input, labels, batch);
  state.step += 1;
  for (const [name] of PARAMETER_SHAPES)
    adamStep(params[name], grads[name], state.expAvg[name], state.expAvgSq[name], state.step, h);
  return loss;
}
