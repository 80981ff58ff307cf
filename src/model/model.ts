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
import { NllLoss } from '../ops/nll_loss';
import { PackedWeights } from '../ops/pack';
import type { Conv2dStageShape } from './kinds/conv2d';
import type { ForwardIO, Mode, PerSample, Stage, StageOp } from './kind';
import { hasRelu, inputNeedsGrad, perSample, type Network, type Resolved } from './network';
import { parameterTable, type ParameterTable } from './parameters';

export type { PerSample } from './kind';

/** The op behind each stage, for one batch size. */
export interface StageOps {
  batch: number;
  stage: Map<string, StageOp>;
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

/**
 * The buffers a Model sizes by its batch: each activation, what each stage keeps for
 * its backward (a pool's argmax: where its maxima came from) and the labels. The
 * constructor makes these, and the batch size limits (src/train/limits.ts) count them.
 */
export function modelBuffers(r: Resolved): { act: PerSample[]; saved: (PerSample & { stage: string })[]; labels: PerSample } {
  return {
    act: [...r.activations].map(([name, shape]) => ({ name, label: name, shape })),
    saved: r.stages.flatMap((s) => (s.kind.saved?.(s) ?? []).map((b) => ({ ...b, stage: s.name }))),
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
  /** What each stage keeps for its backward, by stage and name (a pool's argmax, u32). */
  readonly saved: Record<string, Record<string, Tensor>>;
  readonly labels: Tensor;
  /** Running (summed loss, correct, samples) since the last reset. */
  readonly metrics: Tensor;
  readonly training: boolean;
  /** The conv weights' packed copies, which the conv kernels read (src/ops/pack.ts). */
  readonly packed: PackedWeights;
  /** Whether the parameter buffer is another model's (the page's predictor reads the trainer's). */
  private readonly shared: boolean;
  private readonly ops = new Map<number, Promise<StageOps>>();
  /** The ops made so far (for setStep). */
  private readonly made: StageOps[] = [];
  private readonly plans = new Map<string, Promise<ForwardPlan>>();

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
    const convs = table.resolved.stages.flatMap((s) => (s.op === 'conv2d' ? [{ name: s.name, shape: s.shape as Conv2dStageShape, offset: table.slot(`${s.name}.weight`).offset }] : []));
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
    this.saved = {};
    for (const b of buffers.saved) (this.saved[b.stage] ??= {})[b.name] = tensor(b);
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
      ops = makeOps(this.rt, this.resolved, batch, this.training).then((o) => {
        this.made.push(o);
        return o;
      });
      this.ops.set(batch, ops);
    }
    return ops;
  }

  /**
   * The forward dispatches for batches of `batch` in a mode, made once per batch size
   * and mode: training runs train mode, evaluation and prediction eval mode (dropout
   * the identity, batchnorm with its running statistics).
   */
  forward(batch: number, mode: Mode = 'eval'): Promise<ForwardPlan> {
    this.checkBatch(batch);
    const key = `${batch} ${mode}`;
    let p = this.plans.get(key);
    if (!p) {
      p = this.makeForward(batch, mode);
      this.plans.set(key, p);
    }
    return p;
  }

  /** Queues what changes from one training step to the next (dropout's masks): before the step's submit. */
  setStep(seed: number, step: number): void {
    for (const ops of this.made) for (const op of ops.stage.values()) op.setStep?.(seed, step);
  }

  /** The tensors a stage's kernels bind for a batch. */
  io(s: Stage, batch: number, mode: Mode): ForwardIO {
    return {
      batch,
      mode,
      input: this.view(s.input, batch, s.inShape), // a flatten is this view
      output: this.view(s.name, batch),
      param: (suffix) => {
        const t = this.params[`${s.name}.${suffix}`];
        if (!t) throw new Error(`network ${this.network.name}: stage ${s.name} has no parameter "${suffix}"`);
        return t;
      },
      saved: (name) => {
        const t = this.saved[s.name]?.[name];
        if (!t) throw new Error(`network ${this.network.name}: stage ${s.name} keeps no "${name}"`);
        return front(t, batch);
      },
      packed: () => this.packed.of(s.name),
    };
  }

  /** A view of an activation for the first `batch` samples. */
  view(name: string, batch: number, perSampleShape?: readonly number[]): Tensor {
    const t = this.act[name];
    if (!t) throw new Error(`network ${this.network.name} has no activation "${name}"`);
    return front(t, batch, perSampleShape);
  }

  private async makeForward(batch: number, mode: Mode): Promise<ForwardPlan> {
    const ops = await this.opsFor(batch);
    const forward: Dispatch[] = this.shared ? [labelled('pack', this.pack())] : [];
    for (const s of this.stages) forward.push(...ops.stage.get(s.name)!.forward(this.io(s, batch, mode)).map((d) => labelled(s.name, d)));
    const metrics = labelled('metrics', ops.nll.accumulate({ log_probs: this.view('log_probs', batch), labels: front(this.labels, batch), metrics: this.metrics }));
    const last = this.stages.at(-1)!;
    const logits = forward.filter((d) => d.label !== last.name);
    return { batch, forward, logits, metrics };
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

async function makeOps(rt: Runtime, r: Resolved, batch: number, training: boolean): Promise<StageOps> {
  const made = await Promise.all(
    r.stages.map((stage) => {
      const into = inputNeedsGrad(r, stage);
      const inputGrad = into === null ? 'none' : hasRelu(into) && stage.kind.fusesInputRelu ? 'relu' : 'plain';
      return stage.kind.create({ rt, stage, batch, training, inputGrad });
    }),
  );
  const nll = await NllLoss.create(rt, batch, r.classes, { backward: training });
  return { batch, stage: new Map(r.stages.map((s, i) => [s.name, made[i]])), nll };
}
