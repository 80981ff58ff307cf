/**
 * Training a network (LeNet-5 by default) on a data set (MNIST by default), top to bottom. Everything is
 * made once in create(): the model's buffers, its gradients and Adam's moments, the
 * step plans (the full batch and the last, partial one), the input preparation and
 * their bind groups. A step then writes the batch's image indices, queues Adam's
 * step number, and submits [prepare, forward, loss, backward, Adam]; nothing is
 * read back per step. Loss and accuracy accumulate on the GPU and
 * are read every `logEvery` steps.
 *
 * The order of samples comes from one seeded generator: at the start of each epoch
 * it shuffles the indices and draws the flips. A checkpoint keeps the generator's
 * state from the start of the epoch it stopped in, so a resumed run replays that
 * epoch's order and skips the steps already taken, ending with the same weights.
 * Runs only in the engine's Runtime: no Node or DOM imports, so the page uses it too.
 */
import { submit, type Dispatch } from '../gpu/dispatch';
import type { Runtime } from '../gpu/runtime';
import { splitRecord, type DataRecord, type SplitRecord } from '../data/dataset';
import { GpuDataset } from '../data/gpu-dataset';
import type { MnistSplit } from '../data/idx';
import { Model } from '../model/model';
import { networkNamed, resolve, type Network } from '../model/network';
import { ADAM_DEFAULTS } from '../ops/shapes';
import { FLIP_BIT } from '../ops/prepare_input';
import { Rng } from '../util/rng';
import { Backprop } from './backprop';
import { Evaluator, type Evaluation } from './evaluation';
import { batchSizes, Feed } from './feed';
import { checkBatchSize } from './limits';
import { AdamOptimizer, type AdamState } from './optimizer';
import { checkConfig, stepsPerEpoch, type TrainConfig } from './options';

/** Where a run stands: all a checkpoint needs besides the GPU buffers. */
export interface Position {
  /** Adam steps taken. */
  step: number;
  /** Epochs completed. */
  epoch: number;
  /** Steps taken in the current epoch. */
  stepInEpoch: number;
  /** The generator's state at the start of the current epoch. */
  rngState: number[];
}

/**
 * Where a run starts: its network (a preset's by config.arch where not given), given
 * weights (--init), or a checkpoint's weights, moments and position.
 */
export interface StartFrom {
  network?: Network;
  params?: Float32Array;
  adam?: AdamState;
  position?: Position;
  /** The data the checkpoint's run trained on (null: a checkpoint from before they recorded it); other data is refused. */
  data?: DataRecord | null;
}

export interface LogPoint {
  step: number;
  /** Fractional epoch, e.g. 1.25. */
  epoch: number;
  loss: number;
  accuracy: number;
  samples: number;
}

export interface EpochResult {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  samples: number;
  seconds: number;
}

export interface EpochHooks {
  /** After each read of the metrics; training waits for what it returns (e.g. a checkpoint). */
  onLog?: (p: LogPoint, stepInEpoch: number, stepsInEpoch: number) => void | Promise<void>;
  /** Asked before each step; true stops the epoch there (Ctrl-C, the page's pause). */
  shouldStop?: () => boolean;
}

export class Trainer {
  readonly network: Network;
  readonly model: Model;
  readonly backprop: Backprop;
  readonly adam: AdamOptimizer;
  private rng: Rng;
  /** Where the run stands, but for the step count, which the optimizer keeps. */
  private position: Omit<Position, 'step'>;
  private readonly train: Feed;
  private readonly test: Evaluator | null;
  private readonly steps = new Map<number, readonly Dispatch[]>();
  /** The data the run trains on, for its checkpoints: computed at the first ask. */
  private dataRecord: () => DataRecord;
  /** The first loss this trainer logged, and its step: what the divergence check compares with. */
  private firstLoss: { loss: number; step: number } | null = null;
  private readonly classes: number;
  /** The counters' values at the start, and the step they were at. */
  private counters: { base: Float32Array; step: number } = { base: new Float32Array(0), step: 0 };

  private constructor(
    readonly rt: Runtime,
    readonly config: TrainConfig,
    parts: { model: Model; backprop: Backprop; adam: AdamOptimizer; train: Feed; test: Evaluator | null; data: () => DataRecord },
    position: Position,
  ) {
    this.network = parts.model.network;
    this.model = parts.model;
    this.backprop = parts.backprop;
    this.adam = parts.adam;
    this.train = parts.train;
    this.test = parts.test;
    this.dataRecord = parts.data;
    this.classes = resolve(this.network).classes;
    this.position = { epoch: position.epoch, stepInEpoch: position.stepInEpoch, rngState: [...position.rngState] };
    this.rng = Rng.fromState(position.rngState);
  }

