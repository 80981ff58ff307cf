/**
 * Using a trained model: test-set evaluation, and predicting digits given as 28x28
 * MNIST-style bytes (a user's photo after src/data/digit.ts, or the page's canvas).
 * Digits go through the same prepare_mnist kernel as training, so they are resized
 * and normalised exactly as the training images were.
 */
import { GpuDataset } from '../data/gpu-dataset';
import type { MnistSplit } from '../data/mnist';
import { submit } from '../gpu/dispatch';
import type { Runtime } from '../gpu/runtime';
import { CLASSES, Lenet5 } from '../model/lenet5';
import { batchSizes, evaluateFeed, Feed, type Evaluation } from './feed';

const MAX_BATCH = 64;

export async function evaluateModel(rt: Runtime, flat: Float32Array, split: MnistSplit): Promise<Evaluation> {
  const model = new Lenet5(rt, MAX_BATCH);
  model.setParameters(flat);
  const feed = new Feed(rt, GpuDataset.upload(rt, 'test', split), model);
  return evaluateFeed(rt, model, feed, batchSizes(split.count, MAX_BATCH, false));
}

export class Predictor {
  private constructor(
    private readonly rt: Runtime,
    private readonly model: Lenet5,
    private readonly feed: Feed,
  ) {}

  static async create(rt: Runtime, flat: Float32Array): Promise<Predictor> {
    const model = new Lenet5(rt, MAX_BATCH);
    model.setParameters(flat);
    // A small dataset of its own that each call overwrites: buffers and bind groups
    // stay the same from call to call.
    const blank = { images: new Uint8Array(MAX_BATCH * 784), labels: new Uint8Array(MAX_BATCH), count: MAX_BATCH, rows: 28, cols: 28 } as const;
    const feed = new Feed(rt, GpuDataset.upload(rt, 'digits', blank), model);
    const predictor = new Predictor(rt, model, feed);
    await predictor.predict([new Uint8Array(784)]);
    return predictor;
  }

  /** Replaces the weights (e.g. after more training in the page). */
  setParameters(flat: Float32Array): void {
    this.model.setParameters(flat);
  }

  /** The ten class probabilities of each 28x28 digit (bytes, white ink on black). */
  async predict(digits: Uint8Array[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (let start = 0; start < digits.length; start += MAX_BATCH) {
      const chunk = digits.slice(start, start + MAX_BATCH);
      const bytes = new Uint8Array(Math.ceil((chunk.length * 784) / 4) * 4);
      chunk.forEach((d, i) => {
        if (d.length !== 784) throw new Error(`predict: digit ${start + i} has ${d.length} pixels, expected 28x28 = 784`);
        bytes.set(d, i * 784);
      });
      this.rt.device.queue.writeBuffer(this.feed.data.images.buffer, 0, bytes);
      this.feed.write(Uint32Array.from(chunk, (_, i) => i));
      const plan = await this.model.plan(chunk.length);
      submit(this.rt, [await this.feed.prepare(chunk.length), ...plan.forward.filter((d) => d.label !== 'loss' && d.label !== 'metrics')], 'predict');
      const logp = await this.rt.read({ ...this.model.act.log_probs, length: chunk.length * CLASSES });
      for (let i = 0; i < chunk.length; i++) out.push(logp.slice(i * CLASSES, (i + 1) * CLASSES).map(Math.exp));
    }
    return out;
  }
}
