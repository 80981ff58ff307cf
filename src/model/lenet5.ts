/**
 * LeNet-5 of the PyTorch tutorial on the GPU: its layers, its buffers, and the
 * dispatches of a forward pass, a backward pass and an Adam step, all made once.
 *
 *   conv1 1->6 5x5 -> ReLU -> maxpool 2x2 -> conv2 6->16 5x5 -> maxpool 2x2 -> flatten 400
 *   -> fc1 400->120 -> ReLU -> fc2 120->84 -> ReLU -> fc3 84->10 -> log-softmax -> NLL (mean)
 *
 * There is no ReLU after conv2: the tutorial has none, and we keep its network as it is.
 *
 * Buffers are sized for `maxBatch`; a Plan for a smaller batch (the last, partial
 * batch of an epoch) uses the front of the same buffers with its own uniforms.
 */
import { type Dispatch } from '../gpu/dispatch';
import type { Runtime, Tensor } from '../gpu/runtime';
import { Adam, ADAM_DEFAULTS, type AdamHyper } from '../ops/adam';
import { Conv2d } from '../ops/conv2d';
import { Linear } from '../ops/linear';
import { LogSoftmax } from '../ops/log_softmax';
import { MaxPool2d } from '../ops/maxpool2d';
import { NllLoss } from '../ops/nll_loss';
import { FLAT_LENGTH, SLOTS, type ParameterName } from './parameters';

export const CLASSES = 10;
export const INPUT_SIZE = 32;

/**
 * Activation shapes per sample, in network order. The ReLUs are fused into the
 * layers before them (conv1, fc1, fc2 write max(., 0)), so relu1 is conv1's output;
 * in dact, relu1 etc. are the gradients w.r.t. the pre-ReLU values.
 */
const ACTIVATIONS = {
  input: [1, 32, 32],
  relu1: [6, 28, 28],
  pool1: [6, 14, 14],
  conv2: [16, 10, 10],
  pool2: [16, 5, 5],
  relu3: [120],
  relu4: [84],
  fc3: [CLASSES],
  log_probs: [CLASSES],
} as const;

type ActivationName = keyof typeof ACTIVATIONS;

/** The four flat buffers that share the parameter layout. */
export interface ParameterBuffers {
  param: GPUBuffer;
  grad: GPUBuffer;
  exp_avg: GPUBuffer;
  exp_avg_sq: GPUBuffer;
}

export class Lenet5 {
  readonly flat: ParameterBuffers;
  /** A view of each parameter (and of its gradient) in the flat buffers. */
  readonly params: Record<ParameterName, Tensor>;
  readonly grads: Record<ParameterName, Tensor>;
  /** Activations, their gradients, pooling argmaxes, labels, loss and metrics. */
  readonly act: Record<ActivationName, Tensor>;
  readonly dact: Record<ActivationName, Tensor>;
  readonly argmax1: Tensor;
  readonly argmax2: Tensor;
  readonly labels: Tensor;
  readonly loss: Tensor;
  /** Running (summed loss, correct, samples) since the last reset. */
  readonly metrics: Tensor;
  private readonly plans = new Map<number, Promise<Plan>>();

  constructor(
    readonly rt: Runtime,
    readonly maxBatch: number,
    readonly hyper: AdamHyper = ADAM_DEFAULTS,
  ) {
    if (!(Number.isInteger(maxBatch) && maxBatch >= 1)) throw new Error(`batch size must be a positive integer, got ${maxBatch}`);
    const flat = (label: string) => rt.buffer(label, FLAT_LENGTH * 4);
    this.flat = { param: flat('parameters'), grad: flat('gradients'), exp_avg: flat('adam exp_avg'), exp_avg_sq: flat('adam exp_avg_sq') };
    const view = (buffer: GPUBuffer) =>
      Object.fromEntries(
        SLOTS.map((s) => [s.name, { buffer, offset: s.offset * 4, shape: s.shape, length: s.length }]),
      ) as Record<ParameterName, Tensor>;
    this.params = view(this.flat.param);
    this.grads = view(this.flat.grad);
    const tensors = (prefix: string) =>
      Object.fromEntries(
        Object.entries(ACTIVATIONS).map(([name, shape]) => [name, rt.tensor(`${prefix}${name}`, [maxBatch, ...shape])]),
      ) as Record<ActivationName, Tensor>;
    this.act = tensors('');
    this.dact = tensors('d');
    this.argmax1 = rt.tensor('pool1 argmax', [maxBatch, ...ACTIVATIONS.pool1]);
    this.argmax2 = rt.tensor('pool2 argmax', [maxBatch, ...ACTIVATIONS.pool2]);
    this.labels = rt.tensor('labels', [maxBatch]);
    this.loss = rt.tensor('loss', [1]);
    this.metrics = rt.tensor('metrics', [3]);
  }

