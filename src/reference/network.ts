/**
 * CPU reference of a whole network described in src/model/network.ts, in float64,
 * built only from ./ops: forward, mean NLL loss, backward and one Adam step.
 *
 * It walks the network's stages as plainly as possible: a stage's ReLU is applied
 * after it on the way forward and undone before it on the way back, with none of
 * the fusions the GPU plans use; so it checks those too.
 */
import type { Mode, ReferenceContext, Stage } from '../model/kind';
import { inputNeedsGrad, resolve, type Network } from '../model/network';
import { ADAM_DEFAULTS, adamStep, crossEntropyBackward, nllLossForward, reluBackward, reluForward, type AdamHyper } from './ops';

/** Parameters (or their gradients) by state_dict name. */
export type Params = Record<string, Float64Array>;

/** A pass's mode, and dropout's keys (the run's seed and the Adam step being taken). */
export interface PassOptions {
  mode?: Mode;
  seed?: number;
  step?: number;
}

export interface Forward {
  /** [batch, classes] log-probabilities. */
  logp: Float64Array;
  /** Each stage's output by its name (after its ReLU), and "input". */
  act: Record<string, Float64Array>;
  /** The values before the ReLU, for stages that have one. */
  preRelu: Record<string, Float64Array>;
  /** What each stage kept for its backward, by its name (a pool's argmax). */
  saved: Record<string, unknown>;
  /** Buffers a training pass updates (running statistics), by state_dict name. */
  updates: Params;
}

function context(batch: number, o: PassOptions): ReferenceContext {
  return { batch, mode: o.mode ?? 'eval', seed: o.seed ?? 1, step: o.step ?? 1 };
}

function paramsOf(params: Params, s: Stage) {
  return (suffix: string) => {
    const p = params[`${s.name}.${suffix}`];
    if (!p) throw new Error(`reference: no parameter ${s.name}.${suffix}`);
    return p;
  };
}

/** The forward pass, eval mode unless told: each stage's kind, then its fused ReLU. */
export function referenceForward(net: Network, params: Params, input: Float64Array, batch: number, o: PassOptions = {}): Forward {
  const { stages } = resolve(net);
  const ctx = context(batch, o);
  const act: Record<string, Float64Array> = { input };
  const preRelu: Record<string, Float64Array> = {};
  const saved: Record<string, unknown> = {};
  const updates: Params = {};
  for (const s of stages) {
    const r = s.kind.reference.forward(s, act[s.input], paramsOf(params, s), ctx);
    let y = r.y;
    if (r.saved !== undefined) saved[s.name] = r.saved;
    for (const [suffix, v] of Object.entries(r.updates ?? {})) updates[`${s.name}.${suffix}`] = v;
    if (s.relu) {
      preRelu[s.name] = y;
      y = reluForward(y);
    }
    act[s.name] = y;
  }
  return { logp: act.log_probs, act, preRelu, saved, updates };
}

export function referenceLoss(net: Network, params: Params, input: Float64Array, labels: Uint32Array, batch: number, o: PassOptions = {}): number {
  return nllLossForward(batch, resolve(net).classes, referenceForward(net, params, input, batch, o).logp, labels);
}

/**
 * The loss, the gradient of every parameter (buffers get none), the log-probabilities
 * and the buffers the pass updated; train mode unless told.
 */
export function referenceGradients(
  net: Network,
  params: Params,
  input: Float64Array,
  labels: Uint32Array,
  batch: number,
  o: PassOptions = {},
): { loss: number; grads: Params; logp: Float64Array; updates: Params; forward: Forward; dact: Record<string, Float64Array> } {
  const r = resolve(net);
  const { stages, classes } = r;
  const opts = { mode: 'train' as Mode, ...o };
  const ctx = context(batch, opts);
  const f = referenceForward(net, params, input, batch, opts);
  const loss = nllLossForward(batch, classes, f.logp, labels);
  const grads: Params = {};
  // The gradient w.r.t. each activation, by name; log-softmax and NLL together give the logits'.
  const d: Record<string, Float64Array> = {};
  const last = stages.length - 1;
  d[stages[last].input] = crossEntropyBackward(batch, classes, f.logp, labels);
  for (let i = last - 1; i >= 0; i--) {
    const s = stages[i];
    let dout = d[s.name];
    if (!dout) continue; // nothing after it needed a gradient
    if (s.relu) dout = reluBackward(dout, f.act[s.name]);
    const needInput = inputNeedsGrad(r, s) !== null;
    const y = s.relu ? f.preRelu[s.name] : f.act[s.name];
    const b = s.kind.reference.backward(s, dout, { x: f.act[s.input], y, saved: f.saved[s.name] }, paramsOf(params, s), ctx, needInput);
    for (const [suffix, g] of Object.entries(b.grads ?? {})) grads[`${s.name}.${suffix}`] = g;
    if (needInput && b.dx) d[s.input] = b.dx;
  }
  return { loss, grads, logp: f.logp, updates: f.updates, forward: f, dact: d };
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

/**
 * One forward (train mode), loss, backward and Adam step; mutates params (buffers
 * take the pass's updates, counters count the step) and state; returns the loss
 * before the update. Dropout's masks are keyed by `seed` and the step being taken.
 */
export function referenceTrainStep(net: Network, params: Params, state: AdamState, input: Float64Array, labels: Uint32Array, batch: number, h: AdamHyper = ADAM_DEFAULTS, seed = 1): number {
  const { loss, grads, updates } = referenceGradients(net, params, input, labels, batch, { seed, step: state.step + 1 });
  state.step += 1;
  for (const name of Object.keys(params)) {
    if (grads[name]) adamStep(params[name], grads[name], state.expAvg[name], state.expAvgSq[name], state.step, h);
    else if (updates[name]) params[name].set(updates[name]);
    else if (name.endsWith('.num_batches_tracked')) params[name][0] += 1;
  }
  return loss;
}

/**
 * How close a batch comes to a point where float32 and float64 can take different
 * branches: a ReLU input near 0, or two near-equal maxima in a pooling window (where
 * they matter: a window of a ReLU'd activation whose maximum is 0 passes no
 * gradient). A comparison at 1e-5 is only meaningful away from those, as finite
 * differences are.
 */
export function kinkMargin(net: Network, params: Params, input: Float64Array, batch: number, o: PassOptions = {}): number {
  const { stages } = resolve(net);
  const ctx = context(batch, o);
  const f = referenceForward(net, params, input, batch, o);
  let margin = Infinity;
  for (const pre of Object.values(f.preRelu)) for (const v of pre) margin = Math.min(margin, Math.abs(v));
  for (const s of stages) {
    if (!s.kind.reference.margin) continue;
    const producer = stages.find((p) => p.name === s.input);
    const reluBefore = producer !== undefined && (producer.relu || producer.op === 'relu');
    margin = Math.min(margin, s.kind.reference.margin(s, f.act[s.input], f.act[s.name], ctx, reluBefore));
  }
  return margin;
}
