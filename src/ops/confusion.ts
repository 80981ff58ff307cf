// Host side of shaders/confusion.wgsl: an evaluation's confusion matrix and each
// image's predicted class and its probability, tallied on the GPU batch by batch.
import { dispatch, expectLength, type Dispatch } from '../gpu/dispatch';
import type { Kernel } from '../gpu/kernel';
import type { Runtime, Tensor } from '../gpu/runtime';

export class Confusion {
  private constructor(
    readonly batch: number,
    readonly classes: number,
    private readonly k: Kernel,
    private readonly params: GPUBuffer,
  ) {}

  static async create(rt: Runtime, batch: number, classes: number): Promise<Confusion> {
    const k = await rt.kernel('confusion', 'accumulate');
    return new Confusion(batch, classes, k, k.uniformBuffer({ batch, classes }));
  }

  /**
   * confusion [classes, classes] (u32, rows: true class) += the batch's counts;
   * predicted (u32) and confidence, one element per image of the data set the batch
   * comes from, get the batch's images' entries.
   */
  accumulate(t: { log_probs: Tensor; labels: Tensor; batch_indices: Tensor; confusion: Tensor; predicted: Tensor; confidence: Tensor }): Dispatch {
    const op = 'confusion.accumulate';
    expectLength(op, 'log_probs', t.log_probs, this.batch * this.classes);
    expectLength(op, 'labels', t.labels, this.batch);
    expectLength(op, 'batch_indices', t.batch_indices, this.batch);
    expectLength(op, 'confusion', t.confusion, this.classes * this.classes);
    expectLength(op, 'confidence', t.confidence, t.predicted.length);
    // An argmax over each sample's classes: compares, not FLOPs.
    return dispatch(this.k, this.params, t, this.batch);
  }
}