  /** The dispatches for batches of `batch` samples, made once per batch size. */
  plan(batch: number): Promise<Plan> {
    if (!(Number.isInteger(batch) && batch >= 1 && batch <= this.maxBatch)) {
      throw new Error(`batch of ${batch} does not fit the model's buffers (1..${this.maxBatch})`);
    }
    let p = this.plans.get(batch);
    if (!p) {
      p = Plan.create(this, batch);
      this.plans.set(batch, p);
    }
    return p;
  }

  /** Uploads parameters (flat layout); Adam's moments restart from zero unless given. */
  setParameters(flat: Float32Array, expAvg?: Float32Array, expAvgSq?: Float32Array): void {
    const q = this.rt.device.queue;
    for (const [buffer, data] of [
      [this.flat.param, flat],
      [this.flat.exp_avg, expAvg ?? new Float32Array(FLAT_LENGTH)],
      [this.flat.exp_avg_sq, expAvgSq ?? new Float32Array(FLAT_LENGTH)],
      [this.flat.grad, new Float32Array(FLAT_LENGTH)],
    ] as const) {
      if (data.length !== FLAT_LENGTH) throw new Error(`expected ${FLAT_LENGTH} values in the flat layout, got ${data.length}`);
      q.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    }
  }

  /** Writes a prepared batch ([n,1,32,32] floats and n labels) to the front of the input buffers. */
  writeBatch(input: Float32Array, labels?: Uint32Array): void {
    const n = input.length / (INPUT_SIZE * INPUT_SIZE);
    if (!Number.isInteger(n) || n > this.maxBatch) throw new Error(`writeBatch: ${input.length} values is not a batch of at most ${this.maxBatch} 32x32 images`);
    if (labels && labels.length !== n) throw new Error(`writeBatch: ${labels.length} labels for ${n} images`);
    const q = this.rt.device.queue;
    q.writeBuffer(this.act.input.buffer, this.act.input.offset, input.buffer, input.byteOffset, input.byteLength);
    if (labels) q.writeBuffer(this.labels.buffer, this.labels.offset, labels.buffer, labels.byteOffset, labels.byteLength);
  }

  async readFlat(which: keyof ParameterBuffers = 'param'): Promise<Float32Array> {
    return new Float32Array(await this.rt.readBytes(this.flat[which], 0, FLAT_LENGTH * 4));
  }

  resetMetrics(): void {
    this.rt.write(this.metrics, new Float32Array(3));
  }

  /** Loss and accuracy accumulated since resetMetrics(); a sync point. */
  async readMetrics(): Promise<{ loss: number; accuracy: number; samples: number; lossSum: number; correct: number }> {
    const [lossSum, correct, samples] = await this.rt.read(this.metrics);
    return { loss: samples ? lossSum / samples : NaN, accuracy: samples ? correct / samples : NaN, samples, lossSum, correct };
  }
}

function named(label: string, d: Dispatch): Dispatch {
  return { ...d, label };
}

/** A view of the first `batch` samples of a tensor sized for the model's maxBatch. */
function front(t: Tensor, batch: number): Tensor {
  const perSample = t.length / t.shape[0];
  return { buffer: t.buffer, offset: t.offset, shape: [batch, ...t.shape.slice(1)], length: batch * perSample };
}

export class Plan {
  /** Forward, backward and the Adam step; call adam.setStep(t) before submitting. */
  readonly trainStep: readonly Dispatch[];

  private constructor(
    readonly batch: number,
    /** Forward pass to log-probabilities, the loss, and the running metrics. */
    readonly forward: Dispatch[],
    /** Gradients of every parameter (written, not accumulated). */
    readonly backward: Dispatch[],
    readonly adam: Adam,
    readonly adamStep: Dispatch,
  ) {
    this.trainStep = [...forward, ...backward, adamStep];
  }

