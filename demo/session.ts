/**
 * What the page does, without the page: the GPU, the data, a training run and
 * predictions, all on the engine in src/. No DOM here: the page's parts show this
 * state and call these methods, and so does window.lenet.
 *
 * A run is the engine's: a Trainer made from a TrainConfig (the form edits one) and
 * driven by runTraining (src/train/run.ts), the loop `train:node` runs. While a
 * trainer exists, the predictor reads its parameter buffer as it is, so predictions
 * follow training with nothing copied through the CPU. The run's latest checkpoint
 * stays in memory (./files.ts's PageModel): if the GPU device is lost, the run resumes
 * from it. Its figures are ./figures.ts's, its predictions ./predictions.ts's.
 */
import type { MnistSplit } from '../src/data/idx';
import { requestGpu } from '../src/gpu/browser';
import type { AdapterDescription } from '../src/gpu/device';
import { Runtime } from '../src/gpu/runtime';
import { encodeCheckpoint, type Checkpoint } from '../src/train/checkpoint';
import { Predictor } from '../src/train/inference';
import type { TrainConfig } from '../src/train/options';
import { runTraining } from '../src/train/run';
import { Trainer } from '../src/train/trainer';
import { sentence } from '../src/util/text';
import { fetchMnist, type Progress } from './data';
import { RunFigures } from './figures';
import { PageModel, readFile, type Loaded, type RunPlan } from './files';
import { Predictions } from './predictions';

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

export interface SessionEvents {
  /** Something shown changed: phase, stats, chart, model. */
  changed(): void;
  /** The model's weights changed: predictions made now differ. */
  weightsChanged(): void;
  /** A message for the user that arose outside any call (a lost device). */
  notice(text: string, kind: 'error' | 'info'): void;
}

/** How long a failed run waits for its device's loss to be told (see trainRun). */
const LOST_GRACE_MS = 1000;

/** How often a run keeps a checkpoint in memory (a read-back of weights and moments, ~0.7 MB). */
const CHECKPOINT_MS = 3000;
/** How often, at most, predictions are redone while training. */
const WEIGHTS_MS = 1000;

export class Session {
  phase: Phase = 'starting';
  dataState: DataState = 'loading';
  adapter: AdapterDescription | null = null;
  data: { train: MnistSplit; test: MnistSplit } | null = null;
  /** The run's curves, figures and last test pass. */
  readonly figures = new RunFigures();
  /** The weights: the trainer's, a checkpoint's or a loaded model's, and where they come from. */
  readonly model = new PageModel();
  readonly predictions = new Predictions(() => this.rt !== null);

  private rt: Runtime | null = null;
  private run: Promise<void> | null = null;
  private stopRequested = false;
  /** Counts devices, so that a lost one's late events are told from the current one's. */
  private generation = 0;
  private lastWeightsChange = 0;

  constructor(private readonly events: SessionEvents) {}

  get running(): boolean {
    return this.run !== null;
  }

  /** The kept checkpoint's position, if any. */
  get checkpoint(): Checkpoint['position'] | null {
    return this.model.kept ? { ...this.model.kept.position } : null;
  }

