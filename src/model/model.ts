/**
 * A network on the GPU, for inference: its parameters (one flat buffer, laid out by
 * its ParameterTable), its activations sized for `maxBatch`, and the dispatches of a
 * forward pass for each batch size used, all derived from the network's description
 * and made once. A plan for a smaller batch (the last, partial batch of an epoch)
 * uses the front of the same buffers with its own uniforms.
 *
 * Training adds gradients (src/train/backprop.ts) and an optimizer
 * (src/train/optimizer.ts) around a Model made with `training: true`, whose ops
 * then also compile their backward kernels; a Model without it compiles forward
 * kernels only.
 */
import { submit, type Dispatch } from '../gpu/dispatch';
import type { Runtime, Tensor } from '../gpu/runtime';
import { Conv2d } from '../ops/conv2d';
import { Linear } from '../ops/linear';
import { LogSoftmax } from '../ops/log_softmax';
import { MaxPool2d } from '../ops/maxpool2d';
import { NllLoss } from '../ops/nll_loss';
import { PackedWeights } from '../ops/pack';
import { hasRelu, inputNeedsGrad, perSample, type Network, type Resolved, type Stage } from './network';
import { parameterTable, type ParameterTable } from './parameters';

/** The op behind each stage, for one batch size. */
export interface StageOps {
  batch: number;
  stage: Map<string, Conv2d | Linear | MaxPool2d | LogSoftmax>;
  nll: NllLoss;
}

export interface ForwardPlan {
  batch: number;
  /**
   * The network's input to its log-probabilities (after packing the conv weights, for
   * a model that reads another's parameter buffer: its owner may have changed them).
   */
  forward: readonly Dispatch[];
  /** The same up to the logits: a training step's loss kernel takes the log-softmax from there. */
  logits: readonly Dispatch[];
  /** metrics += (summed loss, correct predictions, samples) of the batch. */
  metrics: Dispatch;
}

/** A view of the first `batch` samples of a tensor sized for maxBatch, optionally reshaped per sample. */
export function front(t: Tensor, batch: number, perSampleShape: readonly number[] = t.shape.slice(1)): Tensor {
  const n = perSampleShape.reduce((a, b) => a * b, 1);
  return { buffer: t.buffer, offset: t.offset, shape: [batch, ...perSampleShape], length: batch * n };
}

export function labelled(label: string, d: Dispatch): Dispatch {
  return { ...d, label };
}

/** A buffer sized by the batch: its GPU label and its shape per sample (4-byte elements). */
export interface PerSample {
  /** The name it goes by in its owner (an activation's, a pool's). */
  name: string;
  label: string;
  shape: readonly number[];
}

/**
 * The buffers a Model sizes by its batch: each activation, each pool's argmax (where
 * its maxima came from) and the labels. The constructor makes these, and the batch
 * size limits (src/train/limits.ts) count them.
 */
export function modelBuffers(r: Resolved): { act: PerSample[]; argmax: PerSample[]; labels: PerSample } {
  return {
    act: [...r.activations].map(([name, shape]) => ({ name, label: name, shape })),
    argmax: r.stages.filter((s) => s.op === 'maxpool2d').map((s) => ({ name: s.name, label: `${s.name} argmax`, shape: s.outShape })),
    labels: { name: 'labels', label: 'labels', shape: [] },
  };
}

export class Model {
  readonly resolved: Resolved;
  readonly table: ParameterTable;
  /** The flat parameter buffer (the model's own, or one it was given to read). */
  readonly param: GPUBuffer;
  /** A view of each parameter in it, by state_dict name. */
  readonly params: Record<string, Tensor>;
  /** Each activation by name ("input", then each stage's output, after its ReLU), [maxBatch, ...]. */
  readonly act: Record<string, Tensor>;
  /** Where each pool's maxima came from, by the pool's name (u32). */
  readonly argmax: Record<string, Tensor>;
  readonly labels: Tensor;
  /** Running (summed loss, correct, samples) since the last reset. */
  readonly metrics: Tensor;
  readonly training: boolean;
  /** The conv weights' packed copies, which the conv kernels read (src/ops/pack.ts). */
  readonly packed: PackedWeights;
  /** Whether the parameter buffer is another model's (the page's predictor reads the trainer's). */
  private readonly shared: boolean;
  private readonly ops = new Map<number, Promise<StageOps>>();
  private readonly plans = new Map<number, Promise<ForwardPlan>>();

