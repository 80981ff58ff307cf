/**
 * Training LeNet-5 on MNIST, top to bottom. Everything is made once in create():
 * the model's buffers, its step plans (the full batch and the last, partial one),
 * the input preparation and their bind groups. A step then writes the batch's image
 * indices, queues Adam's step number, and submits [prepare, forward, backward,
 * Adam]; nothing is read back per step. Loss and accuracy accumulate on the GPU and
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
import { GpuDataset } from '../data/gpu-dataset';
import type { MnistSplit } from '../data/mnist';
import { Lenet5, type Plan } from '../model/lenet5';
import { initParameters } from '../model/parameters';
import { ADAM_DEFAULTS } from '../ops/adam';
import { FLIP_BIT } from '../ops/prepare_mnist';
import { Rng } from '../util/rng';
import { batchSizes, evaluateFeed, Feed, type Evaluation } from './feed';

export interface TrainConfig {
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
  /** The tutorial's random horizontal flip (off by default: it hurts digits). */
  hflip: boolean;
  /** Train on the first `limit` training images (0 = all). */
  limit: number;
  shuffle: boolean;
  /** Drop the last partial batch of each epoch, as PyTorch's drop_last. */
  dropLast: boolean;
  /** Read loss and accuracy every this many steps. */
  logEvery: number;
}

export const DEFAULT_CONFIG: TrainConfig = {
  epochs: 5,
  batchSize: 64,
  lr: 1e-3,
  seed: 1,
  hflip: false,
  limit: 0,
  shuffle: true,
  dropLast: false,
  logEvery: 50,
};

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

export interface StartFrom {
  flat: Float32Array;
  expAvg?: Float32Array;
  expAvgSq?: Float32Array;
  position?: Position;
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
  onLog?: (p: LogPoint, stepInEpoch: number, stepsInEpoch: number) => void;
  /** Asked before each step; true stops the epoch there (Ctrl-C, the page's pause). */
  shouldStop?: () => boolean;
}

export class Trainer {
  readonly model: Lenet5;
  private rng: Rng;
  private position: Position;
  private readonly train: Feed;
  private readonly test: Feed | null;
  private readonly steps = new Map<number, { plan: Plan; dispatches: readonly Dispatch[] }>();

  private constructor(
    readonly rt: Runtime,
    readonly config: TrainConfig,
    model: Lenet5,
    train: Feed,
    test: Feed | null,
    position: Position,
  ) {
    this.model = model;
    this.train = train;
    this.test = test;
    this.position = position;
    this.rng = Rng.fromState(position.rngState);
  }

  static async create(rt: Runtime, config: TrainConfig, trainSplit: MnistSplit, testSplit: MnistSplit | null, start?: StartFrom): Promise<Trainer> {
    checkConfig(config);
    const model = new Lenet5(rt, config.batchSize, { ...ADAM_DEFAULTS, lr: config.lr });
    const rng = new Rng(config.seed);
    // Initial weights come first from the generator, as PyTorch draws them when the
    // module is built; the data order follows from the same stream.
    const init = initParameters(rng);
    model.setParameters(start?.flat ?? init, start?.expAvg, start?.expAvgSq);
    const position = start?.position ?? { step: 0, epoch: 0, stepInEpoch: 0, rngState: rng.state };
    const train = new Feed(rt, GpuDataset.upload(rt, 'train', trainSplit, config.limit || trainSplit.count), model);
    const test = testSplit ? new Feed(rt, GpuDataset.upload(rt, 'test', testSplit), model) : null;
    const trainer = new Trainer(rt, config, model, train, test, position);
    await trainer.warmUp();
    return trainer;
  }

  /** Compiles every pipeline and makes every bind group a run will use, up front. */
  private async warmUp(): Promise<void> {
    for (const batch of new Set(this.batchSizes(this.train.data.count))) await this.stepFor(batch);
    if (this.test) {
      for (const batch of new Set(this.batchSizes(this.test.data.count, false))) {
        await this.model.plan(batch);
        await this.test.prepare(batch);
      }
    }
    await this.rt.sync();
  }

  get trainCount(): number {
    return this.train.data.count;
  }

  get testCount(): number {
    return this.test?.data.count ?? 0;
  }

  get stepsPerEpoch(): number {
    return this.batchSizes(this.train.data.count).length;
  }

  get where(): Position {
    return { ...this.position, rngState: [...this.position.rngState] };
  }

  /** A training step's plan and its whole dispatch list (prepare first), made once per batch size. */
  private async stepFor(batch: number): Promise<{ plan: Plan; dispatches: readonly Dispatch[] }> {
    let step = this.steps.get(batch);
    if (!step) {
      const plan = await this.model.plan(batch);
      step = { plan, dispatches: [await this.train.prepare(batch), ...plan.trainStep] };
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
      if (!Number.isFinite(r.loss)) throw new Error(`training diverged: loss is ${r.loss} at step ${this.position.step}`);
      loss += r.lossSum;
      correct += r.correct;
      samples += r.samples;
      hooks.onLog?.({ step: this.position.step, epoch: this.position.epoch + i / sizes.length, ...r }, i, sizes.length);
    };

    m.resetMetrics();
    let offset = sizes.slice(0, this.position.stepInEpoch).reduce((a, b) => a + b, 0);
    for (let i = this.position.stepInEpoch; i < sizes.length; i++) {
      if (hooks.shouldStop?.()) {
        await log(i);
        return null;
      }
      const batch = sizes[i];
      const { plan, dispatches } = await this.stepFor(batch);
      this.train.write(order.subarray(offset, offset + batch));
      plan.adam.setStep(this.position.step + 1);
      submit(this.rt, dispatches, 'train step');
      offset += batch;
      this.position.step++;
      this.position.stepInEpoch = i + 1;
      if ((i + 1) % this.config.logEvery === 0 || i + 1 === sizes.length) await log(i + 1);
    }
    this.position = { step: this.position.step, epoch: this.position.epoch + 1, stepInEpoch: 0, rngState: this.rng.state };
    return {
      epoch: this.position.epoch,
      trainLoss: loss / samples,
      trainAccuracy: correct / samples,
      samples,
      seconds: (performance.now() - started) / 1000,
    };
  }

  /** Average loss and accuracy over the test set (the tutorial's test_runner). */
  async evaluate(): Promise<Evaluation> {
    if (!this.test) throw new Error('no test set was loaded');
    return evaluateFeed(this.rt, this.model, this.test, this.batchSizes(this.test.data.count, false));
  }

  /** Parameters and Adam's moments, read back (a sync point). */
  async readState(): Promise<{ flat: Float32Array; expAvg: Float32Array; expAvgSq: Float32Array }> {
    return {
      flat: await this.model.readFlat('param'),
      expAvg: await this.model.readFlat('exp_avg'),
      expAvgSq: await this.model.readFlat('exp_avg_sq'),
    };
  }
}

export function checkConfig(c: TrainConfig): void {
  const int = (v: number, name: string, min: number) => {
    if (!(Number.isInteger(v) && v >= min)) throw new Error(`${name} must be an integer >= ${min}, got ${v}`);
  };
  int(c.epochs, 'epochs', 1);
  int(c.batchSize, 'batch size', 1);
  int(c.limit, 'limit', 0);
  int(c.logEvery, 'log interval', 1);
  if (!(c.lr > 0 && Number.isFinite(c.lr))) throw new Error(`learning rate must be a positive number, got ${c.lr}`);
  if (!Number.isInteger(c.seed)) throw new Error(`seed must be an integer, got ${c.seed}`);
}

export type { Evaluation };
