/**
 * A split of a data set on the GPU, uploaded once: images as their raw bytes (four
 * to a u32 word; 47 MB for MNIST's training set, where float32 would not fit one
 * binding) and labels likewise. prepare_input.wgsl gathers, resizes and normalises
 * batches from it.
 */
import { bytes, type Runtime, type Tensor } from '../gpu/runtime';
import type { MnistSplit } from './mnist';

export class GpuDataset {
  private constructor(
    readonly name: string,
    readonly count: number,
    /** Every image's size in pixels. */
    readonly rows: number,
    readonly cols: number,
    readonly images: Tensor,
    readonly labels: Tensor,
  ) {}

  /**
   * Throws a one-line error where the first `limit` images of a split are more bytes
   * than one storage binding holds: prepare_input binds them whole.
   */
  static check(rt: Runtime, name: string, split: MnistSplit, limit = split.count): void {
    const count = Math.min(limit, split.count);
    const pixels = split.rows * split.cols;
    const need = Math.ceil((count * pixels) / 4) * 4;
    const { maxStorageBufferBindingSize: binding, maxBufferSize } = rt.limits;
    const [max, limitName] = binding <= maxBufferSize ? [binding, 'maxStorageBufferBindingSize'] : [Math.floor(maxBufferSize / 16) * 16, 'maxBufferSize'];
    if (need > max) {
      throw new Error(
        `the ${name} set's ${count} images of ${split.rows}x${split.cols} take ${bytes(need)}, over ${rt.adapter.name}'s ${limitName} of ${bytes(max)}: ` +
          `at most ${Math.floor(max / pixels)} of them fit`,
      );
    }
  }

  /** Uploads the first `limit` samples of a split (all by default). */
  static upload(rt: Runtime, name: string, split: MnistSplit, limit = split.count): GpuDataset {
    GpuDataset.check(rt, name, split, limit);
    const count = Math.min(limit, split.count);
    const images = packBytes(rt, `${name} images`, split.images.subarray(0, count * split.rows * split.cols));
    const labels = packBytes(rt, `${name} labels`, split.labels.subarray(0, count));
    return new GpuDataset(name, count, split.rows, split.cols, images, labels);
  }
}

function packBytes(rt: Runtime, label: string, bytes: Uint8Array): Tensor {
  const words = new Uint32Array(Math.ceil(bytes.length / 4));
  new Uint8Array(words.buffer).set(bytes);
  const buffer = rt.upload(label, words);
  return { buffer, offset: 0, shape: [words.length], length: words.length };
}
