/**
 * The backward pass of a Model, derived from its network's stages: the gradient
 * buffer (the parameters' flat layout) and, for each stage, the gradient of the loss
 * w.r.t. its output, and the dispatches that fill them, made once per batch size.
 * Each stage's backward is its kind's (src/model/kinds); this walks them in reverse.
 *
 * grad[S] holds dL/d(S's output) *before* S's ReLU where S has one fused: what S's
 * own backward kernels take. The ReLU's backward is fused into the kernel that writes
 * grad[S] where that kind can (a linear's backward_relu, a pool's backward_relu: a
 * maximum passes its gradient only where it is > 0). The others (conv2d, activations,
 * batchnorm) write the unmasked gradient into a scratch buffer, then relu.backward
 * masks it. Log-softmax's backward is fused with the NLL loss's (the logits'
 * gradient is softmax - onehot, over the batch). Buffers (batchnorm's running
 * statistics) get no gradient: their slots stay zero, and Adam leaves them as they are.
 */
import type { Dispatch } from '../gpu/dispatch';
import type { Tensor } from '../gpu/runtime';
import { front, labelled, type Model, type PerSample } from '../model/model';
import { firstParameterStage, hasRelu, inputNeedsGrad, type Resolved } from '../model/network';
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
 * stage with parameters on (before it, nothing has a gradient to take), and, where a
 * stage that cannot mask its input's gradient by a ReLU reads a ReLU's output, that
 * gradient before the mask; and each stage's per-image scratch. The constructor makes
 * these, and the batch size limits (src/train/limits.ts) count them.
 */
export function gradientBuffers(r: Resolved): { grad: PerSample[]; scratch: PerSample[]; perImage: (PerSample & { stage: string })[] } {
  const first = firstParameterStage(r);
  const grad = r.stages.filter((s, i) => s.op !== 'log_softmax' && i >= first).map((s) => ({ name: s.name, label: `d${s.name}`, shape: s.outShape }));
  const scratch = r.stages
    .filter((s) => !s.kind.fusesInputRelu && hasRelu(inputNeedsGrad(r, s)))
    .map((s) => ({ name: s.input, label: `d${s.input} (after ReLU)`, shape: r.activations.get(s.input)! }));
  const perImage = r.stages.filter((_s, i) => i >= first).flatMap((s) => (s.kind.perImage?.(s) ?? []).map((b) => ({ ...b, stage: s.name })));
  return { grad, scratch, perImage };
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
    const g = (name: string, shape?: readonly number[]) => front(this.grad[name], batch, shape);
    const stages = m.stages;
    const logits = stages[stages.length - 2];
    const labels = front(m.labels, batch);
    const dlogits = g(logits.name);
    const loss = ops.nll.lossBackward({ logits: m.view(logits.name, batch), log_probs: m.view('log_probs', batch), labels, loss: this.loss, dlogits, metrics: m.metrics });
    const backward: Dispatch[] = [labelled('loss', loss)];
    const first = firstParameterStage(m.resolved);
    for (let i = stages.length - 2; i >= first; i--) {
      const s = stages[i];
      const op = ops.stage.get(s.name)!;
      const into = inputNeedsGrad(m.resolved, s);
      // Where the input is a ReLU's output and this kind cannot mask by it, its gradient goes unmasked into scratch first.
      const masked = into !== null && hasRelu(into) && !s.kind.fusesInputRelu;
      const dinput = into === null ? null : masked ? front(this.scratch[s.input], batch, s.inShape) : g(into.name, s.inShape);
      const io = {
        ...m.io(s, batch, 'train'),
        doutput: g(s.name),
        grad: (suffix: string) => {
          const t = this.grads[`${s.name}.${suffix}`];
          if (!t) throw new Error(`network ${m.network.name}: stage ${s.name} has no parameter "${suffix}"`);
          return t;
        },
        dinput,
        inputRelu: into !== null && hasRelu(into),
      };
      const out = op.backward ? op.backward(io) : [];
      if (masked) {
        const relu = await Relu.create(m.rt, dinput!.length);
        out.push(relu.backward({ doutput: front(this.scratch[s.input], batch), saved_output: m.view(into!.name, batch), dinput: g(into!.name) }));
      }
      backward.push(...out.map((d) => labelled(s.name, d)));
    }
    return { batch, backward };
  }
}
