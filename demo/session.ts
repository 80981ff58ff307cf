/**
 * What the page does, without the page: the GPU, the data, the model, a training run
 * and predictions, all on the engine in src/ (the Trainer and Predictor the Node
 * programs use). No DOM here: main.ts shows this state and calls these methods, and
 * so does window.lenet.
 *
 * One model at a time: the weights last read back from training (after each epoch,
 * on pause, and every second while training, so the drawing's prediction follows the
 * training), or loaded from a file. A run starts from fresh weights, or from a loaded
 * model (as `train:node --init` does). If the GPU device is lost, the session opens a
 * new one and keeps the last weights read back: Start trains on from them.
 */
import type { EpochPoint, History } from '../src/chart/chart';
import { MNIST, trainedOn, type TrainedOn } from '../src/data/dataset';
import type { MnistSplit } from '../src/data/idx';
import { requestGpu } from '../src/gpu/browser';
import type { AdapterDescription } from '../src/gpu/device';
import { Runtime } from '../src/gpu/runtime';
import { LENET5 } from '../src/model/network';
import { parameterTable } from '../src/model/parameters';
import { decodeModel, encodeModel } from '../src/model/safetensors-codec';
import { Predictor } from '../src/train/inference';
import { DEFAULT_CONFIG, Trainer, type LogPoint, type TrainConfig } from '../src/train/trainer';
import { fetchMnist, firstOf, type Progress } from './data';

/** The recipe the page's form edits (the Node trainer's options, plus the test images to evaluate on). */
export interface TrainOptions {
  epochs: number;
  batchSize: number;
  lr: number;
  hflip: boolean;
  /** Train on the first `limit` training images (0 = all 60,000). */
  limit: number;
  /** Evaluate on the first `testLimit` test images after each epoch (0 = all 10,000). */
  testLimit: number;
  seed: number;
}

export const DEFAULT_OPTIONS: TrainOptions = {
  epochs: DEFAULT_CONFIG.epochs,
  batchSize: DEFAULT_CONFIG.batchSize,
  lr: DEFAULT_CONFIG.lr,
  hflip: false,
  limit: 0,
  testLimit: 0,
  seed: DEFAULT_CONFIG.seed,
};

export type Phase =
  | 'starting' // looking for WebGPU
  | 'no-gpu' // none: see the message
  | 'idle' // ready; no run in progress
  | 'preparing' // uploading the data and compiling the kernels for a run
  | 'training'
  | 'pausing' // asked to pause; the steps already queued are finishing
  | 'paused'
  | 'done' // the run has trained all its epochs
  | 'reconnecting'; // the device was lost; opening a new one

export type DataState = 'loading' | 'ready' | 'failed';

export interface Stats {
  /** Epochs completed, and planned, in this run. */
  epoch: number;
  epochs: number;
  step: number;
  stepInEpoch: number;
  stepsPerEpoch: number;
  lastLoss: number | null;
  lastTrainAccuracy: number | null;
  testAccuracy: number | null;
  /** Training throughput over the last few seconds of training. */
  imagesPerSecond: number | null;
}

/** One metrics read, with its time (performance.now(), ms), for throughput measurements. */
export interface LogEntry {
  step: number;
  epoch: number;
  loss: number;
  accuracy: number;
  time: number;
}

export interface SessionEvents {
  /** Something shown changed: phase, stats, chart, model. */
  changed(): void;
  /** The model's weights changed: predictions made now differ. */
  weightsChanged(): void;
  /** A message for the user that arose outside any call (a lost device). */
  notice(text: string, kind: 'error' | 'info'): void;
}

/** Metrics are read this often: every ~128 images on a CPU adapter, so pausing and the curves stay quick; every ~3,200 on a GPU. */
export function logInterval(batchSize: number, software: boolean): number {
  return Math.max(1, Math.round((software ? 128 : 3200) / batchSize));
}

const RATE_WINDOW_MS = 10_000;
const SNAPSHOT_MS = 1000;

