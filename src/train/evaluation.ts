/**
 * A pass over a data set that only measures: the loss and accuracy (the model's
 * metrics), and, tallied on the GPU as the batches go (shaders/confusion.wgsl), the
 * confusion matrix and each image's predicted class with its probability. Nothing is
 * read back until the pass ends; then the counts (classes x classes) and two numbers
 * per image are, once.
 */
import type { GpuDataset } from '../data/gpu-dataset';
import { submit, type Dispatch } from '../gpu/dispatch';
import { range, type Runtime, type Tensor } from '../gpu/runtime';
import { front, type Model } from '../model/model';
import { Confusion } from '../ops/confusion';
import type { Feed } from './feed';

export interface Evaluation {
  loss: number;
  accuracy: number;
  correct: number;
  count: number;
  /** confusion[t][p]: the images of class t predicted as p. */
  confusion: number[][];
  /** Per class: the fraction of its images predicted right (null: the data set has none). */
  perClass: (number | null)[];
  /** Per image, in the data set's order: the class predicted, and its probability. */
  predicted: Uint32Array;
  confidence: Float32Array;
}

/** A misclassified image: its index in the data set, its label, and what the model said. */
export interface Miss {
  index: number;
  label: number;
  predicted: number;
  probability: number;
}

/** The images predicted wrong, the most confident first (the lower index first among equals). */
export function misclassified(e: Pick<Evaluation, 'predicted' | 'confidence'>, labels: ArrayLike<number>): Miss[] {
  const out: Miss[] = [];
  for (let i = 0; i < e.predicted.length; i++) {
    if (e.predicted[i] !== labels[i]) out.push({ index: i, label: labels[i], predicted: e.predicted[i], probability: e.confidence[i] });
  }
  return out.sort((a, b) => b.probability - a.probability || a.index - b.index);
}

/** Misses with their images' pixels (from the data set evaluated), for a gallery. */
export function withPixels(misses: Miss[], split: { images: Uint8Array; rows: number; cols: number }): (Miss & { pixels: Uint8Array; rows: number; cols: number })[] {
  const { rows, cols } = split;
  return misses.map((m) => ({ ...m, pixels: split.images.slice(m.index * rows * cols, (m.index + 1) * rows * cols), rows, cols }));
}

/** The per-class accuracy of a confusion matrix (rows: true class). */
export function perClassAccuracy(confusion: number[][]): (number | null)[] {
  return confusion.map((row, c) => {
    const total = row.reduce((a, b) => a + b, 0);
    return total ? row[c] / total : null;
  });
}

/** The test pass of a model over a feed's data set, with its tally's buffers made once. */
export class Evaluator {
  private readonly confusion: Tensor;
  private readonly predicted: Tensor;
  private readonly confidence: Tensor;
  private readonly tallies = new Map<number, Promise<Dispatch>>();

  constructor(
    private readonly rt: Runtime,
    private readonly model: Model,
    private readonly feed: Feed,
  ) {
    const name = feed.data.name;
    this.confusion = rt.tensor(`${name} confusion`, [model.classes, model.classes]);
    this.predicted = rt.tensor(`${name} predicted`, [feed.data.count]);
    this.confidence = rt.tensor(`${name} confidence`, [feed.data.count]);
  }

  /** The data set it passes over. */
  get data(): GpuDataset {
    return this.feed.data;
  }

  private tally(batch: number): Promise<Dispatch> {
    let t = this.tallies.get(batch);
    if (!t) {
      t = Confusion.create(this.rt, batch, this.model.classes).then((op) =>
        op.accumulate({
          log_probs: this.model.view('log_probs', batch),
          labels: front(this.model.labels, batch),
          batch_indices: front(this.feed.indices, batch),
          confusion: this.confusion,
          predicted: this.predicted,
          confidence: this.confidence,
        }),
      );
      this.tallies.set(batch, t);
    }
    return t;
  }

  /** Makes the pipelines and bind groups for these batch sizes, without running anything. */
  async prepare(sizes: number[]): Promise<void> {
    for (const batch of new Set(sizes)) await Promise.all([this.model.forward(batch), this.feed.prepare(batch), this.tally(batch)]);
  }

  /** One pass over the whole data set, in order, in batches of `sizes` (summing to its count). */
  async run(sizes: number[]): Promise<Evaluation> {
    const total = sizes.reduce((a, b) => a + b, 0);
    if (total !== this.feed.data.count) throw new Error(`evaluation: batches of ${total} images in all, but the ${this.feed.data.name} set has ${this.feed.data.count}`);
    const { rt, model, feed } = this;
    model.resetMetrics();
    rt.write(this.confusion, new Uint32Array(model.classes * model.classes));
    let offset = 0;
    for (const batch of sizes) {
      const plan = await model.forward(batch);
      feed.write(Uint32Array.from({ length: batch }, (_, i) => offset + i));
      submit(rt, [await feed.prepare(batch), ...plan.forward, plan.metrics, await this.tally(batch)], 'evaluate');
      offset += batch;
    }
    const r = await model.readMetrics();
    const [counted, predicted, confidence] = await rt.readRanges([this.confusion, this.predicted, this.confidence].map(range));
    const counts = new Uint32Array(counted);
    const classes = model.classes;
    const confusion = Array.from({ length: classes }, (_, t) => Array.from(counts.subarray(t * classes, (t + 1) * classes)));
    return {
      loss: r.loss,
      accuracy: r.accuracy,
      correct: r.correct,
      count: r.samples,
      confusion,
      perClass: perClassAccuracy(confusion),
      predicted: new Uint32Array(predicted),
      confidence: new Float32Array(confidence),
    };
  }
}
