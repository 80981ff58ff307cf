// Host side of shaders/sigmoid.wgsl: sigmoid, and its gradient from the forward's output.
import { dispatch, expectLength, PER_INVOCATION, type Dispatch } from '../gpu/dispatch';
import type { Kernel } from '../gpu/kernel';
import type { Runtime, Tensor } from '../gpu/runtime';

export class Sigmoid {
  private constructor(
    readonly count: number,
    private readonly k: Record<'forward' | 'backward', Kernel>,
    private readonly params: GPUBuffer,
  ) {}

  static async create(rt: Runtime, count: number): Promise<Sigmoid> {
    const [forward, backward] = await Promise.all([rt.kernel('sigmoid', 'forward', { PER: PER_INVOCATION }), rt.kernel('sigmoid', 'backward', { PER: PER_INVOCATION })]);
    return new Sigmoid(count, { forward, backward }, forward.uniformBuffer({ count }));
  }

  forward(t: { input: Tensor; output: Tensor }): Dispatch {
    expectLength('sigmoid.forward', 'input', t.input, this.count);
    expectLength('sigmoid.forward', 'output', t.output, this.count);
    return dispatch(this.k.forward, this.params, t, Math.ceil(this.count / PER_INVOCATION));
  }

  backward(t: { doutput: Tensor; saved_output: Tensor; dinput: Tensor }): Dispatch {
    expectLength('sigmoid.backward', 'doutput', t.doutput, this.count);
    expectLength('sigmoid.backward', 'saved_output', t.saved_output, this.count);
    expectLength('sigmoid.backward', 'dinput', t.dinput, this.count);
    return dispatch(this.k.backward, this.params, t, Math.ceil(this.count / PER_INVOCATION));
  }
}