export class Session {
  phase: Phase = 'starting';
  dataState: DataState = 'loading';
  adapter: AdapterDescription | null = null;
  data: { train: MnistSplit; test: MnistSplit } | null = null;
  history: History = { steps: [], epochs: [] };
  log: LogEntry[] = [];
  stats: Stats = emptyStats();
  /** Where the current weights come from, in words; null when there are none. */
  modelSource: string | null = null;
  /** The recipe of the current run, once it has started. */
  options: TrainOptions | null = null;

  private rt: Runtime | null = null;
  private predictor: Predictor | null = null;
  private trainer: Trainer | null = null;
  private weights: Float32Array | null = null;
  /** What the weights were trained on: the predictor normalises as they need. */
  private weightsTrainedOn: TrainedOn = trainedOn(MNIST);
  /** What a new run starts from: a loaded model, or the weights kept when the device was lost. */
  private startFrom: { flat: Float32Array; source: string } | null = null;
  private run: Promise<void> | null = null;
  private stopRequested = false;
  /** Predictions share one input buffer: they run one after another. */
  private predictions: Promise<unknown> = Promise.resolve();
  /** Counts devices, so that a lost one's late events are told from the current one's. */
  private generation = 0;
  private rate: { time: number; samples: number }[] = [];
  private samples = 0;
  private lastSnapshot = 0;

  constructor(private readonly events: SessionEvents) {}

  get hasModel(): boolean {
    return this.weights !== null;
  }

  get running(): boolean {
    return this.run !== null;
  }

  /** Opens the GPU (throws NO_WEBGPU_HINT's message when the browser has none). */
  async openGpu(): Promise<void> {
    try {
      const gpu = await requestGpu();
      const generation = ++this.generation;
      void gpu.device.lost.then((info) => this.deviceLost(generation, info));
      const rt = new Runtime(gpu);
      this.predictor = await Predictor.create(rt, LENET5, this.weightsTrainedOn.normalization, { params: this.weights ?? new Float32Array(parameterTable(LENET5).flatLength) });
      this.rt = rt;
      this.adapter = rt.adapter;
      this.phase = 'idle';
    } catch (err) {
      this.phase = 'no-gpu';
      throw err;
    } finally {
      this.events.changed();
    }
  }

  /** Downloads both MNIST splits from `base` (dist/demo/data). */
  async loadData(base: URL, onProgress?: (p: Progress) => void): Promise<void> {
    this.dataState = 'loading';
    this.events.changed();
    try {
      this.data = await fetchMnist(base, onProgress);
      this.dataState = 'ready';
    } catch (err) {
      this.dataState = 'failed';
      throw err;
    } finally {
      this.events.changed();
    }
  }

  /**
   * Trains until the run's last epoch or a pause; resolves then. A paused run
   * resumes with its own recipe; otherwise `o` starts a new run.
   */
  train(o: TrainOptions): Promise<void> {
    if (this.run) return Promise.reject(new Error('training is already running'));
    if (!this.rt) return Promise.reject(new Error(this.phase === 'starting' ? 'the GPU is not ready yet' : 'there is no WebGPU device to train on'));
    if (!this.data) return Promise.reject(new Error('the MNIST data is not downloaded yet'));
    const run: Promise<void> = this.trainEpochs(this.rt, this.data, o).finally(() => {
      if (this.run !== run) return;
      this.run = null;
      this.events.changed();
    });
    this.run = run;
    return run;
  }

  /** Stops after the step in progress; resolves once training has stopped. */
  async pause(): Promise<void> {
    if (!this.run) return;
    this.stopRequested = true;
    if (this.phase === 'training') this.phase = 'pausing';
    this.events.changed();
    await this.run.catch(() => {});
  }

  /** Stops training and forgets the model and its curves. */
  async reset(): Promise<void> {
    await this.pause();
    this.trainer = null;
    this.options = null;
    this.weights = null;
    this.startFrom = null;
    this.modelSource = null;
    this.clearRun();
    if (this.rt) this.phase = 'idle';
    this.events.changed();
    this.events.weightsChanged();
  }

