/**
 * What the page does, without the page: the GPU, the data, a training run and
 * predictions, all on the engine in src/. No DOM here: main.ts shows this state and
 * calls these methods, and so does window.lenet.
 *
 * A run is the engine's: a Trainer made from a TrainConfig (the form edits one) and
 * driven by runTraining (src/train/run.ts), the loop `train:node` runs. While a
 * trainer exists, the predictor reads its parameter buffer as it is, so predictions
 * follow training with nothing copied through the CPU.
 *
 * The run's latest checkpoint (taken every few seconds at a metrics read, after each
 * epoch and on pause) stays in memory: "Download checkpoint" writes it, in the file
 * format `train:node --resume` reads, and if the GPU device is lost the run resumes
 * from it, Adam's moments and the sample order included. A checkpoint file (the
 * page's or `train:node`'s) loaded here continues the same way; a model file gives
 * the weights that new runs start from, as `train:node --init` does.
 */
import type { EpochPoint, History } from '../src/chart/chart';
import type { TrainedOn } from '../src/data/dataset';
import type { MnistSplit } from '../src/data/idx';
import { requestGpu } from '../src/gpu/browser';
import type { AdapterDescription } from '../src/gpu/device';
import { Runtime } from '../src/gpu/runtime';
import { resolve, type Network } from '../src/model/network';
import { decodeModel, decodeSafetensors, encodeModel, type ModelFile } from '../src/model/safetensors-codec';
import { CHECKPOINT_FORMAT, decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../src/train/checkpoint';
import { misclassified, withPixels, type Evaluation, type Miss } from '../src/train/evaluation';
import { batchSizes } from '../src/train/feed';
import { Predictor, type Explanation } from '../src/train/inference';
import { runTraining } from '../src/train/run';
import { checkConfig, type TrainConfig } from '../src/train/options';
import { Trainer, type LogPoint, type StartFrom } from '../src/train/trainer';
import { sentence } from '../src/util/text';
import { fetchMnist, type Progress } from './data';

export type Phase =
  | 'starting' // looking for WebGPU
  | 'no-gpu' // none: see the message
  | 'idle' // ready; Start begins a new run
  | 'preparing' // uploading the data and compiling the kernels for a run
  | 'training'
  | 'pausing' // asked to pause; the steps already queued are finishing
  | 'paused' // a run to continue: paused, loaded from a checkpoint, or kept when the device was lost
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

/** The last test pass's confusion matrix and its most confident mistakes, with their pixels. */
export interface TestPicture {
  /** The epoch it followed. */
  epoch: number;
  confusion: number[][];
  mistakes: (Miss & { pixels: Uint8Array; rows: number; cols: number })[];
  /** All the misclassified images, of which `mistakes` are the first. */
  missed: number;
}

/** A conv layer's weights, [out, in, k, k], to draw. */
export interface Filters {
  layer: string;
  shape: [number, number, number, number];
  weights: Float32Array;
}

/** Mistakes kept for the gallery, the most confident first. */
const GALLERY = 24;

/** What a loaded file was. */
export type Loaded = { kind: 'model'; network: Network; metadata: Record<string, string> } | { kind: 'checkpoint'; config: TrainConfig };

/** How long a failed run waits for its device's loss to be told (see trainRun). */
const LOST_GRACE_MS = 1000;

/** Metrics are read this often: every ~128 images on a CPU adapter, so pausing and the curves stay quick; every ~3,200 on a GPU. */
export function logInterval(batchSize: number, software: boolean): number {
  return Math.max(1, Math.round((software ? 128 : 3200) / batchSize));
}

/** A checkpoint has Adam's moments (or says it is one); a model file has the weights only. */
export function fileKind(bytes: Uint8Array, name: string): Loaded['kind'] {
  const { tensors, metadata } = decodeSafetensors(bytes, name);
  return metadata.format === CHECKPOINT_FORMAT || [...tensors.keys()].some((t) => t.startsWith('adam.')) ? 'checkpoint' : 'model';
}

const RATE_WINDOW_MS = 10_000;
/** How often a run keeps a checkpoint in memory (a read-back of weights and moments, ~0.7 MB). */
const CHECKPOINT_MS = 3000;
/** How often, at most, predictions are redone while training. */
const WEIGHTS_MS = 1000;

/** A run to start: its config and where it starts from (a checkpoint's position: the kept run continues). */
interface RunPlan {
  config: TrainConfig;
  start?: StartFrom;
  /** What the weights come from, in words (a file's name); null for fresh weights. */
  origin: string | null;
}

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
  /** The run's last test pass, drawn as a confusion matrix and a gallery; null before its first epoch ends. */
  lastTest: TestPicture | null = null;

  private rt: Runtime | null = null;
  private trainer: Trainer | null = null;
  /** Predicts with the trainer's parameter buffer, or with weights of its own (a checkpoint's, a loaded model's). */
  private predictor: Promise<Predictor> | null = null;
  /** The run's latest checkpoint, or a loaded one: what Download checkpoint writes and a lost device resumes from. */
  private kept: Checkpoint | null = null;
  /** A loaded model: new runs start from its weights. */
  private loaded: (ModelFile & { source: string }) | null = null;
  /** What the current run's weights came from (a file), for modelSource. */
  private origin: string | null = null;
  private run: Promise<void> | null = null;
  private stopRequested = false;
  /** Callers of checkpointFile() waiting for the running run's next checkpoint. */
  private waiting: { resolve(c: Checkpoint): void; reject(err: Error): void }[] = [];
  /** Predictions share one input buffer: they run one after another. */
  private predictions: Promise<unknown> = Promise.resolve();
  /** Counts devices, so that a lost one's late events are told from the current one's. */
  private generation = 0;
  private rate: { time: number; samples: number }[] = [];
  private samples = 0;
  private lastWeightsChange = 0;

  constructor(private readonly events: SessionEvents) {}

  get hasModel(): boolean {
    return this.trainer !== null || this.kept !== null || this.loaded !== null;
  }

  get running(): boolean {
    return this.run !== null;
  }

  /** The network of the current weights. */
  get network(): Network | null {
    return this.trainer?.network ?? this.kept?.network ?? this.loaded?.network ?? null;
  }

  /** The network of a loaded model, which a new run must train (null: the form's choice). */
  get loadedNetwork(): Network | null {
    return this.loaded?.network ?? null;
  }

  /** The current run's recipe. */
  get config(): TrainConfig | null {
    return this.trainer?.config ?? this.kept?.config ?? null;
  }

  /** The kept checkpoint's position, if any. */
  get checkpoint(): Checkpoint['position'] | null {
    return this.kept ? { ...this.kept.position } : null;
  }

  get canCheckpoint(): boolean {
    return this.run !== null || this.kept !== null;
  }

  /** Opens the GPU (throws NO_WEBGPU_HINT's message when the browser has none). */
  async openGpu(): Promise<void> {
    try {
      const gpu = await requestGpu();
      const generation = ++this.generation;
      void gpu.device.lost.then((info) => this.deviceLost(generation, info));
      this.rt = new Runtime(gpu);
      this.adapter = this.rt.adapter;
      await this.predictWithOwnWeights();
      this.phase = 'idle';
    } catch (err) {
      this.rt = null;
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
   * Trains until the run's last epoch or a pause; resolves then. When paused, the run
   * continues with its own recipe but for `config`'s epochs (which may extend it, as
   * `train:node --resume --epochs` does) and how often metrics are read; otherwise
   * `config` starts a new run, from a loaded model's weights if there is one.
   */
  train(config: TrainConfig): Promise<void> {
    if (this.run) return Promise.reject(new Error('training is already running'));
    if (!this.rt) return Promise.reject(new Error(this.phase === 'starting' ? 'the GPU is not ready yet' : 'there is no WebGPU device to train on'));
    if (!this.data) return Promise.reject(new Error('the MNIST data is not downloaded yet'));
    let next: Trainer | RunPlan;
    try {
      next = this.nextRun(config);
    } catch (err) {
      return Promise.reject(err);
    }
    const run: Promise<void> = this.trainRun(this.rt, this.data, next).finally(() => {
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

  /** Stops training and forgets the model, the run and its curves. */
  async reset(): Promise<void> {
    await this.pause();
    this.trainer = null;
    this.kept = null;
    this.loaded = null;
    this.origin = null;
    this.predictor = null;
    this.modelSource = null;
    this.clearRun();
    if (this.rt) this.phase = 'idle';
    this.events.changed();
    this.events.weightsChanged();
  }

  /**
   * Takes a .safetensors file: a model (its weights start new runs) or a checkpoint
   * (its run, ready to continue). A bad file throws a message naming what is wrong.
   */
  async loadFile(bytes: Uint8Array, name: string): Promise<Loaded> {
    const checkpoint = fileKind(bytes, name) === 'checkpoint' ? decodeCheckpoint(bytes, name) : null;
    const model = checkpoint ? null : decodeModel(bytes, name);
    await this.pause();
    this.trainer = null;
    this.clearRun();
    let loaded: Loaded;
    if (checkpoint) {
      const p = checkpoint.position;
      this.kept = checkpoint;
      this.loaded = null;
      this.origin = `checkpoint ${name}`;
      this.showCheckpoint(checkpoint);
      this.modelSource = `checkpoint ${name} (${checkpoint.network.name}, step ${p.step}, ${p.epoch} of ${checkpoint.config.epochs} epochs done)`;
      loaded = { kind: 'checkpoint', config: { ...checkpoint.config } };
    } else {
      const m = model!;
      const accuracy = Number(m.metadata.test_accuracy);
      this.kept = null;
      this.loaded = { ...m, source: name };
      this.modelSource = `loaded from ${name} (${m.network.name}${Number.isFinite(accuracy) ? `, test accuracy ${(100 * accuracy).toFixed(2)}%` : ''})`;
      loaded = { kind: 'model', network: m.network, metadata: m.metadata };
    }
    if (this.rt) this.phase = checkpoint ? 'paused' : 'idle';
    await this.predictWithOwnWeights();
    this.events.changed();
    return loaded;
  }

  /** The current model as a .safetensors file, as `train:node` writes one. */
  async modelFile(): Promise<Uint8Array> {
    const trainer = this.trainer;
    const weights = trainer ? { network: trainer.network, params: await trainer.model.readParameters() } : (this.kept ?? this.loaded);
    if (!weights) throw new Error('there is no model to download yet: train one or load one first');
    const on = this.trainedOn()!;
    const metadata: Record<string, string> = { format: 'pt', source: 'lenet-webgpu page' };
    const config = this.config;
    if (config) Object.assign(metadata, { seed: String(config.seed), epochs: String(this.stats.epoch) });
    if (this.stats.testAccuracy !== null) metadata.test_accuracy = this.stats.testAccuracy.toFixed(4);
    if (this.adapter) metadata.adapter = this.adapter.name;
    return encodeModel(weights.network, weights.params, metadata, on);
  }

  /** What the current weights were trained on (their input normalisation): the run's config, or the loaded file's. */
  private trainedOn(): TrainedOn | null {
    const config = this.trainer?.config ?? this.kept?.config;
    if (config) return { dataset: config.dataset, normalization: config.normalization };
    return this.loaded && { dataset: this.loaded.dataset, normalization: this.loaded.normalization };
  }

  /**
   * The run as a .ckpt.safetensors file, as `train:node` writes one: at a step
   * boundary, the next metrics read of a running run, or the checkpoint a paused or
   * finished one stopped at.
   */
  async checkpointFile(): Promise<Uint8Array> {
    const c = this.run ? await new Promise<Checkpoint>((resolve, reject) => this.waiting.push({ resolve, reject })) : this.kept;
    if (!c) throw new Error('there is no run to checkpoint yet: start one, or load a checkpoint');
    return encodeCheckpoint(c);
  }

  /** The ten probabilities of each 28x28 digit (bytes, white ink on black). */
  predict(digits: Uint8Array[]): Promise<Float32Array[]> {
    return this.withPredictor((p) => p.predict(digits));
  }

  /** Runs `fn` with the predictor once the predictions before it are done: they share one input buffer. */
  private withPredictor<T>(fn: (p: Predictor) => Promise<T>): Promise<T> {
    const result = this.predictions.then(async () => {
      if (!this.rt) throw new Error('there is no WebGPU device to predict with');
      if (!this.predictor) throw new Error('there is no model yet: train one or load a .safetensors file');
      return fn(await this.predictor);
    });
    this.predictions = result.catch(() => {});
    return result;
  }

  /**
   * What the pictures show, read back at one sync point: the probabilities of `digit`
   * and the feature maps of the network's conv layers for it (none for null), and, with
   * `filters`, the first conv layer's weights as they are now (mid-run, the trainer's).
   */
  pictures(digit: Uint8Array | null, filters: boolean): Promise<{ explanation: Explanation | null; filters: Filters | null }> {
    return this.withPredictor(async (predictor) => {
      const conv = filters ? resolve(predictor.network).stages.find((s) => s.op === 'conv2d') : undefined;
      const r = await predictor.inspect(digit, conv ? [`${conv.name}.weight`] : []);
      if (!conv || conv.op !== 'conv2d') return { explanation: r.explanation, filters: null };
      const { outChannels, inChannels, kernel } = conv.shape;
      return { explanation: r.explanation, filters: { layer: conv.name, shape: [outChannels, inChannels, kernel, kernel], weights: r.params[0] } };
    });
  }

  /** Destroys the device as a driver reset would lose it (for tests of recovery). */
  loseDevice(): void {
    this.rt?.device.destroy();
  }

  // ------------------------------------------------------------ training

  /** The paused trainer to continue, or the run to start: the kept checkpoint's, or a new one. */
  private nextRun(config: TrainConfig): Trainer | RunPlan {
    if (this.phase === 'paused' && this.trainer?.config.epochs === config.epochs) return this.trainer;
    if (this.phase === 'paused' && this.kept) {
      const c = this.kept;
      const resumed = { ...c.config, epochs: config.epochs, logEvery: config.logEvery };
      checkConfig(resumed);
      return { config: resumed, start: { params: c.params, adam: c.adam, position: c.position }, origin: this.origin };
    }
    const m = this.loaded;
    const fresh = m ? { ...config, arch: m.network.name } : config;
    checkConfig(fresh);
    return { config: fresh, start: m ? { params: m.params } : undefined, origin: m?.source ?? null };
  }

  private async trainRun(rt: Runtime, data: { train: MnistSplit; test: MnistSplit }, next: Trainer | RunPlan): Promise<void> {
    const generation = this.generation;
    this.stopRequested = false;
    try {
      const trainer = next instanceof Trainer ? next : await this.newTrainer(rt, data, next);
      this.phase = 'training';
      this.restartRate();
      this.events.changed();
      const wanted = () => this.waiting.length > 0;
      const end = await runTraining(trainer, this.history, {
        shouldStop: () => this.stopRequested,
        onLog: (p, stepInEpoch) => this.logged(p, stepInEpoch),
        onEpoch: (point, _train, test) => this.epochEnded(point, test),
        onCheckpoint: (c) => this.keep(c, generation),
        // Every few seconds, and at once for a waiting checkpointFile().
        checkpointDue: (sinceLast) => wanted() || sinceLast >= CHECKPOINT_MS,
      });
      this.phase = end === 'done' ? 'done' : 'paused';
      this.answerWaiting(); // a run with no epoch left to train took no checkpoint
      this.events.weightsChanged();
    } catch (err) {
      // Firefox fails the run's GPU work before it resolves device.lost: give a loss a
      // moment to be told, so that deviceLost() finds the run still going and resumes it.
      if (generation === this.generation) await Promise.race([rt.device.lost, new Promise((r) => setTimeout(r, LOST_GRACE_MS))]);
      if (generation !== this.generation) return; // the device was lost: deviceLost() tells the user
      // A failed run (a bad option, a diverged loss) cannot continue; its last checkpoint stays.
      this.answerWaiting(err as Error);
      this.trainer = null;
      this.phase = 'idle';
      await this.predictWithOwnWeights().catch(() => {});
      throw err;
    } finally {
      if (generation === this.generation) this.events.changed();
    }
  }

  private async newTrainer(rt: Runtime, data: { train: MnistSplit; test: MnistSplit }, plan: RunPlan): Promise<Trainer> {
    const resumed = plan.start?.position ? this.kept : null;
    this.phase = 'preparing';
    this.trainer = null;
    this.kept = resumed;
    if (resumed) this.showCheckpoint(resumed);
    else this.clearRun();
    this.events.changed();
    const trainer = await Trainer.create(rt, plan.config, data.train, data.test, plan.start);
    const predictor = Predictor.create(rt, trainer.network, trainer.config.normalization, { shared: trainer.model.param });
    await predictor;
    this.trainer = trainer;
    this.predictor = predictor;
    this.origin = plan.origin;
    this.modelSource = `trained in this page${plan.origin ? ` from ${plan.origin}` : ''}`;
    Object.assign(this.stats, { epochs: plan.config.epochs, stepsPerEpoch: trainer.stepsPerEpoch });
    this.events.weightsChanged();
    return trainer;
  }

  private logged(p: LogPoint, stepInEpoch: number): void {
    const time = performance.now();
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
    if (time - this.lastWeightsChange > WEIGHTS_MS) {
      this.lastWeightsChange = time;
      this.events.weightsChanged();
    }
    this.events.changed();
  }

  private epochEnded(point: EpochPoint, test: Evaluation | null): void {
    Object.assign(this.stats, { epoch: point.epoch, stepInEpoch: 0, testAccuracy: test?.accuracy ?? null });
    const split = this.data?.test;
    if (test && split) {
      // The run's test set is the split's first test.count images.
      const missed = misclassified(test, split.labels.subarray(0, test.count));
      const mistakes = withPixels(missed.slice(0, GALLERY), split);
      this.lastTest = { epoch: point.epoch, confusion: test.confusion, mistakes, missed: missed.length };
    }
    this.restartRate(); // the evaluation is not training time
    this.events.changed();
    this.events.weightsChanged();
  }

  private keep(c: Checkpoint, generation: number): void {
    if (generation !== this.generation) return;
    this.kept = c;
    this.answerWaiting();
  }

  /** Gives the waiting checkpointFile() calls the kept checkpoint, or `err`. */
  private answerWaiting(err?: Error): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) {
      if (!err && this.kept) w.resolve(this.kept);
      else w.reject(err ?? new Error('the run stopped before its first checkpoint'));
    }
  }

  /** Predictions from the kept checkpoint's weights, or the loaded model's (none without either). */
  private async predictWithOwnWeights(): Promise<void> {
    const weights = this.kept ?? this.loaded;
    const on = this.trainedOn();
    this.predictor = this.rt && weights && on ? Predictor.create(this.rt, weights.network, on.normalization, { params: weights.params }) : null;
    this.predictor?.catch(() => {}); // predict() reports it; a lost device, deviceLost()
    this.events.weightsChanged();
    await this.predictor;
  }

  /** The curves and figures of a checkpoint's run, where it will continue. */
  private showCheckpoint(c: Checkpoint): void {
    const p = c.position;
    const last = c.history.steps.at(-1);
    const train = this.data?.train.count;
    this.history = structuredClone(c.history);
    this.log = this.log.filter((e) => e.step <= p.step);
    this.stats = {
      ...emptyStats(),
      epoch: p.epoch,
      epochs: c.config.epochs,
      step: p.step,
      stepInEpoch: p.stepInEpoch,
      stepsPerEpoch: train ? batchSizes(Math.min(c.config.limit || train, train), c.config.batchSize, c.config.dropLast).length : 0,
      lastLoss: last?.loss ?? null,
      lastTrainAccuracy: last?.accuracy ?? null,
      testAccuracy: c.history.epochs.at(-1)?.testAccuracy ?? null,
    };
  }

  private restartRate(): void {
    this.rate = [{ time: performance.now(), samples: this.samples }];
  }

  private clearRun(): void {
    this.history = { steps: [], epochs: [] };
    this.lastTest = null;
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
    const c = this.kept;
    // A run in progress or paused, not yet finished, resumes from its last checkpoint.
    const resumable = c !== null && (wasTraining || this.phase === 'paused') && c.position.epoch < c.config.epochs;
    this.run = null; // it fails on the lost device, quietly (trainRun sees the generation change)
    this.rt = null;
    this.predictor = null;
    this.trainer = null;
    this.answerWaiting(new Error('the GPU device was lost'));
    if (resumable) this.showCheckpoint(c);
    this.phase = 'reconnecting';
    this.events.notice(`The GPU device was lost (${info.message || info.reason}). Opening a new one…`, 'error');
    this.events.changed();
    try {
      await this.openGpu();
    } catch (err) {
      this.events.notice(`The GPU device was lost and a new one could not be opened: ${sentence((err as Error).message)} Reload the page to try again.`, 'error');
      return;
    }
    let kept = '';
    if (resumable) {
      this.phase = 'paused';
      kept = ` Training stopped at step ${step}; Resume continues from the checkpoint at step ${c.position.step}, with Adam's state.`;
    } else if (wasTraining && !c) {
      kept = ' Training stopped before its first checkpoint: Start begins again.';
    } else if (this.hasModel) {
      kept = " The model's weights are kept.";
    }
    this.events.notice(`The GPU device was lost and has been reopened (${this.adapter?.name}).${kept}`, 'info');
    this.events.changed();
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