  /**
   * A model of `network` for batches of up to `maxBatch`: with `training`, its ops
   * also compile their backward kernels; with `param`, it reads that parameter buffer
   * (another model's) instead of one of its own.
   */
  static async create(rt: Runtime, network: Network, maxBatch: number, options: { training?: boolean; param?: GPUBuffer } = {}): Promise<Model> {
    if (!(Number.isInteger(maxBatch) && maxBatch >= 1)) throw new Error(`batch size must be a positive integer, got ${maxBatch}`);
    const table = parameterTable(network);
    const bytes = table.flatLength * 4;
    if (options.param && options.param.size < bytes) {
      throw new Error(`parameter buffer "${options.param.label}" has ${options.param.size} bytes; network ${network.name} needs ${bytes}`);
    }
    const convs = table.resolved.stages.flatMap((s) => (s.op === 'conv2d' ? [{ name: s.name, shape: s.shape, offset: table.slot(`${s.name}.weight`).offset }] : []));
    const packed = await PackedWeights.create(rt, convs, table.flatLength, options.training ?? false);
    return new Model(rt, network, maxBatch, packed, options);
  }

  private constructor(
    readonly rt: Runtime,
    readonly network: Network,
    readonly maxBatch: number,
    packed: PackedWeights,
    options: { training?: boolean; param?: GPUBuffer },
  ) {
    this.table = parameterTable(network);
    this.resolved = this.table.resolved;
    this.training = options.training ?? false;
    this.packed = packed;
    this.shared = options.param !== undefined;
    this.param = options.param ?? rt.buffer('parameters', this.table.flatLength * 4);
    this.params = this.table.viewsOf(this.param);
    const buffers = modelBuffers(this.resolved);
    const tensor = (b: PerSample) => rt.tensor(b.label, [maxBatch, ...b.shape]);
    this.act = Object.fromEntries(buffers.act.map((b) => [b.name, tensor(b)]));
    this.argmax = Object.fromEntries(buffers.argmax.map((b) => [b.name, tensor(b)]));
    this.labels = tensor(buffers.labels);
    this.metrics = rt.tensor('metrics', [3]);
  }

  get stages(): readonly Stage[] {
    return this.resolved.stages;
  }

  get classes(): number {
    return this.resolved.classes;
  }

  /** The input's size per sample, [channels, height, width]. */
  get inputShape(): readonly [number, number, number] {
    return this.network.input;
  }

  private checkBatch(batch: number): void {
    if (!(Number.isInteger(batch) && batch >= 1 && batch <= this.maxBatch)) {
      throw new Error(`batch of ${batch} does not fit the model's buffers (1..${this.maxBatch})`);
    }
  }

  /** The ops of every stage for batches of `batch`, made once per batch size (backward kernels too when training). */
  opsFor(batch: number): Promise<StageOps> {
    this.checkBatch(batch);
    let ops = this.ops.get(batch);
    if (!ops) {
      ops = makeOps(this.rt, this.resolved, batch, this.training);
      this.ops.set(batch, ops);
    }
    return ops;
  }

  /** The forward dispatches for batches of `batch`, made once per batch size. */
  forward(batch: number): Promise<ForwardPlan> {
    this.checkBatch(batch);
    let p = this.plans.get(batch);
    if (!p) {
      p = this.makeForward(batch);
      this.plans.set(batch, p);
    }
    return p;
  }

  /** A view of an activation for the first `batch` samples. */
  view(name: string, batch: number, perSampleShape?: readonly number[]): Tensor {
    const t = this.act[name];
    if (!t) throw new Error(`network ${this.network.name} has no activation "${name}"`);
    return front(t, batch, perSampleShape);
  }

