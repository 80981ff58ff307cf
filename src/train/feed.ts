/**
 * Feeding the model: a GPU dataset bound to the input preparation kernel for each
 * batch size used, and a pass over a dataset that only measures (evaluation).
 */
import { submit, type Dispatch } from '../gpu/dispatch';
import type { Runtime, Tensor } from '../gpu/runtime';
import type { GpuDataset } from '../data/gpu-dataset';
import type { Model } from '../model/model';
import { PrepareMnist } from '../ops/prepare_mnist';

export interface Evaluation {
  loss: number;
  accuracy: number;
  correct: number;
  count: number;
}

/** The batch sizes of one pass over `count` samples. */
export function batchSizes(count: number, batch: number, dropLast: boolean): number[] {
  const sizes = new Array<number>(Math.floor(count / batch)).fill(batch);
  if (count % batch && !dropLast) sizes.push(count % batch);
  return sizes;
}

/** A dataset bound to the input preparation, for batches of each size used. */
export class Feed {
  readonly indices: Tensor;
  private readonly dispatches = new Map<number, Dispatch>();

  constructor(
    private readonly rt: Runtime,
    readonly data: GpuDataset,
    private readonly model: Model,
  ) {
    this.indices = rt.tensor(`${data.name} batch indices`, [model.maxBatch]);
  }

  async prepare(batch: number): Promise<Dispatch> {
    let d = this.dispatches.get(batch);
    if (!d) {
      const op = await PrepareMnist.create(this.rt, batch);
      const front = (t: Tensor): Tensor => ({ ...t, shape: [batch, ...t.shape.slice(1)], length: (t.length / t.shape[0]) * batch });
      d = {
        ...op.forward({
          images: this.data.images,
          all_labels: this.data.labels,
          batch_indices: front(this.indices),
          output: front(this.model.act.input),
          labels: front(this.model.labels),
        }),
        label: 'input',
      };
      this.dispatches.set(batch, d);
    }
    return d;
  }

  /** Queues the image indices (with flip bits) of the next batch. */
  write(entries: Uint32Array): void {
    this.rt.device.queue.writeBuffer(this.indices.buffer, 0, entries.buffer, entries.byteOffset, entries.byteLength);
  }
}

/** Average loss and accuracy over a whole dataset, in order, forward passes only. */
export async function evaluateFeed(rt: Runtime, model: Model, feed: Feed, sizes: number[]): Promise<Evaluation> {
  model.resetMetrics();
  let offset = 0;
  for (const batch of sizes) {
    const plan = await model.forward(batch);
    feed.write(Uint32Array.from({ length: batch }, (_, i) => offset + i));
    submit(rt, [await feed.prepare(batch), ...plan.forward, plan.metrics], 'evaluate');
    offset += batch;
  }
  const r = await model.readMetrics();
  return { loss: r.loss, accuracy: r.accuracy, correct: r.correct, count: r.samples };
}