  static async create(rt: Runtime, config: TrainConfig, trainSplit: MnistSplit, testSplit: MnistSplit | null, start?: StartFrom): Promise<Trainer> {
    checkConfig(config);
    const data = (): DataRecord => ({ dataset: config.dataset, train: splitRecord(trainSplit), test: testSplit ? splitRecord(testSplit) : null });
    if (start?.data) checkResumeData(start.data, data());
    if (start?.position) checkResumePosition(config, trainSplit.count, start.position);
    const network = start?.network ?? networkNamed(config.arch, 'arch');
    if (network.name !== config.arch) throw new Error(`config.arch is "${config.arch}", but the network is ${network.name}`);
    // A batch or a data set beyond the adapter's limits is refused before any GPU work.
    checkBatchSize(rt, network, config.batchSize);
    checkTrainBatches(network, batchSizes(config.limit ? Math.min(config.limit, trainSplit.count) : trainSplit.count, config.batchSize, config.dropLast));
    GpuDataset.check(rt, 'train', trainSplit, config.limit || trainSplit.count);
    if (testSplit) GpuDataset.check(rt, 'test', testSplit, config.testLimit || testSplit.count);
    const model = await Model.create(rt, network, config.batchSize, { training: true });
    const backprop = new Backprop(model);
    const adam = await AdamOptimizer.create(model, backprop, { ...ADAM_DEFAULTS, lr: config.lr });
    const rng = new Rng(config.seed);
    // Initial weights come first from the generator, as PyTorch draws them when the
    // module is built; the data order follows from the same stream.
    const init = model.table.init(rng);
    model.setParameters(start?.params ?? init);
    if (start?.adam) adam.load(start.adam);
    const position = start?.position ?? { step: 0, epoch: 0, stepInEpoch: 0, rngState: rng.state };
    if (position.step !== adam.step) throw new Error(`start: the position is at step ${position.step}, but Adam's state at step ${adam.step}`);
    const feed = (name: string, split: MnistSplit, limit: number) => new Feed(rt, GpuDataset.upload(rt, name, split, limit || split.count), model, config.normalization);
    const train = feed('train', trainSplit, config.limit);
    const test = testSplit ? new Evaluator(rt, model, feed('test', testSplit, config.testLimit)) : null;
    const trainer = new Trainer(rt, config, { model, backprop, adam, train, test, data }, position);
    trainer.counters = { base: start?.params ?? init, step: adam.step };
    await trainer.warmUp();
    return trainer;
  }

  /** Compiles every pipeline and makes every bind group a run will use, up front. */
  private async warmUp(): Promise<void> {
    for (const batch of new Set(this.batchSizes(this.train.data.count))) await this.stepDispatches(batch);
    if (this.test) await this.test.prepare(this.batchSizes(this.test.data.count, false));
    await this.rt.sync();
  }

  get trainCount(): number {
    return this.train.data.count;
  }

  get testCount(): number {
    return this.test?.data.count ?? 0;
  }

  get stepsPerEpoch(): number {
    return stepsPerEpoch(this.config, this.train.data.count);
  }

  /** The data set's name and each split's count and digest, for a checkpoint (the first ask reads every byte once). */
  get data(): DataRecord {
    const d = this.dataRecord();
    this.dataRecord = () => d;
    return d;
  }

  get where(): Position {
    return { step: this.adam.step, ...this.position, rngState: [...this.position.rngState] };
  }

  /**
   * A training step's whole dispatch list, made once per batch size: the input
   * prepared, forward to the logits, then in one dispatch their log-softmax, the loss,
   * the metrics and the logits' gradient, backward, and Adam (which also repacks the
   * conv weights).
   */
  async stepDispatches(batch: number): Promise<readonly Dispatch[]> {
    let step = this.steps.get(batch);
    if (!step) {
      const forward = await this.model.forward(batch, 'train');
      const backward = await this.backprop.plan(batch);
      step = [await this.train.prepare(batch), ...forward.logits, ...backward.backward, this.adam.dispatch];
      this.steps.set(batch, step);
    }
    return step;
  }

