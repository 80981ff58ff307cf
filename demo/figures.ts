/**
 * What the page shows of a run, kept as it goes: the figures (epochs, steps, the
 * last loss and accuracies, throughput), every metrics read with its time, the
 * history the chart draws, and the last test pass's confusion matrix and most
 * confident mistakes. The session feeds it from the run's hooks, and from a
 * checkpoint's history where a run continues. No DOM here.
 */
import type { EpochPoint, History } from '../src/chart/chart';
import type { MnistSplit } from '../src/data/idx';
import type { Checkpoint } from '../src/train/checkpoint';
import { misclassified, withPixels, type Evaluation, type Miss } from '../src/train/evaluation';
import { stepsPerEpoch } from '../src/train/options';
import type { LogPoint } from '../src/train/trainer';

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

/** The last test pass's confusion matrix and its most confident mistakes, with their pixels. */
export interface TestPicture {
  /** The epoch it followed. */
  epoch: number;
  confusion: number[][];
  mistakes: (Miss & { pixels: Uint8Array; rows: number; cols: number })[];
  /** All the misclassified images, of which `mistakes` are the first. */
  missed: number;
}

/** Mistakes kept for the gallery, the most confident first. */
const GALLERY = 24;
const RATE_WINDOW_MS = 10_000;

export class RunFigures {
  history: History = { steps: [], epochs: [] };
  log: LogEntry[] = [];
  stats: Stats = emptyStats();
  /** The run's last test pass, drawn as a confusion matrix and a gallery; null before its first epoch ends. */
  lastTest: TestPicture | null = null;
  private rate: { time: number; samples: number }[] = [];
  private samples = 0;

  /** A new run's plan: its epochs and steps per epoch. */
  planned(epochs: number, stepsPerEpoch: number): void {
    Object.assign(this.stats, { epochs, stepsPerEpoch });
  }

  /** A metrics read. */
  logged(p: LogPoint, stepInEpoch: number): void {
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
  }

  /** An epoch ended, with its test pass over the first test.count images of `split`. */
  epochEnded(point: EpochPoint, test: Evaluation | null, split: MnistSplit | undefined): void {
    Object.assign(this.stats, { epoch: point.epoch, stepInEpoch: 0, testAccuracy: test?.accuracy ?? null });
    if (test && split) {
      const missed = misclassified(test, split.labels.subarray(0, test.count));
      const mistakes = withPixels(missed.slice(0, GALLERY), split);
      this.lastTest = { epoch: point.epoch, confusion: test.confusion, mistakes, missed: missed.length };
    }
    this.restartRate(); // the evaluation is not training time
  }

  /** The curves and figures of a checkpoint's run, where it will continue (`trainCount`: the training images, once downloaded). */
  showCheckpoint(c: Checkpoint, trainCount: number | undefined): void {
    const p = c.position;
    const last = c.history.steps.at(-1);
    this.history = structuredClone(c.history);
    this.log = this.log.filter((e) => e.step <= p.step);
    this.stats = {
      ...emptyStats(),
      epoch: p.epoch,
      epochs: c.config.epochs,
      step: p.step,
      stepInEpoch: p.stepInEpoch,
      stepsPerEpoch: trainCount ? stepsPerEpoch(c.config, trainCount) : 0,
      lastLoss: last?.loss ?? null,
      lastTrainAccuracy: last?.accuracy ?? null,
      testAccuracy: c.history.epochs.at(-1)?.testAccuracy ?? null,
    };
  }

  /** Throughput counts from now on (training starts, or resumes after a test pass). */
  restartRate(): void {
    this.rate = [{ time: performance.now(), samples: this.samples }];
  }

  /** No run: no curves, figures or pictures. */
  clear(): void {
    this.history = { steps: [], epochs: [] };
    this.lastTest = null;
    this.log = [];
    this.stats = emptyStats();
    this.samples = 0;
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
