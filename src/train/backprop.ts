/**
 * The backward pass of a Model, derived from its network's stages: the gradient
 * buffer (the parameters' flat layout) and, for each stage, the gradient of the loss
 * w.r.t. its output, and the dispatches that fill them, made once per batch size.
 *
 * grad[S] holds dL/d(S's output) *before* S's ReLU where S has one: what S's own
 * backward kernels take. The ReLU's backward is fused into the kernel that writes
 * grad[S]: a linear's backward_relu, a pool's backward_relu (a maximum passes
 * its gradient only where it is > 0). A conv2d has no such variant, so a ReLU'd
 * activation read by a conv2d gets its gradient unmasked in a scratch buffer, then
 * relu.backward. Log-softmax's backward is fused with the NLL loss's (the logits'
 * gradient is softmax - onehot, over the batch).
 */
import type { Dispatch } from '../gpu/dispatch';
import type { Tensor } from '../gpu/runtime';
import { front, labelled, type Model, type PerSample } from '../model/model';
import { hasRelu, inputNeedsGrad, type Resolved } from '../model/network';
import type { Conv2d } from '../ops/conv2d';
import type { Linear } from '../ops/linear';
import type { MaxPool2d } from '../ops/maxpool2d';
import { Relu } from '../ops/relu';

export interface BackwardPlan {
  batch: number;
  /**
   * From the logits on (the forward plan's `logits`): the log-probabilities, the
   * batch's mean loss into `loss` and its sums into the model's metrics, then the
   * gradient of every parameter (written, not accumulated).
   */
  backward: readonly Dispatch[];
}

/**
 * The buffers Backprop sizes by the batch: dL/d(each stage's output) from the first
 * stage with parameters on (before it, nothing has a gradient to take), and, for a
 * conv2d that reads a ReLU's output, its input's gradient before the ReLU's mask. The
 * constructor makes these, and the batch size limits (src/train/limits.ts) count them.
 */
export function gradientBuffers(r: Resolved): { grad: PerSample[]; scratch: PerSample[] } {
  const firstParam = r.stages.findIndex((s) => s.op === 'conv2d' || s.op === 'linear');
  const grad = r.stages.filter((s, i) => s.op !== 'log_softmax' && i >= firstParam).map((s) => ({ name: s.name, label: `d${s.name}`, shape: s.outShape }));
  const scratch = r.stages
    .filter((s) => s.op === 'conv2d' && hasRelu(inputNeedsGrad(r, s)))
    .map((s) => ({ name: s.input, label: `d${s.input} (after ReLU)`, shape: r.activations.get(s.input)! }));
  return { grad, scratch };
}

export class Backprop {
  /** Gradients in the parameters' flat layout. */
  readonly buffer: GPUBuffer;
  /** A view of each parameter's gradient, by state_dict name. */
  readonly grads: Record<string, Tensor>;
  /** dL/d(each stage's output before its ReLU), by stage name, [maxBatch, ...]; only where needed. */
  readonly grad: Record<string, Tensor>;
  readonly loss: Tensor;
  private readonly scratch: Record<string, Tensor>;
  private readonly plans = new Map<number, Promise<BackwardPlan>>();

  constructor(readonly model: Model) {
    if (!model.training) throw new Error('backprop needs a model made with training: true (its ops then have backward kernels)');
    const rt = model.rt;
    this.buffer = rt.buffer('gradients', model.table.flatLength * 4);
    this.grads = model.table.viewsOf(this.buffer);
    const buffers = gradientBuffers(model.resolved);
    const tensor = (b: PerSample) => rt.tensor(b.label, [model.maxBatch, ...b.shape]);
    this.grad = Object.fromEntries(buffers.grad.map((b) => [b.name, tensor(b)]));
    this.scratch = Object.fromEntries(buffers.scratch.map((b) => [b.name, tensor(b)]));
    this.loss = rt.tensor('loss', [1]);
  }

  plan(batch: number): Promise<BackwardPlan> {
    let p = this.plans.get(batch);
    if (!p) {
      p = this.makePlan(batch);
      this.plans.set(batch, p);
    }
    return p;
  }

  private async makePlan(batch: number): Promise<BackwardPlan> {
    const m = this.model;
    const ops = await m.opsFor(batch);
    const rt = m.rt;
    const g = (name: string, shape?: readonly number[]) => front(this.grad[name], batch, shape);
    const stages = m.stages;
    const logits = stages[stages.length - 2];
    const logProbs = m.view('log_probs', batch);
    const labels = front(m.labels, batch);
    const dlogits = g(logits.name);
    const backward: Dispatch[] = [labelled('loss', ops.nll.lossBackward({ logits: m.view(logits.name, batch), log_probs: logProbs, labels, loss: this.loss, dlogits, metrics: m.metrics }))];

    for (let i = stages.length - 2; i >= 0; i--) {
      const s = stages[i];
      const op = ops.stage.get(s.name)!;
      const out: Dispatch[] = [];
      const into = inputNeedsGrad(m.resolved, s);
      const params = { dweight: this.grads[`${s.name}.weight`], dbias: this.grads[`${s.name}.bias`] };
      if (s.op === 'linear') {
        const t = { doutput: g(s.name), input: m.view(s.input, batch, [s.shape.inFeatures]), ...params };
        out.push((op as Linear).backward(into ? { ...t, weight: m.params[`${s.name}.weight`], dinput: g(into.name, [s.shape.inFeatures]) } : t));
      } else if (s.op === 'conv2d') {
        const t = { doutput: g(s.name), input: m.view(s.input, batch), ...params };
        if (!into) {
          out.push(...(op as Conv2d).backward(t));
        } else {
          const by_tap_in = m.packed.of(s.name).by_tap_in!;
          // conv2d has no ReLU'd backward: its input's gradient goes unmasked into scratch first.
          const dinput = hasRelu(into) ? front(this.scratch[s.input], batch) : g(into.name);
          out.push(...(op as Conv2d).backward({ ...t, by_tap_in, dinput }));
          if (hasRelu(into)) {
            const relu = await Relu.create(rt, dinput.length);
            out.push(relu.backward({ doutput: dinput, saved_output: m.view(into.name, batch), dinput: g(into.name) }));
          }
        }
      } else if (s.op === 'maxpool2d' && into) {
        const pool = op as MaxPool2d;
        const t = { doutput: g(s.name), saved_argmax: front(m.argmax[s.name], batch), dinput: g(into.name) };
        out.push(hasRelu(into) ? pool.backwardRelu({ ...t, saved_output: m.view(s.name, batch) }) : pool.backward(t));
      }
      backward.push(...out.map((d) => labelled(s.name, d)));
    }
    return { batch, backward };
  }
}