  private batchSizes(count: number, dropLast = this.config.dropLast): number[] {
    return batchSizes(count, this.config.batchSize, dropLast);
  }

  /** This epoch's sample order: indices with their flip bit, from the epoch-start state. */
  private epochOrder(): Uint32Array {
    const rng = Rng.fromState(this.position.rngState);
    const n = this.train.data.count;
    const order = Uint32Array.from({ length: n }, (_, i) => i);
    if (this.config.shuffle) rng.shuffle(order);
    if (this.config.hflip) for (let i = 0; i < n; i++) if (rng.nextU32() & 1) order[i] = (order[i] | FLIP_BIT) >>> 0;
    this.rng = rng;
    return order;
  }

  /**
   * Trains one epoch, or what is left of it after a resume. Returns null when
   * shouldStop() ended it early; the position then says where, for a checkpoint.
   */
  async trainEpoch(hooks: EpochHooks = {}): Promise<EpochResult | null> {
    const started = performance.now();
    const sizes = this.batchSizes(this.train.data.count);
    const order = this.epochOrder();
    const m = this.model;
    let loss = 0;
    let correct = 0;
    let samples = 0;
    const log = async (i: number) => {
      const r = await m.readMetrics();
      m.resetMetrics();
      if (r.samples === 0) return;
      this.firstLoss ??= { loss: r.loss, step: this.adam.step };
      const diverged = divergence(r.loss, this.classes);
      if (diverged) {
        const first = this.firstLoss.step === this.adam.step ? '' : ` (it was ${this.firstLoss.loss.toPrecision(4)} at step ${this.firstLoss.step})`;
        throw new Error(`training diverged: loss is ${r.loss.toPrecision(4)} at step ${this.adam.step}${first}, ${diverged}; try a smaller learning rate (--lr)`);
      }
      loss += r.lossSum;
      correct += r.correct;
      samples += r.samples;
      await hooks.onLog?.({ step: this.adam.step, epoch: this.position.epoch + i / sizes.length, ...r }, i, sizes.length);
    };

    m.resetMetrics();
    let offset = sizes.slice(0, this.position.stepInEpoch).reduce((a, b) => a + b, 0);
    // Submitting never waits, so without a bound the whole epoch would be queued in
    // milliseconds, and Ctrl-C or the page's pause would take effect only once the GPU
    // had worked through all of it. Each step waits for the one IN_FLIGHT before it
    // instead: the GPU always has the next step queued, and the event loop runs.
    const submitted: Promise<void>[] = [];
    for (let i = this.position.stepInEpoch; i < sizes.length; i++) {
      if (submitted.length >= IN_FLIGHT) await submitted.shift();
      if (hooks.shouldStop?.()) {
        await log(i);
        return null;
      }
      const batch = sizes[i];
      const dispatches = await this.stepDispatches(batch);
      this.train.write(order.subarray(offset, offset + batch));
      this.adam.next();
      this.model.setStep(this.config.seed, this.adam.step);
      submit(this.rt, dispatches, 'train step');
      const done = this.rt.sync();
      done.catch(() => {}); // awaited above, or overtaken by the metrics read: never unhandled
      submitted.push(done);
      offset += batch;
      this.position.stepInEpoch = i + 1;
      if ((i + 1) % this.config.logEvery === 0 || i + 1 === sizes.length) await log(i + 1);
    }
    this.position = { epoch: this.position.epoch + 1, stepInEpoch: 0, rngState: this.rng.state };
    return {
      epoch: this.position.epoch,
      trainLoss: loss / samples,
      trainAccuracy: correct / samples,
      samples,
      seconds: (performance.now() - started) / 1000,
    };
  }

  /** Average loss and accuracy over the test set (the tutorial's test_runner), with its confusion matrix and each image's prediction. */
  async evaluate(): Promise<Evaluation> {
    if (!this.test) throw new Error('no test set was loaded');
    return this.test.run(this.batchSizes(this.test.data.count, false));
  }

  /** Parameters, Adam's state and the position, read back (a sync point): all a checkpoint holds but the history. */
  async readState(): Promise<{ params: Float32Array; adam: AdamState; position: Position }> {
    return { params: await this.readParameters(), adam: await this.adam.read(), position: this.where };
  }

