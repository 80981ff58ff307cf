// Host side of shaders/nll_loss.wgsl: mean NLL loss on log-probabilities, its
// gradient (alone, or fused with log-softmax's), and running metrics.
import { dispatch, expectLength, type Dispatch } from '../gpu/dispatch';
import type { Kernel } from '../gpu/kernel';
import type { Runtime, Tensor } from '../gpu/runtime';

export class NllLoss {
  private constructor(
    readonly batch: number,
    readonly classes: number,
    private readonly k: Record<'forward' | 'backward' | 'backward_fused' | 'accumulate', Kernel>,
    private readonly params: GPUBuffer,
  ) {}

  static async create(rt: Runtime, batch: number, classes: number): Promise<NllLoss> {
    const [forward, backward, backward_fused, accumulate] = await Promise.all(
      ['forward', 'backward', 'backward_fused', 'accumulate'].map((e) => rt.kernel('nll_loss', e)),
    );
    return new NllLoss(batch, classes, { forward, backward, backward_fused, accumulate }, forward.uniformBuffer({ batch, classes }));
  }

  private check(op: string, t: { log_probs?: Tensor; labels: Tensor }): void {
    if (t.log_probs) expectLength(op, 'log_probs', t.log_probs, this.batch * this.classes);
    expectLength(op, 'labels', t.labels, this.batch);
  }

  /** loss: one element, the batch mean. */
  forward(t: { log_probs: Tensor; labels: Tensor; loss: Tensor }): Dispatch {
    this.check('nll_loss.forward', t);
    expectLength('nll_loss.forward', 'loss', t.loss, 1);
    return dispatch(this.k.forward, this.params, t, 1);
  }

  backward(t: { labels: Tensor; dlog_probs: Tensor }): Dispatch {
    this.check('nll_loss.backward', t);
    expectLength('nll_loss.backward', 'dlog_probs', t.dlog_probs, this.batch * this.classes);
    return dispatch(this.k.backward, this.params, t, this.batch * this.classes);
  }

  /** Gradient of the loss w.r.t. the logits that went into log-softmax. */
  backwardFused(t: { log_probs: Tensor; labels: Tensor; dlogits: Tensor }): Dispatch {
    this.check('nll_loss.backward_fused', t);
    expectLength('nll_loss.backward_fused', 'dlogits', t.dlogits, this.batch * this.classes);
    return dispatch(this.k.backward_fused, this.params, t, this.batch * this.classes);
  }

  /** metrics (3 elements) += (summed loss, correct predictions, samples). */
  accumulate(t: { log_probs: Tensor; labels: Tensor; metrics: Tensor }): Dispatch {
    this.check('nll_loss.accumulate', t);
    expectLength('nll_loss.accumulate', 'metrics', t.metrics, 3);
    return dispatch(this.k.accumulate, this.params, t, 1);
  }
}