  /** Takes a .safetensors model's weights (a bad file throws a message naming what is wrong). */
  async loadModel(bytes: Uint8Array, name: string): Promise<Record<string, string>> {
    const { params: flat, metadata, dataset, normalization } = decodeModel(bytes, name);
    await this.pause();
    const accuracy = Number(metadata.test_accuracy);
    const source = `${name}${Number.isFinite(accuracy) ? ` (test accuracy ${(100 * accuracy).toFixed(2)}%)` : ''}`;
    this.trainer = null;
    this.options = null;
    this.clearRun();
    this.weightsTrainedOn = { dataset, normalization };
    this.setWeights(flat, `loaded from ${source}`);
    this.startFrom = { flat, source: name };
    if (this.rt) this.phase = 'idle';
    this.events.changed();
    return metadata;
  }

  /** The current model as a .safetensors file, as `train:node` writes one. */
  async modelFile(): Promise<Uint8Array> {
    if (this.run) await this.snapshot();
    if (!this.weights) throw new Error('there is no model to download yet: train one or load one first');
    const metadata: Record<string, string> = { format: 'pt', source: 'lenet-webgpu page' };
    if (this.options) Object.assign(metadata, { seed: String(this.options.seed), epochs: String(this.stats.epoch) });
    if (this.stats.testAccuracy !== null) metadata.test_accuracy = this.stats.testAccuracy.toFixed(4);
    if (this.adapter) metadata.adapter = this.adapter.name;
    return encodeModel(LENET5, this.weights, metadata, this.weightsTrainedOn);
  }

  /** The ten probabilities of each 28x28 digit (bytes, white ink on black). */
  predict(digits: Uint8Array[]): Promise<Float32Array[]> {
    const result = this.predictions.then(() => {
      if (!this.predictor) throw new Error('there is no WebGPU device to predict with');
      if (!this.weights) throw new Error('there is no model yet: train one or load a .safetensors file');
      return this.predictor.predict(digits);
    });
    this.predictions = result.catch(() => {});
    return result;
  }

  /** Destroys the device as a driver reset would lose it (for tests of recovery). */
  loseDevice(): void {
    this.rt?.device.destroy();
  }

  // ------------------------------------------------------------ training

  private async trainEpochs(rt: Runtime, data: { train: MnistSplit; test: MnistSplit }, o: TrainOptions): Promise<void> {
    const generation = this.generation;
    this.stopRequested = false;
    try {
      if (!this.trainer || this.phase === 'done') this.trainer = await this.newTrainer(rt, data, o);
      const trainer = this.trainer;
      this.phase = 'training';
      this.restartRate();
      this.events.changed();
      while (trainer.where.epoch < trainer.config.epochs) {
        const result = await trainer.trainEpoch({ shouldStop: () => this.stopRequested, onLog: (p, i) => this.logged(trainer, p, i) });
        if (!result) {
          await this.snapshot();
          this.phase = 'paused';
          return;
        }
        const test = await trainer.evaluate();
        const point: EpochPoint = { epoch: result.epoch, trainLoss: result.trainLoss, trainAccuracy: result.trainAccuracy, testLoss: test.loss, testAccuracy: test.accuracy };
        this.history.epochs.push(point);
        Object.assign(this.stats, { epoch: result.epoch, stepInEpoch: 0, testAccuracy: test.accuracy });
        await this.snapshot();
        this.restartRate(); // the evaluation is not training time
        this.events.changed();
      }
      this.phase = 'done';
    } catch (err) {
      if (generation !== this.generation) return; // the device was lost: deviceLost() tells the user
      // A failed run (a bad option, a diverged loss) cannot continue; its last weights stay.
      this.trainer = null;
      this.phase = 'idle';
      throw err;
    } finally {
      if (generation === this.generation) this.events.changed();
    }
  }

  private async newTrainer(rt: Runtime, data: { train: MnistSplit; test: MnistSplit }, o: TrainOptions): Promise<Trainer> {
    if (!(Number.isInteger(o.testLimit) && o.testLimit >= 0)) throw new Error(`test images must be an integer >= 0, got ${o.testLimit}`);
    const config: TrainConfig = {
      ...DEFAULT_CONFIG,
      epochs: o.epochs,
      batchSize: o.batchSize,
      lr: o.lr,
      hflip: o.hflip,
      limit: o.limit,
      seed: o.seed,
      logEvery: logInterval(o.batchSize, rt.adapter.software),
    };
    this.phase = 'preparing';
    this.trainer = null;
    this.clearRun();
    this.events.changed();
    const start = this.startFrom;
    const trainer = await Trainer.create(rt, config, data.train, firstOf(data.test, o.testLimit || data.test.count), start ? { params: start.flat } : undefined);
    this.options = { ...o };
    this.modelSource = start ? `trained in this page from ${start.source}` : 'trained in this page';
    Object.assign(this.stats, { epochs: o.epochs, stepsPerEpoch: trainer.stepsPerEpoch });
    return trainer;
  }