  /**
   * The parameters and buffers, read back (a sync point), with the counters
   * (batchnorm's num_batches_tracked) counting the training steps taken: each step
   * runs every batchnorm once in train mode. The GPU keeps no counters.
   */
  async readParameters(): Promise<Float32Array> {
    const flat = await this.model.readParameters();
    for (const s of this.model.table.slots) if (s.role === 'counter') flat[s.offset] = this.counters.base[s.offset] + (this.adam.step - this.counters.step);
    return flat;
  }
}

/**
 * Why a logged loss (a mean over the steps since the last read) says training has
 * diverged, or null: it is not finite, or it is past 100 times ln(classes), the
 * loss of a uniform guess (230 for 10 classes: the right class's logit 230 below
 * the best, e^-230 of its probability). A run that trains starts near ln(classes)
 * and goes down: at the default lr 1e-3, lenet5 and lenet5-bn log at most 2.26 and
 * 2.20 over their first 100 steps (read every 10, on llvmpipe), a hundredfold below
 * the limit; at lr 0.1 lenet5-bn peaks at 32 and comes back to 2.3, while lenet5
 * passes 500 by step 10 and is stopped; at lr 1 both pass 9000 within 5 steps (the
 * issue's run reached 1.1e7 unstopped). A fixed limit, not one relative to the
 * first loss, so that a resumed run whose first read is already 0.01 does not trip
 * on one batch's spike.
 */
export function divergence(loss: number, classes: number): string | null {
  if (!Number.isFinite(loss)) return 'not a finite number';
  const limit = DIVERGED_TIMES_UNIFORM * Math.log(classes);
  if (loss > limit) return `over ${DIVERGED_TIMES_UNIFORM} times ln(${classes}) = ${limit.toFixed(1)}, the loss of a uniform guess`;
  return null;
}

/** How many times a uniform guess's loss a logged loss may reach before the run is stopped as diverged. */
export const DIVERGED_TIMES_UNIFORM = 100;

/** Training steps submitted and not yet done, at most. */
const IN_FLIGHT = 2;

/**
 * Every training batch must suit every layer in train mode (batchnorm needs more than
 * one value per channel, as PyTorch does): a one-line error naming the layer otherwise.
 */
export function checkTrainBatches(network: Network, sizes: readonly number[]): void {
  for (const s of resolve(network).stages) {
    for (const batch of new Set(sizes)) {
      const why = s.kind.trainBatch?.(s, batch);
      if (why) throw new Error(`network ${network.name}: layer ${s.index + 1} (${s.op} "${s.name}"): ${why}`);
    }
  }
}

/**
 * A position to resume from must be one this config can reach: as many steps as the
 * epochs done and the steps into this one make, fewer steps into the epoch than it
 * has. A checkpoint whose batch size, limit or data set was changed fails here,
 * instead of silently skipping the rest of its epoch.
 */
export function checkResumePosition(config: TrainConfig, trainCount: number, p: Position): void {
  const steps = stepsPerEpoch(config, trainCount);
  const fits = p.stepInEpoch < steps && p.step === p.epoch * steps + p.stepInEpoch && p.epoch <= config.epochs;
  if (!fits) {
    throw new Error(
      `the position (step ${p.step}: ${p.epoch} epochs done and ${p.stepInEpoch} steps into the next) does not fit the config ` +
        `(${steps} steps per epoch: ${trainCount} training images, limit ${config.limit || 'none'}, batch ${config.batchSize}${config.dropLast ? ', last partial batch dropped' : ''}; ${config.epochs} epochs)`,
    );
  }
}

/**
 * A checkpoint's run must go on with the data it trained on: the same number of
 * training and test images with the same bytes (the digests). The name may differ
 * (the same files in another directory); the model keeps the checkpoint's.
 * `given` names the data given in the error (e.g. "--data DIR").
 */
export function checkResumeData(recorded: DataRecord, data: DataRecord, given = 'the data given'): void {
  const same = (a: SplitRecord | null, b: SplitRecord | null) => a === null || b === null || (a.count === b.count && a.digest === b.digest);
  if (same(recorded.train, data.train) && same(recorded.test, data.test)) return;
  throw new Error(`the checkpoint's run trained on ${describeData(recorded)}, but ${given} is ${describeData(data)}: resume with the data it trained on`);
}

function describeData(d: DataRecord): string {
  const split = (r: SplitRecord, what: string) => `${r.count} ${what} images, digest ${r.digest}`;
  return `${d.dataset} (${split(d.train, 'training')}${d.test ? `; ${split(d.test, 'test')}` : ''})`;
}

export type { Evaluation };