  get canCheckpoint(): boolean {
    return this.run !== null || this.model.kept !== null;
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
   * continues with its own recipe but for the fields a resumed run takes from `config`
   * (src/train/options.ts: the epochs, which may extend it as `train:node --resume
   * --epochs` does, and how often metrics are read); otherwise `config` starts a new
   * run, from a loaded model's weights if there is one.
   */
  train(config: TrainConfig): Promise<void> {
    try {
      if (this.run) throw new Error('training is already running');
      if (!this.rt) throw new Error(this.phase === 'starting' ? 'the GPU is not ready yet' : 'there is no WebGPU device to train on');
      if (!this.data) throw new Error('the MNIST data is not downloaded yet');
      const run: Promise<void> = this.trainRun(this.rt, this.data, this.model.nextRun(config, this.phase === 'paused')).finally(() => {
        if (this.run !== run) return;
        this.run = null;
        this.events.changed();
      });
      this.run = run;
      return run;
    } catch (err) {
      return Promise.reject(err);
    }
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
    this.model.forget();
    this.predictions.use(null);
    this.figures.clear();
    if (this.rt) this.phase = 'idle';
    this.events.changed();
    this.events.weightsChanged();
  }

  /**
   * Takes a .safetensors file: a model (its weights start new runs) or a checkpoint
   * (its run, ready to continue). A bad file throws a message naming what is wrong.
   */
  async loadFile(bytes: Uint8Array, name: string): Promise<Loaded> {
    const file = readFile(bytes, name);
    await this.pause();
    this.figures.clear();
    const loaded = this.model.take(file, name);
    if (file.checkpoint) this.figures.showCheckpoint(file.checkpoint, this.data?.train.count);
    if (this.rt) this.phase = file.checkpoint ? 'paused' : 'idle';
    await this.predictWithOwnWeights();
    this.events.changed();
    return loaded;
  }

  /** The current model as a .safetensors file, as `train:node` writes one. */
  modelFile(): Promise<Uint8Array> {
    return this.model.file({ epochs: this.figures.stats.epoch, history: this.figures.history }, this.adapter?.name ?? null);
  }

  /**
   * The run as a .ckpt.safetensors file, as `train:node` writes one: at a step
   * boundary, the next metrics read of a running run, or the checkpoint a paused or
   * finished one stopped at.
   */
  async checkpointFile(): Promise<Uint8Array> {
    const c = this.run ? await this.model.nextCheckpoint() : this.model.kept;
    if (!c) throw new Error('there is no run to checkpoint yet: start one, or load a checkpoint');
    return encodeCheckpoint(c);
  }

  /** Destroys the device as a driver reset would lose it (for tests of recovery). */
  loseDevice(): void {
    this.rt?.device.destroy();
  }

  // ------------------------------------------------------------ training

  private async trainRun(rt: Runtime, data: { train: MnistSplit; test: MnistSplit }, next: Trainer | RunPlan): Promise<void> {
    const generation = this.generation;
    this.stopRequested = false;
    try {
      const trainer = next instanceof Trainer ? next : await this.newTrainer(rt, data, next);
      this.phase = 'training';
      this.figures.restartRate();
      this.events.changed();
      const end = await runTraining(trainer, this.figures.history, {
        shouldStop: () => this.stopRequested,
        onLog: (p, stepInEpoch) => {
          this.figures.logged(p, stepInEpoch);
          this.weightsMoved();
          this.events.changed();
        },
        onEpoch: (point, _train, test) => {
          this.figures.epochEnded(point, test, this.data?.test);
          this.events.changed();
          this.events.weightsChanged();
        },
        onCheckpoint: (c) => {
          if (generation === this.generation) this.model.keep(c);
        },
        // Every few seconds, and at once for a waiting checkpointFile().
        checkpointDue: (sinceLast) => this.model.awaited || sinceLast >= CHECKPOINT_MS,
      });
      this.phase = end === 'done' ? 'done' : 'paused';
      this.model.answerWaiting(); // a run with no epoch left to train took no checkpoint
      this.events.weightsChanged();
    } catch (err) {
      // Firefox fails the run's GPU work before it resolves device.lost: give a loss a
      // moment to be told, so that deviceLost() finds the run still going and resumes it.
      if (generation === this.generation) await Promise.race([rt.device.lost, new Promise((r) => setTimeout(r, LOST_GRACE_MS))]);
      if (generation !== this.generation) return; // the device was lost: deviceLost() tells the user
      // A failed run (a bad option, a diverged loss) cannot continue; its last checkpoint stays.
      this.model.answerWaiting(err as Error);
      this.model.trainer = null;
      this.phase = 'idle';
      await this.predictWithOwnWeights().catch(() => {});
      throw err;
    } finally {
      if (generation === this.generation) this.events.changed();
    }
  }

  private async newTrainer(rt: Runtime, data: { train: MnistSplit; test: MnistSplit }, plan: RunPlan): Promise<Trainer> {
    const resumed = plan.start?.position ? this.model.kept : null;
    this.phase = 'preparing';
    this.model.trainer = null;
    this.model.kept = resumed;
    if (resumed) this.figures.showCheckpoint(resumed, this.data?.train.count);
    else this.figures.clear();
    this.events.changed();
    const trainer = await Trainer.create(rt, plan.config, data.train, data.test, plan.start);
    const predictor = Predictor.create(rt, trainer.network, trainer.config.normalization, { shared: trainer.model.param });
    await predictor;
    this.model.trainer = trainer;
    this.predictions.use(predictor);
    this.model.origin = plan.origin;
    this.model.source = `trained in this page${plan.origin ? ` from ${plan.origin}` : ''}`;
    this.figures.planned(plan.config.epochs, trainer.stepsPerEpoch);
    this.events.weightsChanged();
    return trainer;
  }

  /** Predictions are redone at most every WEIGHTS_MS while training. */
  private weightsMoved(): void {
    const time = performance.now();
    if (time - this.lastWeightsChange <= WEIGHTS_MS) return;
    this.lastWeightsChange = time;
    this.events.weightsChanged();
  }

  /** Predictions from the kept checkpoint's weights, or the loaded model's (none without either). */
  private async predictWithOwnWeights(): Promise<void> {
    // A failure is told by the next prediction; a lost device, by deviceLost().
    const predictor = this.predictions.use(this.model.ownPredictor(this.rt));
    this.events.weightsChanged();
    await predictor;
  }

  // ------------------------------------------------------------ device loss

  private async deviceLost(generation: number, info: GPUDeviceLostInfo): Promise<void> {
    if (generation !== this.generation) return;
    this.generation++; // from here on, the old device's failures are not news
    const step = this.figures.stats.step;
    const wasTraining = this.run !== null;
    const c = this.model.kept;
    // A run in progress or paused, not yet finished, resumes from its last checkpoint.
    const resumable = c !== null && (wasTraining || this.phase === 'paused') && c.position.epoch < c.config.epochs;
    this.run = null; // it fails on the lost device, quietly (trainRun sees the generation change)
    this.rt = null;
    this.predictions.use(null);
    this.model.trainer = null;
    this.model.answerWaiting(new Error('the GPU device was lost'));
    if (resumable) this.figures.showCheckpoint(c, this.data?.train.count);
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
    } else if (this.model.hasModel) {
      kept = " The model's weights are kept.";
    }
    this.events.notice(`The GPU device was lost and has been reopened (${this.adapter?.name}).${kept}`, 'info');
    this.events.changed();
  }
}
