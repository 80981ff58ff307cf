// Host side of shaders/nll_loss.wgsl: mean NLL loss on log-probabilities, its
// gradient (alone, or fused with log-softmax's), and running metrics.
import { dispatch, expectLength, type Dispatch } from '../gpu/dispatch';
import type { Kernel } from '../gpu/kernel';
import type { Runtime, Tensor } from '../gpu/runtime';

type Entry = 'forward' | 'backward' | 'backward_fused' | 'accumulate' | 'loss_backward';

export class NllLoss {
  private constructor(
    readonly batch: number,
    readonly classes: number,
    private readonly k: Partial<Record<Entry, Kernel>>,
    private readonly params: GPUBuffer,
  ) {}

  /**
   * forward and accumulate, and loss_backward (a training step's) unless `backward` is
   * false; with `unfused`, also the gradients on their own (backward, backward_fused),
   * which training does not use.
   */
  static async create(rt: Runtime, batch: number, classes: number, options: { backward?: boolean; unfused?: boolean } = {}): Promise<NllLoss> {
    const backward = options.backward ?? true;
    const entries: Entry[] = ['forward', 'accumulate', ...(backward ? (['loss_backward'] as const) : []), ...(backward && options.unfused ? (['backward', 'backward_fused'] as const) : [])];
    const kernels = await Promise.all(entries.map((e) => rt.kernel('nll_loss', e)));
    const k: Partial<Record<Entry, Kernel>> = Object.fromEntries(entries.map((e, i) => [e, kernels[i]]));
    return new NllLoss(batch, classes, k, kernels[0].uniformBuffer({ batch, classes }));
  }

  private kernel(e: Entry): Kernel {
    const k = this.k[e];
    if (!k) throw new Error(`nll_loss.${e}: this loss was created without it (options backward and unfused)`);
    return k;
  }

  private check(op: string, t: { log_probs?: Tensor; labels: Tensor }): void {
    if (t.log_probs) expectLength(op, 'log_probs', t.log_probs, this.batch * this.classes);
    expectLength(op, 'labels', t.labels, this.batch);
  }

  /** loss: one element, the batch mean. */
  forward(t: { log_probs: Tensor; labels: Tensor; loss: Tensor }): Dispatch {
    this.check('nll_loss.forward', t);
    expectLength('nll_loss.forward', 'loss', t.loss, 1);
    return dispatch(this.kernel('forward'), this.params, t, 1);
  }

  backward(t: { labels: Tensor; dlog_probs: Tensor }): Dispatch {
    this.check('nll_loss.backward', t);
    expectLength('nll_loss.backward', 'dlog_probs', t.dlog_probs, this.batch * this.classes);
    return dispatch(this.kernel('backward'), this.params, t, this.batch * this.classes);
  }

  /** Gradient of the loss w.r.t. the logits that went into log-softmax. */
  backwardFused(t: { log_probs: Tensor; labels: Tensor; dlogits: Tensor }): Dispatch {
    this.check('nll_loss.backward_fused', t);
    expectLength('nll_loss.backward_fused', 'dlogits', t.dlogits, this.batch * this.classes);
    return dispatch(this.kernel('backward_fused'), this.params, t, this.batch * this.classes);
  }

  /**
   * Loop iterations, all loops together, of the invocation whose loops grow with the
   * batch (llvmpipe silently ends them at 65,535; src/train/limits.ts): forward's loop
   * over the batch, or a loss_backward lane's: five over each class of each sample of
   * its share (accumulate's one), plus lane 0's over the 64 lanes (nll_loss.wgsl's LANES).
   */
  static batchLoopIterations(batch: number, classes: number): number {
    const lanes = 64;
    return Math.max(batch + 1, Math.ceil(batch / lanes) * (5 * (classes + 1) + 1) + 1 + lanes + 1);
  }

  /**
   * A training step from the logits on, in one dispatch: their log-softmax into
   * `log_probs`, the loss (the batch mean), its gradient w.r.t. the logits, and
   * metrics += (summed loss, correct, samples).
   */
  lossBackward(t: { logits: Tensor; log_probs: Tensor; labels: Tensor; loss: Tensor; dlogits: Tensor; metrics: Tensor }): Dispatch {
    const op = 'nll_loss.loss_backward';
    this.check(op, t);
    expectLength(op, 'logits', t.logits, this.batch * this.classes);
    expectLength(op, 'loss', t.loss, 1);
    expectLength(op, 'dlogits', t.dlogits, this.batch * this.classes);
    expectLength(op, 'metrics', t.metrics, 3);
    const { log_probs, ...rest } = t;
    return dispatch(this.kernel('loss_backward'), this.params, { ...rest, log_probs_out: log_probs }, 1);
  }

  /** metrics (3 elements) += (summed loss, correct predictions, samples). */
  accumulate(t: { log_probs: Tensor; labels: Tensor; metrics: Tensor }): Dispatch {
    this.check('nll_loss.accumulate', t);
    expectLength('nll_loss.accumulate', 'metrics', t.metrics, 3);
    return dispatch(this.kernel('accumulate'), this.params, t, 1);
  }
}
