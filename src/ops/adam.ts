// Host side of shaders/adam.wgsl: one dispatch updates every parameter (and, with
// step_and_pack, writes the packed copies of the conv weights: src/ops/pack.ts).
// https://pytorch.org/docs/stable/generated/torch.optim.Adam.html
import { dispatch, expectLength, PER_INVOCATION, type Dispatch } from '../gpu/dispatch';
import type { Kernel } from '../gpu/kernel';
import type { Runtime, Tensor } from '../gpu/runtime';
import { ADAM_DEFAULTS, type AdamHyper } from './shapes';

export { ADAM_DEFAULTS, type AdamHyper };

export class Adam {
  private constructor(
    readonly count: number,
    readonly hyper: AdamHyper,
    private readonly kernel: Kernel,
    private readonly packing: Kernel,
    private readonly params: GPUBuffer,
    private readonly device: GPUDevice,
  ) {}

  static async create(rt: Runtime, count: number, hyper: AdamHyper = ADAM_DEFAULTS): Promise<Adam> {
    const per = { PER: PER_INVOCATION };
    const [kernel, packing] = await Promise.all([rt.kernel('adam', 'step', per), rt.kernel('adam', 'step_and_pack', per)]);
    return new Adam(count, hyper, kernel, packing, kernel.uniformBuffer(Adam.uniforms(count, hyper, 1)), rt.device);
  }

  /** The uniforms for step t (1-based): bias corrections in float64, as PyTorch. */
  private static uniforms(count: number, h: AdamHyper, t: number) {
    const biasCorrection1 = 1 - h.beta1 ** t;
    const biasCorrection2 = 1 - h.beta2 ** t;
    return {
      count,
      step_size: h.lr / biasCorrection1,
      one_minus_beta1: 1 - h.beta1,
      beta2: h.beta2,
      one_minus_beta2: 1 - h.beta2,
      eps: h.eps,
      bias_correction2_sqrt: Math.sqrt(biasCorrection2),
    };
  }

  /**
   * Queues the uniforms for step t. Call before submitting the command buffer that
   * holds `step()`'s dispatch: queue writes land in submission order.
   */
  setStep(t: number): void {
    if (!(Number.isInteger(t) && t >= 1)) throw new Error(`adam: step must be an integer >= 1, got ${t}`);
    this.device.queue.writeBuffer(this.params, 0, this.kernel.encodeUniform(Adam.uniforms(this.count, this.hyper, t)));
  }

  step(t: { param: Tensor; grad: Tensor; exp_avg: Tensor; exp_avg_sq: Tensor }): Dispatch {
    for (const [name, tensor] of Object.entries(t)) expectLength('adam.step', name, tensor, this.count);
    return dispatch(this.kernel, this.params, t, Math.ceil(this.count / PER_INVOCATION));
  }

  /**
   * step, and each updated parameter written to its packed copies: `slots` ([count, 2]
   * u32, NONE for none) says where in `packed` (src/ops/pack.ts lays them out).
   */
  stepAndPack(t: { param: Tensor; grad: Tensor; exp_avg: Tensor; exp_avg_sq: Tensor; slots: Tensor; packed: Tensor }): Dispatch {
    const { slots, packed, ...flat } = t;
    for (const [name, tensor] of Object.entries(flat)) expectLength('adam.step_and_pack', name, tensor, this.count);
    expectLength('adam.step_and_pack', 'slots', slots, this.count * 2);
    return dispatch(this.packing, this.params, t, Math.ceil(this.count / PER_INVOCATION));
  }
}
