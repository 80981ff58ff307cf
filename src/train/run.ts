/**
 * A training run, for the Node program and the page alike: epochs until the
 * config's last, the test set after each, the history (every metrics read and every
 * epoch), checkpoints after each epoch, when stopped, and (for the page, whose
 * device can be lost) whenever it asks in between; stopping at the next step when
 * asked, and resuming from a checkpoint. What it shows and where checkpoints go is
 * the caller's, through hooks.
 */
import type { EpochPoint, History } from '../chart/chart';
import type { Checkpoint } from './checkpoint';
import type { Evaluation } from './evaluation';
import type { TrainConfig } from './options';
import type { EpochResult, LogPoint, Trainer } from './trainer';

export interface RunHooks {
  /** An epoch starts, or resumes at `stepInEpoch` (a progress bar's start). */
  onEpochStart?(epoch: number, stepInEpoch: number, stepsPerEpoch: number): void;
  /** A metrics read (every config.logEvery steps), already in the history. */
  onLog?(p: LogPoint, stepInEpoch: number, stepsPerEpoch: number): void;
  /** An epoch ended; its point (with the test set's figures) is in the history. */
  onEpoch?(point: EpochPoint, train: EpochResult, test: Evaluation | null): void | Promise<void>;
  /** A checkpoint to keep: after every epoch, when stopped, and whenever checkpointDue() says so. */
  onCheckpoint?(c: Checkpoint): void | Promise<void>;
  /** Asked before each step; true stops the run there (Ctrl-C, the page's pause). */
  shouldStop?(): boolean;
  /** Asked at each metrics read mid-epoch, with the ms since the last checkpoint: true takes one there. */
  checkpointDue?(sinceLast: number): boolean;
}

export type RunEnd = 'done' | 'stopped';

/** Trains to the config's last epoch, or until shouldStop(); `history` grows as it goes. */
export async function runTraining(trainer: Trainer, history: History, hooks: RunHooks = {}): Promise<RunEnd> {
  let lastCheckpoint = performance.now();
  const checkpoint = async () => {
    if (!hooks.onCheckpoint) return;
    const state = await trainer.readState();
    await hooks.onCheckpoint({ network: trainer.network, ...state, config: trainer.config, data: trainer.data, history: structuredClone(history) });
    lastCheckpoint = performance.now();
  };
  while (trainer.where.epoch < trainer.config.epochs) {
    hooks.onEpochStart?.(trainer.where.epoch + 1, trainer.where.stepInEpoch, trainer.stepsPerEpoch);
    const result = await trainer.trainEpoch({
      shouldStop: hooks.shouldStop,
      onLog: async (p, stepInEpoch, steps) => {
        history.steps.push({ step: p.step, epoch: p.epoch, loss: p.loss, accuracy: p.accuracy });
        hooks.onLog?.(p, stepInEpoch, steps);
        if (stepInEpoch < steps && hooks.checkpointDue?.(performance.now() - lastCheckpoint)) await checkpoint();
      },
    });
    if (!result) {
      await checkpoint();
      return 'stopped';
    }
    const test = trainer.testCount > 0 ? await trainer.evaluate() : null;
    const point: EpochPoint = { epoch: result.epoch, trainLoss: result.trainLoss, trainAccuracy: result.trainAccuracy, testLoss: test?.loss, testAccuracy: test?.accuracy };
    history.epochs.push(point);
    await hooks.onEpoch?.(point, result, test);
    await checkpoint();
  }
  return 'done';
}

/** A run, as far as a model file tells of it: its config, the epochs it has trained and its history. */
export interface RunRecord {
  config: TrainConfig;
  epochs: number;
  history: History;
}

/**
 * What a model file says of how its weights came to be, beside what encodeModel()
 * writes (the network, the data set and its normalisation): the run's seed, the
 * epochs trained and the last test accuracy (none without a run: weights loaded as
 * they are), the adapter, and `extra` first. train:node's files and the page's alike.
 */
export function modelMetadata(run: RunRecord | null, adapter: string | null, extra: Record<string, string> = {}): Record<string, string> {
  const metadata = { ...extra };
  if (run) {
    metadata.seed = String(run.config.seed);
    metadata.epochs = String(run.epochs);
    const accuracy = run.history.epochs.at(-1)?.testAccuracy;
    if (accuracy !== undefined) metadata.test_accuracy = accuracy.toFixed(4);
  }
  if (adapter !== null) metadata.adapter = adapter;
  return metadata;
}