  private async makeForward(batch: number): Promise<ForwardPlan> {
    const ops = await this.opsFor(batch);
    const forward: Dispatch[] = this.shared ? [labelled('pack', this.pack())] : [];
    for (const s of this.stages) {
      const op = ops.stage.get(s.name)!;
      const output = this.view(s.name, batch);
      if (s.op === 'conv2d') {
        const t = { input: this.view(s.input, batch), by_tap: this.packed.of(s.name).by_tap, bias: this.params[`${s.name}.bias`], output };
        forward.push(labelled(s.name, (op as Conv2d).forward(t)));
      } else if (s.op === 'linear') {
        const input = this.view(s.input, batch, [s.shape.inFeatures]); // flatten is this view
        forward.push(labelled(s.name, (op as Linear).forward({ input, weight: this.params[`${s.name}.weight`], bias: this.params[`${s.name}.bias`], output })));
      } else if (s.op === 'maxpool2d') {
        forward.push(labelled(s.name, (op as MaxPool2d).forward({ input: this.view(s.input, batch), output, argmax: front(this.argmax[s.name], batch) })));
      } else {
        forward.push(labelled('log_softmax', (op as LogSoftmax).forward({ input: this.view(s.input, batch, [s.classes]), output })));
      }
    }
    const metrics = labelled('metrics', ops.nll.accumulate({ log_probs: this.view('log_probs', batch), labels: front(this.labels, batch), metrics: this.metrics }));
    return { batch, forward, logits: forward.slice(0, -1), metrics };
  }

  /** Packs the conv weights of the parameter buffer into their copies (src/ops/pack.ts). */
  pack(): Dispatch {
    return this.packed.pack(this.table.whole(this.param));
  }

  /** Uploads parameters in the flat layout, and packs the conv weights. */
  setParameters(flat: Float32Array): void {
    this.table.check(flat);
    this.rt.device.queue.writeBuffer(this.param, 0, flat.buffer, flat.byteOffset, flat.byteLength);
    submit(this.rt, [this.pack()], 'pack weights');
  }

  async readParameters(): Promise<Float32Array> {
    return new Float32Array(await this.rt.readBytes(this.param, 0, this.table.flatLength * 4));
  }

  /** Writes a prepared batch ([n, ...input] floats and n labels) to the front of the input buffers. */
  writeBatch(input: Float32Array, labels?: Uint32Array): void {
    const each = perSample(this.resolved, 'input');
    const n = input.length / each;
    if (!Number.isInteger(n) || n > this.maxBatch) throw new Error(`writeBatch: ${input.length} values is not a batch of at most ${this.maxBatch} inputs of ${each}`);
    if (labels && labels.length !== n) throw new Error(`writeBatch: ${labels.length} labels for ${n} inputs`);
    const q = this.rt.device.queue;
    q.writeBuffer(this.act.input.buffer, this.act.input.offset, input.buffer, input.byteOffset, input.byteLength);
    if (labels) q.writeBuffer(this.labels.buffer, this.labels.offset, labels.buffer, labels.byteOffset, labels.byteLength);
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

async function makeOps(rt: Runtime, r: Resolved, batch: number, backward: boolean): Promise<StageOps> {
  const made = await Promise.all(
    r.stages.map((s): Promise<Conv2d | Linear | MaxPool2d | LogSoftmax> => {
      const into = inputNeedsGrad(r, s);
      switch (s.op) {
        case 'conv2d':
          return Conv2d.create(rt, { batch, ...s.shape }, { relu: s.relu, backward, inputGrad: into !== null });
        case 'linear':
          return Linear.create(rt, { batch, ...s.shape }, { relu: s.relu, backward, inputGrad: into === null ? 'none' : hasRelu(into) ? 'relu' : 'plain' });
        case 'maxpool2d':
          return MaxPool2d.create(rt, { batch, ...s.shape }, { backward });
        case 'log_softmax':
          // Training never runs log-softmax's own backward: the loss's gradient is fused with it.
          return LogSoftmax.create(rt, batch, s.classes, { backward: false });
      }
    }),
  );
  const nll = await NllLoss.create(rt, batch, r.classes, { backward });
  return { batch, stage: new Map(r.stages.map((s, i) => [s.name, made[i]])), nll };
}