  private logged(trainer: Trainer, p: LogPoint, stepInEpoch: number): void {
    const time = performance.now();
    this.history.steps.push({ step: p.step, epoch: p.epoch, loss: p.loss, accuracy: p.accuracy });
    this.log.push({ step: p.step, epoch: p.epoch, loss: p.loss, accuracy: p.accuracy, time });
    this.samples += p.samples;
    this.rate.push({ time, samples: this.samples });
    while (this.rate.length > 2 && time - this.rate[1].time > RATE_WINDOW_MS) this.rate.shift();
    const first = this.rate[0];
    Object.assign(this.stats, {
      step: p.step,
      stepInEpoch,
      lastLoss: p.loss,
      lastTrainAccuracy: p.accuracy,
      imagesPerSecond: time > first.time ? ((this.samples - first.samples) * 1000) / (time - first.time) : null,
    });
    if (time - this.lastSnapshot > SNAPSHOT_MS && trainer === this.trainer) {
      this.snapshot().catch(() => {}); // a lost device is reported by deviceLost()
    }
    this.events.changed();
  }

  /** Reads the weights back from training into the predictor. */
  private async snapshot(): Promise<void> {
    const trainer = this.trainer;
    if (!trainer) return;
    this.lastSnapshot = performance.now();
    const flat = await trainer.model.readParameters();
    if (trainer !== this.trainer) return; // reset or replaced meanwhile
    this.weightsTrainedOn = { dataset: trainer.config.dataset, normalization: trainer.config.normalization };
    this.setWeights(flat, this.modelSource ?? 'trained in this page');
  }

  private setWeights(flat: Float32Array, source: string): void {
    this.weights = flat;
    this.modelSource = source;
    this.predictor?.setParameters(flat);
    this.predictor?.setNormalization(this.weightsTrainedOn.normalization);
    this.events.weightsChanged();
  }

  private restartRate(): void {
    this.rate = [{ time: performance.now(), samples: this.samples }];
  }

  private clearRun(): void {
    this.history = { steps: [], epochs: [] };
    this.log = [];
    this.stats = emptyStats();
    this.samples = 0;
  }

  // ------------------------------------------------------------ device loss

  private async deviceLost(generation: number, info: GPUDeviceLostInfo): Promise<void> {
    if (generation !== this.generation) return;
    this.generation++; // from here on, the old device's failures are not news
    const step = this.stats.step;
    const wasTraining = this.run !== null;
    this.run = null; // it fails on the lost device, quietly (trainEpochs sees the generation change)
    this.rt = null;
    this.predictor = null;
    this.trainer = null;
    if (this.weights) this.startFrom = { flat: this.weights, source: `the weights kept at step ${step}` };
    this.phase = 'reconnecting';
    this.events.notice(`The GPU device was lost (${info.message || info.reason}). Opening a new one…`, 'error');
    this.events.changed();
    try {
      await this.openGpu();
    } catch (err) {
      this.events.notice(`The GPU device was lost and a new one could not be opened: ${(err as Error).message}. Reload the page to try again.`, 'error');
      return;
    }
    const kept = this.weights ? ` The model's weights ${wasTraining ? `as of step ${step} ` : ''}are kept${wasTraining ? ': Start trains on from them' : ''}.` : '';
    this.events.notice(`The GPU device was lost and has been reopened (${this.adapter?.name}).${wasTraining ? ' Training stopped.' : ''}${kept}`, 'info');
    this.events.weightsChanged();
  }
}

function emptyStats(): Stats {
  return {
    epoch: 0,
    epochs: 0,
    step: 0,
    stepInEpoch: 0,
    stepsPerEpoch: 0,
    lastLoss: null,
    lastTrainAccuracy: null,
    testAccuracy: null,
    imagesPerSecond: null,
  };
}