  static async create(m: Lenet5, batch: number): Promise<Plan> {
    const rt = m.rt;
    const relu = { relu: true };
    const [conv1, pool1, conv2, pool2, fc1, fc2, fc3, logSoftmax, nll, adam] = await Promise.all([
      Conv2d.create(rt, { batch, inChannels: 1, outChannels: 6, height: 32, width: 32, kernel: 5 }, relu),
      MaxPool2d.create(rt, { batch, channels: 6, height: 28, width: 28 }),
      Conv2d.create(rt, { batch, inChannels: 6, outChannels: 16, height: 14, width: 14, kernel: 5 }),
      MaxPool2d.create(rt, { batch, channels: 16, height: 10, width: 10 }),
      Linear.create(rt, { batch, inFeatures: 400, outFeatures: 120 }, relu),
      Linear.create(rt, { batch, inFeatures: 120, outFeatures: 84 }, relu),
      Linear.create(rt, { batch, inFeatures: 84, outFeatures: CLASSES }),
      LogSoftmax.create(rt, batch, CLASSES),
      NllLoss.create(rt, batch, CLASSES),
      Adam.create(rt, FLAT_LENGTH, m.hyper),
    ]);
    const a = Object.fromEntries(Object.entries(m.act).map(([k, t]) => [k, front(t, batch)])) as Lenet5['act'];
    const d = Object.fromEntries(Object.entries(m.dact).map(([k, t]) => [k, front(t, batch)])) as Lenet5['dact'];
    const argmax1 = front(m.argmax1, batch);
    const argmax2 = front(m.argmax2, batch);
    const labels = front(m.labels, batch);
    const flat400 = (t: Tensor): Tensor => ({ ...t, shape: [batch, 400] });
    const p = m.params;
    const g = m.grads;

    const forward = [
      ...conv1.forward({ input: a.input, weight: p['conv1.weight'], bias: p['conv1.bias'], output: a.relu1 }).map((x) => named('conv1', x)),
      named('pool1', pool1.forward({ input: a.relu1, output: a.pool1, argmax: argmax1 })),
      ...conv2.forward({ input: a.pool1, weight: p['conv2.weight'], bias: p['conv2.bias'], output: a.conv2 }).map((x) => named('conv2', x)),
      named('pool2', pool2.forward({ input: a.conv2, output: a.pool2, argmax: argmax2 })),
      named('fc1', fc1.forward({ input: flat400(a.pool2), weight: p['fc1.weight'], bias: p['fc1.bias'], output: a.relu3 })),
      named('fc2', fc2.forward({ input: a.relu3, weight: p['fc2.weight'], bias: p['fc2.bias'], output: a.relu4 })),
      named('fc3', fc3.forward({ input: a.relu4, weight: p['fc3.weight'], bias: p['fc3.bias'], output: a.fc3 })),
      named('log_softmax', logSoftmax.forward({ input: a.fc3, output: a.log_probs })),
      named('loss', nll.forward({ log_probs: a.log_probs, labels, loss: m.loss })),
      named('metrics', nll.accumulate({ log_probs: a.log_probs, labels, metrics: m.metrics })),
    ];

    // d.X holds the gradient of the loss w.r.t. activation X; for relu1/3/4, w.r.t. the
    // value before the ReLU (the ReLU's backward is fused into the kernel that writes it).
    const backward = [
      named('loss', nll.backwardFused({ log_probs: a.log_probs, labels, dlogits: d.fc3 })),
      named('fc3', fc3.backwardWeight({ doutput: d.fc3, input: a.relu4, dweight: g['fc3.weight'] })),
      named('fc3', fc3.backwardBias({ doutput: d.fc3, dbias: g['fc3.bias'] })),
      named('fc3', fc3.backwardInputRelu({ doutput: d.fc3, weight: p['fc3.weight'], input: a.relu4, dinput: d.relu4 })),
      named('fc2', fc2.backwardWeight({ doutput: d.relu4, input: a.relu3, dweight: g['fc2.weight'] })),
      named('fc2', fc2.backwardBias({ doutput: d.relu4, dbias: g['fc2.bias'] })),
      named('fc2', fc2.backwardInputRelu({ doutput: d.relu4, weight: p['fc2.weight'], input: a.relu3, dinput: d.relu3 })),
      named('fc1', fc1.backwardWeight({ doutput: d.relu3, input: flat400(a.pool2), dweight: g['fc1.weight'] })),
      named('fc1', fc1.backwardBias({ doutput: d.relu3, dbias: g['fc1.bias'] })),
      named('fc1', fc1.backwardInput({ doutput: d.relu3, weight: p['fc1.weight'], dinput: flat400(d.pool2) })),
      named('pool2', pool2.backward({ doutput: d.pool2, saved_argmax: argmax2, dinput: d.conv2 })),
      ...conv2.backwardWeight({ doutput: d.conv2, input: a.pool1, dweight: g['conv2.weight'] }).map((x) => named('conv2', x)),
      named('conv2', conv2.backwardBias({ doutput: d.conv2, dbias: g['conv2.bias'] })),
      ...conv2.backwardInput({ doutput: d.conv2, weight: p['conv2.weight'], dinput: d.pool1 }).map((x) => named('conv2', x)),
      named('pool1', pool1.backwardRelu({ doutput: d.pool1, saved_argmax: argmax1, saved_output: a.pool1, dinput: d.relu1 })),
      ...conv1.backwardWeight({ doutput: d.relu1, input: a.input, dweight: g['conv1.weight'] }).map((x) => named('conv1', x)),
      named('conv1', conv1.backwardBias({ doutput: d.relu1, dbias: g['conv1.bias'] })),
    ];

    const whole = (buffer: GPUBuffer): Tensor => ({ buffer, offset: 0, shape: [FLAT_LENGTH], length: FLAT_LENGTH });
    const adamStep = named(
      'adam',
      adam.step({
        param: whole(m.flat.param),
        grad: whole(m.flat.grad),
        exp_avg: whole(m.flat.exp_avg),
        exp_avg_sq: whole(m.flat.exp_avg_sq),
      }),
    );
    return new Plan(batch, forward, backward, adam, adamStep);
  }
}
