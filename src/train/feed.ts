/**
 * Feeding the model: a GPU dataset bound to the input preparation kernel for each
 * batch size used, and a pass over a dataset that only measures (evaluation). The
 * preparation resizes from the dataset's image size to the network's input size and
 * normalises as the feed is told (the data set's normalisation, or a model file's).
 * Evaluation passes over a feed are ./evaluation.ts's.
 */
import type { Dispatch } from '../gpu/dispatch';
import type { Runtime, Tensor } from '../gpu/runtime';
import type { GpuDataset } from '../data/gpu-dataset';
import type { Model, PerSample } from '../model/model';
import type { Network } from '../model/network';
import { PrepareInput, type PrepareShape } from '../ops/prepare_input';
import type { Normalization } from '../ops/shapes';

/** The batch sizes of one pass over `count` samples. */
export function batchSizes(count: number, batch: number, dropLast: boolean): number[] {
  const sizes = new Array<number>(Math.floor(count / batch)).fill(batch);
  if (count % batch && !dropLast) sizes.push(count % batch);
  return sizes;
}

/** The input preparation's shape: `image`-sized images (a data set's) into the network's input. */
export function prepareShape(batch: number, image: { rows: number; cols: number }, network: Network): PrepareShape {
  const [channels, height, width] = network.input;
  if (channels !== 1) throw new Error(`network ${network.name}: its input has ${channels} channels, but the data set's images are grey (1 channel)`);
  // The input decides the preparation: the images as they are, or MNIST's 28x28 resized bilinearly to LeNet's 32x32.
  const same = height === image.rows && width === image.cols;
  const resized = image.rows === 28 && image.cols === 28 && height === 32 && width === 32;
  if (!same && !resized) {
    throw new Error(`network ${network.name}: its input is ${height}x${width}, but the images are ${image.rows}x${image.cols}: a network takes them as they are, or 28x28 resized to 32x32`);
  }
  return { batch, srcHeight: image.rows, srcWidth: image.cols, dstHeight: height, dstWidth: width };
}

/** A dataset bound to the input preparation, for batches of each size used. */
export class Feed {
  /** What a feed sizes by the batch: the batch's image indices (with flip bits). */
  static readonly perSample: PerSample = { name: 'indices', label: 'batch indices', shape: [] };
  readonly indices: Tensor;
  private readonly prepared = new Map<number, { op: PrepareInput; dispatch: Dispatch }>();

  constructor(
    private readonly rt: Runtime,
    readonly data: GpuDataset,
    private readonly model: Model,
    private normalization: Normalization,
  ) {
    prepareShape(1, data, model.network); // a network the data cannot feed fails here, not at the first batch
    this.indices = rt.tensor(`${data.name} ${Feed.perSample.label}`, [model.maxBatch, ...Feed.perSample.shape]);
  }

  async prepare(batch: number): Promise<Dispatch> {
    let p = this.prepared.get(batch);
    if (!p) {
      const op = await PrepareInput.create(this.rt, prepareShape(batch, this.data, this.model.network), this.normalization);
      const front = (t: Tensor): Tensor => ({ ...t, shape: [batch, ...t.shape.slice(1)], length: (t.length / t.shape[0]) * batch });
      const dispatch = op.forward({
        images: this.data.images,
        all_labels: this.data.labels,
        batch_indices: front(this.indices),
        output: front(this.model.act.input),
        labels: front(this.model.labels),
      });
      p = { op, dispatch: { ...dispatch, label: 'input' } };
      this.prepared.set(batch, p);
    }
    return p.dispatch;
  }

  /** Normalises every later batch with `n` (a predictor given another model's weights). */
  setNormalization(n: Normalization): void {
    this.normalization = { ...n };
    for (const { op } of this.prepared.values()) op.setNormalization(n);
  }

  /** Queues the image indices (with flip bits) of the next batch. */
  write(entries: Uint32Array): void {
    this.rt.device.queue.writeBuffer(this.indices.buffer, 0, entries.buffer, entries.byteOffset, entries.byteLength);
  }
}
