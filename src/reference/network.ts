/**
 * CPU reference of a whole network described in src/model/network.ts, in float64,
 * built only from ./ops: forward, mean NLL loss, backward and one Adam step.
 *
 * It walks the network's stages as plainly as possible: a stage's ReLU is applied
 * after it on the way forward and undone before it on the way back, with none of
 * the fusions the GPU plans use; so it checks those too.
 */
import { resolve, type Network, type Resolved, type Stage } from '../model/network';
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
} from './ops';

/** Parameters (or their gradients) by state_dict name. */
export type Params = Record<string, Float64Array>;

export interface Forward {
  /** [batch, classes] log-probabilities. */
  logp: Float64Array;
  /** Each stage's output by its name (after its ReLU), and "input". */
  act: Record<string, Float64Array>;
  /** The values before the ReLU, for stages that have one. */
  preRelu: Record<string, Float64Array>;
  /** Each pool's argmax, by the pool's name. */
  argmax: Record<string, Uint32Array>;
}

const resolved = new Map<Network, Resolved>();

function stagesOf(net: Network): Resolved {
  let r = resolved.get(net);
  if (!r) {
    r = resolve(net);
    resolved.set(net, r);
  }
  return r;
}

export function referenceForward(net: Network, params: Params, input: Float64Array, batch: number): Forward {
  const { stages } = stagesOf(net);
  const act: Record<string, Float64Array> = { input };
  const preRelu: Record<string, Float64Array> = {};
  const argmax: Record<string, Uint32Array> = {};
  for (const s of stages) {
    const x = act[s.input];
    let y: Float64Array;
    switch (s.op) {
      case 'conv2d':
        y = conv2dForward({ batch, ...s.shape }, x, params[`${s.name}.weight`], params[`${s.name}.bias`]);
        break;
      case 'linear':
        y = linearForward({ batch, ...s.shape }, x, params[`${s.name}.weight`], params[`${s.name}.bias`]);
        break;
      case 'maxpool2d': {
        const p = maxpool2dForward({ batch, ...s.shape }, x);
        argmax[s.name] = p.argmax;
        y = p.output;
        break;
      }
      case 'log_softmax':
        y = logSoftmaxForward(batch, s.classes, x);
        break;
    }
    if ((s.op === 'conv2d' || s.op === 'linear') && s.relu) {
      preRelu[s.name] = y;
      y = reluForward(y);
    }
    act[s.name] = y;
  }
  return { logp: act.log_probs, act, preRelu, argmax };
}

export function referenceLoss(net: Network, params: Params, input: Float64Array, labels: Uint32Array, batch: number): number {
  const { classes } = stagesOf(net);
  return nllLossForward(batch, classes, referenceForward(net, params, input, batch).logp, labels);
}

/** The loss, the gradient of every parameter, and the log-probabilities. */
export function referenceGradients(net: Network, params: Params, input: Float64Array, labels: Uint32Array, batch: number): { loss: number; grads: Params; logp: Float64Array } {
  const { stages, classes } = stagesOf(net);
  const f = referenceForward(net, params, input, batch);
  const loss = nllLossForward(batch, classes, f.logp, labels);
  const grads: Params = {};
  // The gradient w.r.t. each activation, by name; log-softmax and NLL together give the logits'.
  const d: Record<string, Float64Array> = {};
  const last = stages.length - 1;
  d[stages[last].input] = crossEntropyBackward(batch, classes, f.logp, labels);
  for (let i = last - 1; i >= 0; i--) {
    const s: Stage = stages[i];
    let dout = d[s.name];
    if ((s.op === 'conv2d' || s.op === 'linear') && s.relu) dout = reluBackward(dout, f.act[s.name]);
    const x = f.act[s.input];
    const first = i === 0;
    switch (s.op) {
      case 'conv2d': {
        const shape = { batch, ...s.shape };
        grads[`${s.name}.weight`] = conv2dBackwardWeight(shape, dout, x);
        grads[`${s.name}.bias`] = conv2dBackwardBias(shape, dout);
        if (!first) d[s.input] = conv2dBackwardInput(shape, dout, params[`${s.name}.weight`]);
        break;
      }
      case 'linear': {
        const shape = { batch, ...s.shape };
        grads[`${s.name}.weight`] = linearBackwardWeight(shape, dout, x);
        grads[`${s.name}.bias`] = linearBackwardBias(shape, dout);
        if (!first) d[s.input] = linearBackwardInput(shape, dout, params[`${s.name}.weight`]);
        break;
      }
      case 'maxpool2d':
        if (!first) d[s.input] = maxpool2dBackward({ batch, ...s.shape }, dout, f.argmax[s.name]);
        break;
      case 'log_softmax':
        throw new Error(`reference: log_softmax may only be the last layer`);
    }
  }
  return { loss, grads, logp: f.logp };
}

export interface AdamState {
  step: number;
  expAvg: Params;
  expAvgSq: Params;
}

export function newAdamState(params: Params): AdamState {
  const expAvg: Params = {};
  const expAvgSq: Params = {};
  for (const [name, p] of Object.entries(params)) {
    expAvg[name] = new Float64Array(p.length);
    expAvgSq[name] = new Float64Array(p.length);
  }
  return { step: 0, expAvg, expAvgSq };
}

/** One forward, loss, backward and Adam step; mutates params and state; returns the loss before the update. */
export function referenceTrainStep(net: Network, params: Params, state: AdamState, input: Float64Array, labels: Uint32Array, batch: number, h: AdamHyper = ADAM_DEFAULTS): number {
  const { loss, grads } = referenceGradients(net, params, input, labels, batch);
  state.step += 1;
  for (const name of Object.keys(params)) adamStep(params[name], grads[name], state.expAvg[name], state.expAvgSq[name], state.step, h);
  return loss;
}

/**
 * How close a batch comes to a point where float32 and float64 can take different
 * branches: a ReLU input near 0, or two near-equal maxima in a pooling window (where
 * they matter: a window of a ReLU'd activation whose maximum is 0 passes no
 * gradient). A comparison at 1e-5 is only meaningful away from those, as finite
 * differences are.
 */
export function kinkMargin(net: Network, params: Params, input: Float64Array, batch: number): number {
  const { stages } = stagesOf(net);
  const f = referenceForward(net, params, input, batch);
  let margin = Infinity;
  for (const pre of Object.values(f.preRelu)) for (const v of pre) margin = Math.min(margin, Math.abs(v));
  for (const s of stages) {
    if (s.op !== 'maxpool2d') continue;
    const producer = stages.find((p) => p.name === s.input);
    const relu = producer !== undefined && (producer.op === 'conv2d' || producer.op === 'linear') && producer.relu;
    const x = f.act[s.input];
    const { channels, height: H, width: W } = s.shape;
    for (let p = 0; p < batch * channels; p++) {
      for (let y = 0; y + 1 < H; y += 2) {
        for (let xx = 0; xx + 1 < W; xx += 2) {
          const at = p * H * W + y * W + xx;
          const w = [x[at], x[at + 1], x[at + W], x[at + W + 1]].sort((a, b) => b - a);
          if (!relu || w[0] > 0) margin = Math.min(margin, w[0] - w[1]);
        }
      }
    }
  }
  return margin;
}
